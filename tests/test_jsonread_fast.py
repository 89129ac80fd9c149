"""Reading a detail at a fraction of the CPU (issue 19): the strict reader's fast path
refuses what the strict path refuses, reads what it reads, content fingerprints keep their
values, and drift finds the same unknown paths (sources/jsonread.py, sources/base.py,
sources/drift.py). Speed itself is measured by bench/detail_cost.py."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from zufiwatch.errors import MalformedPayload
from zufiwatch.sim import build_directory
from zufiwatch.sim._http import dumps
from zufiwatch.sources import jsonread
from zufiwatch.sources.base import content_digest, decode_json, without
from zufiwatch.sources.drift import unknown_keys
from zufiwatch.sources.jsonread import MAX_DEPTH, read_json
from zufiwatch.sources.pvog.parse import DETAIL_VOLATILE, OFFICE_VOLATILE, PARSER_VERSION
from zufiwatch.sources.pvog.shapes import EP_DETAIL, EP_OFFICE, SHAPES

ROOT = Path(__file__).resolve().parent.parent
PVOG = ROOT / "tests/payloads/pvog"
EP = EP_DETAIL


@pytest.fixture(scope="module")
def directory() -> Any:
    return build_directory(60)


def _strict(body: bytes) -> Any:
    """What the strict path alone reads (the fast path switched off)."""
    text = jsonread._decoded(body, EP)
    value = jsonread._parsed(text, EP)
    assert value is not jsonread._TOO_DEEP and not jsonread._too_deep(value)
    return value


def _typed(value: Any) -> str:
    """Canonical text that tells 1 from 1.0 and True (and a kept text from a number)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _refused(body: bytes) -> str:
    with pytest.raises(MalformedPayload) as info:
        read_json(body, EP)
    assert info.value.endpoint == EP and str(info.value).startswith(f"{EP}: ")
    return str(info.value)


# -- the fast path is the path of compact answers -------------------------------------------


def test_a_compact_answer_is_read_without_the_strict_path(directory: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = [dumps(detail) for detail in directory.leistungen.values()]
    expected = [json.loads(body) for body in bodies]

    def no_strict(text: str, endpoint: str) -> Any:
        raise AssertionError("the strict path read a compact answer")

    monkeypatch.setattr(jsonread, "_parsed", no_strict)
    assert [read_json(body, EP) for body in bodies] == expected


def test_an_answer_with_whitespace_takes_the_strict_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    parsed = jsonread._parsed
    monkeypatch.setattr(jsonread, "_parsed",
                        lambda text, endpoint: calls.append(text) or parsed(text, endpoint))
    assert read_json(b'{"a": [1, 2]}', EP) == {"a": [1, 2]}
    assert calls == ['{"a": [1, 2]}']


# -- every refusal holds for compact answers too ---------------------------------------------


def _compact_nested(levels: int, inner: bytes = b"1", opening: bytes = b"[") -> bytes:
    closing = b"]" if opening == b"[" else b"}"
    if opening == b"{":
        return b'{"a":' * levels + inner + closing * levels
    return opening * levels + inner + closing * levels


@pytest.mark.parametrize("opening", [b"[", b"{"])
def test_compact_nesting_is_refused_just_beyond_the_limit_and_read_at_it(opening: bytes) -> None:
    assert f"nested deeper than {MAX_DEPTH} levels" in _refused(
        _compact_nested(MAX_DEPTH + 1, opening=opening))
    assert read_json(_compact_nested(MAX_DEPTH, opening=opening), EP) is not None
    # The deepest container empty: the indented form has no line for its inside.
    assert f"nested deeper than {MAX_DEPTH}" in _refused(b"[" * (MAX_DEPTH + 1)
                                                         + b"]" * (MAX_DEPTH + 1))
    assert read_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, EP) is not None
    assert f"nested deeper than {MAX_DEPTH}" in _refused(b"[" * 100_000 + b"]" * 100_000)


