#!/usr/bin/env python3
"""Benchmark of the static overview. Not a test: run it, read the figures.

    python bench/report_bench.py [--history-size 2000] [--days 365] [--edits-per-day 5]

Builds a history of ``--days`` simulated days over ``--history-size`` Leistungen the way
``crawl_bench.history_part`` does (the same planner and store, no HTTP, a handful of edits
a day), then times ``build_overview`` on it: seconds, pages written, bytes written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crawl_bench import START, build_history

from zufiwatch.config import Settings, SourceSettings
from zufiwatch.report import build_overview
from zufiwatch.sim import JENA_ARS
from zufiwatch.store import History


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history-size", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--edits-per-day", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zufiwatch-report-bench-") as tmp:
        workdir = Path(tmp)
        begin = time.perf_counter()
        with History(workdir / "history.db") as history:
            build_history(history, args.history_size, args.days, args.edits_per_day)
        build_s = time.perf_counter() - begin
        settings = Settings(sources=(SourceSettings(name="bench", kind="pvog",
                                                    base_url="http://127.0.0.1:1/",
                                                    ars=JENA_ARS),))
        now = START + timedelta(days=args.days)
        seconds = []
        with History(workdir / "history.db", readonly=True) as history:
            counts = history.db.execute(
                "SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM versions), "
                "(SELECT count(*) FROM changes)").fetchone()
            for _ in range(args.runs):
                begin = time.perf_counter()
                index = build_overview(history, settings, workdir / "site", now=now)
                seconds.append(time.perf_counter() - begin)
        files = [p for p in index.parent.rglob("*") if p.is_file()]
        report = {
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "history": {"records": counts[0], "versions": counts[1], "changes": counts[2],
                        "days": args.days, "build_s": round(build_s, 1)},
            "build_overview": {
                "seconds_min": round(min(seconds), 2), "seconds_max": round(max(seconds), 2),
                "runs": len(seconds),
                "pages": sum(1 for p in files if p.suffix == ".html"),
                "record_pages": sum(1 for p in files if p.parent.name == "records"),
                "bytes": sum(p.stat().st_size for p in files),
                "index_bytes": index.stat().st_size,
                "feed_bytes": (index.parent / "feed.atom").stat().st_size,
            },
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
