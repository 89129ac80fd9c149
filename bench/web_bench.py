#!/usr/bin/env python3
"""Benchmark of the web application. Not a test: run it, read the figures.

    python bench/web_bench.py [--size 15000] [--days 365] [--edits-per-day 5] [--loads 200]

Builds a history the way ``crawl_bench.build_history`` does (the planner and the store, no
HTTP; ``--size`` Leistungen are about 20,000 records with offices and Onlinedienste at
15,000), then asks the application (``zufiwatch.web.create_app``, in this process through
Flask's test client, so the figures are the server's time without a network) for the
start page, the changes list (page 1 and a filtered page) and record pages of edited
Leistungen, ``--loads`` times each, signed in as a pruefer. Reports p50, p95 and max in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crawl_bench import START, build_history

from zufiwatch.config import Settings, SourceSettings, WebSettings
from zufiwatch.sim import JENA_ARS
from zufiwatch.store import History
from zufiwatch.web import create_app


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1), "loads": len(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=15000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--edits-per-day", type=int, default=5)
    parser.add_argument("--loads", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zufiwatch-web-bench-") as tmp:
        path = Path(tmp) / "history.db"
        begin = time.perf_counter()
        with History(path) as history:
            build_history(history, args.size, args.days, args.edits_per_day)
            counts = history.db.execute(
                "SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM versions), "
                "(SELECT count(*) FROM changes), (SELECT count(*) FROM events)").fetchone()
            edited = [row[0] for row in history.db.execute(
                "SELECT DISTINCT r.key FROM changes c JOIN records r ON r.id = c.record_id "
                "WHERE r.kind = 'leistung' ORDER BY r.key")]
        build_s = time.perf_counter() - begin
        settings = Settings(
            database=path,
            sources=(SourceSettings(name="bench", kind="pvog", base_url="http://127.0.0.1:1/",
                                    ars=JENA_ARS),),
            web=WebSettings(pruefer=("bench",), secure_cookies=False))
        now = START + timedelta(days=args.days)
        app = create_app(settings, clock=lambda: now, secret_key=b"bench" * 8)
        client = app.test_client()
        with client.session_transaction() as session:
            session["user"] = "bench"
        rng = random.Random(3)
        targets = {
            "start page": lambda: "/",
            "changes, page 1": lambda: "/aenderungen",
            # The history is built without the severity rules: every change is "low".
            "changes, filtered (Leistungen, 30 days)":
                lambda: "/aenderungen?art=leistung&seit=30d",
            "record page": lambda: f"/eintrag/{quote(rng.choice(edited), safe=':')}",
        }
        figures = {}
        for name, url in targets.items():
            samples = []
            for _ in range(args.loads):
                target = url()
                begin = time.perf_counter()
                response = client.get(target)
                samples.append(time.perf_counter() - begin)
                if response.status_code != 200:
                    raise SystemExit(f"{target}: HTTP {response.status_code}")
            figures[name] = {**percentiles(samples), "bytes": len(response.data)}
    print(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "history": {"leistungen": args.size, "records": counts[0], "versions": counts[1],
                    "changes": counts[2], "events": counts[3], "days": args.days,
                    "build_s": round(build_s, 1)},
        "pages": figures,
    }, indent=2))


if __name__ == "__main__":
    main()
