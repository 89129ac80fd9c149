#!/usr/bin/env python3
"""CPU per GET: urllib3, the fetcher's direct transport, and the whole fetcher (issue 19).

    python bench/transport_bench.py [--size 2000] [--rounds 3]

Not a test: run it, read the figures. A simulated PVOG of ``--size`` Leistungen is served by
a separate process on 127.0.0.1; every detail is fetched once per round over one kept-alive
connection by each client in turn (interleaved), and the CPU seconds of this process are
printed per client and round:

- ``urllib3``: a ``HTTPConnectionPool.urlopen`` per GET, body preloaded (what the fetcher
  used before ``transport.py``, and what ``requests`` builds on);
- ``http.client``: ``HTTPConnection.request`` and ``getresponse().read()``, the floor;
- ``DirectPool``: the fetcher's transport (``zufiwatch.transport``), body read in steps;
- ``Fetcher.get``: the whole fetcher (pacing, watch, redirects, size cap, counting).
"""

from __future__ import annotations

import argparse
import http.client
import json
import resource
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import urllib3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zufiwatch.config import HttpSettings  # noqa: E402
from zufiwatch.fetch import Fetcher  # noqa: E402
from zufiwatch.transport import DirectPool  # noqa: E402

ARS = "160530000000"
HEADERS = {"Accept": "*/*", "User-Agent": "bench", "Accept-Encoding": "gzip,deflate"}


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def listed(base: str) -> list[str]:
    ids: list[str] = []
    page = 0
    while True:
        with urllib.request.urlopen(f"{base}/v7/servicedescriptions/{ARS}?page={page}"
                                    "&size=500") as answer:
            found = json.load(answer)["serviceDescriptions"]
        ids += [item["id"] for item in found["content"]]
        if found.get("last", True) or not found["content"]:
            return ids
        page += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sim = subprocess.Popen([sys.executable, "-m", "zufiwatch.sim", "--size", str(args.size)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert sim.stdout and sim.stdin
    base = sim.stdout.readline().strip()
    try:
        parts = urlsplit(base)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        targets = [f"{parts.path}/v6/servicedescriptions/{i}/detail?ars={ARS}"
                   f"&applyDynamicParams=true" for i in listed(base)]
        pool = urllib3.HTTPConnectionPool(host, port, maxsize=1, retries=False)
        connection = http.client.HTTPConnection(host, port, timeout=30)
        direct = DirectPool("http", host, port, connect_timeout=30, read_timeout=30,
                            tls=lambda: None)  # type: ignore[arg-type,return-value]
        fetcher = Fetcher(HttpSettings(retries=0))

        def with_urllib3() -> None:
            for target in targets:
                assert pool.urlopen("GET", target, headers=HEADERS, redirect=False).data

        def with_http_client() -> None:
            for target in targets:
                connection.request("GET", target, headers=HEADERS)
                connection.getresponse().read()

        def with_direct_pool() -> None:
            for target in targets:
                answer = direct.send(target, HEADERS, lambda sock: None)
                while answer.read1(65536):
                    pass
                answer.release()

        def with_fetcher() -> None:
            for target in targets:
                fetcher.get(f"{parts.scheme}://{parts.netloc}{target}")

        clients: dict[str, Callable[[], None]] = {
            "urllib3": with_urllib3, "http.client": with_http_client,
            "DirectPool": with_direct_pool, "Fetcher.get": with_fetcher}
        figures: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(args.rounds):
            for name, run in clients.items():
                begin = cpu()
                run()
                figures[name].append(cpu() - begin)
        print(f"CPU seconds for {len(targets):,} GETs of a detail, {args.rounds} interleaved "
              "rounds (median):")
        floor = sorted(figures["http.client"])[args.rounds // 2]
        for name, values in figures.items():
            median = sorted(values)[args.rounds // 2]
            print(f"  {name:12} {median:6.3f}  ({median / floor:.2f}x http.client)  "
                  f"runs {' '.join(f'{v:.3f}' for v in values)}")
        fetcher.close()
    finally:
        sim.stdin.close()
        sim.wait(timeout=60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
