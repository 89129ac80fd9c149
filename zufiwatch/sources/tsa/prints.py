"""What identifies the content a ZuFi record is parsed from (issue 19, item 1).

A record's fingerprint is taken over the decoded answers it is parsed from, in a canonical
form (``CrawlContext.content_fingerprint`` of the parts named here: the order of an
object's keys does not matter), under the parser version; an unchanged fingerprint confirms
the stored version without parsing.

- an office: its object (``/ou/{id}`` or one result of ``/ou/find``);
- a Leistung: its ``/pst/{id}`` answer, the objects of its ``/os/findByCompetence``
  results and the offices responsible for it (``(ouId, name)`` from the competences).

Only what the parser reads counts: the search wrapper around the objects (``score``,
``count``, ``totalCount``, how the results are split into pages) is not part of a record.
Volatile fields (moved by the source without a change of content) would be removed first;
sources.md marks none for the ZuFi's REST API ("Source 2"), so none is removed:
``lastUpdated`` is the ZuFi's own edit stamp. Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..base import without

__all__ = ["OU_VOLATILE", "PST_VOLATILE", "SERVICE_VOLATILE", "leistung_content",
           "office_content"]

#: Top-level fields of an office, a Leistung and an online service that move without a
#: change of content. sources.md marks none for the ZuFi (see the module's docstring).
OU_VOLATILE: tuple[str, ...] = ()
PST_VOLATILE: tuple[str, ...] = ()
SERVICE_VOLATILE: tuple[str, ...] = ()


def office_content(ou: Any) -> tuple[Any, ...]:
    """What an office parsed from the object ``ou`` is fingerprinted by."""
    return ("ou", without(ou, OU_VOLATILE))


def leistung_content(pst: Any, services: Iterable[Any],
                     offices: Iterable[tuple[str, str]]) -> tuple[Any, ...]:
    """What a Leistung parsed from the answer ``pst``, the online services ``services``
    (the objects of the search results) and the responsible ``offices`` is fingerprinted
    by."""
    return ("pst", without(pst, PST_VOLATILE),
            [without(service, SERVICE_VOLATILE) for service in services],
            [list(office) for office in offices])
