"""The PVOG's CSV listing: the verbatim sample parsed, and the cross-check with the paged
listing over HTTP against the simulated PVOG (a disagreement is a partial crawl naming the
Leistungen, never a removal; an unreadable CSV is partial, never failed)."""

from __future__ import annotations

from pathlib import Path

import pytest

import zufiwatch.sources as sources
from tests.conftest import Crawler
from tests.legacy import pvog_1
from zufiwatch.errors import MalformedPayload, MissingField
from zufiwatch.model import Outcome, record_key
from zufiwatch.runner import rebaseline
from zufiwatch.sources.pvog import compare_listings, parse_csv_listing

PAYLOADS = Path(__file__).parent / "payloads" / "pvog"
SAMPLE = PAYLOADS / "pvog-csv-listing-ars-000000000000-sample.csv"
HEADER = "ID-LB|Leikaschlüssel|Name|Name2|Updatedatum|ID-OD|Bezeichnung OD|Links"
CSV_PATH = "/v5/servicedescriptions/csv"


def test_the_verbatim_sample() -> None:
    listing = parse_csv_listing(SAMPLE.read_bytes())
    assert listing.columns == tuple(HEADER.split("|"))
    assert len(listing.rows) == 60 and len(listing.leistung_ids) == 58
    assert {row.updated for row in listing.rows} == {"20.01.2025 00:48"}
    without = [row for row in listing.rows if not row.onlinedienst_id]
    assert len(without) == 39
    assert all(row.onlinedienst_name == row.link == "" for row in without)
    first = listing.rows[0]
    assert (first.leistung_id, first.leika, first.name, first.name2) == (
        "B100019.LB.100372563", "99038003017001", "Saison-Kurzarbeitergeld Bewilligung",
        "Saison-Kurzarbeitergeld beantragen")
    # One row per (Leistung, Onlinedienst): a Leistung with two online services.
    assert [(r.onlinedienst_id, r.link) for r in listing.onlinedienste("B100019.LB.101968801")] == [
        ("B100019.OD.103404580", "https://serviceportal-uv.dguv.de/mapping/leistung?leistung=OZG-100"),
        ("B100019.OD.106029018", "https://serviceportal-uv.dguv.de/mapping/leistung?leistung=OZG-105"),
    ]
    assert listing.onlinedienste("B100019.LB.100374033") == []
    assert [r.name2 for r in listing.rows if r.leistung_id == "B100019.LB.101338702"] == [""]
    # Quotes are not CSV quoting here: kept as they stand.
    (row,) = [r for r in listing.rows if r.leistung_id == "B100019.LB.101984934"]
    assert row.name.startswith('Förderprogramm ""Energieeffizient Sanieren')


def test_tolerated_variations() -> None:
    rows = f"{HEADER}|Neu\r\nS1.LB.1|99|A|B|01.01.2026 00:00||||x\r\n\r\n"
    listing = parse_csv_listing(("\ufeff" + rows).encode())
    assert listing.leistung_ids == ("S1.LB.1",) and listing.rows[0].onlinedienst_id == ""
    assert parse_csv_listing(HEADER + "\n").rows == ()
    only_ids = parse_csv_listing("ID-LB\nS1.LB.2\nS1.LB.2\n")
    assert only_ids.leistung_ids == ("S1.LB.2",) and only_ids.rows[0].name == ""


@pytest.mark.parametrize(("body", "error", "message"), [
    (b"<!DOCTYPE html><html>Wartungsarbeiten</html>", MalformedPayload, "HTML page"),
    (b"ID-LB|Name\nS1.LB.1|Geb\xfchr\n", MalformedPayload, "not UTF-8"),
    (f"{HEADER}\nS1.LB.1|99|A\n".encode(), MalformedPayload, "line 2 has 3 columns"),
    (b"Leistung|Name\nS1.LB.1|A\n", MissingField, "'ID-LB'"),
    (b"ID-LB|Name\n|A\n", MissingField, "line 2"),
    (b"\n\n", MalformedPayload, "empty answer"),
])
def test_unreadable_csv_is_named(body: bytes, error: type, message: str) -> None:
    with pytest.raises(error, match=message) as info:
        parse_csv_listing(body)
    assert "/v5/servicedescriptions/csv" in str(info.value)


