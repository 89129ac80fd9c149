"""Plain values that flow through the pipeline: records, changes, crawl outcomes.

A :class:`Record` is one normalised entry of a source. Its ``content`` decides whether it
changed (via :func:`content_hash` over the canonical JSON); its ``volatile`` fields
(``lastUpdate`` and the like) are kept but never count as a change.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "KINDS",
    "WATCH_SUFFIX",
    "Change",
    "ChangeType",
    "Outcome",
    "Record",
    "canonical_json",
    "content_hash",
    "record_key",
    "split_key",
    "text_hash",
]

#: The record kinds, in the order they are shown.
KINDS = ("leistung", "organisationseinheit", "onlinedienst", "link")

#: German names of the kinds, the users' words.
KIND_LABELS = {
    "leistung": "Leistung",
    "organisationseinheit": "Organisationseinheit",
    "onlinedienst": "Onlinedienst",
    "link": "Link",
}

#: The suffix of a source whose records are another source's seen another way: the link
#: watch of PVOG source ``jena`` is ``jena:links`` (``:`` is not allowed in configured
#: names). Its records are left out where the directory's state is asked for.
WATCH_SUFFIX = ":links"


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace: equal values, equal text."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a record's content."""
    return text_hash(canonical_json(content))


def text_hash(text: str) -> str:
    """SHA-256 (hex) of a text, e.g. of canonical JSON computed once already."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_key(kind: str, source_id: str) -> str:
    """The stable key of a record: ``<kind>:<id of the source>``."""
    return f"{kind}:{source_id}"


def split_key(key: str) -> tuple[str, str]:
    """Inverse of :func:`record_key`; raises ``ValueError`` for a key without a kind."""
    kind, sep, source_id = key.partition(":")
    if not sep or kind not in KINDS or not source_id:
        raise ValueError(f"not a record key: {key!r} (expected KIND:ID, e.g. leistung:S1.LB.1)")
    return kind, source_id


@dataclass(frozen=True)
class Record:
    """One normalised entry of a source."""

    kind: str
    source_id: str
    content: dict[str, Any]
    volatile: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return record_key(self.kind, self.source_id)

    @property
    def title(self) -> str:
        return str(self.content.get("name") or self.content.get("url") or "")

    @property
    def hash(self) -> str:
        return content_hash(self.content)


class ChangeType(enum.StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"
    #: A record concluded removed earlier is back; its history continues.
    REAPPEARED = "reappeared"


@dataclass(frozen=True)
class Change:
    """One field-level difference between two versions of a record.

    ``path`` is machine-readable (``texte.06.text``, ``onlinedienste[<url>].titel``);
    ``label`` is what a person reads ("Volltext", "Online-Dienst › Titel"). ``old`` and
    ``new`` are JSON values; ``None`` where the field did not exist.
    """

    change_type: ChangeType
    path: str
    label: str
    old: Any = None
    new: Any = None


class Outcome(enum.StrEnum):
    """How a crawl ended."""

    RUNNING = "running"
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"
