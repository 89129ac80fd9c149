"""Hostile JSON (issue 18, item 3): one strict reader for every source answer, a bad entry
is that entry "not observed", and no crawl is left ``running`` by an exception."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    Crawler,
    crawl_then_advance,
    snapshot_tables,
    table_count,
    zufi_source,
)
from zufiwatch.config import SourceSettings
from zufiwatch.errors import MalformedPayload
from zufiwatch.model import Outcome, record_key
from zufiwatch.runner import CrawlResult
from zufiwatch.sim import Scenario
from zufiwatch.sim.scenario import FEE_LEISTUNG, PHONE_OFFICE
from zufiwatch.sim.tsa import SimulatedTSA
from zufiwatch.sources import pvog
from zufiwatch.sources.base import decode_json
from zufiwatch.sources.jsonread import MAX_DEPTH, read_json
from zufiwatch.sources.pvog import walk as pvog_walk
from zufiwatch.sources.tsa import walk as tsa_walk
from zufiwatch.store import History

ROOT = Path(__file__).resolve().parent.parent
EP = "/v6/servicedescriptions/detail"
GEBURTSURKUNDE = "354790"  # pst id of 'Geburtsurkunde beantragen' in the ZuFi


def _refused(body: bytes) -> str:
    with pytest.raises(MalformedPayload) as info:
        read_json(body, EP)
    assert info.value.endpoint == EP
    assert str(info.value).startswith(f"{EP}: ")
    return str(info.value)


def _nested(depth: int) -> bytes:
    return b'{"id": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


# -- the reader ----------------------------------------------------------------------------


def test_nesting_100000_deep_is_refused_not_a_recursion_error() -> None:
    message = _refused(_nested(100_000))
    assert f"nested deeper than {MAX_DEPTH} levels at character {MAX_DEPTH + 6}" in message


def test_nesting_just_beyond_the_limit_is_refused_and_at_the_limit_read() -> None:
    assert f"nested deeper than {MAX_DEPTH}" in _refused(_nested(MAX_DEPTH + 1))
    assert f"nested deeper than {MAX_DEPTH}" in _refused(b"[" * 65 + b"]" * 65)
    assert read_json(_nested(MAX_DEPTH), EP)["id"] is not None


def test_brackets_inside_strings_are_not_nesting() -> None:
    body = json.dumps({"text": "[" * 500 + "{" * 500, "more": "]]]\\\"[[["}).encode()
    assert read_json(body, EP) == json.loads(body)


def test_a_number_of_100001_digits_is_refused_not_a_value_error() -> None:
    message = _refused(b'{"id": "x", "n": ' + b"7" * 100_001 + b"}")
    assert "a number of 100001 digits" in message
    assert "at character 17 of" in message
    assert "a number of 100001 digits" in _refused(b"[1.5, -" + b"7" * 100_001 + b"]")


def test_integers_sqlite_cannot_hold_are_kept_as_text() -> None:
    value = read_json(b'{"big": ' + b"4" * 4001 + b', "ids": [12345678901234567890, '
                      b'9223372036854775807, 9223372036854775808, -9223372036854775808, '
                      b'-9223372036854775809, 0, -1]}', EP)
    assert value["big"] == "4" * 4001
    assert value["ids"] == ["12345678901234567890", 2**63 - 1, "9223372036854775808",
                            -(2**63), "-9223372036854775809", 0, -1]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_with_where(constant: str) -> None:
    body = b'{"note": "NaN Infinity", "serviceDescriptions": {"totalElements": ' \
        + constant.encode() + b"}}"
    message = _refused(body)
    at = body.rindex(constant.encode())
    assert f"{constant} is not allowed in JSON at character {at} of {len(body)}" in message


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1E400", "123456789.5e99999"])
def test_a_float_that_overflows_is_refused(number: str) -> None:
    message = _refused(f'{{"amount": {number}}}'.encode())
    assert f"the number {number} is out of range at character 11" in message


def test_ordinary_floats_are_read() -> None:
    assert read_json(b"[1.5, 2e10, 1e-999, -0.0, 12.50]", EP) == [1.5, 2e10, 0.0, -0.0, 12.5]


def test_a_repeated_key_is_refused() -> None:
    assert "the key 'name' appears twice in one object" in _refused(
        b'{"name": "Geburtsurkunde", "id": "S1", "name": "Sterbeurkunde"}')
    assert "the key 'code' appears twice" in _refused(
        b'{"details": [{"code": "06"}, {"code": "24", "text": "", "code": "98"}]}')
    # The same key in two objects is no repeat.
    assert read_json(b'[{"id": 1}, {"id": 2, "x": {"id": 3}}]', EP) == \
        [{"id": 1}, {"id": 2, "x": {"id": 3}}]


def test_the_existing_checks_stay() -> None:
    assert "truncated JSON at character" in _refused(b'{"id": "S1')
    assert "malformed JSON at character" in _refused(b'{"id": 1,}')
    assert "not UTF-8 text" in _refused(b'{"name": "Geb\xfchr"}')
    with pytest.raises(MalformedPayload, match="an HTML page instead of JSON"):
        decode_json(b"<!DOCTYPE html><html></html>", EP)
    assert read_json(b'\xef\xbb\xbf{"a": 1}', EP) == {"a": 1}
    assert read_json('{"a": "ä"}'.encode("utf-16"), EP) == {"a": "ä"}


@pytest.mark.parametrize("body", [
    b'{"totalElements": NaN}', b'{"a": 1, "a": 2}', _nested(70),
    b"[" + b"9" * 5000 + b"]"])
def test_decode_json_reads_through_the_strict_reader(body: bytes) -> None:
    with pytest.raises(MalformedPayload) as info:
        decode_json(body, EP)
    assert info.value.endpoint == EP


def _json_files() -> list[Path]:
    return sorted([*ROOT.glob("tests/payloads/**/*.json"),
                   *ROOT.glob("zufiwatch/sim/data/*.json")])


def _typed(value: Any) -> str:
    """Canonical text that tells 1 from 1.0 and True."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@pytest.mark.parametrize("path", _json_files(), ids=lambda p: p.name)
