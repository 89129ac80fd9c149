#!/usr/bin/env python3
"""What archiving costs per payload: CPU and bytes on disk (issue 19, item 4).

    python bench/archive_cost.py [--size 2000] [--share 0.01]

Not a test: run it, read the figures. Crawls a simulated PVOG of ``--size`` Leistungen in
this process (every ``lastUpdate`` moving, ``--share`` changed for real) on day 0, day 1 and
day 1 again, and reports, per crawl: the payloads handed to the archive, how many were
stored in full, as deltas or not at all (already archived), the CPU seconds spent in
``Manifest.put`` (hashing, looking up, diffing, verifying, compressing, writing) and in
``Manifest.close`` (deltas and manifest records, sync, index), per payload, the CPU
seconds of ``Archive.get`` per payload read back (a 304 answered from the archive: "day 1
again" reads day 1's delta-stored payloads), and the bytes the crawl added to the
snapshots folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zufiwatch.archive import Archive, Manifest  # noqa: E402
from zufiwatch.config import HttpSettings, SourceSettings  # noqa: E402
from zufiwatch.fetch import Fetcher  # noqa: E402
from zufiwatch.runner import run_crawl  # noqa: E402
from zufiwatch.sim import ChurnScenario, build_directory  # noqa: E402
from zufiwatch.sim.server import SimulatedPVOG  # noqa: E402
from zufiwatch.store import History  # noqa: E402


class Measured(Archive):
    """An archive that adds up the CPU time of its writers."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.cpu: Counter[str] = Counter()
        self.count: Counter[str] = Counter()
        self._inside = threading.local()

    def get(self, digest: str) -> bytes:
        if getattr(self._inside, "get", False):  # the base of a delta: counted outside
            return super().get(digest)
        self._inside.get = True
        begin = time.thread_time()
        try:
            return super().get(digest)
        finally:
            self._inside.get = False
            self.cpu["get"] += time.thread_time() - begin
            self.count["get"] += 1

    def open_manifest(self, source: str, crawl_id: int, started_at: str) -> Manifest:
        manifest = super().open_manifest(source, crawl_id, started_at)
        put, close, cpu, count = manifest.put, manifest.close, self.cpu, self.count

        def timed_put(body: bytes, **kwargs: Any) -> str:
            begin = time.thread_time()
            try:
                return put(body, **kwargs)
            finally:
                cpu["put"] += time.thread_time() - begin
                count["put"] += 1

        def timed_close() -> None:
            begin = time.thread_time()
            try:
                close()
            finally:
                cpu["close"] += time.thread_time() - begin

        manifest.put = timed_put  # type: ignore[method-assign]
        manifest.close = timed_close  # type: ignore[method-assign]
        return manifest


def size(folder: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def stored(archive: Archive, path: Path) -> Counter[str]:
    from zufiwatch.archive import _manifest_record
    try:
        from zufiwatch.archive.catalogue import parse_catalogue
    except ImportError:  # before the catalogue module
        from zufiwatch.archive import _parse_catalogue as parse_catalogue  # type: ignore

    catalogue = parse_catalogue(path, _manifest_record(path).payload)
    return Counter("delta" if len(s) == 3 else "full" for s in catalogue.stored.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--share", type=float, default=0.01)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="archive-cost-"))
    churn = ChurnScenario(build_directory(args.size), share=args.share, touch_all=True)
    archive = Measured(work / "snapshots")
    source = SourceSettings(name="pvog-bench", kind="pvog", ars="160530000000",
                            page_size=100, max_concurrency=4, min_interval=0, base_url="")
    print(f"N = {args.size:,}, {args.share:.0%} changed a day, every lastUpdate moving\n")
    print(f"{'run':12} {'payloads':>8} {'full':>6} {'delta':>6} {'known':>6} "
          f"{'put µs/payload':>15} {'close ms':>9} {'gets':>6} {'get µs/payload':>15} "
          f"{'growth KiB':>11} {'files':>6}")
    with SimulatedPVOG(churn) as pvog, History(work / "zufiwatch.db") as history, \
            Fetcher(HttpSettings(read_timeout=30), retries=0) as fetcher:
        source = replace(source, base_url=pvog.base_url)
        clock = [datetime(2026, 10, 1, 4, 0, tzinfo=UTC)]
        for day, label in ((0, "day 0"), (1, "day 1"), (1, "day 1 again")):
            pvog.set_day(day)
            archive.cpu.clear()
            archive.count.clear()
            before, files = size(archive.root) if archive.root.exists() else 0, \
                len(list(archive.root.rglob("*"))) if archive.root.exists() else 0
            result = run_crawl(source, history=history, archive=archive, fetcher=fetcher,
                               clock=lambda: clock[0])
            clock[0] = clock[0].replace(day=clock[0].day + 1)
            path = Path(history.crawl(result.crawl_id)["manifest"])
            kinds = stored(archive, path)
            puts = archive.count["put"]
            known = puts - kinds["full"] - kinds["delta"]
            print(f"{label:12} {puts:8,d} {kinds['full']:6,d} {kinds['delta']:6,d} "
                  f"{known:6,d} {1e6 * archive.cpu['put'] / max(puts, 1):15.0f} "
                  f"{1e3 * archive.cpu['close']:9.1f} {archive.count['get']:6,d} "
                  f"{1e6 * archive.cpu['get'] / max(archive.count['get'], 1):15.0f} "
                  f"{(size(archive.root) - before) / 1024:11.1f} "
                  f"{len(list(archive.root.rglob('*'))) - files:6d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
