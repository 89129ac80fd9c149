"""What identifies a PVOG Leistung's content, and when its offices need not be asked for.

A Leistung's record is made from its detail and its Zuständigkeiten (the offices with
their names and roles). Its fingerprint has two parts:

- the detail's content: the decoded answer without the volatile fields
  (:data:`~.parse.DETAIL_VOLATILE`: the import time moves every day), under the parser
  version;
- its Zuständigkeiten as stored (from the ``/v2`` titles), and whether their office ids
  are those of the detail's ``organisationIds``.

The detail is read every crawl (offices can be added or removed without a new
``lastUpdate``); the titles only where the offices' names and roles are not known: in a
full (verification) crawl, where the detail names no ``organisationIds``, and where it
names others than the stored version holds. Otherwise the stored Zuständigkeiten stand.
Pure functions; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..base import content_digest

__all__ = ["LeistungPrint", "leistung_print", "named_offices", "reusable_offices"]

_PREFIX = "c1"


@dataclass(frozen=True)
class LeistungPrint:
    #: The detail's content (volatile fields removed) under the parser version.
    detail: str
    #: The Zuständigkeiten the record holds.
    offices: str
    #: Whether their office ids are the detail's ``organisationIds``.
    agree: bool

    def __str__(self) -> str:
        return f"{_PREFIX}:{self.detail}:{'=' if self.agree else '~'}{self.offices}"

    @classmethod
    def parse(cls, text: str) -> LeistungPrint | None:
        """The parts of a stored fingerprint; None for another form (a byte fingerprint
        of an earlier version: such a Leistung is parsed once, with the same result)."""
        parts = text.split(":")
        if len(parts) != 3 or parts[0] != _PREFIX or parts[2][:1] not in ("=", "~"):
            return None
        return cls(parts[1], parts[2][1:], parts[2][0] == "=")


def leistung_print(parser_version: str, detail_content: str,
                   offices: list[dict[str, str]], ids: list[str] | None) -> LeistungPrint:
    """The fingerprint of a Leistung whose detail content is ``detail_content`` (see
    :func:`~..base.content_digest`) and whose record holds ``offices``."""
    agree = bool(ids) and {o.get("id") for o in offices} == set(ids or ())
    return LeistungPrint(detail_content, content_digest(parser_version, offices), agree)


def named_offices(detail: Any) -> list[str] | None:
    """The detail's ``organisationIds`` when it names offices (a non-empty list of ids);
    None otherwise (absent, empty or not a list of ids: the titles must be asked)."""
    ids = detail.get("organisationIds") if isinstance(detail, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        return None
    return ids


def reusable_offices(stored: dict[str, Any] | None,
                     ids: list[str] | None) -> list[dict[str, str]] | None:
    """The stored version's Zuständigkeiten, where they name exactly the offices ``ids``
    (their names and roles known); None where the titles must be asked for."""
    if not ids or not stored:
        return None
    offices = stored.get("zustaendigkeiten")
    if not isinstance(offices, list) or not all(isinstance(o, dict) for o in offices):
        return None
    if {o.get("id") for o in offices} != set(ids):
        return None
    return [dict(o) for o in offices]
