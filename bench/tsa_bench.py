#!/usr/bin/env python3
"""Benchmark of the ZuFi source and the cross-check (issues 8 and 13). Not a test: run it.

    python bench/tsa_bench.py [--size 2000]

Crawls a simulated ZuFi (TSA REST API v4 in its seen shapes) of ``--size`` Leistungen on
127.0.0.1 into a fresh database: the baseline crawl, then an unchanged re-crawl (answers
304 where the ETag matches). Then the baseline crawl of the same tree from a server that
caps pages at 25 results (more pages, the same records), into another fresh database.
Then crawls the simulated PVOG of the same directory and times the cross-check of the two.
The simulators run in this process, so the CPU figures include their share; "processing"
is the crawling thread's own CPU (parse, diff, store).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crawl_bench import START, cpu

from zufiwatch.archive import Archive
from zufiwatch.config import HttpSettings, Settings, SourceSettings
from zufiwatch.crosscheck import run_crosscheck
from zufiwatch.fetch import Fetcher
from zufiwatch.runner import run_crawl
from zufiwatch.sim import JENA_ARS, Scenario, SimulatedPVOG, build_directory
from zufiwatch.sim.tsa import AREA_ID, ROOT_OU, SimulatedTSA
from zufiwatch.store import History

KEY_ENV = "ZUFIWATCH_BENCH_TSA_KEY"
CAPPED = 25


def zufi_settings(tsa: SimulatedTSA) -> SourceSettings:
    return SourceSettings(name="zufi", kind="tsa", base_url=tsa.base_url,
                          root_ou=str(ROOT_OU), area_id=AREA_ID, api_key_env=KEY_ENV,
                          page_size=100, max_concurrency=4, min_interval=0,
                          crosscheck="pvog")


def timed_crawl(label: str, zufi: SourceSettings, tsa: SimulatedTSA, history: History,
                archive: Archive, fetcher: Fetcher, moment: datetime) -> None:
    """One crawl and its line: outcome, records, requests, wall time, CPU."""
    requests_before = tsa.request_count
    wall, used = time.perf_counter(), cpu()
    result = run_crawl(zufi, history=history, archive=archive, fetcher=fetcher,
                       clock=lambda: moment)
    wall, used = time.perf_counter() - wall, cpu() - used
    observed = result.stats["observed"]
    print(f"  {label}: {result.outcome}, {observed} records, "
          f"{tsa.request_count - requests_before} requests ({tsa.not_modified} answered 304 "
          f"so far), {wall:.1f} s wall = {observed / wall:.0f} records/s, {used:.2f} CPU s "
          f"(simulator included) = {used / observed * 1000:.2f} per 1,000 records, "
          f"processing {result.process_seconds:.2f} CPU s")
    if result.reason and not result.reason.startswith("baseline"):
        print(f"    reason: {result.reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000)
    args = parser.parse_args()
    scenario = Scenario(build_directory(args.size))
    os.environ[KEY_ENV] = "sim-api-key"
    with tempfile.TemporaryDirectory(prefix="zufiwatch-tsabench-") as tmp, \
            SimulatedTSA(scenario, lead_days=0) as tsa, \
            SimulatedTSA(scenario, lead_days=0, page_cap=CAPPED) as capped, \
            SimulatedPVOG(scenario) as pvog, \
            History(Path(tmp) / "tsa.db") as history, \
            History(Path(tmp) / "capped.db") as capped_history, \
            Fetcher(HttpSettings(), retries=0) as fetcher:
        archive = Archive(Path(tmp) / "snapshots")
        zufi = zufi_settings(tsa)
        data = tsa.data()
        print(f"Simulated ZuFi of {len(data.psts)} Leistungen and {len(data.ous)} offices "
              f"(seen shapes), 4 parallel requests, no pacing, limit=100 asked:")
        for label, moment in (("baseline crawl          ", START),
                              ("unchanged re-crawl      ", START + timedelta(days=1))):
            timed_crawl(label, zufi, tsa, history, archive, fetcher, moment)
        timed_crawl(f"baseline, page cap {CAPPED}   ", zufi_settings(capped), capped,
                    capped_history, Archive(Path(tmp) / "capped"), fetcher, START)
        source = SourceSettings(name="pvog", kind="pvog", base_url=pvog.base_url,
                                ars=JENA_ARS, page_size=100, max_concurrency=4,
                                min_interval=0)
        run_crawl(source, history=history, archive=archive, fetcher=fetcher,
                  clock=lambda: START + timedelta(days=1, hours=1))
        settings = Settings(sources=(source, zufi))
        wall = time.perf_counter()
        check = run_crosscheck(history, settings, zufi, now=START + timedelta(days=1, hours=2))
        wall = time.perf_counter() - wall
        print(f"  cross-check with the PVOG of the same directory: {wall * 1000:.0f} ms, "
              f"{check.open} differences")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak memory of this process (the simulators included): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
