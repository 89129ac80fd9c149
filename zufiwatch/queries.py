"""Questions about the past, answered from the history as plain dicts (CLI, daemon, report).

Every function takes an open :class:`History` and stored-form times (UTC ISO strings).
"""

from __future__ import annotations

import json
from typing import Any

from .errors import QueryError
from .events import fields_of, headline, office_name
from .render import change_row, link_rows
from .store import History
from .store.events import read_events
from .timeutil import show_time

__all__ = ["SOURCE_KIND_LABELS", "changes", "directory_state", "events", "events_page", "links",
           "record_history", "show", "source_labels"]


def show(history: History, key: str, *, at: str, source: str | None = None,
         tz: str | None = None) -> dict[str, Any]:
    """The version of one record valid at ``at``. ``tz``: the time zone of the times in
    the error message (local times for people; default: the stored UTC form)."""
    record = history.find_record(key, source)
    version = history.version_at(record["id"], at)
    if version is None:
        def when(value: str) -> str:
            return show_time(value, tz) if tz else value

        first = history.versions(record["id"])
        hint = (f"; it was first seen {when(first[0]['valid_from'])}" if first and
                first[0]["valid_from"] > at else "; it had been removed by then")
        raise QueryError(f"{key} has no version valid at {when(at)}{hint}")
    return _record_state(record, version)


def _record_state(record: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": record["source"],
        "key": record["key"],
        "kind": record["kind"],
        "title": json.loads(version["content"]).get("name", record["title"]),
        "status": record["status"],
        "last_seen_at": record["last_seen_at"],
        "missing_since": record["missing_since"],
        "version": {
            "id": version["id"],
            "valid_from": version["valid_from"],
            "valid_to": version["valid_to"],
            "content_hash": version["content_hash"],
            "parser_version": version["parser_version"],
        },
        "content": json.loads(version["content"]),
        "volatile": json.loads(version["volatile"]),
    }


def record_history(history: History, key: str, *,
                   source: str | None = None) -> dict[str, Any]:
    """Every version of a record, each with the changes that led to it."""
    record = history.find_record(key, source)
    changes_by_crawl: dict[int, list[dict[str, Any]]] = {}
    for change in history.changes(record_id=record["id"]):
        changes_by_crawl.setdefault(change["crawl_id"], []).append(change_row(change))
    versions = []
    for version in history.versions(record["id"]):
        versions.append({
            "id": version["id"],
            "valid_from": version["valid_from"],
            "valid_to": version["valid_to"],
            "content_hash": version["content_hash"],
            "parser_version": version["parser_version"],
            "changes": changes_by_crawl.pop(version["crawl_id"], []),
        })
    removals = [c for rows in changes_by_crawl.values() for c in rows]
    return {
        "source": record["source"],
        "key": record["key"],
        "kind": record["kind"],
        "title": record["title"],
        "status": record["status"],
        "first_seen_at": record["first_seen_at"],
        "last_seen_at": record["last_seen_at"],
        "missing_since": record["missing_since"],
        "versions": versions,
        "removals": removals,
        "not_observed": history.observation_gaps(record["id"]),
    }


def directory_state(history: History, *, at: str, source: str | None = None,
                    kind: str | None = None) -> list[dict[str, Any]]:
    """The whole directory as it was at ``at``."""
    return [
        {
            "source": row["source"],
            "key": row["key"],
            "kind": row["kind"],
            "title": (content := json.loads(row["content"])).get("name", ""),
            "valid_from": row["valid_from"],
            "valid_to": row["valid_to"],
            "content": content,
        }
        for row in history.state_at(at, source=source, kind=kind)
    ]


def links(history: History, *, at: str, host: str | None = None,
          source: str | None = None) -> list[dict[str, Any]]:
    """Every online-service link at ``at``, one row per URL with the Leistungen and
    sources holding it (see :func:`render.link_rows`); ``host`` keeps hosts containing
    that text."""
    states = [s for s in directory_state(history, at=at, source=source)
              if s["kind"] in ("leistung", "onlinedienst")]
    rows = link_rows(states, source_labels(history))
    if host:
        needle = host.lower()
        rows = [r for r in rows if needle in r["host"]]
    checks = link_checks(history, at=at)
    for row in rows:
        check = checks.get(row["url"], {})
        row["check"] = check.get("zustand", "")
        row["check_error"] = check.get("fehler", "")
        row["check_authority"] = check.get("stelle", "")
        row["check_target"] = check.get("ziel", "")
    return rows


#: What people call a source, by the parser that reads it (``tsa-2`` → ZuFi).
SOURCE_KIND_LABELS = {"tsa": "ZuFi", "pvog": "PVOG", "links": "Link-Prüfung"}


def source_labels(history: History) -> dict[str, str]:
    """Source name → "ZuFi" or "PVOG" (by the parser of its latest crawl); a source of
    another kind keeps its name."""
    labels = {}
    for name, parser in history.db.execute(
            "SELECT source, parser_version FROM crawls ORDER BY id").fetchall():
        labels[name] = SOURCE_KIND_LABELS.get(str(parser).split("-")[0], name)
    return labels


