"""The simulated PVOG's CSV listing, ``GET /v5/servicedescriptions/csv?ars={ars}``.

As the live answer (sources.md, verbatim sample in ``tests/payloads/pvog/``): pipe-separated
UTF-8, one row per (Leistung, Onlinedienst), the three Onlinedienst columns empty where a
Leistung has none, ``Updatedatum`` the import time (the same in every row).
"""

from __future__ import annotations

from typing import Any

from ._common import parse_timestamp

__all__ = ["CSV_COLUMNS", "CSV_TYPE", "csv_listing", "drop_column", "omit_leistung"]

CSV_COLUMNS = ("ID-LB", "Leikaschlüssel", "Name", "Name2", "Updatedatum", "ID-OD",
               "Bezeichnung OD", "Links")
CSV_TYPE = "text/csv; charset=utf-8"


def _field(value: Any) -> str:
    """A value as a field: no separator, no line break (the format has no quoting)."""
    return " ".join(str(value).replace("|", " ").split())


def csv_listing(leistungen: dict[str, dict[str, Any]],
                onlineservices: list[dict[str, Any]]) -> bytes:
    """The CSV listing of the Leistungen (sorted by id) and their online services."""
    names = {service["id"]: service.get("name", "") for service in onlineservices}
    stamps = [detail["lastUpdate"] for detail in leistungen.values()]
    updated = (f"{parse_timestamp(max(stamps, key=lambda s: s[:19])):%d.%m.%Y %H:%M}"
               if stamps else "")
    lines = ["|".join(CSV_COLUMNS)]
    for lbid in sorted(leistungen):
        detail = leistungen[lbid]
        head = [lbid, detail["leikakeys"][0] if detail["leikakeys"] else "", detail["name"],
                detail["name"], updated]
        links = detail.get("onlineServiceLinks") or []
        services = [[link["id"], names.get(link["id"], ""), link["uri"]] for link in links]
        for tail in services or [["", "", ""]]:
            lines.append("|".join(_field(value) for value in head + tail))
    return ("\n".join(lines) + "\n").encode("utf-8")


def omit_leistung(body: bytes, lbid: str) -> bytes:
    """The listing without the rows of one Leistung."""
    lines = body.decode("utf-8").split("\n")
    kept = lines[:1] + [line for line in lines[1:] if line.split("|", 1)[0] != lbid]
    return "\n".join(kept).encode("utf-8")


def drop_column(body: bytes, name: str) -> bytes:
    """The listing without the column ``name`` (a changed format)."""
    lines = body.decode("utf-8").split("\n")
    header = lines[0].split("|")
    if name not in header:
        return body
    index = header.index(name)
    kept = []
    for line in lines:
        fields = line.split("|")
        if len(fields) == len(header):
            del fields[index]
        kept.append("|".join(fields))
    return "\n".join(kept).encode("utf-8")