def test_compact_nesting_beside_many_shallow_containers() -> None:
    wide = b"[" + b",".join([b'{"a":[1]}'] * 100) + b"]"
    assert read_json(wide, EP)[99] == {"a": [1]}
    deep = b"[" + wide[1:-1] + b"," + _compact_nested(MAX_DEPTH) + b"]"
    assert f"nested deeper than {MAX_DEPTH}" in _refused(deep)


def test_compact_repeated_keys_nan_and_numbers_are_refused_with_where() -> None:
    assert "the key 'name' appears twice in one object" in _refused(
        b'{"name":"A","id":"S1","name":"A"}')
    assert "the key 'id' appears twice" in _refused(b'{"id":"S1","id":"S2"}')
    assert "the key 'code' appears twice" in _refused(b'{"d":[{"code":"1","code":"1"}]}')
    message = _refused(b'{"n":NaN}')
    assert "NaN is not allowed in JSON at character 5 of 9" in message
    assert "Infinity is not allowed" in _refused(b'[-Infinity]')
    assert "the number 1e999 is out of range at character 5" in _refused(b'{"a":1e999}')
    assert "a number of 5000 digits" in _refused(b"[" + b"7" * 5000 + b"]")
    assert "a number of 5001 digits" in _refused(b"[1." + b"0" * 5000 + b"]")


def test_compact_answers_that_are_not_json_are_refused() -> None:
    assert "truncated JSON at character" in _refused(b'{"id":"S1')
    assert "malformed JSON at character" in _refused(b'{"id":1,}')
    assert "not UTF-8 text" in _refused(b'{"name":"Geb\xfchr"}')
    with pytest.raises(MalformedPayload, match="an HTML page instead of JSON"):
        decode_json(b"<!DOCTYPE html><html></html>", EP)
    with pytest.raises(MalformedPayload, match="an HTML page instead of JSON"):
        decode_json(b"\r\n  <html></html>", EP)
    assert decode_json(b'  {"a":1}', EP) == {"a": 1}


def test_compact_integers_sqlite_cannot_hold_are_kept_as_text() -> None:
    body = b'[9223372036854775807,9223372036854775808,18446744073709551616,' \
           b'-9223372036854775809,9007199254740993,1]'
    assert read_json(body, EP) == [2**63 - 1, "9223372036854775808", "18446744073709551616",
                                   "-9223372036854775809", 2**53 + 1, 1]


