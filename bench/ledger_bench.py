#!/usr/bin/env python3
"""Benchmark of the evidence chain (issue 18). Not a test: run it, read the figures.

    python bench/ledger_bench.py [--history-size 2000] [--days 365] [--edits-per-day 20]

Builds a history of ``--days`` simulated days over ``--history-size`` Leistungen through
the planner and the store (``build_history`` of ``bench/crawl_bench.py``: every version,
change and event is chained as a crawl writes it), then times

- ``verify`` through the library (the walk and one streamed query per table) and through
  the installed command (what an operator waits for, Python start-up included),
- the upgrade of the same history as the version before ``m013_evidence`` wrote it (only
  changes, expectations and acknowledgements chained): opening it chains every record,
  version and event, and the grouping of the changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crawl_bench import build_history

from zufiwatch.model import canonical_json
from zufiwatch.store import History
from zufiwatch.store.ledger import verify

OLD_CHANGE_FACTS = {"id", "crawl_id", "record_id", "detected_at", "change_type", "path",
                    "label", "old_value", "new_value", "cause"}


def as_before_evidence(path: Path) -> None:
    """Rewrite the ledger as the version before m013 kept it."""
    conn = sqlite3.connect(path)
    with conn:
        rows = conn.execute("SELECT at, event, ref, body FROM ledger WHERE event IN "
                            "('change', 'expectation', 'acknowledgement', 'withdrawal') "
                            "ORDER BY id").fetchall()
        conn.execute("DELETE FROM ledger")
        prev = "0" * 64
        for at, event, ref, body in rows:
            if event == "change":
                body = canonical_json({k: v for k, v in json.loads(body).items()
                                       if k in OLD_CHANGE_FACTS})
            digest = hashlib.sha256(f"{prev}\n{event}\n{body}".encode()).hexdigest()
            conn.execute("INSERT INTO ledger (at, event, ref, body, prev, hash) "
                         "VALUES (?, ?, ?, ?, ?, ?)", [at, event, ref, body, prev, digest])
            prev = digest
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm013_evidence'")
    conn.execute("VACUUM")
    conn.close()


def timed_verify(path: Path) -> dict:
    with History(path) as history:
        begin = time.perf_counter()
        result = verify(history.db.conn)
        seconds = time.perf_counter() - begin
    assert result.ok, result.problems[:3]
    begin = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "zufiwatch.cli", "--database", str(path),
                           "verify"], check=True, capture_output=True, text=True)
    command = time.perf_counter() - begin
    return {"entries": result.entries, "kinds": dict(result.kinds),
            "verify_library_s": round(seconds, 2), "verify_command_s": round(command, 2),
            "output": done.stdout.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history-size", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--edits-per-day", type=int, default=20)
    args = parser.parse_args()
    report: dict = {}
    with tempfile.TemporaryDirectory(prefix="zufiwatch-ledger-bench-") as tmp:
        path = Path(tmp) / "history.db"
        begin = time.perf_counter()
        with History(path) as history:
            build_history(history, args.history_size, args.days, args.edits_per_day)
            counts = {table: history.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                      for table in ("records", "versions", "changes", "events", "ledger")}
        report["history"] = {**counts, "days": args.days, "edits_per_day": args.edits_per_day,
                             "build_s": round(time.perf_counter() - begin, 1),
                             "db_bytes": path.stat().st_size}
        report["verify"] = timed_verify(path)
        as_before_evidence(path)
        begin = time.perf_counter()
        with History(path):  # applies m013_evidence
            pass
        report["upgrade"] = {"open_with_m013_s": round(time.perf_counter() - begin, 2)}
        report["verify_after_upgrade"] = timed_verify(path)
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
