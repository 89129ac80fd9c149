"""The whole history is evidence: `verify` notices an edit, an insertion or a deletion of
any row a reader sees (records, versions, changes, events, the register and the reviews),
names its table and row, and prints the chain's head when all holds. Histories written
before are chained when they are upgraded.

The histories are the demo's (simulated ZuFi, PVOG and link check on 127.0.0.1), edited
with plain SQL as someone with write access to the file would.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from zufiwatch.cli import cli
from zufiwatch.model import canonical_json
from zufiwatch.store import History
from zufiwatch.triage import acknowledge, expect, withdraw

PAYLOADS = Path(__file__).parent / "payloads"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
INTACT = re.compile(r"evidence chain intact: (\d+) entries, head ([0-9a-f]{64}) at entry (\d+)")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's five days, with two expectations (one withdrawn) and an acknowledged
    event."""
    from zufiwatch.demo import run_demo

    root = tmp_path_factory.mktemp("evidence")
    run_demo(days=5, size=60, keep=root / "demo", echo=lambda line: None)
    path = root / "demo" / "zufiwatch.db"
    with History(path) as history:
        key = history.db.execute("SELECT key FROM records WHERE kind = 'leistung' "
                                 "ORDER BY id LIMIT 1").fetchone()[0]
        until = NOW + timedelta(days=30)
        expect(history, key=key, field="Volltext", value="neu", until=until, by="M. Muster",
               note="Ticket 1", now=NOW)
        second = expect(history, key=key, field="Volltext", value="anders", until=until,
                        by="M. Muster", now=NOW)
        withdraw(history, second, by="M. Muster", note="abgesagt", now=NOW)
        event = history.db.execute("SELECT min(id) FROM events").fetchone()[0]
        acknowledge(history, [event], by="M. Muster", note="geprüft", now=NOW)
    return path


@pytest.fixture
def db(demo_db: Path, tmp_path: Path) -> Path:
    """A copy of the demo's history for one test to edit."""
    path = tmp_path / "history.db"
    with sqlite3.connect(demo_db) as source, sqlite3.connect(path) as target:
        source.backup(target)
    source.close()
    target.close()
    return path


def verify(path: Path) -> Result:
    return CliRunner().invoke(cli, ["--database", str(path), "verify"])


def edit(path: Path, statement: str, params: tuple = ()) -> None:
    """Change the file behind the program's back (foreign keys off, as sqlite3 has them)."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute(statement, params)
    conn.close()


def one(path: Path, query: str, params: tuple = ()) -> tuple:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute(query, params).fetchone()
    finally:
        conn.close()
    assert row is not None, query
    return row


def entry_of(path: Path, kind: str, ref: int) -> int:
    return one(path, "SELECT max(id) FROM ledger WHERE event = ? AND ref = ?", (kind, ref))[0]


def broken(result: Result, expected: str) -> None:
    assert result.exit_code == 1, result.output
    assert expected in result.output, result.output
    assert "intact" not in result.output


# -- untouched ---------------------------------------------------------------------------


def test_an_untouched_history_verifies_and_prints_the_head(db: Path) -> None:
    result = verify(db)
    assert result.exit_code == 0, result.output
    found = INTACT.search(result.output)
    assert found, result.output
    last_id, last_hash = one(db, "SELECT id, hash FROM ledger ORDER BY id DESC LIMIT 1")
    assert (int(found[1]), found[2], int(found[3])) == (
        one(db, "SELECT count(*) FROM ledger")[0], last_hash, last_id)
    # Every record, version and event is chained, and every change with its event.
    for kind, table in (("record", "records"), ("version", "versions"),
                        ("event", "events"), ("change", "changes")):
        assert one(db, f"SELECT count(*) FROM {table} WHERE id NOT IN "
                   "(SELECT ref FROM ledger WHERE event = ?)", (kind,)) == (0,), kind
    assert one(db, "SELECT count(*) FROM changes c JOIN ledger l ON l.event = 'change' "
               "AND l.ref = c.id WHERE json_extract(l.body, '$.event_id') IS NOT c.event_id"
               ) == (0,)


# -- edits -------------------------------------------------------------------------------


def forge_fee(path: Path, version: int) -> None:
    """Raise the first fee in a version's content to 99,00 EUR."""
    content = one(path, "SELECT content FROM versions WHERE id = ?", (version,))[0]
    fee = re.search(r"Gebühr: (\d+,\d\d) EUR", content)
    assert fee, content
    forged = content.replace(fee[0], "Gebühr: 99,00 EUR", 1)
    assert forged != content and json.loads(forged)
    edit(path, "UPDATE versions SET content = ? WHERE id = ?", (forged, version))


FEES = ("SELECT v.id, r.key FROM versions v JOIN records r ON r.id = v.record_id "
        "WHERE v.content LIKE '%Gebühr: %EUR%' AND v.content NOT LIKE '%Gebühr: 99,00 EUR%' "
        "ORDER BY v.id LIMIT 1")