def link_checks(history: History, *, at: str) -> dict[str, dict[str, Any]]:
    """What the link checker knew at ``at`` about each link, by URL (its record content)."""
    contents = (json.loads(row["content"]) for row in history.state_at(at, kind="link"))
    return {content["url"]: content for content in contents}


def changes(history: History, *, since: str | None = None, until: str | None = None,
            kind: str | None = None, key: str | None = None,
            source: str | None = None) -> list[dict[str, Any]]:
    """Detected changes, oldest first, with decoded old and new values."""
    record_id = history.find_record(key, source)["id"] if key else None
    return [change_row(c) for c in history.changes(since=since, until=until, kind=kind,
                                                   record_id=record_id, source=source)]


def events(history: History, *, since: str | None = None, until: str | None = None,
           kind: str | None = None, key: str | None = None, source: str | None = None,
           office: str | None = None, ids: list[int] | None = None,
           newest_first: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
    """Events (one edit, with the changes its witnesses saw), oldest first: the event's
    columns, its ``witnesses`` and ``changes``, and as the working group reads it: the
    ``field`` (headline), ``change_type``, ``old_value`` and ``new_value`` of its most
    serious field change, the distinct ``fields``, and ``change_ids``.

    ``since``/``until`` bound when it was opened; ``kind``, ``key`` and ``source`` keep
    events with a change of such a record or a witness of that source; ``office`` keeps
    events whose zuständige Stelle contains the text (case aside)."""
    where, params = _event_filters(history, since=since, until=until, kind=kind, key=key,
                                   source=source, ids=ids)
    order = "e.opened_at DESC, e.id DESC" if newest_first else "e.opened_at, e.id"
    rows = read_events(history.db.conn, where, params, order=order,
                       limit=None if office else limit)
    if office:
        needle = office_name(office)
        rows = [row for row in rows if needle in office_name(row["office"])][:limit]
    return [presented(row) for row in rows]


def events_page(history: History, *, offset: int, limit: int,
                severities: list[str] | None = None, status: str | None = None,
                office: str | None = None, **filters: Any) -> tuple[list[dict[str, Any]], int]:
    """One page of events, newest first, and how many events the filters keep: the
    filters of :func:`events`, plus ``severities`` (any of them) and ``status``. Only the
    page's events are read with their changes."""
    where, params = _event_filters(history, **filters)
    clauses = [where] if where else []
    if severities is not None:
        clauses.append(f"e.severity IN ({','.join('?' * len(severities))})"
                       if severities else "0")
        params.extend(severities)
    if status:
        clauses.append("e.status = ?")
        params.append(status)
    clause = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    found = history.db.execute(
        f"SELECT e.id, e.office FROM events e {clause} ORDER BY e.opened_at DESC, e.id DESC",
        params).fetchall()
    if office:
        needle = office_name(office)
        found = [row for row in found if needle in office_name(row[1])]
    page = [row[0] for row in found[offset:offset + limit]]
    rows = read_events(history.db.conn, f"e.id IN ({','.join('?' * len(page))})", page,
                       order="e.opened_at DESC, e.id DESC") if page else []
    return [presented(row) for row in rows], len(found)


def _event_filters(history: History, *, since: str | None = None, until: str | None = None,
                   kind: str | None = None, key: str | None = None,
                   source: str | None = None, ids: list[int] | None = None,
                   ) -> tuple[str, list[Any]]:
    """The SQL condition on ``e`` (events) and its parameters for :func:`events`."""
    filters: list[str] = []
    params: list[Any] = []
    if since is not None:
        filters.append("e.opened_at >= ?")
        params.append(since)
    if until is not None:
        filters.append("e.opened_at <= ?")
        params.append(until)
    if kind is not None:
        filters.append("e.id IN (SELECT c.event_id FROM changes c JOIN records r "
                       "ON r.id = c.record_id WHERE r.kind = ?)")
        params.append(kind)
    if key is not None:
        record = history.find_record(key, source)
        filters.append("e.id IN (SELECT event_id FROM changes WHERE record_id = ?)")
        params.append(record["id"])
    if source is not None:
        filters.append("e.id IN (SELECT event_id FROM witnesses WHERE source = ?)")
        params.append(source)
    if ids is not None:
        filters.append(f"e.id IN ({','.join('?' * len(ids))})" if ids else "0")
        params.extend(ids)
    return " AND ".join(filters), params


def presented(event: dict[str, Any]) -> dict[str, Any]:
    """An event from :func:`zufiwatch.store.events.read_events` with what people read."""
    fields = fields_of(event["changes"])
    head = fields[0] if fields else {}
    continued = [c["new_value"] for c in event["changes"]
                 if head and c.get("flap_of") == head.get("id")]
    return {**event, "field": headline(event, fields),
            "change_type": head.get("change_type", ""), "path": head.get("path", ""),
            "old_value": head.get("old_value"), "new_value": head.get("new_value"),
            "flap_sequence": [head.get("old_value"), head.get("new_value"), *continued]
            if continued else [],
            "fields": [{"key": f["key"], "source": f["source"], "label": f["label"],
                        "change_type": f["change_type"], "old_value": f["old_value"],
                        "new_value": f["new_value"], "severity": f["severity"]}
                       for f in fields],
            "change_ids": [c["id"] for c in event["changes"]]}