def test_the_disagreement_names_the_leistungen_on_one_side() -> None:
    assert compare_listings(["a", "b"], ["b", "a", "a"]) == ""
    reason = compare_listings(["a", "b", "c"], ["b", "c", "x"])
    assert reason == ("the CSV listing and the paged listing disagree (3 and 3 Leistungen): "
                      "1 Leistung only in the paged listing (a); 1 Leistung only in the CSV "
                      "listing (x); no Leistung is concluded removed")
    many = compare_listings([f"id{n:02d}" for n in range(12)], [])
    assert "12 Leistungen only in the paged listing (id00, id01, id02, id03, id04, … 7 more)" \
        in many


# over HTTP


def _leistung(crawler: Crawler, index: int) -> str:
    return sorted(crawler.pvog.scenario.directory_for(crawler.pvog.day).leistungen)[index]


def test_the_crawl_reads_the_csv_listing_once(crawler: Crawler) -> None:
    result = crawler.day(0)
    assert result.outcome is Outcome.COMPLETE, result.reason
    assert sum(CSV_PATH in path for path in crawler.pvog.requests) == 1


def test_a_leistung_missing_from_the_csv_is_named_and_not_removed(crawler: Crawler) -> None:
    crawler.day(0)
    lb_id = _leistung(crawler, 7)
    crawler.pvog.inject(CSV_PATH, f"omit:{lb_id}")
    for _ in range(3):  # more crawls than removal takes: still nothing concluded removed
        result = crawler.crawl()
        assert result.outcome is Outcome.PARTIAL
        assert f"1 Leistung only in the paged listing ({lb_id})" in result.reason
        assert result.changes == []
    assert crawler.history.find_record(record_key("leistung", lb_id))["status"] == "present"


def test_a_leistung_missing_from_the_paged_listing_is_named(crawler: Crawler) -> None:
    crawler.day(0)
    lb_id = _leistung(crawler, 11)
    crawler.pvog.inject("/v7/servicedescriptions", f"omit:{lb_id}")
    result = crawler.crawl()
    assert result.outcome is Outcome.PARTIAL
    assert f"1 Leistung only in the CSV listing ({lb_id})" in result.reason
    assert result.changes == []
    record = crawler.history.find_record(record_key("leistung", lb_id))
    assert (record["status"], record["missing_count"]) == ("present", 0)


@pytest.mark.parametrize(("fault", "status", "named"), [
    ("status", 500, "HTTP 500"),
    ("status", 404, "HTTP 404"),
    ("maintenance", 500, "an HTML page instead of CSV"),
    ("malformed", 500, "'ID-LB'"),
    ("drop:ID-LB", 500, "'ID-LB'"),
])
def test_an_unreadable_csv_makes_the_crawl_partial_not_failed(
        crawler: Crawler, fault: str, status: int, named: str) -> None:
    crawler.day(0)
    crawler.pvog.inject(CSV_PATH, fault, status=status)
    result = crawler.day(2)
    assert result.outcome is Outcome.PARTIAL
    assert "CSV listing /v5/servicedescriptions/csv not read" in result.reason
    assert named in result.reason
    # The rest of the crawl concludes as usual: day 2's edits are reported.
    expected = {(record_key(e.kind, e.id), e.change) for e in
                crawler.pvog.scenario.edits(1) + crawler.pvog.scenario.edits(2)}
    assert {(k, c.change_type.value) for k, c in result.changes} == expected


def test_replaying_a_pvog_1_crawl_without_csv_skips_the_cross_check(
        crawler: Crawler, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        patch.setitem(sources.SOURCE_TYPES, "pvog", pvog_1.PvogSource)
        old = crawler.day(0)
    assert crawler.history.crawl(old.crawl_id)["parser_version"] == "pvog-1"
    assert not any(CSV_PATH in path for path in crawler.pvog.requests)
    result = rebaseline(crawler.source, history=crawler.history, archive=crawler.archive,
                        clock=crawler.clock)
    assert result is not None
    assert result.outcome is Outcome.COMPLETE, result.reason
    assert crawler.history.crawl(result.crawl_id)["mode"] == "reparse"
