#!/usr/bin/env python3
"""Benchmark of the ZuFi source and the cross-check (issue 8). Not a test: run it.

    python bench/tsa_bench.py [--size 3000]

Crawls a simulated ZuFi (TSA API) of ``--size`` Leistungen on 127.0.0.1 into a fresh
database: the baseline crawl, then an unchanged re-crawl (answers 304 where the ETag
matches). Then crawls the simulated PVOG of the same directory and times the cross-check
of the two. The simulators run in this process, so the CPU figures include their share.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import timedelta
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=3000)
    args = parser.parse_args()
    scenario = Scenario(build_directory(args.size))
    os.environ["ZUFIWATCH_BENCH_TSA_KEY"] = "sim-api-key"
    with tempfile.TemporaryDirectory(prefix="zufiwatch-tsabench-") as tmp, \
            SimulatedTSA(scenario, lead_days=0) as tsa, SimulatedPVOG(scenario) as pvog, \
            History(Path(tmp) / "tsa.db") as history, \
            Fetcher(HttpSettings(), retries=0) as fetcher:
        archive = Archive(Path(tmp) / "snapshots")
        zufi = SourceSettings(name="zufi", kind="tsa", base_url=tsa.base_url,
                              root_ou=str(ROOT_OU), area_id=AREA_ID,
                              api_key_env="ZUFIWATCH_BENCH_TSA_KEY", page_size=100,
                              max_concurrency=4, min_interval=0, crosscheck="pvog")
        print(f"Simulated ZuFi of {args.size} Leistungen, 4 parallel requests, no pacing:")
        for label, moment in (("baseline", START), ("unchanged", START + timedelta(days=1))):
            requests_before = tsa.request_count
            wall, used = time.perf_counter(), cpu()
            result = run_crawl(zufi, history=history, archive=archive, fetcher=fetcher,
                               clock=lambda moment=moment: moment)
            wall, used = time.perf_counter() - wall, cpu() - used
            observed = result.stats["observed"]
            print(f"  {label:9} crawl {result.outcome}: {observed} records in {wall:.1f} s = "
                  f"{observed / wall:.0f} records/s, {used / observed * 1000:.2f} CPU s per "
                  f"1,000 records (simulator included), "
                  f"{tsa.request_count - requests_before} requests, "
                  f"{tsa.not_modified} answered 304 so far")
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
        print(f"  peak memory of this process (both simulators included): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
