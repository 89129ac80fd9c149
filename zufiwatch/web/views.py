"""What the pages show, as plain dicts: the queries that are more than one call.

Nothing here renders HTML; values stay text and the templates escape them.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .. import queries
from ..config import SEVERITIES, Settings
from ..errors import QueryError
from ..events import office_name, witness_text
from ..export import GERMAN_WORDS, diff_rows
from ..model import KIND_LABELS
from ..render import change_pair, content_rows, link_text
from ..report.site import safe_href
from ..store import History
from ..timeutil import local_text, stored

__all__ = ["PAGE_SIZE", "EventFilter", "event_view", "filtered_events", "local_time",
           "office_duties", "record_links", "source_states", "week_open", "word_diff"]

PAGE_SIZE = 50
#: Words for stored values, as the working group reads them.
WORDS = {
    **GERMAN_WORDS,
    "complete": "vollständig", "partial": "teilweise", "failed": "fehlgeschlagen",
    "running": "läuft", "present": "vorhanden", "missing": "fehlt", "open": "offen",
    "overdue": "überfällig", "met": "erfüllt", "withdrawn": "zurückgenommen", **KIND_LABELS,
}


def word(value: Any) -> str:
    return "—" if value is None else WORDS.get(str(value), str(value))


def local_time(value: str | None, tz: str) -> str:
    """A stored time as ``TT.MM.JJJJ HH:MM`` in local time ("—" when empty)."""
    return local_text(value, tz, "%d.%m.%Y %H:%M")


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def word_diff(old: str, new: str) -> tuple[list[tuple[bool, str]], list[tuple[bool, str]]]:
    """Old and new text as segments (changed?, text), word by word (difflib)."""
    a, b = old.split(" "), new.split(" ")
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    left: list[tuple[bool, str]] = []
    right: list[tuple[bool, str]] = []
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if a2 > a1:
            left.append((op != "equal", " ".join(a[a1:a2])))
        if b2 > b1:
            right.append((op != "equal", " ".join(b[b1:b2])))
    return left, right


def pair_view(old_value: Any, new_value: Any) -> dict[str, Any]:
    """Old → new as readable text, with the changed words marked."""
    old, new = change_pair(old_value, new_value, width=600)
    left, right = word_diff(old, new) if old != "—" and new != "—" else (
        [(False, old)], [(False, new)])
    return {"old": old, "new": new, "old_parts": left, "new_parts": right}


def event_view(event: dict[str, Any], tz: str) -> dict[str, Any]:
    """An event with what a page shows: old → new, the other fields, the witnesses."""
    return {**event, **pair_view(event["old_value"], event["new_value"]),
            "more": [{"label": f["label"], **pair_view(f["old_value"], f["new_value"])}
                     for f in event["fields"][1:]],
            "seen": witness_text(event["witnesses"], lambda at: local_time(at, tz)),
            "reasons": sorted({str(r) for c in event["changes"]
                               for r in c.get("reasons") or []})}


def week_open(history: History, now: datetime, tz: str) -> list[dict[str, Any]]:
    """The untracked events opened in the last 7 days, by zuständige Stelle: groups and
    their events most severe first."""
    found = [e for e in queries.events(history, since=stored(now - timedelta(days=7)),
                                       until=stored(now), newest_first=True)
             if e["status"] == "untracked"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for event in sorted(found, key=lambda e: -_rank(e["severity"])):
        groups.setdefault(event["office"] or "ohne zuständige Stelle", []).append(
            event_view(event, tz))
    return [{"office": office, "events": events} for office, events in
            sorted(groups.items(), key=lambda g: (-_rank(g[1][0]["severity"]), g[0]))]


def source_states(history: History, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    """Each source: its latest crawl, its latest complete crawl, stale or not."""
    names = [s.name for s in settings.sources] or [r[0] for r in history.db.execute(
        "SELECT DISTINCT source FROM crawls ORDER BY source")]
    labels = queries.source_labels(history)
    stale_before = stored(now - timedelta(hours=settings.notify.stale_after_hours))
    rows = []
    for name in names:
        latest = history.crawls(source=name, limit=1)
        complete = list(history.db.query(
            "SELECT * FROM crawls WHERE source = ? AND outcome = 'complete' "
            "ORDER BY started_at DESC, id DESC LIMIT 1", [name]))
        last = complete[0] if complete else None
        rows.append({"name": name, "label": labels.get(name, name),
                     "latest": latest[0] if latest else None, "complete": last,
                     "stale": last is None or last["started_at"] < stale_before})
    return rows


class EventFilter:
    """The filters of /aenderungen, parsed from the query string (times already stored)."""

    def __init__(self, args: Mapping[str, str], since: str | None, until: str | None) -> None:
        self.since, self.until = since, until
        self.severity = args.get("schwere", "") if args.get("schwere") in SEVERITIES else ""
        self.status = args.get("status", "")
        self.office = args.get("stelle", "").strip()
        self.source = args.get("quelle", "").strip()
        self.kind = args.get("art", "") if args.get("art") in KIND_LABELS else ""
        try:
            self.page = max(1, int(args.get("seite", "1")))
        except ValueError:
            self.page = 1

    def severities(self) -> list[str] | None:
        """The severities of at least the chosen one (None: any)."""
        if not self.severity:
            return None
        return [s for s in SEVERITIES if _rank(s) >= _rank(self.severity)]


def filtered_events(history: History, chosen: EventFilter, tz: str
                    ) -> tuple[list[dict[str, Any]], int]:
    """One page of the events the filter keeps, newest first, and how many it keeps."""
    page, total = queries.events_page(
        history, offset=(chosen.page - 1) * PAGE_SIZE, limit=PAGE_SIZE,
        severities=chosen.severities(), status=chosen.status or None,
        office=chosen.office or None, since=chosen.since, until=chosen.until,
        kind=chosen.kind or None, source=chosen.source or None)
    return [event_view(e, tz) for e in page], total


def record_links(history: History, content: dict[str, Any], at: str) -> list[dict[str, Any]]:
    """A Leistung's (or Onlinedienst's) online-service links with their ThAVEL identity and
    what the link checker last found there."""
    checks = queries.link_checks(history, at=at)
    items = content.get("onlinedienste", content.get("links")) or []
    rows = []
    for item in items:
        if not isinstance(item, dict):
            continue
        url = str(item.get("url", ""))
        check = checks.get(url, {})
        rows.append({"url": url, "href": safe_href(url), "text": link_text(item),
                     "title": str(item.get("titel") or ""),
                     "check": check.get("zustand", ""), "authority": check.get("stelle", ""),
                     "target": check.get("ziel", ""), "error": check.get("fehler", "")})
    return rows


def responsible(content: dict[str, Any]) -> list[dict[str, Any]]:
    """The zuständige Stellen (role 01) a Leistung names."""
    return [o for o in content.get("zustaendigkeiten") or []
            if isinstance(o, dict) and o.get("rolle") == "01"]


def office_duties(history: History, record: dict[str, Any], content: dict[str, Any],
                  at: str) -> list[dict[str, Any]]:
    """The Leistungen of the office's source whose zuständige Stelle is this office, by id
    or by name."""
    own_id = record["key"].split(":", 1)[1]
    own_name = office_name(content.get("name") or record["title"])
    found = []
    for state in queries.directory_state(history, at=at, source=record["source"],
                                         kind="leistung"):
        for office in responsible(state["content"]):
            if str(office.get("id", "")) == own_id or (
                    own_name and office_name(office.get("name") or "") == own_name):
                found.append(state)
                break
    return sorted(found, key=lambda s: str(s["title"]).casefold())


def readable_content(kind: str, content: dict[str, Any]) -> list[dict[str, Any]]:
    """Every field of a content as label and text; long texts are folded by the page."""
    return [{"label": label, "text": text, "long": len(text) > 280 or text.count("\n") > 3,
             "href": safe_href(text)} for label, text in content_rows(kind, content,
                                                                       full=True)]


def version_diff(history: History, record: dict[str, Any], first: int, second: int
                 ) -> list[dict[str, Any]] | None:
    """The field differences between two versions of the record (None: not its versions)."""
    versions = {v["id"]: v for v in history.versions(record["id"])}
    if first not in versions or second not in versions:
        return None
    old = json.loads(versions[first]["content"])
    new = json.loads(versions[second]["content"])
    return [{**row, **pair_view(row["old_value"], row["new_value"])}
            for row in diff_rows(record["kind"], old, new)]


def find_record(history: History, key: str, source: str | None
                ) -> tuple[dict[str, Any] | None, list[str]]:
    """The record, or None and the sources that hold the key when it is ambiguous."""
    try:
        return history.find_record(key, source), []
    except QueryError:
        rows = history.db.execute("SELECT source FROM records WHERE key = ? ORDER BY source",
                                  [key]).fetchall()
        return None, [r[0] for r in rows]
