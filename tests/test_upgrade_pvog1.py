"""Upgrading from the released parser: a history made with pvog-1 (the parser before the
seen shapes, frozen in tests/legacy) on answers in the seen shapes, then the current
parser. Fields read for the first time (opening hours from INFO_TIMES, channels, the
validity and trust level of links, …) must be recorded as the parser's doing, never
reported to the working group as changes of the directory; real edits afterwards are."""

from __future__ import annotations

import pytest

from tests.conftest import Crawler
from tests.legacy import pvog_1
from zufiwatch.model import record_key
from zufiwatch.sources import SOURCE_TYPES, PvogSource


@pytest.fixture
def released(monkeypatch: pytest.MonkeyPatch) -> None:
    """Crawl with the parser as released (pvog-1) until the test restores the current one."""
    monkeypatch.setitem(SOURCE_TYPES, "pvog", pvog_1.PvogSource)


def _source_changes(crawler: Crawler, crawl_id: int) -> list[dict]:
    return list(crawler.history.db.query(
        "SELECT r.key, c.label, c.cause FROM changes c JOIN records r ON r.id = c.record_id "
        "WHERE c.crawl_id = ?", [crawl_id]))


def test_upgrading_from_pvog_1_reports_no_fields_read_for_the_first_time(
        crawler: Crawler, scenario, released, monkeypatch: pytest.MonkeyPatch) -> None:
    assert pvog_1.PvogSource.parser_version == "pvog-1"
    crawler.day(0)
    old = crawler.day(1)
    assert old.outcome == "complete"
    old_crawls = {c["parser_version"] for c in crawler.history.crawls()}
    assert old_crawls == {"pvog-1"}

    monkeypatch.setitem(SOURCE_TYPES, "pvog", PvogSource)  # the upgrade
    upgraded = crawler.day(1)  # the directory has not changed since the last crawl
    crawls = crawler.history.crawls()
    reparse, live = crawls[1], crawls[0]
    assert reparse["mode"] == "reparse" and reparse["parser_version"] == PvogSource.parser_version
    assert reparse["outcome"] == "complete", reparse["reason"]
    assert live["id"] == upgraded.crawl_id and upgraded.outcome == "complete", upgraded.reason
    assert upgraded.changes == []  # nothing reaches the working group
    assert _source_changes(crawler, upgraded.crawl_id) == []

    by_parser = {row["label"] for row in _source_changes(crawler, reparse["id"])}
    assert all(row["cause"] == "parser" for row in _source_changes(crawler, reparse["id"]))
    # what pvog-1 could not read is now in the history, as the parser's doing
    assert "Öffnungszeiten" in by_parser
    assert any(label.startswith("Online-Dienst › Link › ") for label in by_parser)

    # the next real edits are reported as usual, once each
    edited = crawler.day(2)
    keys = {(k, c.change_type.value) for k, c in edited.changes}
    assert keys == {(record_key(e.kind, e.id), e.change) for e in scenario.edits(2)}