def test_recorded_payloads_read_as_json_loads_reads_them(path: Path) -> None:
    body = path.read_bytes()
    assert _typed(read_json(body, path.name)) == _typed(json.loads(body))


def test_there_are_recorded_payloads() -> None:
    names = {p.name for p in _json_files()}
    assert "pvog-v5-detail-B100019.LB.574711.json" in names
    assert "jena_rows.json" in names and "pst_full.json" in names


# -- whole crawls: PVOG ----------------------------------------------------------------------


@pytest.fixture
def baseline(crawler: Crawler) -> Crawler:
    """A history holding one complete crawl of day 0; the directory then moves to day 2."""
    crawler.day(0)
    crawler.pvog.set_day(2)
    return crawler


def _first_leistung(crawler: Crawler) -> str:
    return sorted(crawler.pvog.scenario.directory_for(crawler.pvog.day).leistungen)[0]


def _versions(crawler: Crawler, key: str) -> list[dict[str, Any]]:
    return crawler.history.versions(crawler.history.find_record(key)["id"])


def _gaps(crawler: Crawler, key: str) -> list[dict[str, Any]]:
    return crawler.history.observation_gaps(crawler.history.find_record(key)["id"])


def _outcomes(history: History) -> list[str]:
    return [row["outcome"] for row in history.crawls(limit=1000)]


def _deep(body: bytes) -> bytes:
    return body.replace(b"{", b'{"nested": ' + b"[" * 100_000 + b"]" * 100_000 + b", ", 1)


def _huge_number(body: bytes) -> bytes:
    return body.replace(b"{", b'{"n": ' + b"7" * 100_001 + b", ", 1)


def _repeated_key(body: bytes) -> bytes:
    return body.replace(b"{", b'{"name": "Falscher Name", ', 1)


def _nan(body: bytes) -> bytes:
    return body.replace(b"{", b'{"score": NaN, ', 1)


@pytest.mark.parametrize(("rewrite", "reason"), [
    (_deep, "nested deeper than 64 levels at character"),
    (_huge_number, "a number of 100001 digits (at most 4300) at character"),
    (_repeated_key, "the key 'name' appears twice in one object"),
    (_nan, "NaN is not allowed in JSON at character"),
], ids=["100000-deep", "100001-digits", "repeated-key", "nan"])
def test_a_hostile_detail_is_that_leistung_not_observed(
        baseline: Crawler, rewrite: Callable[[bytes], bytes], reason: str) -> None:
    broken = _first_leistung(baseline)
    key = record_key("leistung", broken)
    versions_before = _versions(baseline, key)
    baseline.pvog.rewrite(f"/v6/servicedescriptions/{broken}/detail", rewrite)
    result = baseline.crawl()
    assert result.outcome is Outcome.PARTIAL, result.reason
    assert f"{key}: /v6/servicedescriptions/detail: " in result.reason and reason in result.reason
    assert result.stats["not_observed"] == 1
    assert result.stats["observed"] == result.stats["listed"] - 1 + _offices_and_services(
        baseline, result.crawl_id)
    gaps = _gaps(baseline, key)
    assert [g["crawl_id"] for g in gaps] == [result.crawl_id] and reason in gaps[0]["reason"]
    assert _versions(baseline, key) == versions_before
    assert all(k != key for k, _ in result.changes)
    # The rest of the crawl is concluded: day 2's edit (another Leistung's link) is seen.
    assert any(c.label == "Online-Dienst › Link" for _, c in result.changes)
    assert "running" not in _outcomes(baseline.history)


