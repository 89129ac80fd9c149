#!/usr/bin/env python3
"""Benchmark of the strict JSON reader (issue 18). Not a test: run it, read the figures.

    python bench/json_bench.py [--size 2000] [--repeat 20]

Serves a simulated directory of ``--size`` Leistungen and reads real answers from it: the
whole listing as one page, an onlineservices page, every Leistung detail and office (and
the verbatim PVOG detail of tests/payloads). For each it reports the best of ``--repeat``
reads with :func:`json.loads` and with :func:`read_json` (the per-payload cost of the
limits: depth pre-scan, number hooks, the duplicate-key check). Then it times how
:func:`read_json` refuses hostile bodies (100,000 deep, 100,001 digits, NaN deep in a
large answer, a repeated key), each a ``MalformedPayload``, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zufiwatch.errors import MalformedPayload
from zufiwatch.sim import JENA_ARS, Scenario, SimulatedPVOG, build_directory
from zufiwatch.sources.jsonread import read_json

VERBATIM = Path(__file__).resolve().parent.parent / "tests/payloads/pvog" \
    / "pvog-v5-detail-B100019.LB.574711.json"


def best(read: Callable[[bytes], Any], body: bytes, repeat: int) -> float:
    """The fastest of ``repeat`` reads, in milliseconds."""
    times = []
    for _ in range(repeat):
        begin = time.perf_counter()
        read(body)
        times.append(time.perf_counter() - begin)
    return min(times) * 1000


def compare(name: str, bodies: list[bytes], repeat: int) -> dict[str, Any]:
    plain = sum(best(json.loads, body, repeat) for body in bodies)
    strict = sum(best(lambda b: read_json(b, name), body, repeat) for body in bodies)
    return {"payloads": len(bodies), "bytes": sum(map(len, bodies)),
            "json.loads_ms": round(plain, 2), "read_json_ms": round(strict, 2),
            "factor": round(strict / plain, 2) if plain else 0}


def served(size: int) -> dict[str, list[bytes]]:
    """Real answers of the simulated PVOG, by kind."""
    with SimulatedPVOG(Scenario(build_directory(size))) as pvog, requests.Session() as http:
        base = pvog.base_url

        def get(path: str, **params: str) -> bytes:
            answer = http.get(base + path, params=params, timeout=30)
            answer.raise_for_status()
            return answer.content

        listing = get(f"/v7/servicedescriptions/{JENA_ARS}", page="0", size=str(size + 100))
        ids = [item["id"] for item in json.loads(listing)["serviceDescriptions"]["content"]]
        details = [get(f"/v6/servicedescriptions/{i}/detail", ars=JENA_ARS) for i in ids]
        offices = sorted({o for d in details for o in json.loads(d).get("organisationIds", [])})
        return {
            "listing (one page)": [listing],
            "onlineservices page": [get("/v1beta2/onlineservices", ars=JENA_ARS)],
            "details": details,
            "offices": [get("/v5/organisationunits/detail", q=o) for o in offices],
            "verbatim detail": [VERBATIM.read_bytes()],
        }


def hostile() -> dict[str, bytes]:
    filler = b'{"items": [' + b",".join([b'{"id": "x", "n": 1, "t": "[{]}"}'] * 50_000)
    return {
        "100,000 deep": b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "100,001 digits": b'{"a": ' + b"1" * 100_001 + b"}",
        "NaN after 1.6 MB": filler + b'], "total": NaN}',
        "repeated key after 1.6 MB": filler + b'], "items": []}',
        "65 deep after 1.6 MB": filler + b"," + b"[" * 65 + b"]" * 65 + b"]}",
    }


def refusals() -> dict[str, dict[str, Any]]:
    figures = {}
    for name, body in hostile().items():
        begin = time.perf_counter()
        try:
            read_json(body, name)
            what = "accepted"
        except MalformedPayload as exc:
            what = str(exc)[:110]
        figures[name] = {"ms": round((time.perf_counter() - begin) * 1000, 1),
                         "bytes": len(body), "answer": what}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    bodies = served(args.size)
    figures = {"size": args.size, "repeat": args.repeat,
               "ordinary": {name: compare(name, found, args.repeat)
                            for name, found in bodies.items()},
               "hostile": refusals()}
    print(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
