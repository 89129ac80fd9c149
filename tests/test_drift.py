"""Shape drift: unknown keys in answers are counted per endpoint; a needed field missing in
every answer makes the crawl partial (sources/drift.py and its wiring in the runner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import Crawler
from zufiwatch.cli import cli
from zufiwatch.config import load_settings
from zufiwatch.errors import MissingField, PayloadError
from zufiwatch.health import OK, WARNING, evaluate
from zufiwatch.sources.drift import MAX_PATHS, ShapeLog, format_drift, unknown_keys
from zufiwatch.sources.pvog.shapes import EP_DETAIL, SHAPES

MODULE = {"code": None, "text": None, "links": {"uri": None, "title": None}}
MODULE["details"] = MODULE  # recursive, as the PVOG's sub-modules
DETAIL = {"id": None, "name": None, "details": MODULE, "location": {"city": None}}


def test_unknown_keys_are_found_at_every_depth_with_their_path() -> None:
    payload = {
        "id": "x", "name": "n", "brandNew": 1,
        "details": [{"code": "06", "text": "", "extra": True,
                     "links": [{"uri": "u", "title": "t", "rel": "x"}],
                     "details": [{"code": "009", "deeper": 1}]}],
        "location": {"city": "Jena", "geo": {"lat": 1}},
    }
    assert unknown_keys(payload, DETAIL) == {
        "brandNew", "details[].extra", "details[].links[].rel", "details[].details[].deeper",
        "location.geo"}


def test_known_answers_in_any_order_with_nulls_and_odd_values_have_no_unknown_keys() -> None:
    payload = {"location": None, "details": [None, "text", {"text": None, "code": 1}],
               "name": "n", "id": 1}
    assert unknown_keys(payload, DETAIL) == set()
    assert unknown_keys([{"id": 1}, {"id": 2, "new": 0}], DETAIL) == {"new"}
    assert unknown_keys("not an object", DETAIL) == set()


def test_a_deeply_nested_hostile_answer_does_not_recurse_without_bound() -> None:
    payload: dict = {"code": "0"}
    node = payload
    for _ in range(5000):
        child: dict = {"code": "1"}
        node["details"] = [child]
        node = child
    node["hidden"] = 1
    assert unknown_keys(payload, MODULE) == set()  # too deep to look at, and no crash


def test_the_log_counts_answers_and_each_unknown_key_once_per_answer() -> None:
    log = ShapeLog()
    for _ in range(3):
        log.check("/v6/detail", {"id": 1, "name": "n", "newField": [1, 2]}, DETAIL)
    log.check("/v6/detail", {"id": 1, "name": "n", "details": [{"x": 1}, {"x": 2}]}, DETAIL)
    log.check("/v5/office", {"id": 1}, DETAIL)
    summary = log.summary()
    assert summary == {"/v6/detail": {"answers": 4,
                                      "unknown": {"details[].x": 1, "newField": 3}}}
    assert format_drift(summary) == "/v6/detail: details[].x (1 of 4), newField (3 of 4)"


def test_the_log_keeps_a_bounded_number_of_paths() -> None:
    log = ShapeLog()
    log.check("/e", {f"k{i}": 1 for i in range(500)}, {})
    assert len(log.summary()["/e"]["unknown"]) == MAX_PATHS


def test_a_needed_field_missing_in_every_answer_is_named() -> None:
    log = ShapeLog()
    for _ in range(3):
        log.check("/v6/detail", {"id": 1}, DETAIL)
        log.missing(MissingField("/v6/detail", "name", "a string"))
    log.missing(PayloadError("/v6/detail: truncated", endpoint="/v6/detail"))  # not shape
    assert log.missing_everywhere() == [("/v6/detail", "name", 3)]
    assert log.summary()["/v6/detail"]["missing"] == {"name": 3}


def test_a_needed_field_missing_in_some_answers_only_is_not_drift() -> None:
    log = ShapeLog()
    for index in range(3):
        log.check("/v6/detail", {"id": 1}, DETAIL)
        if index:
            log.missing(MissingField("/v6/detail", "name"))
    assert log.missing_everywhere() == []
    single = ShapeLog()
    single.check("/v5/office", {}, DETAIL)
    single.missing(MissingField("/v5/office", "title"))
    assert single.missing_everywhere() == []  # one bad answer is one bad entry


# -- end to end: the simulated PVOG, the runner, `crawls` and `health` ---------------------


def test_a_key_the_parser_does_not_know_is_counted_and_shown_by_crawls_and_health(
        crawler: Crawler, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    crawler.day(0)
    # The day a new API version arrives: answers carry a key this parser has not seen.
    # (Simulated by forgetting a key the simulator serves: "synonyms" of the detail.)
    known = {k: v for k, v in SHAPES[EP_DETAIL].items() if k != "synonyms"}
    monkeypatch.setitem(SHAPES, EP_DETAIL, known)
    result = crawler.day(1)
    assert result.outcome == "complete"  # an unknown key is news, not a failure
    leistungen = len(crawler.pvog.scenario.directory_for(1).leistungen)
    shapes = json.loads(crawler.history.crawl(result.crawl_id)["shapes"])
    assert shapes == {EP_DETAIL: {"answers": leistungen, "unknown": {"synonyms": leistungen}}}

    config = crawler.write_config(tmp_path / "zufiwatch.toml")
    listing = CliRunner().invoke(cli, ["--config", str(config), "crawls", "--limit", "2"])
    assert listing.exit_code == 0, listing.output
    line = next(row for row in listing.output.splitlines()
                if row.split()[:1] == [str(result.crawl_id)])
    assert f"synonyms ({leistungen} of {leistungen})" in line
    report = evaluate(load_settings(config), crawler.history, crawler.clock())
    assert report.state == WARNING
    assert (f"pvog-test: 1 unknown key in the answers ({EP_DETAIL}: synonyms "
            f"({leistungen} of {leistungen}))") in report.line
    assert "'unknown_keys_pvog-test'=1;0;;0" in report.line

    monkeypatch.setitem(SHAPES, EP_DETAIL, {**known, "synonyms": None})  # parser upgraded
    crawler.day(1)
    assert evaluate(load_settings(config), crawler.history, crawler.clock()).state == OK


def test_a_needed_field_missing_in_every_answer_makes_the_crawl_partial_naming_it(
        crawler: Crawler) -> None:
    crawler.day(0)
    crawler.pvog.inject("/detail", "drop:name")
    result = crawler.day(1)
    assert result.outcome == "partial"
    leistungen = len(crawler.pvog.scenario.directory_for(1).leistungen)
    assert (f"required field 'name' missing in all {leistungen} answers of {EP_DETAIL}"
            in result.reason)
    assert result.changes == []
    states = {row["status"] for row in crawler.history.db.query("SELECT status FROM records")}
    assert states == {"present"}  # nothing concluded missing or removed
