#!/usr/bin/env python3
"""Benchmark of crawl reliability and politeness (issue 3). Not a test: run it, read it.

    python bench/reliability_bench.py [--size 2000] [--days 7] [--share 0.01]

Part 1: a simulated PVOG of ``--size`` Leistungen whose listing carries ``lastUpdate``, in
which ``--share`` of the Leistungen change every day, served by a separate process. One
full baseline crawl, then one crawl a day: reports the requests of each crawl (the
incremental ones against the budget listing pages + changed records + 5 %) and the
seventh day's full verification crawl.

Part 2: the same directory with server errors injected (503 on details, with retries),
crawled with a pacing of ``--interval`` seconds per request and ``--concurrency``
parallel requests: reports the highest request rate the simulator observed in any
second against the rate the pacing allows.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from zufiwatch.archive import Archive
from zufiwatch.config import HttpSettings, SourceSettings
from zufiwatch.fetch import Fetcher
from zufiwatch.runner import run_crawl
from zufiwatch.sim import JENA_ARS
from zufiwatch.store import History

START = datetime(2026, 1, 1, 5, 0, tzinfo=UTC)


class SimProcess:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "zufiwatch.sim", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()

    def send(self, command: str) -> str:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if answer.startswith("error"):
            raise RuntimeError(answer)
        return answer

    def stats(self) -> dict[str, float]:
        return {k: float(v) for k, v in (p.split("=") for p in self.send("stats").split())}

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def incremental_part(size: int, days: int, share: float, workdir: Path) -> dict:
    sim = SimProcess("--size", str(size), "--churn", str(share), "--listing-stamps")
    source = SourceSettings(name="bench", kind="pvog", base_url=sim.base_url, ars=JENA_ARS,
                            page_size=100, max_concurrency=4, min_interval=0)
    pages = math.ceil(size / source.page_size)
    changed = max(1, round(size * share))
    budget = pages + changed + 0.05 * size
    crawls = []
    try:
        with History(workdir / "incremental.db") as history, \
                Fetcher(HttpSettings(retries=0)) as fetcher:
            for day in range(days + 1):
                sim.send(f"day {day}")
                begin = time.perf_counter()
                result = run_crawl(source, history=history, archive=Archive(workdir / "a"),
                                   fetcher=fetcher,
                                   clock=lambda d=day: START + timedelta(days=d))
                crawls.append({
                    "day": day,
                    "mode": history.crawl(result.crawl_id)["mode"],
                    "outcome": str(result.outcome),
                    "requests": result.stats["requests"],
                    "within_budget": result.stats["requests"] <= budget,
                    "changes": result.stats["changes"],
                    "wall_s": round(time.perf_counter() - begin, 2),
                })
    finally:
        sim.close()
    return {"leistungen": size, "changed_per_day": changed, "listing_pages": pages,
            "incremental_budget": math.floor(budget), "crawls": crawls}


def pacing_part(size: int, interval: float, concurrency: int, errors: int,
                workdir: Path) -> dict:
    sim = SimProcess("--size", str(size))
    source = SourceSettings(name="paced", kind="pvog", base_url=sim.base_url, ars=JENA_ARS,
                            page_size=100, max_concurrency=concurrency, min_interval=interval)
    try:
        sim.send(f"inject /detail status {errors} 503")
        with History(workdir / "paced.db") as history, \
                Fetcher(HttpSettings(retries=5, backoff=0.05)) as fetcher:
            begin = time.perf_counter()
            result = run_crawl(source, history=history, archive=Archive(workdir / "p"),
                               fetcher=fetcher, clock=lambda: START)
            wall = time.perf_counter() - begin
            retried = fetcher.retried
        stats = sim.stats()
    finally:
        sim.close()
    return {
        "leistungen": size, "min_interval_s": interval, "max_concurrency": concurrency,
        "injected_503": errors, "retries": retried, "outcome": str(result.outcome),
        "requests": result.stats["requests"], "wall_s": round(wall, 1),
        "allowed_rate_per_s": round(1 / interval, 1),
        "observed_max_rate_per_s": stats["max_rate_per_s"],
        "observed_max_rate_per_s_over_5s": stats["max_rate_per_s_over_5s"],
        "observed_mean_rate_per_s": round(stats["requests"] / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--share", type=float, default=0.01)
    parser.add_argument("--paced-size", type=int, default=300)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=3)
    parser.add_argument("--errors", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zufiwatch-bench-") as tmp:
        report = {
            "incremental": incremental_part(args.size, args.days, args.share, Path(tmp)),
            "pacing": pacing_part(args.paced_size, args.interval, args.concurrency,
                                  args.errors, Path(tmp)),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
