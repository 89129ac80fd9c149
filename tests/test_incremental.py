"""Incremental crawls: read what the listing says changed; verify everything weekly."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from tests.conftest import Crawler, FakeClock
from zufiwatch.archive import Archive
from zufiwatch.config import SourceSettings
from zufiwatch.fetch import Fetcher
from zufiwatch.model import Outcome, record_key
from zufiwatch.sim import JENA_ARS, SimulatedPVOG
from zufiwatch.store import History


@pytest.fixture
def stamped(scenario, tmp_path, fetcher: Fetcher, clock: FakeClock) -> Iterator[Crawler]:
    """The simulator with ``lastUpdate`` in its listing, and a crawler for it."""
    with SimulatedPVOG(scenario, listing_last_update=True) as pvog, \
            History(tmp_path / "inc.db") as history:
        source = SourceSettings(name="inc", kind="pvog", base_url=pvog.base_url, ars=JENA_ARS,
                                page_size=25, min_interval=0)
        yield Crawler(pvog, source, history, Archive(tmp_path / "snap"), fetcher, clock)


def _edits(scenario, day: int) -> set[tuple[str, str]]:
    return {(record_key(e.kind, e.id), e.change) for e in scenario.edits(day)}


def test_a_daily_crawl_reads_only_what_changed(stamped: Crawler, scenario) -> None:
    full = stamped.day(1)
    leistungen = len(scenario.directory_for(1).leistungen)
    pages = math.ceil(leistungen / stamped.source.page_size)
    result = stamped.day(2)
    assert stamped.history.crawl(result.crawl_id)["mode"] == "incremental"
    assert result.outcome is Outcome.COMPLETE
    assert {(k, c.change_type.value) for k, c in result.changes} == _edits(scenario, 2)
    changed = sum(1 for e in scenario.edits(2) if e.kind == "leistung")
    assert result.stats["requests"] <= pages + changed + 0.05 * leistungen + 3
    assert result.stats["requests"] < full.stats["requests"] / 3


def test_additions_and_removals_are_seen_by_incremental_crawls(stamped: Crawler,
                                                               scenario) -> None:
    stamped.day(2)
    added = stamped.day(3)
    removed = stamped.day(4)
    assert {(k, c.change_type.value) for k, c in added.changes} == _edits(scenario, 3)
    assert {(k, c.change_type.value) for k, c in removed.changes} == _edits(scenario, 4)


def test_an_office_edit_waits_for_the_weekly_verification_crawl(stamped: Crawler,
                                                                scenario) -> None:
    stamped.day(4)
    incremental = stamped.day(5)
    assert stamped.history.crawl(incremental.crawl_id)["mode"] == "incremental"
    assert incremental.changes == []  # the phone number moved; no Leistung changed
    stamped.clock.advance(days=7)
    verification = stamped.day(5)
    assert stamped.history.crawl(verification.crawl_id)["mode"] == "full"
    assert {(k, c.change_type.value) for k, c in verification.changes} == _edits(scenario, 5)


def test_incremental_crawls_never_remove_offices_they_did_not_read(stamped: Crawler) -> None:
    stamped.day(2)
    for _ in range(3):
        stamped.day(2)
    statuses = {r["status"] for r in stamped.history.db.query(
        "SELECT status FROM records WHERE kind = 'organisationseinheit'")}
    assert statuses == {"present"}


def test_without_stamps_in_the_listing_every_entry_is_read(crawler: Crawler) -> None:
    full = crawler.day(1)
    again = crawler.day(2)
    # Every detail is read; the office titles only where a detail names other offices
    # than the stored version (issue 19: none does here), so one request less each.
    assert again.stats["requests"] == full.stats["requests"] - full.stats["listed"]
    assert again.changes
    # Offices taken from the stored versions: not a verification crawl.
    assert crawler.history.crawl(again.crawl_id)["mode"] == "incremental"


def test_incremental_can_be_switched_off(stamped: Crawler) -> None:
    import dataclasses

    stamped.source = dataclasses.replace(stamped.source, incremental=False)
    full = stamped.day(1)
    again = stamped.day(2)
    assert stamped.history.crawl(again.crawl_id)["mode"] == "full"
    assert again.stats["requests"] == full.stats["requests"]


def test_daily_churn_of_one_percent_in_2000_leistungen(tmp_path, fetcher: Fetcher,
                                                       clock: FakeClock) -> None:
    from zufiwatch.sim import ChurnScenario, build_directory

    churn = ChurnScenario(build_directory(2000), share=0.01)
    with SimulatedPVOG(churn, listing_last_update=True) as pvog, \
            History(tmp_path / "churn.db") as history:
        source = SourceSettings(name="churn", kind="pvog", base_url=pvog.base_url,
                                ars=JENA_ARS, page_size=100, max_concurrency=4, min_interval=0)
        crawler = Crawler(pvog, source, history, Archive(tmp_path / "snap"), fetcher, clock)
        full = crawler.day(0)
        for day in (1, 2):
            result = crawler.day(day)
            leistungen = len(churn.directory_for(day).leistungen)
            pages = math.ceil(leistungen / source.page_size)
            changed = len(churn.edits(day))
            assert changed == 20
            assert {k for k, _ in result.changes} == {f"leistung:{e.id}"
                                                      for e in churn.edits(day)}
            assert result.stats["requests"] <= pages + changed + 0.05 * leistungen
            assert result.stats["requests"] < full.stats["requests"] / 10
