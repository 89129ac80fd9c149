"""Hostile JSON (issue 18, item 3): one strict reader for every source answer, a bad entry
is that entry "not observed", and no crawl is left ``running`` by an exception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from zufiwatch.errors import MalformedPayload
from zufiwatch.sources.base import decode_json
from zufiwatch.sources.jsonread import MAX_DEPTH, read_json

ROOT = Path(__file__).resolve().parent.parent
EP = "/v6/servicedescriptions/detail"


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
