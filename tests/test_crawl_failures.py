"""A failed fetch is never a change: bad answers end as failed or partial, history untouched."""

from __future__ import annotations

import pytest

from tests.conftest import Crawler, snapshot_tables
from zufiwatch.config import HttpSettings
from zufiwatch.fetch import Fetcher
from zufiwatch.model import Outcome, record_key
from zufiwatch.runner import run_crawl


@pytest.fixture
def baseline(crawler: Crawler) -> Crawler:
    """A history holding one complete crawl of day 0, then the directory moves to day 2."""
    crawler.day(0)
    crawler.pvog.set_day(2)
    return crawler


def _first_leistung(crawler: Crawler) -> str:
    return sorted(crawler.pvog.scenario.directory_for(crawler.pvog.day).leistungen)[0]


@pytest.mark.parametrize(("fault", "reason"), [
    ("malformed", "malformed JSON"),
    ("truncated", "truncated JSON"),
    ("maintenance", "an HTML page instead of JSON"),
    ("empty", "suspicious: "),
    ("drop:totalElements", "required field 'totalElements' is missing"),
    ("drop:content", "required field 'content' is missing"),
])
def test_bad_listing_fails_the_crawl_and_concludes_nothing(baseline: Crawler, fault: str,
                                                           reason: str) -> None:
    before = snapshot_tables(baseline.history)
    baseline.pvog.inject("/v7/servicedescriptions", fault)
    result = baseline.crawl()
    assert result.outcome is Outcome.FAILED
    assert result.changes == []
    assert snapshot_tables(baseline.history) == before
    crawl = baseline.history.crawl(result.crawl_id)
    assert crawl["outcome"] == "failed"
    assert reason in crawl["reason"]


def test_listing_server_error_fails_with_the_status_in_the_reason(baseline: Crawler) -> None:
    before = snapshot_tables(baseline.history)
    baseline.pvog.inject("/v7/servicedescriptions", "status", status=502)
    result = baseline.crawl()
    assert result.outcome is Outcome.FAILED
    assert "HTTP 502" in result.reason
    assert snapshot_tables(baseline.history) == before


def test_listing_that_delivers_fewer_than_total_elements_fails(baseline: Crawler) -> None:
    before = snapshot_tables(baseline.history)
    # The second page answers an empty page while totalElements promises more.
    baseline.pvog.inject("page=1&", "empty")
    result = baseline.crawl()
    assert result.outcome is Outcome.FAILED
    assert "totalElements" in result.reason
    assert snapshot_tables(baseline.history) == before


@pytest.mark.parametrize("fault", ["malformed", "truncated", "maintenance", "drop:id",
                                   "drop:name", "status"])
def test_bad_detail_leaves_that_leistung_not_observed(baseline: Crawler, fault: str) -> None:
    broken = _first_leistung(baseline)
    key = record_key("leistung", broken)
    record = baseline.history.find_record(key)
    versions_before = baseline.history.versions(record["id"])
    baseline.pvog.inject(f"/v6/servicedescriptions/{broken}/detail", fault)
    result = baseline.crawl()
    assert result.outcome is Outcome.PARTIAL
    assert key in result.reason
    assert result.stats["not_observed"] == 1
    # Nothing concluded about it, nothing removed anywhere.
    assert all(k != key for k, _ in result.changes)
    assert all(c.change_type.value != "removed" for _, c in result.changes)
    assert baseline.history.versions(record["id"]) == versions_before
    crawl = baseline.history.crawl(result.crawl_id)
    assert baseline.history.find_record(key)["last_seen_at"] < crawl["started_at"]
    gaps = baseline.history.observation_gaps(record["id"])
    assert [g["crawl_id"] for g in gaps] == [result.crawl_id]
    # The other Leistungen's real edits of day 1 and 2 are still concluded.
    assert {c.label for _, c in result.changes} >= {"Online-Dienst › Link"}


def test_missing_required_field_names_endpoint_and_field(baseline: Crawler) -> None:
    broken = _first_leistung(baseline)
    baseline.pvog.inject(f"/v6/servicedescriptions/{broken}/detail", "drop:id")
    result = baseline.crawl()
    assert "/v6/servicedescriptions/detail: required field 'id' is missing" in result.reason


def test_broken_online_services_keep_every_onlinedienst(baseline: Crawler) -> None:
    baseline.pvog.inject("/v1beta2/onlineservices", "truncated")
    result = baseline.crawl()
    assert result.outcome is Outcome.PARTIAL
    assert "online services incomplete" in result.reason
    kept = [r for r in baseline.history.db.query(
        "SELECT status FROM records WHERE kind = 'onlinedienst'")]
    assert kept and all(r["status"] == "present" for r in kept)


def test_unreachable_source_fails_without_touching_history(baseline: Crawler) -> None:
    before = snapshot_tables(baseline.history)
    baseline.pvog.stop()
    result = baseline.crawl()
    assert result.outcome is Outcome.FAILED
    assert "cannot connect" in result.reason
    assert snapshot_tables(baseline.history) == before


def test_transient_server_error_is_retried(baseline: Crawler) -> None:
    broken = _first_leistung(baseline)
    baseline.pvog.inject(f"/v6/servicedescriptions/{broken}/detail", "status", times=1,
                         status=503)
    with Fetcher(HttpSettings(read_timeout=10), retries=2, backoff=0) as patient:
        result = run_crawl(baseline.source, history=baseline.history,
                           archive=baseline.archive, fetcher=patient, clock=baseline.clock)
    assert result.outcome is Outcome.COMPLETE


def test_oversized_response_is_a_fetch_error(baseline: Crawler) -> None:
    with Fetcher(HttpSettings(read_timeout=10, max_response_bytes=2000), retries=0) as small:
        result = run_crawl(baseline.source, history=baseline.history,
                           archive=baseline.archive, fetcher=small, clock=baseline.clock)
    assert result.outcome in (Outcome.FAILED, Outcome.PARTIAL)
    assert "larger than 2000 bytes" in result.reason


def test_partial_crawl_then_complete_crawl_concludes_the_rest(baseline: Crawler) -> None:
    broken = _first_leistung(baseline)
    baseline.pvog.inject(f"/v6/servicedescriptions/{broken}/detail", "malformed")
    partial = baseline.crawl()
    baseline.pvog.clear_faults()
    complete = baseline.crawl()
    assert partial.outcome is Outcome.PARTIAL and complete.outcome is Outcome.COMPLETE
    assert complete.changes == [] or all(k == record_key("leistung", broken)
                                         for k, _ in complete.changes)
