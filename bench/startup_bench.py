#!/usr/bin/env python3
"""Start-up cost of ``zufiwatch crawl``: this checkout against an earlier revision.

    python bench/startup_bench.py [--rev main] [--rounds 20] [--size 20]

Not a test: run it, read the figures. The revision is unpacked (``git archive``) into a
temporary folder; both trees are compiled to bytecode first (without it every run
recompiles the package). A simulated PVOG of ``--size`` Leistungen (1 % changed a day,
every ``lastUpdate`` moves) is served by a separate process; each tree crawls it on day 0
and day 1 into its own store. Then, interleaved (the order alternating each round):

- ``zufiwatch --help`` and ``zufiwatch crawl --help``;
- ``zufiwatch crawl`` on day 1 again: nothing changed, nothing to parse or report, so the
  process's cost is mostly its start-up.

- the same crawl under ``-X importtime``: modules imported and their self time (inflated
  by the measurement; compare the two trees, not the absolute figures).

CPU is user + sys of each process (its own rusage). The day-1 crawl (with changes) is run
once per tree under ``-X importtime`` too, for its module count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARS = "160530000000"


def cpu_of(command: list[str], cwd: Path, stderr: int | Path = subprocess.DEVNULL) -> float:
    """User + sys seconds of one process."""
    with open(stderr, "w") if isinstance(stderr, Path) else open(os.devnull, "w") as err:
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{command} failed in {cwd}")
    return usage.ru_utime + usage.ru_stime


def config(folder: Path, base_url: str) -> Path:
    folder.mkdir()
    path = folder / "zufiwatch.toml"
    path.write_text(textwrap.dedent(f"""
        database = "{folder / 'zufiwatch.db'}"
        snapshots = "{folder / 'snapshots'}"
        [http]
        retries = 0
        [[sources]]
        name = "pvog-bench"
        kind = "pvog"
        base_url = "{base_url}"
        ars = "{ARS}"
        min_interval = 0
        """), encoding="utf-8")
    return path


def imports(path: Path) -> tuple[int, float]:
    """Modules and their total self time (s) in an ``-X importtime`` log."""
    names, total = set(), 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            parts = line.split("|")
            names.add(parts[2].strip())
            total += int(parts[0].split(":")[1])
    return len(names), total / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", default="main", help="the revision to compare with")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--size", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="startup-bench-"))
    before = work / "before"
    before.mkdir()
    archive = subprocess.run(["git", "archive", args.rev], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
    trees = {"before": before, "after": ROOT}
    for tree in trees.values():
        subprocess.run([sys.executable, "-m", "compileall", "-q", "zufiwatch"], cwd=tree,
                       check=True)
    sim = subprocess.Popen([sys.executable, "-m", "zufiwatch.sim", "--size", str(args.size),
                            "--churn", "0.01", "--touch-all"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert sim.stdin and sim.stdout
    base_url = sim.stdout.readline().strip()

    def day(n: int) -> None:
        assert sim.stdin and sim.stdout
        sim.stdin.write(f"day {n}\n")
        sim.stdin.flush()
        sim.stdout.readline()

    configs = {name: config(work / f"{name}-store", base_url) for name in trees}
    crawl = {name: [sys.executable, "-m", "zufiwatch.cli", "--config", str(configs[name]),
                    "crawl", "--quiet"] for name in trees}
    cases = {"zufiwatch --help": lambda name: [sys.executable, "-m", "zufiwatch.cli", "--help"],
             "zufiwatch crawl --help": lambda name: [sys.executable, "-m", "zufiwatch.cli",
                                                     "crawl", "--help"],
             "crawl, nothing changed": lambda name: crawl[name]}
    found: dict[tuple[str, str], list[float]] = {(c, n): [] for c in cases for n in trees}
    traced: dict[str, list[tuple[int, float]]] = {name: [] for name in trees}
    logs = {}
    try:
        day(0)
        for name, tree in trees.items():
            cpu_of(crawl[name], tree)
        day(1)
        for name, tree in trees.items():
            logs[(name, "changes")] = work / f"{name}-changes.imp"
            cpu_of([crawl[name][0], "-X", "importtime", *crawl[name][1:]], tree,
                   logs[(name, "changes")])
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(trees)[::-1]
            for case, command in cases.items():
                for name in order:
                    found[(case, name)].append(cpu_of(command(name), trees[name]))
            for name in order:
                log = work / f"{name}-nothing.imp"
                cpu_of([crawl[name][0], "-X", "importtime", *crawl[name][1:]], trees[name],
                       log)
                traced[name].append(imports(log))
    finally:
        sim.stdin.close()
        sim.wait(timeout=60)
    print(f"start-up CPU (user+sys), {args.rounds} interleaved rounds, {args.rev} vs this "
          f"checkout; crawl of {args.size} Leistungen")
    print(f"{'':26} {'before median':>14} {'min':>6} {'after median':>13} {'min':>6} "
          f"{'ratio':>6}")
    for case in cases:
        b, a = found[(case, "before")], found[(case, "after")]
        print(f"{case:26} {statistics.median(b) * 1000:11.0f} ms {min(b) * 1000:4.0f} ms "
              f"{statistics.median(a) * 1000:10.0f} ms {min(a) * 1000:4.0f} ms "
              f"{statistics.median(a) / statistics.median(b):6.2f}")
    print("\n-X importtime (self times inflated by the measurement)")
    (nb, tb), (na, ta) = imports(logs[("before", "changes")]), imports(logs[("after", "changes")])
    print(f"{'day 1 (changes), once':26} before {nb} modules, {tb:.3f} s; after {na} modules, "
          f"{ta:.3f} s")
    (nb, _), (na, _) = traced["before"][0], traced["after"][0]
    tb = statistics.median(t for _, t in traced["before"])
    ta = statistics.median(t for _, t in traced["after"])
    print(f"{'nothing changed, median':26} before {nb} modules, {tb:.3f} s; after {na} modules, "
          f"{ta:.3f} s; ratio {ta / tb:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
