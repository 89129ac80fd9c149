#!/usr/bin/env python3
"""Benchmark of the core pipeline (issue 2). Not a test: run it, read the figures.

    python bench/crawl_bench.py [--size 20000] [--history-size 2000] [--days 365]

Part 1 crawls a simulated PVOG of ``--size`` Leistungen, served by a separate process on
127.0.0.1 (so the server's CPU and memory are not counted), into a fresh database: the
baseline crawl, then an unchanged re-crawl. It reports records per second, CPU seconds per
1,000 records, peak memory, database bytes per version and the bytes an unchanged
re-crawl adds. Processing alone (parse, normalise, diff, store, no fetching) is measured by
replaying the baseline crawl's archived payloads into a fresh database.

Part 2 builds a history of ``--days`` simulated days over ``--history-size`` Leistungen
through the same planner and store (without HTTP, with a handful of edits a day), then
times ``show --at`` and ``state --at`` on it: through the library (the query itself) and
through the installed command (what a person waits for, Python start-up included).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from zufiwatch import queries
from zufiwatch.archive import Archive
from zufiwatch.config import HttpSettings, SourceSettings
from zufiwatch.fetch import Fetcher
from zufiwatch.model import Outcome, Record
from zufiwatch.runner import Planner, replay_crawl, run_crawl
from zufiwatch.sim import JENA_ARS, build_directory
from zufiwatch.sources.pvog import parse_leistung, parse_office, parse_onlineservices
from zufiwatch.store import History
from zufiwatch.timeutil import stored

START = datetime(2026, 1, 1, 5, 0, tzinfo=UTC)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def db_bytes(history: History) -> int:
    history.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return history.path.stat().st_size


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class SimProcess:
    """The simulated PVOG in its own process, steered over stdin."""

    def __init__(self, size: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zufiwatch.sim", "--size", str(size)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()

    def day(self, day: int) -> None:
        self.proc.stdin.write(f"day {day}\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == f"ok {day}"

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def crawl_part(size: int, workdir: Path) -> dict:
    sim = SimProcess(size)
    results = {}
    try:
        # max_items: a directory this large is meant (the default, 20,000, is Jena's ten-fold).
        source = SourceSettings(name="bench", kind="pvog", base_url=sim.base_url, ars=JENA_ARS,
                                page_size=500, max_concurrency=4, min_interval=0,
                                max_items=max(20_000, 2 * size))
        with History(workdir / "crawl.db") as history, \
                Fetcher(HttpSettings(read_timeout=60), retries=0) as fetcher:
            archive = Archive(workdir / "snapshots")
            for number, label in enumerate(("baseline", "unchanged")):
                size_before = db_bytes(history)
                wall, cpu_before = time.perf_counter(), cpu()
                result = run_crawl(source, history=history, archive=archive, fetcher=fetcher,
                                   clock=lambda n=number: START + timedelta(days=n))
                wall = time.perf_counter() - wall
                used = cpu() - cpu_before
                assert result.outcome is Outcome.COMPLETE, result.reason
                records = result.stats["observed"]
                results[label] = {
                    "records": records,
                    "requests": result.stats["requests"],
                    "wall_s": round(wall, 2),
                    "records_per_s_end_to_end": round(records / wall),
                    "processing_cpu_s": round(result.process_seconds, 2),
                    "records_per_s_processing": round(records / result.process_seconds),
                    "cpu_s_per_1000_records": round(used / records * 1000, 3),
                    "db_bytes_added": db_bytes(history) - size_before,
                }
            results["processing_alone"] = replay_part(source, history, archive, workdir)
            versions = history.db.execute("SELECT count(*) FROM versions").fetchone()[0]
            results["db_bytes_per_version"] = round(db_bytes(history) / versions)
            results["versions"] = versions
            unchanged = results["unchanged"]
            results["unchanged"]["db_bytes_added_per_1000_records"] = round(
                unchanged["db_bytes_added"] / unchanged["records"] * 1000, 1)
            results["archive_bytes"] = tree_bytes(workdir / "snapshots")
    finally:
        sim.close()
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return results


def replay_part(source: SourceSettings, history: History, archive: Archive,
                workdir: Path) -> dict:
    """Processing alone: the baseline crawl's archived payloads parsed, normalised,
    compared and stored into a fresh database, with no network activity at the same time."""
    first = history.crawls(limit=1000)[-1]
    with History(workdir / "replay.db") as fresh:
        wall, cpu_before = time.perf_counter(), cpu()
        result = replay_crawl(source, Path(first["manifest"]), history=fresh, archive=archive,
                              clock=lambda: START)
        wall = time.perf_counter() - wall
        used = cpu() - cpu_before
    records = result.stats["observed"]
    return {
        "records": records,
        "wall_s": round(wall, 2),
        "cpu_s": round(used, 2),
        "records_per_s": round(records / wall),
        "cpu_s_per_1000_records": round(used / records * 1000, 3),
    }


def directory_records(size: int) -> list[Record]:
    directory = build_directory(size)
    records = [parse_leistung(d, directory.titles.get(i, []))
               for i, d in directory.leistungen.items()]
    records += [parse_office(o) for o in directory.offices.values()]
    records += list(parse_onlineservices({"onlineservices": directory.onlineservices},
                                         JENA_ARS).records)
    return records


def edit(record: Record, rng: random.Random, day: int) -> Record:
    content = copy.deepcopy(record.content)
    if record.kind == "leistung":
        choice = rng.randrange(3)
        if choice == 0 and content["texte"]:
            module = content["texte"][rng.choice(sorted(content["texte"]))]
            module["text"] += f" Ergänzt am Tag {day}."
        elif choice == 1:
            url = f"https://thavelp.thueringen.de/thavelp/go/a/{day}"
            content["onlinedienste"] = [{"url": url, "titel": "Online beantragen"}]
        else:
            content["fachliche_freigabe"] = {"stelle": "Stadt Jena",
                                             "datum": f"2026-{day % 12 + 1:02d}-01"}
    else:
        content["name"] = f"{content['name']} ({day})"
    return Record(record.kind, record.source_id, content, record.volatile)


def build_history(history: History, size: int, days: int,
                  edits_per_day: int) -> dict[str, Record]:
    """One complete crawl a day through the planner and the store (no HTTP), with a few
    edits a day; returns the records as they are at the end."""
    records = {r.key: r for r in directory_records(size)}
    keys = sorted(records)
    rng = random.Random(7)
    for day in range(days):
        for key in rng.sample(keys, edits_per_day) if day else []:
            records[key] = edit(records[key], rng, day)
        at = stored(START + timedelta(days=day))
        crawl_id = history.begin_crawl("bench", at, "pvog-1")
        planner = Planner(history.current("bench"), history.content_of)
        known = planner.fingerprints()
        for key, record in records.items():
            fingerprint = record.hash  # stands in for the payload fingerprint
            if known.get(key) == fingerprint:
                planner.confirm(key, fingerprint)
            else:
                planner.observe(record, fingerprint)
        history.commit_crawl(crawl_id, "bench", at, "pvog-1", planner.plan,
                             outcome=Outcome.COMPLETE, finished_at=at, reason="",
                             stats={"observed": planner.observed})
    return records


def history_part(size: int, days: int, edits_per_day: int, workdir: Path) -> dict:
    path = workdir / "history.db"
    rng = random.Random(8)
    build_start = time.perf_counter()
    with History(path) as history:
        records = build_history(history, size, days, edits_per_day)
        keys = sorted(records)
        build_s = time.perf_counter() - build_start
        versions = history.db.execute("SELECT count(*) FROM versions").fetchone()[0]
        samples = [(rng.choice(keys), stored(START + timedelta(days=rng.uniform(0, days))))
                   for _ in range(300)]
        show_ms = []
        for key, at in samples:
            begin = time.perf_counter()
            queries.show(history, key, at=at)
            show_ms.append((time.perf_counter() - begin) * 1000)
        state_ms = []
        for _ in range(5):
            at = stored(START + timedelta(days=rng.uniform(0, days)))
            begin = time.perf_counter()
            state = queries.directory_state(history, at=at)
            state_ms.append((time.perf_counter() - begin) * 1000)
        assert len(state) == len(records)
    cli = [sys.executable, "-m", "zufiwatch.cli", "--database", str(path)]
    key, at = samples[0]
    show_cli = timed_command([*cli, "show", key, "--at", at[:10], "--json"])
    state_cli = timed_command([*cli, "state", "--at", at[:10], "--json"])
    return {
        "records": len(records), "days": days, "edits_per_day": edits_per_day,
        "versions": versions, "build_s": round(build_s, 1),
        "db_bytes": path.stat().st_size,
        "show_at_ms": {"median": round(statistics.median(show_ms), 2),
                       "p95": round(sorted(show_ms)[int(len(show_ms) * 0.95)], 2),
                       "max": round(max(show_ms), 2)},
        "state_at_ms": {"median": round(statistics.median(state_ms), 1),
                        "max": round(max(state_ms), 1)},
        "show_at_cli_ms": show_cli, "state_at_cli_ms": state_cli,
    }


def timed_command(command: list[str]) -> float:
    begin = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return round((time.perf_counter() - begin) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--history-size", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--edits-per-day", type=int, default=5)
    parser.add_argument("--skip-crawl", action="store_true")
    args = parser.parse_args()
    report = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    with tempfile.TemporaryDirectory(prefix="zufiwatch-bench-") as tmp:
        workdir = Path(tmp)
        if not args.skip_crawl:
            report["crawl"] = crawl_part(args.size, workdir)
            print(json.dumps({"crawl": report["crawl"]}, indent=2), flush=True)
        report["history"] = history_part(args.history_size, args.days, args.edits_per_day,
                                         workdir)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
