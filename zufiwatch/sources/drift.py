"""Shape drift: keys in a source's answers that its parser does not know.

The real PVOG and ZuFi move their API versions (v5 → v6 → v7) and add fields without
notice. A parser that ignores what it does not know keeps working, but nobody would see
that a new field arrived, perhaps one that carries what the city edits. So each parser
declares, per endpoint, the keys it knows (a :data:`Shape`), every decoded answer is
compared with it, and the crawl records, per endpoint, how many answers it checked and
how many of them carried each unknown key. ``zufiwatch crawls`` and ``zufiwatch health``
show them: a new API version shows up the day it arrives.

A field the parser needs that is missing in *every* answer of an endpoint is the other
side of drift (renamed, moved): :meth:`ShapeLog.missing_everywhere` names it, and the
runner makes the crawl partial with that reason.

:func:`unknown_keys` is pure; :class:`ShapeLog` is the crawl's thread-safe tally.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import MissingField

__all__ = ["Shape", "ShapeLog", "format_drift", "unknown_keys"]

#: Known keys of an answer. A nested mapping is the shape of the key's value when that is
#: an object, or of each object in it when it is a list; ``None`` is a leaf (its value is
#: not inspected).
Shape = Mapping[str, "Shape | None"]

#: At most this many unknown paths are kept per endpoint (a hostile answer cannot make the
#: tally grow without bound).
MAX_PATHS = 50
#: Nesting below this depth is not inspected.
MAX_DEPTH = 12


def unknown_keys(payload: Any, shape: Shape, prefix: str = "", depth: int = 0) -> set[str]:
    """The paths (``foo``, ``details[].bar``, ``location.baz``) of the keys in
    ``payload`` that ``shape`` does not name."""
    found: set[str] = set()
    _collect(payload, shape, prefix, depth, found)
    return found


#: What ``shape.get`` gives for a key the shape does not name.
_UNKNOWN: Any = object()


def _collect(payload: Any, shape: Shape, prefix: str, depth: int, found: set[str]) -> None:
    """Adds the unknown paths of ``payload`` to ``found`` (one walk, one set; a path is
    written only for a key that is unknown)."""
    if depth > MAX_DEPTH:
        return
    if isinstance(payload, list):
        for item in payload:
            if isinstance(item, dict | list):
                _collect(item, shape, prefix, depth + 1, found)
        return
    if not isinstance(payload, dict):
        return
    for key, value in payload.items():
        inner = shape.get(key, _UNKNOWN)
        if inner is None:
            continue
        if inner is _UNKNOWN:
            found.add(f"{prefix}{key}")
        elif isinstance(value, list):
            within = f"{prefix}{key}[]."
            for item in value:
                if isinstance(item, dict | list):
                    _collect(item, inner, within, depth + 1, found)
        elif isinstance(value, dict):
            _collect(value, inner, f"{prefix}{key}.", depth + 1, found)


@dataclass
class _Endpoint:
    answers: int = 0
    unknown: Counter[str] = field(default_factory=Counter)
    missing: Counter[str] = field(default_factory=Counter)


class ShapeLog:
    """What one crawl saw of its answers' shapes, per endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._endpoints: dict[str, _Endpoint] = {}

    def check(self, endpoint: str, payload: Any, shape: Shape) -> None:
        """Count one decoded answer of ``endpoint`` and the unknown keys it carries."""
        paths = unknown_keys(payload, shape)
        with self._lock:
            tally = self._endpoints.setdefault(endpoint, _Endpoint())
            tally.answers += 1
            for path in paths:
                if path in tally.unknown or len(tally.unknown) < MAX_PATHS:
                    tally.unknown[path] += 1

    def missing(self, error: Exception) -> None:
        """Note an answer that lacked a field the parser needs (a :class:`MissingField`;
        other errors are not about the shape and are ignored)."""
        if not isinstance(error, MissingField):
            return
        endpoint = str(getattr(error, "endpoint", "") or "")
        with self._lock:
            tally = self._endpoints.setdefault(endpoint, _Endpoint())
            if error.field in tally.missing or len(tally.missing) < MAX_PATHS:
                tally.missing[error.field] += 1

    def missing_everywhere(self) -> list[tuple[str, str, int]]:
        """``(endpoint, field, answers)`` for each needed field that every checked answer
        of its endpoint lacked (at least two answers, so one bad entry is not a drift)."""
        with self._lock:
            return sorted((endpoint, name, tally.answers)
                          for endpoint, tally in self._endpoints.items()
                          for name, count in tally.missing.items()
                          if tally.answers >= 2 and count >= tally.answers)

    def summary(self) -> dict[str, dict[str, Any]]:
        """``{endpoint: {"answers": n, "unknown": {path: count}, "missing": {...}}}`` for
        the endpoints with something to say (JSON-ready, sorted)."""
        with self._lock:
            return {
                endpoint: {"answers": tally.answers,
                           "unknown": dict(sorted(tally.unknown.items())),
                           **({"missing": dict(sorted(tally.missing.items()))}
                              if tally.missing else {})}
                for endpoint, tally in sorted(self._endpoints.items())
                if tally.unknown or tally.missing
            }


def format_drift(summary: Mapping[str, Any], limit: int = 6) -> str:
    """One line for people: ``/v6/…/detail: newField (64 of 64), other (1 of 64)``."""
    parts = []
    for endpoint, tally in summary.items():
        if not isinstance(tally, Mapping):
            continue
        answers = tally.get("answers", 0)
        unknown = tally.get("unknown") or {}
        keys = [f"{path} ({count} of {answers})" for path, count in list(unknown.items())[:limit]]
        if len(unknown) > limit:
            keys.append(f"… {len(unknown) - limit} more")
        if keys:
            parts.append(f"{endpoint}: {', '.join(keys)}")
    return "; ".join(parts)