def test_an_edited_fee_in_a_versions_content_fails_naming_the_row(db: Path) -> None:
    version, key = one(db, FEES)
    forge_fee(db, version)
    broken(verify(db), f"versions row {version} (record {key}): content altered since it "
                       f"was chained in ledger entry {entry_of(db, 'version', version)}")


def test_an_edited_record_title_fails_naming_the_row(db: Path) -> None:
    record, key = one(db, "SELECT id, key FROM records ORDER BY id DESC LIMIT 1")
    edit(db, "UPDATE records SET title = 'Gefälschter Titel' WHERE id = ?", (record,))
    broken(verify(db), f"records row {record} ({key}): title altered")


def test_an_edited_record_key_fails_naming_the_row(db: Path) -> None:
    record = one(db, "SELECT min(id) FROM records")[0]
    edit(db, "UPDATE records SET key = 'leistung:0' WHERE id = ?", (record,))
    broken(verify(db), f"records row {record} (leistung:0): key altered since it was chained "
                       f"in ledger entry {entry_of(db, 'record', record)}")


def test_an_edited_event_title_fails_naming_the_row(db: Path) -> None:
    event, subject = one(db, "SELECT id, subject FROM events ORDER BY id DESC LIMIT 1")
    edit(db, "UPDATE events SET title = 'Harmlos' WHERE id = ?", (event,))
    broken(verify(db), f"events row {event} ({subject}): title altered since it was chained "
                       f"in ledger entry {entry_of(db, 'event', event)}")


def test_a_change_moved_to_another_event_fails_naming_the_row(db: Path) -> None:
    change, key, event = one(db, "SELECT c.id, r.key, c.event_id FROM changes c "
                             "JOIN records r ON r.id = c.record_id ORDER BY c.id LIMIT 1")
    other = one(db, "SELECT max(id) FROM events WHERE id != ?", (event,))[0]
    edit(db, "UPDATE changes SET event_id = ? WHERE id = ?", (other, change))
    broken(verify(db), f"changes row {change} (record {key}): event_id altered since it was "
                       f"chained in ledger entry {entry_of(db, 'change', change)}")


def test_a_version_inserted_around_the_ledger_fails_naming_the_row(db: Path) -> None:
    record, key = one(db, "SELECT r.id, r.key FROM records r WHERE kind = 'leistung' "
                      "ORDER BY id LIMIT 1")
    edit(db, "INSERT INTO versions (record_id, crawl_id, content_hash, content, volatile, "
             "parser_version, valid_from) SELECT record_id, crawl_id, content_hash, "
             "replace(content, 'Stadt Jena', 'Stadt Gera'), volatile, parser_version, "
             "'2027-01-01T00:00:00.000000+00:00' FROM versions WHERE record_id = ? "
             "ORDER BY id DESC LIMIT 1", (record,))
    inserted = one(db, "SELECT max(id) FROM versions")[0]
    broken(verify(db), f"versions row {inserted} (record {key}): not in the ledger "
                       "(written around it)")


def test_a_deleted_record_fails_naming_the_row(db: Path) -> None:
    record = one(db, "SELECT max(id) FROM records")[0]
    entry = entry_of(db, "record", record)
    edit(db, "DELETE FROM records WHERE id = ?", (record,))
    broken(verify(db), f"records row {record}: deleted, but chained in ledger entry {entry}")


def test_a_deleted_version_fails_naming_the_row(db: Path) -> None:
    version = one(db, "SELECT max(id) FROM versions")[0]
    entry = entry_of(db, "version", version)
    edit(db, "DELETE FROM versions WHERE id = ?", (version,))
    broken(verify(db), f"versions row {version}: deleted, but chained in ledger entry {entry}")


@pytest.mark.parametrize(("statement", "table", "kind", "named", "field"), [
    ("UPDATE expectations SET value = 'alt' WHERE id = 1", "expectations", "expectation",
     "SELECT key FROM expectations WHERE id = 1", "value"),
    ("UPDATE acknowledgements SET by = 'Jemand' WHERE id = 1", "acknowledgements",
     "acknowledgement", "SELECT 'change ' || change_id FROM acknowledgements WHERE id = 1",
     "by"),
    ("UPDATE withdrawals SET note = 'nie' WHERE id = 1", "withdrawals", "withdrawal",
     "SELECT 'expectation ' || expectation_id FROM withdrawals WHERE id = 1", "note"),
])
def test_an_edited_register_or_review_fails_naming_the_row(
        db: Path, statement: str, table: str, kind: str, named: str, field: str) -> None:
    name = one(db, named)[0]
    edit(db, statement)
    broken(verify(db), f"{table} row 1 ({name}): {field} altered since it was chained in "
                       f"ledger entry {entry_of(db, kind, 1)}")