def _offices_and_services(crawler: Crawler, crawl_id: int) -> int:
    """Records of the other kinds a crawl observed (all of them: nothing else is broken)."""
    return crawler.history.db.execute(
        "SELECT count(*) FROM records WHERE source = ? AND kind != 'leistung' AND "
        "status = 'present'", [crawler.source.name]).fetchone()[0]


def test_an_integer_of_4001_digits_is_stored_as_text(baseline: Crawler) -> None:
    lb_id = _first_leistung(baseline)
    number = "7" * 4001

    def rewrite(body: bytes) -> bytes:
        return body.replace(b'"timestamp":', b'"timestamp": ' + number.encode() + b', "x":', 1
                            ).replace(b'"leikakeys":[', b'"leikakeys":[' + number.encode()
                                      + b",", 1)

    baseline.pvog.rewrite(f"/v6/servicedescriptions/{lb_id}/detail", rewrite)
    result = baseline.crawl()
    assert result.outcome is Outcome.COMPLETE, result.reason
    current = _versions(baseline, record_key("leistung", lb_id))[-1]
    assert json.loads(current["volatile"])["timestamp"] == number
    assert number in json.loads(current["content"])["leika"]
    assert "running" not in _outcomes(baseline.history)


def test_a_listing_with_nan_fails_the_crawl_with_the_reason(baseline: Crawler) -> None:
    before = snapshot_tables(baseline.history)
    baseline.pvog.rewrite("/v7/servicedescriptions",
                          lambda body: body.replace(b'"totalElements":', b'"totalElements":NaN,'
                                                    b'"was":', 1))
    result = baseline.crawl()
    assert result.outcome is Outcome.FAILED
    assert result.reason.startswith("listing of Leistungen failed: /v7/servicedescriptions: "
                                    "NaN is not allowed in JSON at character "), result.reason
    assert "required field" not in result.reason
    assert baseline.history.crawl(result.crawl_id)["reason"] == result.reason
    assert snapshot_tables(baseline.history) == before
    assert "running" not in _outcomes(baseline.history)
    baseline.pvog.clear_faults()
    assert baseline.crawl().outcome is Outcome.COMPLETE  # the lock was released


def test_a_listing_total_of_4001_digits_fails_the_crawl_without_overflow(
        baseline: Crawler) -> None:
    before = snapshot_tables(baseline.history)
    baseline.pvog.rewrite("/v7/servicedescriptions",
                          lambda body: body.replace(b'"totalElements":', b'"totalElements":'
                                                    + b"7" * 4001 + b',"was":', 1))
    result = baseline.crawl()
    assert result.outcome is Outcome.FAILED
    assert "'totalElements'" in result.reason and "(expected an integer)" in result.reason
    assert snapshot_tables(baseline.history) == before
    assert "running" not in _outcomes(baseline.history)
    baseline.pvog.clear_faults()
    assert baseline.crawl().outcome is Outcome.COMPLETE


