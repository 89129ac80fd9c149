#!/usr/bin/env python3
"""Benchmark of events (one edit, one event). Not a test: run it, read the figures.

    python bench/events_bench.py [--size 2000] [--days 365] [--edits-per-day 5]

Builds a history of ``--days`` simulated days over ``--size`` Leistungen with two sources
the way ``crawl_bench.build_history`` does (the planner and the store, no HTTP): the ZuFi
(parser ``tsa-…``, ZuFi ids) sees each day's edits first, the PVOG (parser ``pvog-…``) the
same edits a day later, so every PVOG crawl pairs its changes with the ZuFi's events. It
reports:

- the time the store spends grouping a crawl's changes into events (``group_crawl``),
  per ZuFi and per PVOG crawl;
- the upgrade of a history written before events (the same history with its events
  removed, opened again): seconds, events opened;
- ``queries.events`` over the whole history and over the last 7 days, and the notices of
  100 events (what the digest and the reminder read).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crawl_bench import START, directory_records, edit

import zufiwatch.store.events as event_store
from zufiwatch.alerts import event_notices
from zufiwatch.model import Outcome, Record
from zufiwatch.queries import events
from zufiwatch.runner import Planner
from zufiwatch.store import History
from zufiwatch.timeutil import stored


def zufi_record(record: Record) -> Record:
    """The ZuFi's copy of a PVOG record: the ZuFi id (the number after ``.LB.``) as its
    id, so that the PVOG's deep link (``tsa_leistung_id``) pairs them."""
    return Record(record.kind, record.source_id.rsplit(".", 1)[-1], record.content,
                  record.volatile)


def crawl(history: History, source: str, parser: str, records: dict[str, Record],
          day: int) -> None:
    at = stored(START + timedelta(days=day, hours=1 if parser.startswith("pvog") else 0))
    crawl_id = history.begin_crawl(source, at, parser)
    planner = Planner(history.current(source), history.content_of)
    known = planner.fingerprints()
    for key, record in records.items():
        if known.get(key) == record.hash:
            planner.confirm(key, record.hash)
        else:
            planner.observe(record, record.hash)
    history.commit_crawl(crawl_id, source, at, parser, planner.plan,
                         outcome=Outcome.COMPLETE, finished_at=at, reason="",
                         stats={"observed": planner.observed})


def timed(target: Callable[..., Any], seconds: list[tuple[str, float]]) -> Callable[..., Any]:
    def wrapper(conn: sqlite3.Connection, **kwargs: Any) -> Any:
        begin = time.perf_counter()
        try:
            return target(conn, **kwargs)
        finally:
            seconds.append((kwargs["source"], time.perf_counter() - begin))

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--edits-per-day", type=int, default=5)
    args = parser.parse_args()
    seconds: list[tuple[str, float]] = []
    event_store.group_crawl = timed(event_store.group_crawl, seconds)  # type: ignore
    with tempfile.TemporaryDirectory(prefix="zufiwatch-events-bench-") as tmp:
        path = Path(tmp) / "history.db"
        pvog = {r.key: r for r in directory_records(args.size)}
        keys = sorted(k for k in pvog if k.startswith("leistung:"))
        rng = random.Random(7)
        begin = time.perf_counter()
        with History(path) as history:
            zufi = {zufi_record(r).key: zufi_record(r) for r in pvog.values()}
            crawl(history, "zufi", "tsa-2", zufi, 0)
            crawl(history, "pvog", "pvog-2", pvog, 0)
            for day in range(1, args.days):
                edited = {key: edit(pvog[key], rng, day)
                          for key in rng.sample(keys, args.edits_per_day)}
                for record in edited.values():
                    copy = zufi_record(record)
                    zufi[copy.key] = copy
                crawl(history, "zufi", "tsa-2", zufi, day)
                pvog.update(edited)
                crawl(history, "pvog", "pvog-2", pvog, day)
            counts = history.db.execute(
                "SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM changes), "
                "(SELECT count(*) FROM events), (SELECT count(*) FROM events e WHERE "
                "(SELECT count(DISTINCT source) FROM witnesses w WHERE w.event_id = e.id) = 2)"
            ).fetchone()
        build_s = time.perf_counter() - begin
        grouping = {name: sorted(s for source, s in seconds if source == name)
                    for name in ("zufi", "pvog")}

        with sqlite3.connect(path) as conn:  # as the version before events wrote it
            conn.execute("DROP INDEX changes_event")
            conn.execute("ALTER TABLE changes DROP COLUMN event_id")
            conn.execute("DROP TABLE witnesses")
            conn.execute("DROP TABLE events")
            conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm011_events'")
        conn.close()
        begin = time.perf_counter()
        with History(path) as history:
            upgrade_s = time.perf_counter() - begin
            upgraded = history.db.execute("SELECT count(*) FROM events").fetchone()[0]
            begin = time.perf_counter()
            everything = events(history)
            all_s = time.perf_counter() - begin
            since = stored(START + timedelta(days=args.days - 7))
            begin = time.perf_counter()
            recent = events(history, since=since)
            recent_s = time.perf_counter() - begin
            begin = time.perf_counter()
            notices = event_notices(history.db.conn, [e["id"] for e in everything[-100:]])
            notices_s = time.perf_counter() - begin

    def summary(values: list[float]) -> dict[str, float]:
        return {"crawls": len(values), "median_ms": round(values[len(values) // 2] * 1000, 2),
                "max_ms": round(max(values) * 1000, 2),
                "total_s": round(sum(values), 2)} if values else {}

    print(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "history": {"leistungen": args.size, "records_per_source": len(pvog),
                    "records": counts[0], "days": args.days,
                    "edits_per_day": args.edits_per_day, "changes": counts[1],
                    "events": counts[2], "events_seen_by_both": counts[3],
                    "build_s": round(build_s, 1)},
        "group_crawl": {"zufi": summary(grouping["zufi"]), "pvog": summary(grouping["pvog"])},
        "upgrade": {"seconds": round(upgrade_s, 2), "events": upgraded},
        "queries": {"events_all": len(everything), "events_all_ms": round(all_s * 1000, 1),
                    "events_7d": len(recent), "events_7d_ms": round(recent_s * 1000, 1),
                    "notices_100_ms": round(notices_s * 1000, 1), "notices": len(notices)},
    }, indent=2))


if __name__ == "__main__":
    main()
