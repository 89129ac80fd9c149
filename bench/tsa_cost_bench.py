#!/usr/bin/env python3
"""What an unchanged ZuFi crawl costs (issue 19, items 1 and 2 on the ZuFi walk). Not a
test: run it.

    python bench/tsa_cost_bench.py [--size 2000]

Crawls a simulated ZuFi of ``--size`` Leistungen on 127.0.0.1 into a fresh database: the
baseline, an unchanged re-crawl answered 304 where the ETag matches, an unchanged re-crawl
from a server that sends no ETags (every body again: what a server without conditional
requests costs), and a re-crawl where every Leistung's and office's keys come in another
order (the same content in other bytes). Per crawl: requests, the Leistungen and offices
handed to the parsers, versions added, changes, the crawling thread's CPU ("processing":
parse, diff, store) and the whole process's (the simulator's share included).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crawl_bench import START, cpu

import zufiwatch.sources.tsa.walk as walk
from zufiwatch.archive import Archive
from zufiwatch.config import HttpSettings, SourceSettings
from zufiwatch.fetch import Fetcher
from zufiwatch.runner import run_crawl
from zufiwatch.sim import Scenario, build_directory
from zufiwatch.sim.tsa import AREA_ID, ROOT_OU, SimulatedTSA
from zufiwatch.store import History

KEY_ENV = "ZUFIWATCH_BENCH_TSA_KEY"


class Parsed:
    """Counts the Leistungen and offices the walk hands to the parsers."""

    def __init__(self) -> None:
        self.leistungen = self.offices = 0
        parse_pst, parse_ou = walk.parse_pst, walk.parse_ou

        def pst(*args: Any, **kwargs: Any) -> Any:
            self.leistungen += 1
            return parse_pst(*args, **kwargs)

        def ou(*args: Any, **kwargs: Any) -> Any:
            self.offices += 1
            return parse_ou(*args, **kwargs)

        walk.parse_pst, walk.parse_ou = pst, ou  # type: ignore[assignment]


def reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(item) for item in value]
    return value


def reorder(obj: dict) -> None:
    keys = reordered(obj)
    obj.clear()
    obj.update(keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000)
    args = parser.parse_args()
    os.environ[KEY_ENV] = "sim-api-key"
    parsed = Parsed()
    with tempfile.TemporaryDirectory(prefix="zufiwatch-tsacost-") as tmp, \
            SimulatedTSA(Scenario(build_directory(args.size)), lead_days=0) as tsa, \
            History(Path(tmp) / "tsa.db") as history, \
            Fetcher(HttpSettings(), retries=0) as fetcher:
        archive = Archive(Path(tmp) / "snapshots")
        zufi = SourceSettings(name="zufi", kind="tsa", base_url=tsa.base_url,
                              root_ou=str(ROOT_OU), area_id=AREA_ID, api_key_env=KEY_ENV,
                              page_size=100, max_concurrency=4, min_interval=0)
        data = tsa.data()
        print(f"Simulated ZuFi of {len(data.psts)} Leistungen and {len(data.ous)} offices, "
              "4 parallel requests, no pacing, limit=100:")

        def crawl(label: str, day: int) -> None:
            requests, leistungen, offices = tsa.request_count, parsed.leistungen, parsed.offices
            wall, used = time.perf_counter(), cpu()
            result = run_crawl(zufi, history=history, archive=archive, fetcher=fetcher,
                               clock=lambda: START + timedelta(days=day))
            wall, used = time.perf_counter() - wall, cpu() - used
            print(f"  {label}: {result.outcome}, {tsa.request_count - requests} requests, "
                  f"parsed {parsed.leistungen - leistungen} Leistungen and "
                  f"{parsed.offices - offices} offices, "
                  f"{result.stats['versions_added']} versions added, "
                  f"{len(result.changes)} changes, processing {result.process_seconds:.2f} "
                  f"CPU s, {used:.2f} CPU s in all, {wall:.1f} s wall")

        crawl("baseline                 ", 0)
        crawl("unchanged, ETags (304)   ", 1)
        tsa.etags = False
        crawl("unchanged, no ETags (200)", 2)
        for pst_id in data.psts:
            tsa.edit_pst(pst_id, reorder)
        for ou_id in data.ous:
            tsa.edit_ou(ou_id, reorder)
        crawl("keys in another order    ", 3)


if __name__ == "__main__":
    main()
