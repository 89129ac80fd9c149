#!/usr/bin/env python3
"""zufiwatch and urlwatch 2.29 side by side on the same simulated directory (issue 19).

    python bench/side_by_side_bench.py [--size 2000] [--share 0.01] [--keep DIR]

Not a test: run it, read the figures. A simulated PVOG of ``--size`` Leistungen is served
by a separate process on 127.0.0.1 (``python -m zufiwatch.sim --churn SHARE --touch-all``):
every day ``--share`` of the Leistungen change for real and *every* Leistung's
``lastUpdate``/``timestamp`` moves (the listing carries no change stamps), the realistic
case. Three watchers run in turn, each in its own process and store, on day 0 (the first
run), day 1 (1 % changed) and day 1 again (nothing changed):

- urlwatch 2.29 watching every Leistung's detail URL, without a filter;
- urlwatch 2.29 with a ``jq`` filter that drops ``lastUpdate`` and ``timestamp``;
- ``zufiwatch crawl`` of the whole source (details, offices, online services, listings).

urlwatch is installed by this script into its own venv (``--urlwatch-venv``, default
``bench/.urlwatch-venv``; pip needs PyPI). For every run it reports CPU seconds (user +
sys of the watcher's process), the requests the directory served, the store's growth on
disk (urlwatch's cache; zufiwatch's database and snapshots, in allocated blocks) and files
added, and the Leistungen reported changed: true (edited that day), false (not edited) and
missed (edited, not reported). Then the ratios zufiwatch / urlwatch.

Day 1 is measured ``--repeat`` times (default 3), interleaved: before each repetition every
watcher's store is put back as day 0 left it, and the watchers run one after the other, so
a change of the machine's speed (this one varies by 2-3x within minutes) hits all of them
alike. The CPU seconds of day 1 are the median of the repetitions, and the ratio is the
median of the ratios within each repetition (listed too); everything else is the same in
every repetition (checked). Day 1 again follows the last repetition.

Both run from compiled bytecode, as installed software does: pip compiles urlwatch's
modules when it installs them, and this script compiles zufiwatch's first (an editable
checkout run with ``PYTHONDONTWRITEBYTECODE`` set would otherwise compile them anew in
every run).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from dataclasses import dataclass, field
from pathlib import Path

import requests
import startup_bench  # this folder: its zufiwatch configuration

ROOT = Path(__file__).resolve().parents[1]
ARS = "160530000000"
URLWATCH = "urlwatch==2.29"
JQ_DROP = ('walk(if type == "object" then del(.lastUpdate, .timestamp) else . end)')


@dataclass
class Run:
    tool: str
    day: str
    cpu: float
    wall: float
    requests: int
    growth: int
    files: int
    true: int
    false: int
    missed: int
    note: str = ""
    #: Every repetition's CPU seconds (day 1), in order.
    cpus: list[float] = field(default_factory=list)


@dataclass
class Sim:
    process: subprocess.Popen[str]
    base_url: str

    def ask(self, command: str) -> str:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().rstrip("\n")

    def requests(self) -> int:
        answer = self.ask("stats")
        return int(answer.split()[0].split("=")[1])


@dataclass
class Store:
    paths: list[Path] = field(default_factory=list)

    def size(self) -> tuple[int, int]:
        """Bytes allocated on disk and number of files under the paths."""
        blocks = files = 0
        for path in self.paths:
            for item in [path] if path.is_file() else path.rglob("*") if path.exists() else []:
                if item.is_file():
                    blocks += item.stat().st_blocks * 512
                    files += 1
        return blocks, files


#: The zufiwatch of this checkout, whatever is installed.
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ensure_urlwatch(folder: Path) -> Path:
    binary = folder / "bin" / "urlwatch"
    if binary.exists():
        return binary
    print(f"installing {URLWATCH} and jq into {folder} ...", file=sys.stderr)
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    subprocess.run([folder / "bin" / "pip", "install", "-q", URLWATCH, "jq"], check=True)
    return binary


def start_sim(size: int, share: float) -> Sim:
    process = subprocess.Popen(
        [sys.executable, "-m", "zufiwatch.sim", "--size", str(size), "--churn", str(share),
         "--touch-all"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env=ENV)
    assert process.stdout
    return Sim(process, process.stdout.readline().strip())


def listed_ids(base_url: str) -> list[str]:
    ids: list[str] = []
    page = 0
    while True:
        answer = requests.get(f"{base_url}/v7/servicedescriptions/{ARS}",
                              params={"page": page, "size": 500}, timeout=60).json()
        listing = answer["serviceDescriptions"]
        ids += [item["id"] for item in listing["content"]]
        if listing.get("last", True) or not listing["content"]:
            return ids
        page += 1


def detail_url(base_url: str, lb_id: str) -> str:
    return (f"{base_url}/v6/servicedescriptions/{lb_id}/detail"
            f"?ars={ARS}&applyDynamicParams=true")


def urlwatch_files(work: Path, name: str, base_url: str, ids: list[str],
                   jq: bool) -> tuple[Path, Path, Path]:
    folder = work / name
    folder.mkdir()
    jobs = []
    for lb_id in ids:
        job: dict[str, object] = {"name": lb_id, "url": detail_url(base_url, lb_id)}
        if jq:
            job["filter"] = [{"jq": {"query": JQ_DROP}}]
        jobs.append(json.dumps(job))  # JSON is YAML
    urls = folder / "urls.yaml"
    urls.write_text("\n---\n".join(jobs) + "\n", encoding="utf-8")
    config = folder / "urlwatch.yaml"
    config.write_text("report:\n  stdout:\n    enabled: true\n    color: false\n"
                      "  text:\n    details: false\n    footer: false\n", encoding="utf-8")
    return urls, config, folder / "cache.db"


def zufiwatch_config(work: Path, base_url: str) -> Path:
    """zufiwatch's configuration for the simulated directory, as the start-up bench
    writes it (no retries, no pacing), in ``work/zufiwatch``."""
    return startup_bench.config(work / "zufiwatch", base_url)


def timed(command: list[str | Path], cwd: Path) -> tuple[float, float, str]:
    cpu, wall = children_cpu(), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False,
                          env=ENV)
    cpu, wall = children_cpu() - cpu, time.perf_counter() - wall
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command[0]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return cpu, wall, done.stdout


def urlwatch_changed(output: str) -> set[str]:
    """The job names of urlwatch's report summary: "01. CHANGED: name"."""
    changed = set()
    for line in output.splitlines():
        head, sep, name = line.partition(". CHANGED: ")
        if sep and head.strip().isdigit():
            changed.add(name.strip())
    return changed


