"""The one strict JSON reader of every source answer (pure).

:func:`read_json` is :func:`json.loads` with limits a hostile or broken server cannot get
past, each a :class:`~zufiwatch.errors.MalformedPayload` naming the endpoint and what:

- not UTF-8 (or UTF-16/32, as :func:`json.loads` detects it) text; truncated or malformed
  JSON, with the position;
- nesting deeper than :data:`MAX_DEPTH` (a real PVOG detail is 8 deep; 100,000 deep would
  end the parser in a ``RecursionError``);
- a number of more than :data:`MAX_DIGITS` digits (100,001 digits would end ``int()`` in a
  ``ValueError``; 4,001 digits are a valid, if odd, answer);
- ``NaN``, ``Infinity``, ``-Infinity`` and a number that overflows a float (``1e999``): no
  JSON has them;
- a key repeated in one object (which value would the source mean?).

An integer SQLite cannot hold (outside -2**63 .. 2**63-1) is kept as its text, a ``str``:
it is a valid answer, and stored, it would end the crawl in an ``OverflowError``.

Two paths, one result. The strict path is :func:`json.loads` with hooks for the numbers
and the keys of each object, then a walk for the depth. Most answers take the fast path
(:func:`_fast`): orjson reads the bytes and writes the value again, and an answer whose
bytes are exactly what orjson writes (compact UTF-8, as the PVOG and the simulator send)
cannot hold anything the strict path refuses or converts:

- orjson refuses what is not JSON, not UTF-8, a byte-order mark, a lone surrogate,
  ``NaN``/``Infinity`` and a float that overflows;
- a repeated key cannot survive the round trip (the value holds the key once, so what
  orjson writes of it is shorter than the answer);
- an integer beyond 2**53 is refused by the writer (``OPT_STRICT_INTEGER``), a float of
  many digits is written shorter than it came: both take the strict path, which keeps
  the integers SQLite cannot hold as text;
- the depth is read from orjson's indented form (2 spaces a level): no line indented by
  ``2 * MAX_DEPTH`` spaces, no container deeper than :data:`MAX_DEPTH`.

Anything else (another encoding, whitespace, escapes written otherwise, a limit reached)
takes the strict path, which reads it as before and says what is wrong and where.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from ..errors import MalformedPayload

__all__ = ["MAX_DEPTH", "MAX_DIGITS", "SQLITE_MAX", "SQLITE_MIN", "read_json"]

#: Arrays and objects nested deeper than this are refused (real answers: at most 8).
MAX_DEPTH = 64
#: Numbers with more digits than this are refused: Python's own default limit of ``int()``
#: on text (real answers: ids of 20 digits at most; longer integers are kept as text).
MAX_DIGITS = 4300
#: Integers of more digits than this are outside SQLite's range whatever they are.
_SQLITE_DIGITS = len(str(2**63))
#: The integers SQLite stores as such; others are kept as text.
SQLITE_MIN, SQLITE_MAX = -(2**63), 2**63 - 1

#: A JSON string, escapes included (the unrolled form: fast on long strings).
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_BRACKETS = re.compile(_STRING + r"|(?P<bracket>[\[\]{}])")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
#: How far into an answer :func:`_where` looks for the place of a fault: far beyond any
#: real answer (a detail is some 10 kB), and a bounded time for a hostile one.
WHERE_LIMIT = 4_000_000


class _Refused(Exception):
    """Raised inside the parser's hooks: ``what`` is wrong, ``token`` (if known) is the
    text that is, to find where."""

    def __init__(self, what: str, token: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.token = token


def read_json(body: bytes, endpoint: str) -> Any:
    """The JSON value of ``body``, or :class:`MalformedPayload` saying what is wrong and
    where (see the module)."""
    value = _fast(body)
    if value is not _STRICT:
        return value
    text = _decoded(body, endpoint)
    value = _parsed(text, endpoint)
    if value is _TOO_DEEP or _too_deep(value):
        raise MalformedPayload(f"{endpoint}: JSON nested deeper than {MAX_DEPTH} levels"
                               f"{_deepest(text)}", endpoint=endpoint)
    return value


#: What :func:`_parsed` returns for nesting deeper than the parser can go.
_TOO_DEEP = object()
#: What :func:`_fast` returns for an answer it cannot vouch for: read it strictly.
_STRICT = object()
#: A line of orjson's indented form inside :data:`MAX_DEPTH` containers.
_DEEP_LINE = b"\n" + b" " * (2 * MAX_DEPTH)


def _fast(body: bytes) -> Any:
    """The value of ``body`` where its bytes are exactly orjson's writing of it (and so
    within every limit, see the module); :data:`_STRICT` otherwise."""
    try:
        value = orjson.loads(body)
        if orjson.dumps(value, option=orjson.OPT_STRICT_INTEGER) != body:
            return _STRICT
        if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _DEEP_LINE in orjson.dumps(
                value, option=orjson.OPT_INDENT_2):
            return _STRICT
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return _STRICT
    return value


def _parsed(text: str, endpoint: str) -> Any:
    try:
        return json.loads(text, parse_int=_integer, parse_float=_float,
                          parse_constant=_constant, object_pairs_hook=_object)
    except _Refused as exc:
        raise MalformedPayload(f"{endpoint}: {exc.what}{_where(text, exc.token)}",
                               endpoint=endpoint) from None
    except RecursionError:
        return _TOO_DEEP
    except json.JSONDecodeError as exc:
        ending = text.rstrip()[-1:]
        where = "truncated" if ending not in ("}", "]") else "malformed"
        raise MalformedPayload(
            f"{endpoint}: {where} JSON at character {exc.pos} of {len(text)}: {exc.msg}",
            endpoint=endpoint) from exc


def _decoded(body: bytes, endpoint: str) -> str:
    """``body`` as text, in the encoding :func:`json.loads` would detect."""
    try:
        return body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"{endpoint}: not UTF-8 text", endpoint=endpoint) from exc


def _too_deep(value: Any) -> bool:
    """Whether ``value`` nests arrays and objects deeper than :data:`MAX_DEPTH` (read
    level by level)."""
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return True
        inner: list[Any] = []
        for node in level:
            inner += [item for item in (node.values() if type(node) is dict else node)
                      if type(item) in _CONTAINERS]
        level = inner
    return False


_CONTAINERS = (dict, list)


def _integer(literal: str) -> int | str:
    digits = len(literal) - literal.startswith("-")
    if digits > MAX_DIGITS:
        raise _Refused(f"a number of {digits} digits (at most {MAX_DIGITS})", literal)
    if digits > _SQLITE_DIGITS:
        return literal
    value = int(literal)
    return value if SQLITE_MIN <= value <= SQLITE_MAX else literal


def _float(literal: str) -> float:
    digits = sum(map(str.isdigit, literal))
    if digits > MAX_DIGITS:
        raise _Refused(f"a number of {digits} digits (at most {MAX_DIGITS})", literal)
    value = float(literal)
    if math.isinf(value):
        raise _Refused(f"the number {_short(literal)} is out of range", literal)
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not allowed in JSON", name)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"the key {_short(key)!r} appears twice in one object")
            seen.add(key)
    return value


# -- where: only when something is wrong -------------------------------------------------


def _where(text: str, token: str) -> str:
    """" at character N of M": the first ``token`` outside strings ("" if none is found
    in the first :data:`WHERE_LIMIT` characters)."""
    if not token:
        return ""
    # A number of thousands of digits is found by its start (a pattern of it would cost).
    needle = re.escape(token[:64]) + (r"(?![\w.])" if len(token) <= 64 else "")
    pattern = re.compile(_STRING + r"|(?P<token>(?<![\w.+-])" + needle + ")")
    for found in pattern.finditer(text, 0, WHERE_LIMIT):
        if found.lastgroup == "token":
            return f" at character {found.start()} of {len(text)}"
    return ""


def _deepest(text: str) -> str:
    """" at character N of M": where the nesting first goes deeper than allowed."""
    depth = 0
    for found in _BRACKETS.finditer(text, 0, WHERE_LIMIT):
        if found.lastgroup == "bracket":
            depth += _STEP[found.group()]
            if depth > MAX_DEPTH:
                return f" at character {found.start()} of {len(text)}"
    return ""


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else f"{value[:limit]}…"
