"""The PVOG's CSV listing, and its cross-check with the paged listing (pure).

``GET /v5/servicedescriptions/csv?ars={ars}`` (seen, verbatim sample in
``tests/payloads/pvog/``) answers pipe-separated UTF-8 text with the header
``ID-LB|Leikaschlüssel|Name|Name2|Updatedatum|ID-OD|Bezeichnung OD|Links`` and one row
per (Leistung, Onlinedienst); the three Onlinedienst columns are empty where a Leistung has
none, and ``Updatedatum`` (``20.01.2025 00:48``) is the import time, the same in every row.
Fields are not quoted: a double quote in a name is doubled in place (``""Energieeffizient
Sanieren""``) and kept as it is.

One request names every Leistung of the ARS: a second, independent listing. A Leistung in
one listing and not in the other makes the crawl partial for Leistungen, with the ids named.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ...errors import MalformedPayload, MissingField
from .shapes import EP_CSV

__all__ = ["CsvListing", "CsvRow", "compare_listings", "parse_csv_listing"]

_ID = "ID-LB"
#: Named in a disagreement: the first few ids of each side.
SAMPLE = 5


@dataclass(frozen=True)
class CsvRow:
    """One (Leistung, Onlinedienst) row; the Onlinedienst fields are "" where it has none."""

    leistung_id: str
    leika: str
    name: str
    name2: str
    updated: str
    onlinedienst_id: str
    onlinedienst_name: str
    link: str


@dataclass(frozen=True)
class CsvListing:
    columns: tuple[str, ...]
    rows: tuple[CsvRow, ...]

    @property
    def leistung_ids(self) -> tuple[str, ...]:
        """The distinct Leistung ids, in the order of the rows."""
        return tuple(dict.fromkeys(row.leistung_id for row in self.rows))

    def onlinedienste(self, leistung_id: str) -> list[CsvRow]:
        """The rows of one Leistung that name an Onlinedienst."""
        return [r for r in self.rows if r.leistung_id == leistung_id and r.onlinedienst_id]


def parse_csv_listing(body: bytes | str) -> CsvListing:
    """The rows of a CSV listing; :class:`MalformedPayload` or :class:`MissingField` naming
    the endpoint (and the line) where it cannot be read."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPayload(f"{EP_CSV}: not UTF-8 text", endpoint=EP_CSV) from exc
    else:
        text = body
    text = text.removeprefix("\ufeff")
    if text.lstrip()[:1] == "<":
        raise MalformedPayload(
            f"{EP_CSV}: an HTML page instead of CSV (error or maintenance page?)",
            endpoint=EP_CSV)
    lines = [(number, line.rstrip("\r")) for number, line in
             enumerate(text.split("\n"), start=1) if line.strip()]
    if not lines:
        raise MalformedPayload(f"{EP_CSV}: empty answer, not even a header", endpoint=EP_CSV)
    columns = tuple(name.strip() for name in lines[0][1].split("|"))
    if _ID not in columns:
        raise MissingField(EP_CSV, _ID, "a column of the header")
    rows = []
    for number, line in lines[1:]:
        fields = [value.strip() for value in line.split("|")]
        if len(fields) != len(columns):
            raise MalformedPayload(
                f"{EP_CSV}: line {number} has {len(fields)} columns, the header "
                f"{len(columns)}", endpoint=EP_CSV)
        row = dict(zip(columns, fields, strict=True))
        if not row[_ID]:
            raise MissingField(EP_CSV, _ID, f"an id in line {number}")
        rows.append(CsvRow(
            leistung_id=row[_ID], leika=row.get("Leikaschlüssel", ""),
            name=row.get("Name", ""), name2=row.get("Name2", ""),
            updated=row.get("Updatedatum", ""), onlinedienst_id=row.get("ID-OD", ""),
            onlinedienst_name=row.get("Bezeichnung OD", ""), link=row.get("Links", "")))
    return CsvListing(columns, tuple(rows))


def compare_listings(paged: Iterable[str], csv: Iterable[str]) -> str:
    """"" when both listings name the same Leistungen; otherwise a reason naming the ids
    on one side only (the first few of each, and how many)."""
    paged_ids, csv_ids = set(paged), set(csv)
    only_paged = sorted(paged_ids - csv_ids)
    only_csv = sorted(csv_ids - paged_ids)
    if not only_paged and not only_csv:
        return ""
    parts = [f"{_count(len(ids))} only in {where} ({_sample(ids)})"
             for ids, where in ((only_paged, "the paged listing"), (only_csv, "the CSV listing"))
             if ids]
    return (f"the CSV listing and the paged listing disagree ({len(paged_ids)} and "
            f"{len(csv_ids)} Leistungen): " + "; ".join(parts)
            + "; no Leistung is concluded removed")


def _count(number: int) -> str:
    return f"{number} Leistung" if number == 1 else f"{number} Leistungen"


def _sample(ids: list[str]) -> str:
    shown = ", ".join(ids[:SAMPLE])
    return shown if len(ids) <= SAMPLE else f"{shown}, … {len(ids) - SAMPLE} more"
