"""No false removals: missing first, removed after K complete crawls or a 404/410 recheck."""

from __future__ import annotations

from tests.conftest import Crawler
from zufiwatch import queries
from zufiwatch.model import Outcome, record_key


def _local_service(crawler: Crawler) -> str:
    """An Onlinedienst of the city's own (no detail endpoint: only absence can remove it)."""
    services = crawler.pvog.scenario.directory_for(0).onlineservices
    return sorted(s["id"] for s in services
                  if any("160530000000" in d["ars"] for d in s["serviceDescriptions"]))[0]


def _changes_of(crawler: Crawler, key: str) -> list[str]:
    return [c["change_type"] for c in queries.changes(crawler.history, key=key)]


def test_an_entry_missing_once_is_missing_not_removed(crawler: Crawler) -> None:
    service = _local_service(crawler)
    key = record_key("onlinedienst", service)
    crawler.day(0)
    crawler.pvog.inject("/v1beta2/onlineservices", f"omit:{service}")
    first = crawler.crawl()
    record = crawler.history.find_record(key)
    assert first.outcome is Outcome.COMPLETE and first.changes == []
    assert (record["status"], record["missing_count"]) == ("missing", 1)
    assert record["missing_since"] == crawler.last_crawl_at
    # Still part of the directory while only missing.
    assert queries.show(crawler.history, key, at=crawler.last_crawl_at)["status"] == "missing"


def test_missing_in_k_complete_crawls_is_removed_from_when_it_was_first_missed(
        crawler: Crawler) -> None:
    service = _local_service(crawler)
    key = record_key("onlinedienst", service)
    crawler.day(0)
    crawler.pvog.inject("/v1beta2/onlineservices", f"omit:{service}")
    crawler.crawl()
    first_missed = crawler.last_crawl_at
    second = crawler.crawl()
    assert [(k, c.change_type.value) for k, c in second.changes] == [(key, "removed")]
    assert crawler.history.find_record(key)["status"] == "removed"
    (version,) = crawler.history.versions(crawler.history.find_record(key)["id"])
    assert version["valid_to"] == first_missed
    assert key not in {s["key"] for s in queries.directory_state(crawler.history,
                                                                 at=first_missed)}


def test_back_before_k_crawls_is_no_change_at_all(crawler: Crawler) -> None:
    service = _local_service(crawler)
    key = record_key("onlinedienst", service)
    crawler.day(0)
    crawler.pvog.inject("/v1beta2/onlineservices", f"omit:{service}")
    crawler.crawl()
    crawler.pvog.clear_faults()
    back = crawler.crawl()
    record = crawler.history.find_record(key)
    assert back.changes == [] and _changes_of(crawler, key) == []
    assert (record["status"], record["missing_count"], record["missing_since"]) == (
        "present", 0, None)
    assert len(crawler.history.versions(record["id"])) == 1


def test_partial_crawls_never_count_towards_removal(crawler: Crawler) -> None:
    service = _local_service(crawler)
    key = record_key("onlinedienst", service)
    crawler.day(0)
    crawler.pvog.inject("/v1beta2/onlineservices", f"omit:{service}")
    crawler.crawl()
    crawler.pvog.inject("/v5/organisationunits/detail", "status", status=500, times=1)
    partial = crawler.crawl()
    assert partial.outcome is Outcome.PARTIAL
    assert crawler.history.find_record(key)["missing_count"] == 1


def test_a_listed_no_more_leistung_whose_detail_still_answers_waits_for_k(
        crawler: Crawler, scenario) -> None:
    lb_id = sorted(scenario.directory_for(0).leistungen)[3]
    key = record_key("leistung", lb_id)
    crawler.day(0)
    crawler.pvog.inject("/v7/servicedescriptions", f"omit:{lb_id}")
    crawler.pvog.inject("/v5/servicedescriptions/csv", f"omit:{lb_id}")  # from both listings
    first = crawler.crawl()
    assert first.changes == []
    assert crawler.history.find_record(key)["status"] == "missing"
    assert any(f"/v6/servicedescriptions/{lb_id}/detail" in p for p in crawler.pvog.requests)
    second = crawler.crawl()
    assert [(k, c.change_type.value) for k, c in second.changes] == [(key, "removed")]


def test_a_detail_answering_404_is_removed_at_once(crawler: Crawler, scenario) -> None:
    crawler.day(3)
    (edit,) = scenario.edits(4)
    result = crawler.day(4)
    key = record_key("leistung", edit.id)
    assert [(k, c.change_type.value) for k, c in result.changes] == [(key, "removed")]


def test_a_removed_entry_that_comes_back_reappears_with_its_history(crawler: Crawler) -> None:
    service = _local_service(crawler)
    key = record_key("onlinedienst", service)
    crawler.day(0)
    crawler.pvog.inject("/v1beta2/onlineservices", f"omit:{service}")
    crawler.crawl()
    crawler.crawl()
    crawler.pvog.clear_faults()
    back = crawler.crawl()
    assert [(k, c.change_type.value, c.label) for k, c in back.changes] == [
        (key, "reappeared", "Onlinedienst wieder vorhanden")]
    record = crawler.history.find_record(key)
    assert record["status"] == "present"
    history = queries.record_history(crawler.history, key)
    assert len(history["versions"]) == 2
    assert [c["change_type"] for c in history["removals"]] == ["removed"]
    assert history["versions"][1]["changes"][0]["change_type"] == "reappeared"


def test_an_office_that_answers_404_is_removed_not_a_reason_for_partial(
        crawler: Crawler, scenario) -> None:
    crawler.day(0)
    office = sorted(scenario.directory_for(0).offices)[0]
    crawler.pvog.inject(f"q={office}", "status", status=404)
    result = crawler.crawl()
    key = record_key("organisationseinheit", office)
    assert result.outcome is Outcome.COMPLETE
    assert [(k, c.change_type.value) for k, c in result.changes] == [(key, "removed")]