def test_an_exception_in_the_leistung_parser_is_that_entry_not_observed(
        crawler: Crawler, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    crawler.day(0)
    crawler.pvog.set_day(6)  # FEE_LEISTUNG's fee changed
    key = record_key("leistung", FEE_LEISTUNG)
    versions_before = _versions(crawler, key)
    real = pvog.parse_leistung

    def parse(detail: Any, titles: Any = None, **known: Any) -> Any:
        if detail.get("id") == FEE_LEISTUNG:
            raise KeyError("betrag")
        return real(detail, titles, **known)

    monkeypatch.setattr(pvog, "parse_leistung", parse)
    with caplog.at_level(logging.WARNING):
        result = crawler.crawl()
    assert result.outcome is Outcome.PARTIAL, result.reason
    assert f"{key}: unexpected KeyError while reading it: 'betrag'" in result.reason
    assert result.stats["not_observed"] == 1
    assert "unexpected KeyError" in _gaps(crawler, key)[0]["reason"]
    assert _versions(crawler, key) == versions_before
    assert all(k != key for k, _ in result.changes)  # the fee change is not concluded
    assert any(c.label == "Online-Dienst › Link" for _, c in result.changes)
    logged = [r for r in caplog.records if key in r.getMessage()]
    assert logged and logged[0].levelno == logging.WARNING and logged[0].exc_info


def test_an_exception_in_the_office_parser_is_that_office_not_observed(
        crawler: Crawler, monkeypatch: pytest.MonkeyPatch) -> None:
    crawler.day(0)
    crawler.pvog.set_day(6)  # PHONE_OFFICE's phone changed
    key = record_key("organisationseinheit", PHONE_OFFICE)
    versions_before = _versions(crawler, key)
    real = pvog_walk.parse_office

    def parse(payload: Any) -> Any:
        if payload.get("id") == PHONE_OFFICE:
            raise TypeError("unsupported operand")
        return real(payload)

    monkeypatch.setattr(pvog_walk, "parse_office", parse)
    result = crawler.crawl()
    assert result.outcome is Outcome.PARTIAL, result.reason
    assert f"{key}: unexpected TypeError while reading it" in result.reason
    assert _versions(crawler, key) == versions_before
    assert all(k != key for k, _ in result.changes)


def test_an_unexpected_exception_in_the_listing_fails_the_crawl(
        baseline: Crawler, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    before = snapshot_tables(baseline.history)

    def parse(payload: Any) -> Any:
        raise AttributeError("'NoneType' object has no attribute 'get'")

    monkeypatch.setattr(pvog_walk, "parse_listing", parse)
    with caplog.at_level(logging.ERROR):
        result = baseline.crawl()
    reason = "internal error: AttributeError: 'NoneType' object has no attribute 'get'"
    assert result.outcome is Outcome.FAILED and result.reason == reason
    assert baseline.history.crawl(result.crawl_id)["reason"] == reason
    assert snapshot_tables(baseline.history) == before
    assert any(r.exc_info for r in caplog.records if r.levelno == logging.ERROR)
    monkeypatch.undo()
    assert baseline.crawl().outcome is Outcome.COMPLETE
    assert "running" not in _outcomes(baseline.history)


@pytest.mark.parametrize(("error", "reason"), [
    (OverflowError("Python int too large to convert to SQLite INTEGER"),
     "internal error: OverflowError: Python int too large to convert to SQLite INTEGER"),
    (sqlite3.OperationalError("disk I/O error"), "the disk reported an I/O error"),
], ids=["overflow", "sqlite"])
def test_an_exception_while_storing_leaves_the_history_and_fails_the_crawl(
        baseline: Crawler, monkeypatch: pytest.MonkeyPatch, error: Exception,
        reason: str) -> None:
    before = snapshot_tables(baseline.history)
    events_before = table_count(baseline.history, "events")
    real = History._write_plan

    def write_then_fail(self: History, *args: Any) -> None:
        real(self, *args)  # everything written, in the transaction
        raise error

    monkeypatch.setattr(History, "_write_plan", write_then_fail)
    result = baseline.crawl()
    assert result.outcome is Outcome.FAILED
    assert reason in result.reason and "nothing of this crawl was stored" in result.reason
    crawl = baseline.history.crawl(result.crawl_id)
    assert crawl["outcome"] == "failed" and crawl["reason"] == result.reason
    assert snapshot_tables(baseline.history) == before
    assert table_count(baseline.history, "events") == events_before
    monkeypatch.undo()
    again = baseline.crawl()
    assert again.outcome is Outcome.COMPLETE, again.reason
    assert any(c.label == "Online-Dienst › Link" for _, c in again.changes)
    assert "running" not in _outcomes(baseline.history)


# -- whole crawls: the ZuFi (TSA) ------------------------------------------------------------


@pytest.fixture
def tsa(scenario: Scenario) -> Iterator[SimulatedTSA]:
    with SimulatedTSA(scenario, lead_days=0) as server:
        yield server


@pytest.fixture
def zufi(tsa: SimulatedTSA, monkeypatch: pytest.MonkeyPatch) -> SourceSettings:
    return zufi_source(tsa.base_url, monkeypatch)


def _crawl(zufi: SourceSettings, crawler: Crawler) -> CrawlResult:
    return crawl_then_advance(zufi, crawler.history, crawler.archive, crawler.fetcher,
                              crawler.clock)


@pytest.mark.parametrize(("rewrite", "reason"), [
    (_deep, "nested deeper than 64 levels"),
    (_huge_number, "a number of 100001 digits"),
    (_repeated_key, "the key 'name' appears twice in one object"),
], ids=["100000-deep", "100001-digits", "repeated-key"])
def test_a_hostile_zufi_leistung_is_that_leistung_not_observed(
        crawler: Crawler, zufi: SourceSettings, tsa: SimulatedTSA,
        rewrite: Callable[[bytes], bytes], reason: str) -> None:
    assert _crawl(zufi, crawler).outcome is Outcome.COMPLETE
    key = record_key("leistung", GEBURTSURKUNDE)
    versions_before = _versions(crawler, key)
    tsa.rewrite(f"/pst/{GEBURTSURKUNDE}?", rewrite)
    result = _crawl(zufi, crawler)
    assert result.outcome is Outcome.PARTIAL, result.reason
    assert f"{key}: /pst: " in result.reason and reason in result.reason
    assert result.stats["not_observed"] == 1
    assert reason in _gaps(crawler, key)[0]["reason"]
    assert _versions(crawler, key) == versions_before
    assert "running" not in _outcomes(crawler.history)


def test_an_exception_in_the_zufi_parser_is_that_leistung_not_observed(
        crawler: Crawler, zufi: SourceSettings, tsa: SimulatedTSA,
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert _crawl(zufi, crawler).outcome is Outcome.COMPLETE
    key = record_key("leistung", GEBURTSURKUNDE)
    versions_before = _versions(crawler, key)
    # Read anew: its content changed (whitespace alone no longer makes the walk parse).
    tsa.rewrite(f"/pst/{GEBURTSURKUNDE}?",
                lambda body: body.replace(b'"name":"', b'"name":"Neu: ', 1))
    real = tsa_walk.parse_pst

    def parse(payload: Any, *args: Any) -> Any:
        if str(payload.get("id")) == GEBURTSURKUNDE:
            raise IndexError("list index out of range")
        return real(payload, *args)

    monkeypatch.setattr(tsa_walk, "parse_pst", parse)
    result = _crawl(zufi, crawler)
    assert result.outcome is Outcome.PARTIAL, result.reason
    assert f"{key}: unexpected IndexError while reading it" in result.reason
    assert result.stats["not_observed"] == 1
    assert _versions(crawler, key) == versions_before
    monkeypatch.setattr(tsa_walk, "parse_pst", real)
    tsa.clear_faults()
    assert _crawl(zufi, crawler).outcome is Outcome.COMPLETE


def test_an_exception_in_a_zufi_office_listing_makes_the_tree_incomplete(
        crawler: Crawler, zufi: SourceSettings, tsa: SimulatedTSA) -> None:
    assert _crawl(zufi, crawler).outcome is Outcome.COMPLETE
    before = snapshot_tables(crawler.history)
    tsa.rewrite("/ou/find", lambda body: body.replace(b'"totalCount":', b'"totalCount":NaN,'
                                                      b'"was":', 1), times=1)
    result = _crawl(zufi, crawler)
    assert result.outcome is Outcome.PARTIAL, result.reason
    assert "office tree incomplete" in result.reason
    assert "NaN is not allowed in JSON at character" in result.reason
    assert result.changes == []
    assert snapshot_tables(crawler.history)["versions"] == before["versions"]
    assert "running" not in _outcomes(crawler.history)


def test_an_exception_in_one_office_s_competences_makes_them_incomplete(
        crawler: Crawler, zufi: SourceSettings, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    assert _crawl(zufi, crawler).outcome is Outcome.COMPLETE
    before = snapshot_tables(crawler.history)
    real = tsa_walk.parse_competences
    calls = []

    def parse(items: Any, *args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise KeyError("publicServiceTypes")
        return real(items, *args)

    monkeypatch.setattr(tsa_walk, "parse_competences", parse)
    with caplog.at_level(logging.WARNING):
        result = _crawl(zufi, crawler)
    assert result.outcome is Outcome.PARTIAL, result.reason
    assert "competences incomplete" in result.reason
    assert "unexpected KeyError while reading it: 'publicServiceTypes'" in result.reason
    assert result.changes == []
    assert snapshot_tables(crawler.history)["versions"] == before["versions"]
    assert any(r.exc_info and "the competences of office" in r.getMessage()
               for r in caplog.records)
