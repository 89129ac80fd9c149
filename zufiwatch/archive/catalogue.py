"""What a finished crawl file holds, read from its manifest record: the entries of the
crawl's manifest and, by SHA-256, where the payloads stored in the file are (see
:mod:`.writer` for the format)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..errors import ArchiveError

__all__ = ["Catalogue", "PreviousCrawl", "parse_catalogue"]


@dataclass
class Catalogue:
    """The manifest's entries of a crawl file and, by SHA-256, where the payloads stored
    in it are: ``[at, length]`` of a record, or ``[at, length, base]`` of a delta."""

    path: Path
    entries: list[dict[str, Any]]
    stored: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class PreviousCrawl:
    """The last finished crawl of a source, as a new crawl of it stores against it: the
    SHA-256 of each request's payload and, when the crawl has a file in this layout, its
    catalogue (what that file stores, found without the index)."""

    payloads: dict[str, str]
    catalogue: Catalogue | None = None

    def stores(self, digest: str) -> bool:
        """Whether the crawl's own file stores this payload (so the archive has it)."""
        return self.catalogue is not None and digest in self.catalogue.stored


def parse_catalogue(path: Path, payload: bytes) -> Catalogue:
    """The catalogue of the manifest record ``payload`` of ``path``; a damaged manifest is
    an :class:`ArchiveError` naming the file."""
    catalogue = Catalogue(path, [])
    try:
        entries = _entries(payload)
        for entry in entries:
            stored = entry.pop("stored", None)
            if stored is not None:
                catalogue.stored[entry["sha256"]] = stored
            if not entry.get("unlisted"):
                catalogue.entries.append(entry)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ArchiveError(f"manifest {path} cannot be read: {exc}") from exc
    return catalogue


def _entries(payload: bytes) -> list[Any]:
    """The values of the lines of ``payload``, read as one JSON text (in C): a line holds
    one object, never a newline (JSON escapes it). Without blank lines (as written), the
    newlines are made commas in one go."""
    text = payload.strip()
    if not text:
        return []
    with contextlib.suppress(ValueError):
        entries = _loads(b"[" + text.replace(b"\n", b",") + b"]")
        if len(entries) == text.count(b"\n") + 1:
            return entries
    lines = [line for line in payload.split(b"\n") if line.strip()]
    entries = _loads(b"[" + b",".join(lines) + b"]")
    if len(entries) != len(lines):
        raise ValueError("a line holds more than one value")
    return entries


def _loads(text: bytes) -> Any:
    """The JSON value of ``text``: read by orjson (a third of the time), by the standard
    library where orjson refuses what it accepts (NaN, integers past 64 bits)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
