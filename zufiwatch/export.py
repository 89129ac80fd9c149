"""Exports of the directory and its changes: rows, formats, files (used by the CLI).

The row functions are pure: they take what :mod:`zufiwatch.queries` returns and give flat
rows. :func:`encode` turns rows into the bytes of a format; :func:`write_atomic` puts
bytes into a file without ever leaving half a file behind. :func:`office_changes` is the
one function here that reads the history (the versions of the changed records).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .differ import diff_records
from .render import content_rows, short_value

__all__ = ["CHANGE_TABLE", "EVENT_TABLE", "FORMATS", "GERMAN_WORDS", "STATE_COLUMNS",
           "STATE_TABLE", "Column", "content_fields", "diff_rows", "encode", "encode_table",
           "fees_text", "field_columns", "office_names", "online_links", "state_row",
           "write_atomic"]

#: Export formats: ``csv`` (comma, UTF-8, LF), ``csv-de`` (semicolon, UTF-8 with BOM, CRLF:
#: what German spreadsheet programs open correctly), ``json`` (a list of objects).
FORMATS = ("csv", "csv-de", "json")

#: Columns of a directory export.
STATE_COLUMNS = ["source", "key", "kind", "title", "valid_from", "leika",
                 "zustaendige_stelle", "online_links", "fees"]

JOIN = " | "


@dataclass(frozen=True)
class Column:
    """One column of an export table: which key of a row it shows, its German header
    (``csv-de``; ``csv`` and ``json`` use ``key``), and how ``csv-de`` writes its cells:

    - ``text``: as it is; a list joined with " | ", a structure as readable text;
    - ``time``: a stored UTC time as local ``TT.MM.JJJJ HH:MM``;
    - ``value``: a record value (old/new of a change) as readable text, never JSON;
    - ``word``: a code (kind, change type, severity, status, cause) as its German word.
    """

    key: str
    header_de: str
    kind: str = "text"


#: Codes as the working group reads them in ``csv-de``.
GERMAN_WORDS = {
    "leistung": "Leistung", "organisationseinheit": "Organisationseinheit",
    "onlinedienst": "Onlinedienst", "link": "Link",
    "added": "neu", "modified": "geändert", "removed": "entfernt",
    "reappeared": "wieder vorhanden",
    "critical": "kritisch", "high": "hoch", "medium": "mittel", "low": "niedrig",
    "untracked": "ungeklärt", "expected": "erwartet", "acknowledged": "quittiert",
    "source": "Verzeichnis", "parser": "Parser",
}

#: The directory export (rows of :func:`state_row`).
STATE_TABLE = [
    Column("source", "Quelle"), Column("key", "Schlüssel"), Column("kind", "Art", "word"),
    Column("title", "Bezeichnung"), Column("valid_from", "Gültig ab", "time"),
    Column("leika", "LeiKa"), Column("zustaendige_stelle", "Zuständige Stelle"),
    Column("online_links", "Online-Links"), Column("fees", "Gebühren"),
]

#: The changes export (rows of ``queries.changes``; the keys of ``changes --csv``).
CHANGE_TABLE = [
    Column("id", "Nr."), Column("detected_at", "Erkannt", "time"), Column("source", "Quelle"),
    Column("key", "Schlüssel"), Column("kind", "Art", "word"), Column("title", "Bezeichnung"),
    Column("change_type", "Änderung", "word"), Column("path", "Pfad"),
    Column("label", "Feld"), Column("old_value", "Alt", "value"),
    Column("new_value", "Neu", "value"), Column("cause", "Ursache", "word"),
    Column("flap_of", "Hin und her zu Nr."), Column("severity", "Schwere", "word"),
    Column("reasons", "Gründe"), Column("status", "Status", "word"),
    Column("crawl_id", "Crawl"), Column("version_id", "Version"),
    Column("event_id", "Änderung Nr."),
]

#: Columns of an export of events (``changes --csv``, ``export --changes``): one row per
#: edit, with its most serious field change, the others as text, and its witnesses.
EVENT_TABLE = [
    Column("id", "Nr."), Column("opened_at", "Erkannt", "time"),
    Column("subject", "Gegenstand"), Column("kind", "Art", "word"),
    Column("key", "Schlüssel"), Column("title", "Bezeichnung"),
    Column("office", "Zuständige Stelle"), Column("change_type", "Änderung", "word"),
    Column("field", "Feld"), Column("old_value", "Alt", "value"),
    Column("new_value", "Neu", "value"), Column("more_fields", "Weitere Felder"),
    Column("severity", "Schwere", "word"), Column("status", "Status", "word"),
    Column("cause", "Ursache", "word"), Column("witnesses", "Gesehen"),
    Column("change_ids", "Einzeländerungen"),
]

#: The role of the zuständige Stelle among a Leistung's Zuständigkeiten.
RESPONSIBLE = "01"

FEES = "98"


def office_names(kind: str, content: dict[str, Any]) -> list[str]:
    """The offices a record belongs to: the zuständige Stelle (role 01) of a Leistung,
    the name of an Organisationseinheit, nothing for other kinds."""
    if kind == "organisationseinheit":
        return [str(content.get("name") or "")]
    if kind == "leistung":
        return [str(o.get("name") or "") for o in content.get("zustaendigkeiten", [])
                if o.get("rolle") == RESPONSIBLE]
    return []


def online_links(content: dict[str, Any]) -> list[str]:
    """The online-service URLs of a Leistung (or Onlinedienst), in stored order."""
    links = content.get("onlinedienste") or content.get("links") or []
    return [str(link.get("url", "")) for link in links if isinstance(link, dict)]


def fees_text(content: dict[str, Any]) -> str:
    """The Gebühren text module (code 98) as one line: its text, then each detail."""
    texts = content.get("texte") or {}
    parts: list[str] = []
    for code, module in texts.items():
        if code.split("#")[0] != FEES or not isinstance(module, dict):
            continue
        parts.append(str(module.get("text") or ""))
        parts.extend(str(d.get("text") or "") for d in module.get("details", []))
    return JOIN.join(" ".join(p.split()) for p in parts if p.strip())


def state_row(state: dict[str, Any]) -> dict[str, Any]:
    """One record of ``queries.directory_state`` as an export row (:data:`STATE_COLUMNS`)."""
    content = state.get("content") or {}
    row = {"source": state["source"], "key": state["key"], "kind": state["kind"],
           "title": state.get("title", ""), "valid_from": state.get("valid_from", ""),
           "leika": "", "zustaendige_stelle": "", "online_links": "", "fees": ""}
    if state["kind"] == "leistung":
        row["leika"] = JOIN.join(str(k) for k in content.get("leika", []))
        row["zustaendige_stelle"] = JOIN.join(office_names("leistung", content))
        row["online_links"] = JOIN.join(online_links(content))
        row["fees"] = fees_text(content)
    return row


def content_fields(kind: str, content: dict[str, Any]) -> dict[str, str]:
    """A record's content as one readable value per field, by the labels ``show`` uses
    (:func:`render.content_rows`); a field with several values (a list, repeated labels)
    is joined with " | ". No JSON."""
    fields: dict[str, list[str]] = {}
    for label, value in content_rows(kind, content):
        values = fields.setdefault(label, [])
        if value not in ("", "—"):
            values.append(value)
    return {label: JOIN.join(values) for label, values in fields.items()}


def field_columns(rows: Iterable[dict[str, Any]], *, taken: Iterable[str] = (),
                  prefix: str = "field:") -> list[Column]:
    """Columns for the content fields that ``rows`` carry under ``prefix + label``, in the
    order they first appear; a label that is already a header in ``taken`` gets
    " (Inhalt)"."""
    headers = set(taken)
    columns: dict[str, Column] = {}
    for row in rows:
        for key in row:
            if key.startswith(prefix) and key not in columns:
                label = key[len(prefix):]
                columns[key] = Column(key, f"{label} (Inhalt)" if label in headers else label)
    return list(columns.values())


def diff_rows(kind: str, old: dict[str, Any] | None,
              new: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The field-level differences between two contents (``None``: the record is absent)."""
    return [{"label": c.label, "change_type": str(c.change_type), "path": c.path,
             "old_value": c.old, "new_value": c.new}
            for c in diff_records(kind, old, new)]


