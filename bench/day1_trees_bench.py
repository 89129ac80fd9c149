#!/usr/bin/env python3
"""CPU of zufiwatch's day-1 crawl, one checkout against another, interleaved (issue 19).

    python bench/day1_trees_bench.py --tree /tmp/before --tree . [--size 2000] [--rounds 4]

Not a test: run it, read the figures. One simulated PVOG of ``--size`` Leistungen (the
churn scenario of ``side_by_side_bench.py``: 1 % edited a day, every ``lastUpdate`` moved)
is served on 127.0.0.1. Each ``--tree`` (a checkout of zufiwatch; ``git archive REV | tar
-x -C DIR`` makes one) crawls day 0 into its own store; then, round by round and tree by
tree in turn (the machine's speed drifts), the store after day 0 is copied and each tree
crawls day 1 from it, as ``zufiwatch crawl`` in its own process. Reported: the CPU seconds
(user + sys) of each day-1 crawl, each tree's median and its ratio to the first tree's.
Compile the trees first (``python -m compileall -q DIR/zufiwatch``): this machine sets
PYTHONDONTWRITEBYTECODE.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from side_by_side_bench import children_cpu, start_sim, zufiwatch_config


def crawl(tree: Path, config: Path) -> tuple[float, str]:
    """CPU seconds of one ``zufiwatch crawl`` with the zufiwatch of ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = children_cpu()
    done = subprocess.run([sys.executable, "-m", "zufiwatch.cli", "--config", str(config),
                           "crawl"], capture_output=True, text=True, cwd=tree, env=env,
                          check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"crawl with {tree} failed:\n{done.stderr[-2000:]}")
    lines = done.stdout.strip().splitlines()
    return children_cpu() - before, lines[-1] if lines else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, required=True)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--share", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    trees = [tree.resolve() for tree in args.tree]
    work = Path(tempfile.mkdtemp(prefix="day1-trees-"))
    sim = start_sim(args.size, args.share)
    cpu: dict[Path, list[float]] = {tree: [] for tree in trees}
    try:
        sim.ask("day 0")
        baselines = {}
        for index, tree in enumerate(trees):
            parent = work / f"tree{index}"
            parent.mkdir()
            config = zufiwatch_config(parent, sim.base_url)
            crawl(tree, config)
            baselines[tree] = config.parent
        sim.ask("day 1")
        for round_number in range(args.rounds):
            for tree in trees if round_number % 2 == 0 else list(reversed(trees)):
                run = work / "run"
                shutil.rmtree(run, ignore_errors=True)
                shutil.copytree(baselines[tree], run)
                config = run / "zufiwatch.toml"
                config.write_text(config.read_text(encoding="utf-8").replace(
                    str(baselines[tree]), str(run)), encoding="utf-8")
                seconds, note = crawl(tree, config)
                cpu[tree].append(seconds)
                print(f"round {round_number + 1} {tree}: {seconds:.2f} CPU-s  {note}",
                      file=sys.stderr, flush=True)
    finally:
        assert sim.process.stdin
        sim.process.stdin.close()
        sim.process.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    first = statistics.median(cpu[trees[0]])
    print(f"day-1 crawl, N = {args.size}, {args.share:.0%} edited, every lastUpdate moved; "
          f"CPU-s (user+sys) per round, median, ratio to the first tree")
    for tree in trees:
        median = statistics.median(cpu[tree])
        rounds = " ".join(f"{s:.2f}" for s in cpu[tree])
        print(f"{tree}: {rounds}  median {median:.2f}  {median / first:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
