"""End-to-end crawls of the simulated PVOG over HTTP into a real SQLite file."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.conftest import Crawler, snapshot_tables, table_count
from zufiwatch import queries
from zufiwatch.model import Outcome, record_key
from zufiwatch.timeutil import stored


def test_first_crawl_is_a_complete_baseline_without_changes(crawler: Crawler, scenario) -> None:
    result = crawler.day(0)
    base = scenario.directory_for(0)
    assert result.outcome is Outcome.COMPLETE
    assert result.changes == []
    assert "baseline" in result.reason
    expected = len(base.leistungen) + len(base.offices) + len(base.onlineservices)
    assert result.stats["observed"] == expected
    assert result.stats["listed"] == result.stats["expected"] == len(base.leistungen)
    assert table_count(crawler.history, "versions") == expected
    # listing pages + detail and titles per Leistung + offices + online-service pages
    assert result.stats["requests"] >= 2 * len(base.leistungen) + len(base.offices)


def test_unchanged_recrawl_writes_no_versions_and_no_changes(crawler: Crawler) -> None:
    crawler.day(0)
    before = snapshot_tables(crawler.history)
    result = crawler.day(0)
    after = snapshot_tables(crawler.history)
    assert result.outcome is Outcome.COMPLETE
    assert result.changes == []
    assert result.stats["versions_added"] == 0
    assert after["versions"] == before["versions"]
    assert after["changes"] == before["changes"] == []


@pytest.mark.parametrize("day", range(1, 8))
def test_each_scenario_day_yields_exactly_its_edits(crawler: Crawler, scenario, day: int) -> None:
    crawler.day(day - 1)  # the baseline: the directory as it was the day before
    result = crawler.day(day)
    assert result.outcome is Outcome.COMPLETE
    detected = {(key, c.change_type.value, _top_field(c.path)) for key, c in result.changes}
    expected = {(record_key(e.kind, e.id), e.change, e.field) for e in scenario.edits(day)}
    assert detected == expected, scenario.describe(day)


def _top_field(path: str) -> str | None:
    if not path:
        return None
    return path.split(".")[0].split("[")[0]


def test_timestamp_only_edit_is_stored_as_volatile_not_as_change(crawler: Crawler,
                                                                 scenario) -> None:
    crawler.day(0)
    versions = table_count(crawler.history, "versions")
    result = crawler.day(1)
    assert result.changes == []
    assert table_count(crawler.history, "versions") == versions
    touched = [k for k, d in scenario.directory_for(1).leistungen.items()
               if d["lastUpdate"] != scenario.directory_for(0).leistungen[k]["lastUpdate"]]
    assert touched
    state = queries.show(crawler.history, record_key("leistung", touched[0]),
                         at=crawler.last_crawl_at)
    assert state["volatile"]["lastUpdate"] == scenario.directory_for(1).leistungen[
        touched[0]]["lastUpdate"]


def test_replaced_thavel_link_is_one_field_change_old_to_new(crawler: Crawler, scenario) -> None:
    crawler.day(1)
    result = crawler.day(2)
    (edit,) = [e for e in scenario.edits(2) if e.kind == "leistung"]
    (change,) = [c for k, c in result.changes if k == record_key("leistung", edit.id)]
    assert change.label == "Online-Dienst › Link"
    assert change.old["url"] == "https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc"
    assert change.new["url"] == "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc"
    assert change.old["thavel"]["antrag"] == "1273"
    assert change.new["thavel"]["antrag"] == "5741"


def test_removed_leistung_is_concluded_only_by_a_complete_crawl(crawler: Crawler,
                                                                scenario) -> None:
    crawler.day(3)
    (edit,) = scenario.edits(4)
    key = record_key("leistung", edit.id)
    crawler.pvog.inject("/organisationunits/detail", "status", status=503)
    partial = crawler.day(4)
    assert partial.outcome is Outcome.PARTIAL
    assert crawler.history.find_record(key)["status"] == "present"
    assert all(k != key for k, _ in partial.changes)
    crawler.pvog.clear_faults()
    complete = crawler.day(4)
    assert complete.outcome is Outcome.COMPLETE
    assert [(k, c.change_type.value) for k, c in complete.changes] == [(key, "removed")]
    assert crawler.history.find_record(key)["status"] == "removed"


def test_show_at_returns_the_version_valid_then(crawler: Crawler, scenario) -> None:
    crawler.day(5)
    before_fee = crawler.last_crawl_at
    crawler.day(6)
    after_fee = crawler.last_crawl_at
    (edit,) = scenario.edits(6)
    key = record_key("leistung", edit.id)
    old = queries.show(crawler.history, key, at=before_fee)
    new = queries.show(crawler.history, key, at=after_fee)
    fees_old = json.dumps(old["content"]["texte"]["98"], ensure_ascii=False)
    fees_new = json.dumps(new["content"]["texte"]["98"], ensure_ascii=False)
    assert "50,00 EUR" in fees_old and "55,00 EUR" not in fees_old
    assert "55,00 EUR" in fees_new
    assert old["version"]["valid_to"] == new["version"]["valid_from"]


def test_state_at_returns_the_whole_directory_then(crawler: Crawler, scenario) -> None:
    crawler.day(2)
    at_day2 = crawler.last_crawl_at
    crawler.day(3)
    crawler.day(4)
    at_day4 = crawler.last_crawl_at
    (added,) = scenario.edits(3)
    (removed,) = scenario.edits(4)

    def leistungen(at: str) -> set[str]:
        return {s["key"] for s in queries.directory_state(crawler.history, at=at,
                                                          kind="leistung")}

    assert leistungen(at_day2) == {record_key("leistung", i)
                                   for i in scenario.directory_for(2).leistungen}
    assert leistungen(at_day4) == {record_key("leistung", i)
                                   for i in scenario.directory_for(4).leistungen}
    assert record_key("leistung", added.id) in leistungen(at_day4) - leistungen(at_day2)
    assert record_key("leistung", removed.id) in leistungen(at_day2) - leistungen(at_day4)


def test_a_moment_before_the_first_crawl_has_no_state(crawler: Crawler) -> None:
    before = stored(crawler.clock() - timedelta(seconds=1))
    crawler.day(0)
    assert queries.directory_state(crawler.history, at=before) == []
    assert queries.directory_state(crawler.history, at=crawler.last_crawl_at) != []


class _CountingParser:
    def __init__(self, monkeypatch) -> None:
        import zufiwatch.sources.pvog as pvog

        self.calls: list[str] = []
        original = pvog.parse_leistung

        def counting(detail, titles=None, **known):
            self.calls.append(detail["id"])
            return original(detail, titles, **known)

        monkeypatch.setattr(pvog, "parse_leistung", counting)


def test_identical_payloads_are_not_parsed_again(crawler: Crawler, scenario,
                                                 monkeypatch) -> None:
    parsed = _CountingParser(monkeypatch)
    crawler.day(0)
    assert len(parsed.calls) == len(scenario.directory_for(0).leistungen)
    parsed.calls.clear()
    unchanged = crawler.day(0)
    assert parsed.calls == []
    assert unchanged.stats["observed"] == crawler.history.db.execute(
        "SELECT count(*) FROM records").fetchone()[0]
    # Timestamps only: the content fingerprint leaves out the volatile fields, so these
    # details are confirmed without parsing (issue 19; before, they were re-parsed).
    touched = crawler.day(1)
    moved = {k for k, d in scenario.directory_for(1).leistungen.items()
             if d != scenario.directory_for(0).leistungen[k]}
    assert moved
    assert parsed.calls == []
    assert touched.changes == [] and touched.stats["versions_added"] == 0
    parsed.calls.clear()
    crawler.day(1)
    assert parsed.calls == []


def test_a_new_parser_version_parses_everything_again(crawler: Crawler, scenario,
                                                      monkeypatch) -> None:
    from zufiwatch.sources.pvog import PvogSource

    crawler.day(0)
    parsed = _CountingParser(monkeypatch)
    monkeypatch.setattr(PvogSource, "parser_version", "pvog-test-next")
    result = crawler.day(0)
    assert len(parsed.calls) == len(scenario.directory_for(0).leistungen)
    assert result.changes == []


def test_unchanged_recrawls_do_not_grow_the_database(crawler: Crawler) -> None:
    crawler.day(0)
    crawler.day(0)

    def size() -> int:
        crawler.history.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return crawler.history.path.stat().st_size

    before = size()
    for _ in range(3):
        crawler.day(0)
    records = table_count(crawler.history, "records")
    # Three crawl rows are all an unchanged crawl may add: far under 1 KB per 1,000 records.
    assert size() - before <= 3 * 4096
    assert records > 100


def test_progress_is_reported_per_record_read(crawler: Crawler) -> None:
    from zufiwatch.runner import run_crawl

    seen: list = []
    result = run_crawl(crawler.source, history=crawler.history, archive=crawler.archive,
                       fetcher=crawler.fetcher, clock=crawler.clock, progress=seen.append)
    # The callback hears a snapshot after every item: entries done never go back, the
    # total is unknown until the listing is read, and at the end every listed Leistung is
    # done and every record observed is counted (Leistungen, and the other entries).
    done = [p.done for p in seen]
    assert seen and done == sorted(done) and seen[0].total is None
    last = seen[-1]
    assert last.done == last.total == result.stats["listed"] > 0
    assert last.done + last.other == result.stats["observed"] and last.errors == 0
    assert last.requests == result.stats["requests"] > 0
