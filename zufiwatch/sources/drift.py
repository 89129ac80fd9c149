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

**Answers whose content is known are not walked again** (:meth:`ShapeLog.confirmed`). An
answer confirmed by its content fingerprint (volatile fields removed; they are leaves of
every shape, so nothing below them is looked at anyway) has the keys of the answer its
stored version was made from, and that answer was walked then. Its unknown keys are known
without walking it, provided no crawl since missed them. So a confirmed answer of
``endpoint`` for the record ``key`` is counted as checked (one more answer, no unknown
keys) without walking it only when the previous crawl of the source (:class:`KnownShapes`,
from :func:`known_shapes`)

- was complete and live, and read every listed entry (not failed, partial, replayed, and
  no entry vouched for by the listing's ``lastUpdate``: its ``shapes_basis``), under the
  same parser version and the same shapes (:func:`shape_digest` is that basis: a shape
  changed in the code, a key forgotten, walks everything once);
- recorded no unknown key for ``endpoint`` (so a crawl that found some walks every answer
  of that endpoint, and reports them, with the full count, every day until the parser
  knows them);
- read ``key``'s answer (seen in that crawl, no failed check: a struck or missing record
  was not read, nor an office an incremental crawl did not ask for).

Otherwise, and in a replayed crawl or a source's first, every answer is walked. Every
answer counts once either way, so ``answers`` and :meth:`ShapeLog.missing_everywhere`
are as before.

:func:`unknown_keys` is pure; :class:`ShapeLog` is the crawl's thread-safe tally.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from ..errors import MissingField

__all__ = ["Answer", "KnownShapes", "Shape", "ShapeLog", "format_drift", "known_shapes",
           "shape_digest", "unknown_keys"]

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


def shape_digest(shapes: Mapping[str, Shape]) -> str:
    """Identifies a source's shapes (endpoint → :data:`Shape`; shapes may nest into
    themselves, as the PVOG's sub-modules do: a back-reference is written as such)."""
    def canonical(node: Shape | None, path: list[int]) -> Any:
        if not isinstance(node, Mapping):
            return None
        if id(node) in path:
            return f"^{len(path) - path.index(id(node))}"
        path.append(id(node))
        written = {str(key): canonical(value, path) for key, value in node.items()}
        path.pop()
        return written

    text = json.dumps(canonical(shapes, []), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class KnownShapes:
    """What the previous crawl of a source says about the answers it read (see the module's
    docstring): the endpoints whose answers carried unknown keys, and the records whose
    answers it read."""

    drifted: frozenset[str]
    read: frozenset[str]

    def vouches(self, endpoint: str, key: str) -> bool:
        """Whether a confirmed answer of ``endpoint`` for ``key`` needs no walk."""
        return endpoint not in self.drifted and key in self.read


def known_shapes(previous: Mapping[str, Any] | None, *, parser_version: str, digest: str,
                 read: Callable[[str], Iterable[str]]) -> KnownShapes | None:
    """What the crawl row ``previous`` (the source's last crawl before this one; None if
    none) lets this crawl know without walking, or None (walk everything). ``read(at)``
    gives the records that the crawl started ``at`` read."""
    if previous is None or previous.get("outcome") != "complete" \
            or previous.get("mode") == "reparse" \
            or previous.get("parser_version") != parser_version \
            or previous.get("shapes_basis") != digest:
        return None
    try:
        summary = json.loads(previous.get("shapes") or "{}")
    except ValueError:
        return None
    if not isinstance(summary, dict):
        return None
    drifted = frozenset(endpoint for endpoint, tally in summary.items()
                        if not isinstance(tally, Mapping) or tally.get("unknown"))
    return KnownShapes(drifted, frozenset(read(str(previous.get("started_at")))))


class ShapeLog:
    """What one crawl saw of its answers' shapes, per endpoint. ``known``: what the
    previous crawl lets it know without walking (None: walk every answer)."""

    def __init__(self, known: KnownShapes | None = None) -> None:
        self._lock = threading.Lock()
        self._endpoints: dict[str, _Endpoint] = {}
        self._known = known

    def check(self, endpoint: str, payload: Any, shape: Shape) -> None:
        """Count one decoded answer of ``endpoint`` and the unknown keys it carries."""
        paths = unknown_keys(payload, shape)
        with self._lock:
            tally = self._endpoints.setdefault(endpoint, _Endpoint())
            tally.answers += 1
            for path in paths:
                if path in tally.unknown or len(tally.unknown) < MAX_PATHS:
                    tally.unknown[path] += 1

    def known(self, endpoint: str) -> None:
        """Count one answer of ``endpoint`` whose keys are known without walking it."""
        with self._lock:
            self._endpoints.setdefault(endpoint, _Endpoint()).answers += 1

    def confirmed(self, endpoint: str, key: str, payload: Any, shape: Shape) -> None:
        """Count one answer of ``endpoint`` for the record ``key`` confirmed by its content
        fingerprint: known without a walk where the previous crawl vouches for it (see the
        module's docstring), else walked."""
        if self._known is not None and self._known.vouches(endpoint, key):
            self.known(endpoint)
        else:
            self.check(endpoint, payload, shape)

    def answer(self, endpoint: str, key: str, payload: Any, shape: Shape) -> Answer:
        """One answer's check, to be done once: see :class:`Answer`."""
        return Answer(self, endpoint, key, payload, shape)

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


class Answer:
    """One decoded answer, counted once: :meth:`read` (walked, before it is parsed, so
    an answer lacking a needed field is counted) or :meth:`confirmed` (confirmed by its
    content fingerprint). Used as a context manager, an answer neither was by the end
    (the walk failed before it knew) is walked then."""

    def __init__(self, log: ShapeLog, endpoint: str, key: str, payload: Any,
                 shape: Shape) -> None:
        self._log, self._endpoint, self._key = log, endpoint, key
        self._payload, self._shape = payload, shape
        self._counted = False

    def read(self) -> None:
        if not self._counted:
            self._counted = True
            self._log.check(self._endpoint, self._payload, self._shape)

    def confirmed(self) -> None:
        if not self._counted:
            self._counted = True
            self._log.confirmed(self._endpoint, self._key, self._payload, self._shape)

    def __enter__(self) -> Answer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.read()


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
