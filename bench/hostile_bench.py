#!/usr/bin/env python3
"""Benchmark of hostile directory servers (issue 18). Not a test: run it, read it.

    python bench/hostile_bench.py [--response-deadline 20] [--crawl-minutes 1]

Runs the real CLI crawl (``python -m zufiwatch.cli --config … crawl``, a subprocess) into a
fresh database against servers on 127.0.0.1 that misbehave (``zufiwatch.sim.hostile``,
served by this process in front of the simulators):

- (a) a PVOG whose listing drips one byte per second, headers and body;
- (b) a ZuFi whose ``/ou/find`` pages for ever: every page full (``limit`` new offices,
  each as large as a real one), ``totalCount`` 10⁹; each new office has children too.
  With no pacing and 4 parallel requests, with the default pacing (0.2 s, 3 parallel), and
  with a slow pacing (0.5 s) under which the crawl's deadline comes before the caps;
- (c) a PVOG listing that pages for ever, no pacing.

Every case uses ``[http] response_deadline`` and ``max_crawl_minutes`` as given, and the
default ``max_pages`` (2000) and ``max_items`` (200,000). For each it reports the outcome
and reason, the wall time against the deadline that applies (it must end within it plus
10 s), the requests the server received, and the peak RSS of the crawl process (VmHWM, from
``os.wait4``; it must stay under 200 MB).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's zufiwatch

from zufiwatch.config import SourceSettings
from zufiwatch.sim import JENA_ARS, Scenario, SimulatedPVOG, build_directory
from zufiwatch.sim.hostile import HostileFront
from zufiwatch.sim.tsa import AREA_ID, ROOT_OU, SimulatedTSA

#: This checkout, whose zufiwatch the crawl process runs too.
ROOT = Path(__file__).resolve().parent.parent
KEY_ENV = "ZUFIWATCH_BENCH_TSA_KEY"
API_KEY = "sim-api-key"
RSS_LIMIT_MB = 200
MARGIN_S = 10
DEFAULTS = SourceSettings(name="defaults", kind="pvog")


def config(workdir: Path, http: str, source: str) -> Path:
    path = workdir / "zufiwatch.toml"
    path.write_text(f"""