# -- the same values as the strict path --------------------------------------------------------


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(10 if depth < 6 else 7)
    if kind == 0:
        return rng.choice([0, 1, -1, 2**53 - 1, 2**53, 2**53 + 1, 2**63 - 1, 2**63, -(2**63),
                           2**64, rng.randrange(-10**6, 10**6)])
    if kind == 1:
        exponent = rng.randrange(-30, 30)
        return rng.choice([0.0, -0.0, 0.5, 12.5, rng.uniform(-1, 1) * 10.0 ** exponent])
    if kind == 2:
        return rng.choice([True, False, None])
    if kind in (3, 4, 5, 6):
        alphabet = ['a', 'ä', '"', "\\", "\n", "\x00", "\x1f", "\x7f", "\u2028", "€", "😀",
                    "<p>", "/", " ", "\t", "\ud800"]
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
    if kind in (7, 8):
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {f"k{rng.randrange(6)}ä": _random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _serialized(value: Any, rng: random.Random) -> bytes:
    compact = rng.random() < 0.8
    text = json.dumps(value, ensure_ascii=rng.random() < 0.2,
                      separators=(",", ":") if compact else (", ", ": "))
    return text.encode("utf-8", "surrogatepass")


def test_random_answers_read_as_the_strict_path_reads_them() -> None:
    rng = random.Random(19)
    for _ in range(3000):
        body = _serialized(_random_value(rng), rng)
        assert _typed(read_json(body, EP)) == _typed(_strict(body)), body


def test_recorded_payloads_compacted_read_as_the_strict_path_reads_them() -> None:
    paths = sorted([*ROOT.glob("tests/payloads/**/*.json"),
                    *ROOT.glob("zufiwatch/sim/data/*.json")])
    assert len(paths) > 10
    for path in paths:
        body = dumps(json.loads(path.read_bytes()))
        assert _typed(read_json(body, path.name)) == _typed(_strict(body)), path.name


# -- content fingerprints keep their values ----------------------------------------------------


def _legacy_digest(parser_version: str, *parts: Any) -> str:
    """content_digest as it was written before orjson (the values stored histories hold)."""
    text = json.dumps([parser_version, *parts], sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def test_known_payloads_give_their_known_fingerprints() -> None:
    """Pinned: values computed before the fast path; a change would make the first crawl
    after an upgrade parse every Leistung again."""
    assert PARSER_VERSION == "pvog-2"
    verbatim = json.loads((PVOG / "pvog-v5-detail-B100019.LB.574711.json").read_bytes())
    assert content_digest(PARSER_VERSION, without(verbatim, DETAIL_VOLATILE)) == \
        "aaa4497ba5716c375b21ac5a727ae8c732939b1af6c9cefcb43aa8427efd8dbe"
    detail = json.loads((PVOG / "v6_detail_bewohnerparkausweis.json").read_bytes())
    assert content_digest(PARSER_VERSION, without(detail, DETAIL_VOLATILE)) == \
        "1c8cb4277b876a597f6048037bacdc31727757ab86e18c59657b349fa23b4c82"
    office = json.loads((PVOG / "v5_office_ordnungsamt.json").read_bytes())
    assert content_digest(PARSER_VERSION, without(office, OFFICE_VOLATILE)) == \
        "5d38dbdacdaa5c2912bdfdbf6fc3b8d2fa802bbc8cc09d61eeeb85c774214ffc"
    geo = {"id": "L100038.OE.1", "name": "Bürgerservice Jena",
           "location": [{"addresses": [{"geo": {"latitude": 50.92878, "longitude": 11.5899}}]}]}
    assert content_digest(PARSER_VERSION, geo) == \
        "8e1eeb9b796d08f2b4baf8ea980fe5895e9b028e9f6f100f061d45468d7b3427"
    assert content_digest(PARSER_VERSION, [{"id": "x", "role": {"code": "01"}}]) == \
        "7879964a49b26c956ecd6ccebe0807362681b6354701f025462bc6eb587ab1d9"
    # What orjson cannot write (beyond 64 bits, a lone surrogate) is written as before.
    odd = {"big": 2**64, "text": "a\ud800b", "n": [0.5, -0.0, 2**63, True, None]}
    assert content_digest(PARSER_VERSION, odd) == \
        "b535682750c651953e5e5c8b187ed27c1a7b256c275c102029035189fd22f7db"


def test_simulated_answers_keep_their_fingerprints(directory: Any) -> None:
    for detail in directory.leistungen.values():
        content = without(detail, DETAIL_VOLATILE)
        assert content_digest("pvog-2", content) == _legacy_digest("pvog-2", content)
    for office in directory.offices.values():
        content = without(office, OFFICE_VOLATILE)
        assert content_digest("pvog-2", content) == _legacy_digest("pvog-2", content)
    for titles in directory.titles.values():
        assert content_digest("pvog-2", titles) == _legacy_digest("pvog-2", titles)


def test_random_values_keep_their_fingerprints_floats_between_1e_4_and_1e16() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        value = json.loads(_serialized(_random_value(rng), rng))  # as read_json returns it
        if _has_float_outside(value):
            continue
        assert content_digest("v", value) == _legacy_digest("v", value), value


def _has_float_outside(value: Any) -> bool:
    if isinstance(value, float):
        return value != 0 and not 1e-4 <= abs(value) < 1e16
    if isinstance(value, dict):
        return any(_has_float_outside(v) for v in value.values())
    if isinstance(value, list):
        return any(map(_has_float_outside, value))
    return False


def test_a_float_outside_that_range_changes_its_fingerprint_never_collides() -> None:
    """Documented: 1e-09 is written 1e-9 by orjson; such an answer is parsed once more
    after the upgrade (a new fingerprint, the same record), and still tells values apart."""
    tiny = {"amount": 1e-9}
    assert content_digest("v", tiny) != _legacy_digest("v", tiny)
    assert content_digest("v", tiny) == content_digest("v", {"amount": 1e-09})
    assert content_digest("v", tiny) != content_digest("v", {"amount": 2e-9})
    assert content_digest("v", {"amount": 1e16}) == _legacy_digest("v", {"amount": 1e16})


def test_key_order_does_not_matter_and_other_types_are_written_as_before() -> None:
    assert content_digest("v", {"b": 1, "a": {"d": 2, "c": 3}}) == \
        content_digest("v", {"a": {"c": 3, "d": 2}, "b": 1})

    class Text(str):
        pass

    assert content_digest("v", {"t": Text("x"), "u": (1, 2)}) == \
        _legacy_digest("v", {"t": Text("x"), "u": (1, 2)})
    assert content_digest("v", {3: "a", 1: "b"}) == _legacy_digest("v", {3: "a", 1: "b"})
    with pytest.raises(TypeError):
        content_digest("v", {"when": object()})


# -- drift: the same unknown paths -------------------------------------------------------------


def _legacy_unknown(payload: Any, shape: Any, prefix: str = "", depth: int = 0) -> set[str]:
    """unknown_keys as it was written before (the reference)."""
    found: set[str] = set()
    if depth > 12:
        return found
    if isinstance(payload, list):
        for item in payload:
            found |= _legacy_unknown(item, shape, prefix, depth + 1)
        return found
    if not isinstance(payload, dict):
        return found
    for key, value in payload.items():
        path = f"{prefix}{key}"
        if key not in shape:
            found.add(path)
            continue
        inner = shape[key]
        if inner is None:
            continue
        if isinstance(value, list):
            for item in value:
                found |= _legacy_unknown(item, inner, f"{path}[].", depth + 1)
        elif isinstance(value, dict):
            found |= _legacy_unknown(value, inner, f"{path}.", depth + 1)
    return found


def _sprinkled(value: Any, rng: random.Random) -> Any:
    """``value`` with unknown keys, odd values and nesting added here and there."""
    if isinstance(value, dict):
        out = {k: _sprinkled(v, rng) for k, v in value.items()}
        if rng.random() < 0.2:
            out[rng.choice(["newField", "x", "details", "links"])] = rng.choice(
                [1, [], [{"deep": [[{"x": 1}]]}], {"y": None}, "s"])
        return out
    if isinstance(value, list):
        items = [_sprinkled(v, rng) for v in value]
        if rng.random() < 0.1:
            items.append(rng.choice([None, [value[:1]], {"stray": 1}]))
        return items
    return value


def test_drift_finds_the_same_unknown_paths(directory: Any) -> None:
    rng = random.Random(3)
    for detail in directory.leistungen.values():
        changed = _sprinkled(detail, rng)
        assert unknown_keys(changed, SHAPES[EP_DETAIL]) == \
            _legacy_unknown(changed, SHAPES[EP_DETAIL])
    for office in directory.offices.values():
        changed = _sprinkled(office, rng)
        assert unknown_keys(changed, SHAPES[EP_OFFICE]) == \
            _legacy_unknown(changed, SHAPES[EP_OFFICE])
    deep: Any = {"code": "0", "new": 1}
    for _ in range(30):
        deep = {"code": "1", "details": [deep, [deep]], "other": 2}
    module = SHAPES[EP_DETAIL]["details"]
    assert module is not None
    assert unknown_keys(deep, module) == _legacy_unknown(deep, module)
