"""Shape drift: unknown keys in answers are counted per endpoint; a needed field missing in
every answer makes the crawl partial (sources/drift.py and its wiring in the runner)."""

from __future__ import annotations

from zufiwatch.errors import MissingField, PayloadError
from zufiwatch.sources.drift import MAX_PATHS, ShapeLog, format_drift, unknown_keys

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
