"""The history store and the raw archive, on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Crawler, table_count
from zufiwatch.archive import Archive, Manifest, warc
from zufiwatch.errors import ArchiveError, QueryError, StoreError, UnknownRecord
from zufiwatch.model import Outcome
from zufiwatch.sources.base import decode_json
from zufiwatch.sources.pvog import parse_leistung
from zufiwatch.store import CommitPlan, History, NewVersion


def test_database_is_wal_and_migrations_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with History(path) as first:
        assert first.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = set(first.db.table_names())
    with History(path) as second:
        assert set(second.db.table_names()) == tables
    assert {"crawls", "records", "versions", "changes", "observation_gaps"} <= tables


def test_a_failing_write_leaves_nothing_behind(history: History) -> None:
    crawl = history.begin_crawl("s", "2026-10-01T00:00:00.000000+00:00", "pvog-1")
    good = NewVersion("leistung:S1.LB.1", "leistung", "A", "h1", '{"name":"A"}', "{}")
    bad = NewVersion("leistung:S1.LB.2", "leistung", "B", "h2", None, "{}")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="could not store crawl"):
        history.commit_crawl(crawl, "s", "2026-10-01T00:00:00.000000+00:00", "pvog-1",
                             CommitPlan(new_versions=[good, bad], seen=["leistung:S1.LB.1"]),
                             outcome=Outcome.COMPLETE, finished_at="x", reason="", stats={})
    assert table_count(history, "records") == 0
    assert table_count(history, "versions") == 0
    assert history.crawl(crawl)["outcome"] == "running"


def test_unknown_keys_and_times_are_clear_errors(crawler: Crawler) -> None:
    crawler.day(0)
    with pytest.raises(UnknownRecord, match="no record 'leistung:nope'"):
        crawler.history.find_record("leistung:nope")
    from zufiwatch import queries

    key = crawler.history.db.execute("SELECT key FROM records LIMIT 1").fetchone()[0]
    with pytest.raises(QueryError, match="first seen"):
        queries.show(crawler.history, key, at="2000-01-01T00:00:00.000000+00:00")


def test_corrupt_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="the database file is damaged"):
        History(path)


def test_archive_stores_identical_payloads_once(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    with archive.open_manifest("s", 1, "2026-10-01T00:00:00") as manifest:
        first = manifest.put(b'{"a": 1}')
        second = manifest.put(b'{"a": 1}')
    with archive.open_manifest("s", 2, "2026-10-02T00:00:00") as manifest:
        third = manifest.put(b'{"a": 1}')
    assert first == second == third
    stored = [r for path in sorted((tmp_path / "crawls").rglob("*.warc.gz"))
              for r in warc.records(path) if r.kind in ("response", "resource")
              and r.content_type != warc.DELTAS_TYPE]
    assert [r.payload for r in stored] == [b'{"a": 1}']
    assert archive.get(first) == b'{"a": 1}'
    with pytest.raises(ArchiveError, match="not in the archive"):
        archive.get("0" * 64)


def test_unchanged_recrawl_reuses_every_archived_payload(crawler: Crawler) -> None:
    crawler.day(0)
    crawler.day(0)
    first, second = sorted((crawler.archive.root / "crawls").rglob("*.warc.gz"))
    assert sum(1 for r in warc.records(first) if r.kind == "response") > 10
    assert [r.kind for r in warc.records(second)] == ["warcinfo", "metadata"]


def test_every_stored_version_can_be_parsed_again_from_the_archive(crawler: Crawler) -> None:
    crawler.day(0)
    result = crawler.day(2)
    crawl = crawler.history.crawl(result.crawl_id)
    entries = list(Manifest.read(Path(crawl["manifest"])))
    assert all(e["parser_version"] == crawl["parser_version"] for e in entries)
    assert sum(1 for e in entries if e["endpoint"] == "/v6/servicedescriptions/detail") == \
        result.stats["listed"]
    by_key: dict[str, dict[str, str]] = {}
    for entry in entries:
        if entry.get("key", "").startswith("leistung:"):
            by_key.setdefault(entry["key"], {})[entry["endpoint"]] = entry["sha256"]
    # An incremental crawl asks for a Leistung's office titles only where the detail names
    # other offices than the stored version (issue 19): the others are in the archive of
    # the crawl before (the full one of day 0).
    first = crawler.history.crawl(result.crawl_id - 1)
    earlier = {e["key"]: e["sha256"] for e in Manifest.read(Path(first["manifest"]))
               if e["endpoint"] == "/v2/organisationunits/titles"}
    for key, payloads in by_key.items():
        detail = decode_json(crawler.archive.get(payloads["/v6/servicedescriptions/detail"]),
                             "detail")
        titles_sha = payloads.get("/v2/organisationunits/titles") or earlier[key]
        titles = decode_json(crawler.archive.get(titles_sha), "titles")
        record = parse_leistung(detail, titles)
        stored = crawler.history.db.execute(
            "SELECT v.content FROM versions v JOIN records r ON r.current_version = v.id "
            "WHERE r.key = ?", [key]).fetchone()[0]
        assert record.content == json.loads(stored), key


def test_replaying_an_archived_crawl_rebuilds_the_same_history(crawler: Crawler,
                                                               tmp_path: Path) -> None:
    from zufiwatch.runner import replay_crawl

    first = crawler.day(0)
    crawled = crawler.day(2)
    manifest = Path(crawler.history.crawl(crawled.crawl_id)["manifest"])
    with History(tmp_path / "replayed.db") as fresh:
        # The incremental crawl of day 2 took the offices of unchanged Leistungen from
        # their stored versions (issue 19): it is replayed onto the history it was made on.
        replay_crawl(crawler.source, Path(crawler.history.crawl(first.crawl_id)["manifest"]),
                     history=fresh, archive=crawler.archive, clock=crawler.clock)
        result = replay_crawl(crawler.source, manifest, history=fresh, archive=crawler.archive,
                              clock=crawler.clock)
        assert result.outcome is Outcome.COMPLETE
        assert result.stats["observed"] == crawled.stats["observed"]
        assert result.stats["requests"] == 0

        def contents(history: History) -> dict[str, str]:
            return dict(history.db.execute(
                "SELECT r.key, v.content FROM records r "
                "JOIN versions v ON v.id = r.current_version").fetchall())

        assert contents(fresh) == contents(crawler.history)


def test_replay_of_a_crawl_with_a_missing_payload_is_partial(crawler: Crawler,
                                                             tmp_path: Path) -> None:
    from zufiwatch.runner import replay_crawl

    crawled = crawler.day(0)
    manifest = Path(crawler.history.crawl(crawled.crawl_id)["manifest"])
    entries = list(Manifest.read(manifest))
    dropped = next(e for e in entries if e["endpoint"] == "/v6/servicedescriptions/detail")
    edited = tmp_path / "edited.jsonl.gz"
    import gzip

    with gzip.open(edited, "wt", encoding="utf-8") as fh:
        for entry in entries:
            if entry is not dropped:
                fh.write(json.dumps(entry) + "\n")
    with History(tmp_path / "replayed.db") as fresh:
        result = replay_crawl(crawler.source, edited, history=fresh, archive=crawler.archive,
                              clock=crawler.clock)
    assert result.outcome is Outcome.PARTIAL
    assert f"{dropped['key']}: the archived crawl has no payload" in result.reason


def test_backup_while_another_connection_writes(crawler: Crawler, tmp_path: Path) -> None:
    crawler.day(0)
    other = History(crawler.history.path)
    try:
        with other.db.atomic():  # a writer holds a transaction open meanwhile
            other.db.execute("INSERT INTO notify_state (name, value) VALUES ('x', 'y')")
            crawler.history.backup(tmp_path / "copy.db")
    finally:
        other.close()
    with History(tmp_path / "copy.db") as copy:
        assert copy.db.execute("SELECT count(*) FROM versions").fetchone() == \
            crawler.history.db.execute("SELECT count(*) FROM versions").fetchone()
        assert copy.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with pytest.raises(StoreError, match="exists"):
        crawler.history.backup(tmp_path / "copy.db")