database = "{workdir / 'zufiwatch.db'}"
snapshots = "{workdir / 'snapshots'}"
[http]
{http}
[[sources]]
{source}
""", encoding="utf-8")
    return path


def run_cli(config_path: Path) -> tuple[float, int, int, str]:
    """The crawl as a subprocess: wall seconds, exit status, peak RSS in KiB, output."""
    env = {**os.environ, KEY_ENV: API_KEY, "PYTHONPATH": str(ROOT)}
    begin = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "zufiwatch.cli", "--config", str(config_path),
                              "crawl"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env=env, cwd=ROOT, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - begin, child.returncode, usage.ru_maxrss, output


def last_crawl(workdir: Path) -> tuple[str, str]:
    """Outcome and reason of the crawl the database holds (("?", "") when none)."""
    try:
        with sqlite3.connect(workdir / "zufiwatch.db") as db:
            row = db.execute("SELECT outcome, reason FROM crawls ORDER BY id DESC LIMIT 1"
                             ).fetchone()
    except sqlite3.Error:
        row = None
    return (row[0], row[1] or "") if row else ("?", "")


def case(label: str, deadline_s: float, deadline_what: str, front: HostileFront,
         prepare: Callable[[Path], Path]) -> bool:
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as tmp:
        workdir = Path(tmp)
        front.reset_requests()
        wall, status, peak_kib, output = run_cli(prepare(workdir))
        outcome, reason = last_crawl(workdir)
    peak_mb = peak_kib / 1024
    in_time = wall <= deadline_s + MARGIN_S
    small = peak_mb < RSS_LIMIT_MB
    print(f"{label}:")
    print(f"  crawl {outcome} (exit status {status}): {reason[:240]}")
    print(f"  wall time {wall:.1f} s against {deadline_what} = {deadline_s:g} s "
          f"(+{MARGIN_S} s allowed): {'ok' if in_time else 'TOO LONG'}")
    print(f"  requests received by the server: {front.request_count}")
    print(f"  peak RSS of the crawl process: {peak_mb:.0f} MB (limit {RSS_LIMIT_MB} MB): "
          f"{'ok' if small else 'TOO LARGE'}")
    if outcome == "?" or status not in (0, 1):
        print("  output:", output.strip()[-2000:])
    return in_time and small


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--response-deadline", type=float, default=20.0)
    parser.add_argument("--crawl-minutes", type=float, default=1.0)
    parser.add_argument("--cases", default="a,b1,b2,b3,c", help="which cases to run")
    parser.add_argument("--source-keys", default="",
                        help="more keys for every source, e.g. 'max_items = 20000'")
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    http = f"retries = 3\nresponse_deadline = {args.response_deadline:g}"
    crawl_s = args.crawl_minutes * 60
    limits = f"max_crawl_minutes = {args.crawl_minutes:g}\n{args.source_keys}"
    scenario = Scenario(build_directory(200))
    ok = True
    print(f"# hostile_bench: response_deadline = {args.response_deadline:g} s, "
          f"max_crawl_minutes = {args.crawl_minutes:g}, max_pages = {DEFAULTS.max_pages} "
          f"(default), max_items = {DEFAULTS.max_items} (default); {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    with SimulatedPVOG(scenario) as pvog, HostileFront(pvog.base_url) as pvog_front, \
            SimulatedTSA(scenario, lead_days=0, api_key=API_KEY) as tsa, \
            HostileFront(tsa.base_url) as tsa_front:
        pvog_source = (f'name = "pvog"\nkind = "pvog"\nbase_url = "{pvog_front.base_url}"\n'
                       f'ars = "{JENA_ARS}"\n{limits}')
        zufi = (f'name = "zufi"\nkind = "tsa"\nbase_url = "{tsa_front.base_url}"\n'
                f'root_ou = "{ROOT_OU}"\narea_id = "{AREA_ID}"\napi_key_env = "{KEY_ENV}"\n'
                f'{limits}')
        unpaced = "\nmin_interval = 0\nmax_concurrency = 4"
        runs = {
            "a": ("(a) PVOG listing dripping one byte per second", args.response_deadline,
                  "response_deadline", pvog_front, pvog_source,
                  lambda: pvog_front.drip("/v7/servicedescriptions", interval=1.0)),
            "b1": ("(b1) ZuFi /ou/find paging for ever, no pacing, 4 parallel", crawl_s,
                   "max_crawl_minutes", tsa_front, zufi + unpaced,
                   lambda: tsa_front.endless("/ou/find", "tsa-find")),
            "b2": ("(b2) ZuFi /ou/find paging for ever, default pacing (0.2 s, 3 parallel)",
                   crawl_s, "max_crawl_minutes", tsa_front, zufi,
                   lambda: tsa_front.endless("/ou/find", "tsa-find")),
            "b3": ("(b3) ZuFi /ou/find paging for ever, slow pacing (0.5 s): the crawl's "
                   "deadline comes first", crawl_s, "max_crawl_minutes", tsa_front,
                   zufi + "\nmin_interval = 0.5",
                   lambda: tsa_front.endless("/ou/find", "tsa-find")),
            "c": ("(c) PVOG listing paging for ever, no pacing, 4 parallel", crawl_s,
                  "max_crawl_minutes", pvog_front, pvog_source + unpaced,
                  lambda: pvog_front.endless("/v7/servicedescriptions", "pvog")),
        }
        for name, (label, deadline_s, what, front, source, hostile) in runs.items():
            if name not in cases:
                continue
            front.clear()
            hostile()
            ok &= case(label, deadline_s, what, front,
                       lambda w, source=source: config(w, http, source))
    print("all within deadline + 10 s and under 200 MB" if ok else "SOME CASE FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
