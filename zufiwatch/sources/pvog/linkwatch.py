"""The link watch's records from the PVOG's CSV listing (pure).

The hourly link watch reads ``GET /v5/servicedescriptions/csv?ars=`` (one request; see
:mod:`.csvlisting`) and keeps one record per Leistung under a source of its own, named
``<PVOG source>:links`` (a name no configured source can have: ``:`` is not allowed
there). A record is keyed like the PVOG source's Leistung (``leistung:<id>``) and holds
what the CSV says of it in the shape of the PVOG record's fields:

- ``name``: ``Name2`` (the Leistungsbezeichnung II, which the detail's ``name`` is; in the
  verbatim detail of ``B100019.LB.574711`` ``name`` equals its module 03), else ``Name``;
- ``onlinedienste``: one item per online-service link, ``{"url", "id"}`` plus the ThAVEL
  identity, the URL canonical as :func:`~zufiwatch.normalize.link` makes it for the
  detail; sorted by URL, without repeats.

So a replaced, added or removed link is the same field change (``onlinedienste[<url>]``,
"Online-Dienst › Link") that the full crawl finds in the detail, and an added or removed
Leistung the same record change; the events of :mod:`zufiwatch.events` join them. The
titles are left out: the CSV names the Onlinedienst (``Bezeichnung OD``), not the link's
title. The LeiKa key (one of a Leistung's keys, which the CSV may name in any order) is
volatile: no content, but what pairs a Leistung the PVOG source does not hold yet with the
ZuFi's. ``Updatedatum``, the import time of the whole listing, is not kept (it would touch
every record once a day).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ...config import SourceSettings
from ...errors import MissingField
from ...model import WATCH_SUFFIX, Record
from ...normalize import link
from .._payload import text as _text
from .csvlisting import CsvListing
from .shapes import EP_CSV

__all__ = ["KIND", "PARSER_VERSION", "REQUIRED_COLUMNS", "WATCH_SUFFIX", "watch_name",
           "watch_records", "watch_settings", "watched_source"]

#: The kind of the link watch's source, and its parser version.
KIND = "linkwatch"
PARSER_VERSION = "linkwatch-1"
#: Columns without which the CSV says nothing reliable about links: a column that went
#: missing would read as every link removed.
REQUIRED_COLUMNS = ("ID-LB", "Name", "ID-OD", "Links")


def watch_name(source: str) -> str:
    """The name of the link watch of PVOG source ``source``."""
    return f"{source}{WATCH_SUFFIX}"


def watched_source(name: str) -> str:
    """The PVOG source a link watch's source ``name`` watches ("" when it is none)."""
    return name.removesuffix(WATCH_SUFFIX) if name.endswith(WATCH_SUFFIX) else ""


def watch_settings(source: SourceSettings) -> SourceSettings:
    """The settings the link watch of a PVOG source runs with: its own name and kind, the
    source's API, ARS, pacing, loss gate and removal rule; never incremental."""
    if source.kind != "pvog":
        raise ValueError(f"{source.name}: only a pvog source has a link watch")
    return dataclasses.replace(source, name=watch_name(source.name), kind=KIND,
                               incremental=False)


def watch_records(listing: CsvListing) -> list[Record]:
    """One record per Leistung of the listing, in the order of the rows. Raises
    :class:`MissingField` when the header lacks a column the records rest on."""
    for column in REQUIRED_COLUMNS:
        if column not in listing.columns:
            raise MissingField(EP_CSV, column, "a column of the header")
    names: dict[str, str] = {}
    services: dict[str, dict[str, dict[str, Any]]] = {}
    leika: dict[str, set[str]] = {}
    for row in listing.rows:
        lb_id = row.leistung_id
        names.setdefault(lb_id, _text(row.name2) or _text(row.name))
        leika.setdefault(lb_id, set()).update(row.leika.split())
        found = services.setdefault(lb_id, {})
        for uri in row.link.split():
            item = link(uri)
            item.pop("titel", None)
            item["id"] = " ".join(row.onlinedienst_id.split())
            found.setdefault(item["url"], item)
    return [Record("leistung", lb_id,
                   {"name": names[lb_id],
                    "onlinedienste": [services[lb_id][url] for url in sorted(services[lb_id])]},
                   {"leika": sorted(leika[lb_id])} if leika[lb_id] else {})
            for lb_id in names]