def _flat(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else value


def encode(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str) -> bytes:
    """Rows as the bytes of ``fmt`` (one of :data:`FORMATS`); JSON keeps every field."""
    if fmt == "json":
        return (json.dumps(list(rows), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if fmt not in ("csv", "csv-de"):
        raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    german = fmt == "csv-de"
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";" if german else ",",
                        lineterminator="\r\n" if german else "\n",
                        quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_flat(row.get(c)) for c in columns])
    return buffer.getvalue().encode("utf-8-sig" if german else "utf-8")


def encode_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column], fmt: str, *,
                 timezone: str = "Europe/Berlin") -> bytes:
    """Rows (dicts) as the bytes of ``fmt``, the columns picking and formatting keys.

    ``csv`` and ``json`` are machine formats: the column keys as headers, stored values
    (ISO times, JSON structures; JSON keeps every field of a row). ``csv-de`` is what the
    working group opens in a spreadsheet: German headers, one readable value per cell,
    local times, German words (see :class:`Column`).
    """
    if fmt != "csv-de":
        return encode(rows, [c.key for c in columns], fmt)
    zone = ZoneInfo(timezone)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n",
                        quoting=csv.QUOTE_MINIMAL)
    writer.writerow([c.header_de for c in columns])
    for row in rows:
        writer.writerow([_german_cell(row.get(c.key), c.kind, zone) for c in columns])
    return buffer.getvalue().encode("utf-8-sig")


def _german_cell(value: Any, kind: str, zone: ZoneInfo) -> str:
    if value is None or value == "":
        return ""
    if kind == "time":
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        if moment.tzinfo is None:
            return moment.strftime("%d.%m.%Y")
        return moment.astimezone(zone).strftime("%d.%m.%Y %H:%M")
    if kind == "word":
        return GERMAN_WORDS.get(str(value), str(value))
    if kind == "value":
        return short_value(value)
    if isinstance(value, list):
        return JOIN.join(_german_cell(item, "text", zone) for item in value)
    if isinstance(value, dict | bool):
        return short_value(value)
    return str(value)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