def zufiwatch_changed(database: Path) -> set[str]:
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT DISTINCT r.key FROM changes c JOIN records r ON r.id = c.record_id "
            "WHERE c.crawl_id = (SELECT max(id) FROM crawls) AND r.kind = 'leistung'")
        keys = {key for (key,) in rows}
    conn.close()
    return {key.split(":", 1)[1] for key in keys}


def compile_zufiwatch() -> None:
    """Compile the bytecode of the zufiwatch the runs import, as pip does at install."""
    found = subprocess.run([sys.executable, "-c", "import zufiwatch; print(zufiwatch.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    compileall.compile_dir(Path(found.stdout.strip()).parent, quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--share", type=float, default=0.01)
    parser.add_argument("--urlwatch-venv", type=Path, default=ROOT / "bench" / ".urlwatch-venv")
    parser.add_argument("--keep", type=Path, help="keep the stores in this folder")
    parser.add_argument("--repeat", type=int, default=3,
                        help="day-1 repetitions, interleaved (default 3)")
    args = parser.parse_args()
    urlwatch = ensure_urlwatch(args.urlwatch_venv)
    compile_zufiwatch()
    work = args.keep or Path(tempfile.mkdtemp(prefix="side-by-side-"))
    work.mkdir(parents=True, exist_ok=True)
    sim = start_sim(args.size, args.share)
    runs: list[Run] = []
    try:
        ids = listed_ids(sim.base_url)
        plain = urlwatch_files(work, "urlwatch-plain", sim.base_url, ids, jq=False)
        filtered = urlwatch_files(work, "urlwatch-jq", sim.base_url, ids, jq=True)
        config = zufiwatch_config(work, sim.base_url)
        database = config.parent / "zufiwatch.db"
        tools: dict[str, tuple[list[str | Path], Store, Path]] = {
            "urlwatch (no filter)": ([urlwatch, "--urls", plain[0], "--config", plain[1],
                                      "--cache", plain[2]], Store([plain[2]]), plain[2].parent),
            "urlwatch (jq drops lastUpdate)": ([urlwatch, "--urls", filtered[0], "--config",
                                                filtered[1], "--cache", filtered[2]],
                                               Store([filtered[2]]), filtered[2].parent),
            "zufiwatch": ([sys.executable, "-m", "zufiwatch.cli", "--config", config, "crawl"],
                          Store([database, config.parent / "snapshots"]), config.parent),
        }

        def measure(tool: str, day: int, label: str, edited: set[str]) -> Run:
            command, store, _ = tools[tool]
            before_requests, (before_bytes, before_files) = sim.requests(), store.size()
            cpu, wall, output = timed(command, work)
            after_bytes, after_files = store.size()
            if tool == "zufiwatch":
                changed = zufiwatch_changed(database) if day else set()
                note = output.strip().splitlines()[-1] if output.strip() else ""
            else:
                changed = urlwatch_changed(output) if day else set()
                note = ""
            run = Run(tool, label, cpu, wall, sim.requests() - before_requests,
                      after_bytes - before_bytes, after_files - before_files,
                      len(changed & edited), len(changed - edited), len(edited - changed),
                      note, [cpu])
            print(f"{label:12} {tool:32} {cpu:6.1f} CPU-s {run.requests:6d} requests",
                  file=sys.stderr, flush=True)
            return run

        sim.ask("day 0")
        runs += [measure(tool, 0, "day 0", set()) for tool in tools]
        for _, _, folder in tools.values():
            shutil.copytree(folder, folder.with_name(folder.name + ".day0"))
        sim.ask("day 1")
        edited = set(sim.ask("edits 1").split())
        repetitions: list[dict[str, Run]] = []
        for _ in range(max(1, args.repeat)):
            for _, _, folder in tools.values():
                shutil.rmtree(folder)
                shutil.copytree(folder.with_name(folder.name + ".day0"), folder)
            repetitions.append({tool: measure(tool, 1, "day 1", edited) for tool in tools})
        runs += [combined([r[tool] for r in repetitions]) for tool in tools]
        sim.ask("day 1")
        runs += [measure(tool, 1, "day 1 again", set()) for tool in tools]
    finally:
        assert sim.process.stdin
        sim.process.stdin.close()
        sim.process.wait(timeout=60)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report(runs, args.size, args.share)
    return 0


def combined(repeated: list[Run]) -> Run:
    """The repetitions of one watcher's day 1 as one run: the median CPU and wall seconds,
    the rest of the last (the same in each: a difference is an error of the benchmark)."""
    last = repeated[-1]
    for run in repeated:
        same = (run.requests, run.true, run.false, run.missed)
        if same != (last.requests, last.true, last.false, last.missed):
            raise SystemExit(f"{run.tool}: day-1 repetitions differ: {same} and "
                             f"{(last.requests, last.true, last.false, last.missed)}")
    cpus = [run.cpu for run in repeated]
    return Run(last.tool, last.day, statistics.median(cpus),
               statistics.median(run.wall for run in repeated), last.requests, last.growth,
               last.files, last.true, last.false, last.missed, last.note, cpus)


def report(runs: list[Run], size: int, share: float) -> None:
    print(f"side by side, N = {size:,} Leistungen, {share:.0%} changed a day, every "
          f"lastUpdate moving; {os.cpu_count()} cores\n")
    print(f"{'run':12} {'watcher':32} {'CPU s':>7} {'wall s':>7} {'requests':>9} "
          f"{'growth MiB':>11} {'files':>6} {'true':>5} {'false':>6} {'missed':>7}")
    for r in runs:
        print(f"{r.day:12} {r.tool:32} {r.cpu:7.2f} {r.wall:7.2f} {r.requests:9,d} "
              f"{r.growth / 2**20:11.2f} {r.files:6d} {r.true:5d} {r.false:6d} {r.missed:7d}")
    print()
    by = {(r.tool, r.day): r for r in runs}
    for day in ("day 0", "day 1", "day 1 again"):
        ours = by[("zufiwatch", day)]
        plain = by[("urlwatch (no filter)", day)]
        jq = by[("urlwatch (jq drops lastUpdate)", day)]
        pairs = [a / b for a, b in zip(ours.cpus, plain.cpus, strict=True)] \
            if len(ours.cpus) > 1 else [ours.cpu / plain.cpu]
        within = (f" (median of {len(pairs)} interleaved repetitions: "
                  f"{', '.join(f'{p:.3f}×' for p in pairs)})") if len(pairs) > 1 else ""
        print(f"{day}: zufiwatch CPU {statistics.median(pairs):.2f}× urlwatch (no filter)"
              f"{within}, {ours.cpu / jq.cpu:.2f}× urlwatch (jq); requests "
              f"{ours.requests / max(plain.requests, 1):.2f}× urlwatch; store growth "
              f"{ours.growth / 2**20:.2f} MiB vs {plain.growth / 2**20:.2f} / "
              f"{jq.growth / 2**20:.2f} MiB")
    for r in runs:
        if r.note:
            print(f"  {r.day}: {r.note}")


if __name__ == "__main__":
    sys.exit(main())