def test_every_problem_is_named_not_only_the_first(db: Path) -> None:
    edit(db, "UPDATE events SET title = 'x'")
    result = verify(db)
    events = one(db, "SELECT count(*) FROM events")[0]
    assert result.exit_code == 1 and events > 1
    assert len(re.findall(r"^events row \d+ .*title altered", result.output, re.M)) == events


# -- upgrades ----------------------------------------------------------------------------


def test_a_history_from_before_events_is_chained_on_upgrade_and_then_guarded(
        tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.write_bytes(gzip.decompress((PAYLOADS / "history-before-events.db.gz").read_bytes()))
    with sqlite3.connect(path) as old:
        before = old.execute("SELECT * FROM ledger ORDER BY id").fetchall()
    old.close()
    assert {row[2] for row in before} == {"change", "expectation", "acknowledgement"}

    first = verify(path)  # the upgrade (and the grouping into events) happen on opening
    assert first.exit_code == 0, first.output
    assert INTACT.search(first.output)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT * FROM ledger ORDER BY id LIMIT ?",
                            [len(before)]).fetchall() == before
        kinds = dict(conn.execute("SELECT event, count(*) FROM ledger GROUP BY event"))
        for kind, table in (("record", "records"), ("version", "versions"),
                            ("event", "events")):
            assert kinds[kind] == conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        assert kinds["grouping"] == conn.execute("SELECT count(*) FROM changes").fetchone()[0]
        # The title a record had is known for its newest version only.
        assert conn.execute("SELECT count(*) FROM ledger WHERE event = 'version' "
                            "AND json_type(body, '$.title') IS NOT NULL").fetchone()[0] \
            == conn.execute("SELECT count(*) FROM records").fetchone()[0]
        version, key = conn.execute(FEES).fetchone()
        record, record_key = conn.execute("SELECT id, key FROM records ORDER BY id DESC "
                                          "LIMIT 1").fetchone()
        change, change_key = conn.execute(
            "SELECT c.id, r.key FROM changes c JOIN records r ON r.id = c.record_id "
            "ORDER BY c.id LIMIT 1").fetchone()
    finally:
        conn.close()
    assert verify(path).exit_code == 0  # upgraded once

    forge_fee(path, version)
    edit(path, "UPDATE records SET title = 'Gefälscht' WHERE id = ?", (record,))
    edit(path, "UPDATE changes SET event_id = (SELECT max(id) FROM events) WHERE id = ?",
         (change,))
    result = verify(path)
    broken(result, f"versions row {version} (record {key}): content altered since it was "
                   f"chained in ledger entry {entry_of(path, 'version', version)}")
    assert f"records row {record} ({record_key}): title altered" in result.output
    assert (f"changes row {change} (record {change_key}): event_id altered since it was "
            f"chained in ledger entry {entry_of(path, 'grouping', change)}") in result.output


def _as_before_evidence(path: Path) -> None:
    """Make a history look as the version before this one wrote it: only changes and the
    register and reviews chained, a change's entry without its event, version or flap."""
    old_facts = {"id", "crawl_id", "record_id", "detected_at", "change_type", "path",
                 "label", "old_value", "new_value", "cause"}
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
                                       if k in old_facts})
            digest = hashlib.sha256(f"{prev}\n{event}\n{body}".encode()).hexdigest()
            conn.execute("INSERT INTO ledger (at, event, ref, body, prev, hash) "
                         "VALUES (?, ?, ?, ?, ?, ?)", [at, event, ref, body, prev, digest])
            prev = digest
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm013_evidence'")
    conn.close()


def test_a_history_with_events_is_chained_on_upgrade_with_its_grouping(db: Path) -> None:
    _as_before_evidence(db)
    old = one(db, "SELECT count(*) FROM ledger")[0]
    changes = one(db, "SELECT count(*) FROM changes")[0]
    result = verify(db)
    assert result.exit_code == 0, result.output
    assert int(INTACT.search(result.output)[1]) == old + sum(
        one(db, f"SELECT count(*) FROM {table}")[0] for table in ("records", "versions",
                                                                  "events")) + changes
    change, key = one(db, "SELECT c.id, r.key FROM changes c JOIN records r "
                      "ON r.id = c.record_id ORDER BY c.id DESC LIMIT 1")
    edit(db, "UPDATE changes SET event_id = (SELECT min(id) FROM events) WHERE id = ?",
         (change,))
    broken(verify(db), f"changes row {change} (record {key}): event_id altered since it was "
                       f"chained in ledger entry {entry_of(db, 'grouping', change)}")


def test_an_altered_version_entry_breaks_the_chain(db: Path) -> None:
    edit(db, "UPDATE ledger SET body = replace(body, '\"id\":', '\"id\": ') "
             "WHERE id = (SELECT max(id) FROM ledger WHERE event = 'version')")
    entry, version = one(db, "SELECT max(id), ref FROM ledger WHERE event = 'version'")
    broken(verify(db), f"ledger entry {entry} (version {version}): the entry itself was "
                       "altered")
