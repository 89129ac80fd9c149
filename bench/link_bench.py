#!/usr/bin/env python3
"""Benchmark of the link checker (issue 7). Not a test: run it, read the figures.

    python bench/link_bench.py [--size 3000] [--concurrency 4] [--paced-size 150]

Builds a simulated directory of ``--size`` Leistungen, crawls it once from the simulated
PVOG, then checks every online-service link against the simulated link targets (HTTPS
behind a throwaway CA, on 127.0.0.1): the baseline check, then an unchanged second check.
Both simulators run in this process, so the CPU figures include their share. Reports links
per second, CPU seconds per 100 links, peak memory, database bytes per link record and
the bytes an unchanged check adds.

The last part checks the links of a ``--paced-size`` directory with the default pacing of
0.2 s between two requests to the same host, which is what bounds a real check: most links
point to one ThAVEL host.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crawl_bench import START, cpu, db_bytes

from zufiwatch.archive import Archive
from zufiwatch.config import HttpSettings, SourceSettings
from zufiwatch.fetch import Fetcher
from zufiwatch.runner import run_crawl
from zufiwatch.sim import JENA_ARS, Scenario, SimulatedPVOG, build_directory
from zufiwatch.sim.web import SimulatedWeb
from zufiwatch.store import History


def link_settings(web: SimulatedWeb, concurrency: int, interval: float) -> SourceSettings:
    return SourceSettings(
        name="links", kind="links", watch=("pvog",), max_concurrency=concurrency,
        min_interval=interval, allow_local=web.endpoints(), ca_file=web.ca_file,
        connect_to=tuple(f"{host}={address}" for host, address in web.connect_to()))


def run(size: int, concurrency: int, interval: float, workdir: Path) -> dict[str, float]:
    scenario = Scenario(build_directory(size))
    figures: dict[str, float] = {}
    with SimulatedPVOG(scenario) as pvog, SimulatedWeb() as web, \
            History(workdir / f"links-{size}-{interval}.db") as history, \
            Fetcher(HttpSettings(), retries=0) as fetcher:
        archive = Archive(workdir / "snapshots")
        source = SourceSettings(name="pvog", kind="pvog", base_url=pvog.base_url, ars=JENA_ARS,
                                page_size=100, max_concurrency=4, min_interval=0)
        run_crawl(source, history=history, archive=archive, fetcher=fetcher,
                  clock=lambda: START)
        links = link_settings(web, concurrency, interval)
        before_db = db_bytes(history)
        for label, moment in (("baseline", START + timedelta(hours=1)),
                              ("unchanged", START + timedelta(days=1))):
            size_before = db_bytes(history)
            wall, used = time.perf_counter(), cpu()
            result = run_crawl(links, history=history, archive=archive, fetcher=fetcher,
                               clock=lambda moment=moment: moment)
            wall, used = time.perf_counter() - wall, cpu() - used
            count = result.stats["observed"]
            figures[f"{label}_links"] = count
            figures[f"{label}_seconds"] = wall
            figures[f"{label}_links_per_second"] = count / wall
            figures[f"{label}_cpu_per_100_links"] = used / count * 100
            figures[f"{label}_db_growth"] = db_bytes(history) - size_before
            figures[f"{label}_requests"] = web.request_count
            web.reset_requests()
            assert result.outcome == "complete", result.reason
        figures["db_bytes_per_link_record"] = (figures["baseline_db_growth"]
                                               / figures["baseline_links"])
        figures["db_before_links"] = before_db
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--paced-size", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zufiwatch-linkbench-") as tmp:
        fast = run(args.size, args.concurrency, 0.0, Path(tmp))
        print(f"Directory of {args.size} Leistungen, {args.concurrency} parallel checks, "
              "no pacing:")
        for label in ("baseline", "unchanged"):
            print(f"  {label:9} check: {fast[f'{label}_links']:.0f} links in "
                  f"{fast[f'{label}_seconds']:.2f} s = "
                  f"{fast[f'{label}_links_per_second']:.0f} links/s, "
                  f"{fast[f'{label}_cpu_per_100_links']:.2f} CPU s per 100 links "
                  f"(both simulators included), {fast[f'{label}_requests']:.0f} requests, "
                  f"database +{fast[f'{label}_db_growth'] / 1024:.0f} KiB")
        print(f"  database bytes per link record (baseline): "
              f"{fast['db_bytes_per_link_record']:.0f}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak memory of this process (simulators included): {peak:.0f} MiB")
        paced = run(args.paced_size, args.concurrency, 0.2, Path(tmp))
        print(f"Directory of {args.paced_size} Leistungen with the default pacing (0.2 s "
              "between two requests to one host):")
        print(f"  baseline check: {paced['baseline_links']:.0f} links, "
              f"{paced['baseline_requests']:.0f} requests in {paced['baseline_seconds']:.1f} s")


if __name__ == "__main__":
    main()
