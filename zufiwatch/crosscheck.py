"""ZuFi and PVOG checked against each other.

The PVOG receives the Thuringian ZuFi's data about once a day, so for a while after an
edit the two may differ; a difference that outlasts the sync window (default 48 h) means
the data did not arrive, or was changed on one side only: "ZuFi und PVOG widersprechen
sich". After a complete crawl of either side (and once both have had one), the Leistungen
both hold are matched — by the ZuFi id the PVOG's deep link carries
(``tsa_leistung_id``), else by a LeiKa key only one Leistung on each side has — and their
online-service links and zuständige Stelle compared.

:func:`compare` and :func:`match` are pure; :func:`run_crosscheck` keeps the
``disagreements`` table and queues the message about those that became due in the same
transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .config import Settings, SourceSettings
from .events import zufi_id_of
from .model import Outcome
from .normalize import canonical_url, clean_text
from .store import History
from .store import outbox as outbox_store
from .timeutil import stored

__all__ = ["ASPECTS", "Difference", "Pair", "compare", "match", "run_crosscheck",
           "zufi_id_of"]

log = logging.getLogger(__name__)

#: What is compared, with the German label the AG OZG reads.
ASPECTS = {"onlinedienste": "Online-Dienst-Links", "zustaendige_stelle": "Zuständige Stelle"}


@dataclass(frozen=True)
class Pair:
    """The same Leistung in both sources."""

    zufi_id: str
    title: str
    tsa_key: str
    pvog_key: str
    #: "zufi_id" (matched by the deep link) or "leika".
    by: str


@dataclass(frozen=True)
class Difference:
    pair: Pair
    aspect: str
    zufi_value: tuple[str, ...]
    pvog_value: tuple[str, ...]
    office: str = ""


def match(tsa: Mapping[str, Mapping[str, Any]],
          pvog: Mapping[str, Mapping[str, Any]]) -> list[Pair]:
    """Pairs of Leistungen (key → content on each side): by ZuFi id, then by a LeiKa key
    that exactly one unmatched Leistung on each side carries."""
    by_zufi = {}
    for key, content in tsa.items():
        by_zufi[str(content.get("zufi_id") or key.split(":", 1)[-1])] = key
    pairs, matched_tsa, matched_pvog = [], set(), set()
    for key, content in sorted(pvog.items()):
        zufi_id = zufi_id_of(content)
        tsa_key = by_zufi.get(zufi_id) if zufi_id else None
        if tsa_key and tsa_key not in matched_tsa:
            pairs.append(Pair(zufi_id, str(tsa[tsa_key].get("name") or ""), tsa_key, key,
                              "zufi_id"))
            matched_tsa.add(tsa_key)
            matched_pvog.add(key)
    leika_tsa = _unique_leika({k: v for k, v in tsa.items() if k not in matched_tsa})
    leika_pvog = _unique_leika({k: v for k, v in pvog.items() if k not in matched_pvog})
    for leika, pvog_key in sorted(leika_pvog.items()):
        tsa_key = leika_tsa.get(leika)
        if tsa_key and tsa_key not in matched_tsa and pvog_key not in matched_pvog:
            zufi_id = str(tsa[tsa_key].get("zufi_id") or tsa_key.split(":", 1)[-1])
            pairs.append(Pair(zufi_id, str(tsa[tsa_key].get("name") or ""), tsa_key,
                              pvog_key, "leika"))
            matched_tsa.add(tsa_key)
            matched_pvog.add(pvog_key)
    return sorted(pairs, key=lambda p: p.zufi_id)


def _unique_leika(contents: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """LeiKa key → the one Leistung carrying it (keys carried by several are left out)."""
    owners: dict[str, set[str]] = {}
    for key, content in contents.items():
        for leika in content.get("leika") or []:
            owners.setdefault(str(leika), set()).add(key)
    return {leika: next(iter(keys)) for leika, keys in owners.items() if len(keys) == 1}


def compare(tsa: Mapping[str, Any], pvog: Mapping[str, Any]) -> dict[str, tuple[tuple[str, ...],
                                                                                tuple[str, ...]]]:
    """aspect → (ZuFi value, PVOG value) where the two contents of one Leistung differ."""
    found = {}
    values = {"onlinedienste": (_links(tsa), _links(pvog)),
              "zustaendige_stelle": (_responsible(tsa), _responsible(pvog))}
    for aspect, (zufi_value, pvog_value) in values.items():
        if _folded(zufi_value) != _folded(pvog_value):
            found[aspect] = (zufi_value, pvog_value)
    return found


def _folded(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(value.casefold() for value in values))


def _links(content: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted({canonical_url(str(item.get("url", ""))) for item in
                         content.get("onlinedienste") or [] if isinstance(item, dict)}))


def _responsible(content: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of the zuständige Stellen (role 01): ids differ between the systems, so
    names are compared (case aside)."""
    return tuple(sorted({" ".join(clean_text(str(o.get("name", ""))).split())
                         for o in content.get("zustaendigkeiten") or []
                         if isinstance(o, dict) and o.get("rolle") == "01"}))


def _office(content: Mapping[str, Any]) -> str:
    return next((str(o.get("name", "")) for o in content.get("zustaendigkeiten") or []
                 if isinstance(o, dict) and o.get("rolle") == "01"), "")


def differences(history: History, tsa_source: str, pvog_source: str) -> list[Difference]:
    """What the current Leistungen of both sources disagree about."""
    tsa = _leistungen(history, tsa_source)
    pvog = _leistungen(history, pvog_source)
    found = []
    for pair in match(tsa, pvog):
        for aspect, (zufi_value, pvog_value) in compare(tsa[pair.tsa_key],
                                                        pvog[pair.pvog_key]).items():
            found.append(Difference(pair, aspect, zufi_value, pvog_value,
                                    _office(tsa[pair.tsa_key])))
    return found


def _leistungen(history: History, source: str) -> dict[str, dict[str, Any]]:
    return {key: content for _src, key, kind, content in history.present_records([source])
            if kind == "leistung"}


@dataclass
class CrosscheckResult:
    """One cross-check: how many differences, which began, became due or ended."""

    tsa_source: str
    pvog_source: str
    ran: bool
    reason: str = ""
    open: int = 0
    new: int = 0
    due: int = 0
    resolved: int = 0


def _last_complete(history: History, source: str) -> datetime | None:
    row = history.db.execute(
        "SELECT max(started_at) FROM crawls WHERE source = ? AND outcome = ?",
        [source, str(Outcome.COMPLETE)]).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


def run_crosscheck(history: History, settings: Settings, tsa: SourceSettings, *,
                   now: datetime, alerts: Any = None) -> CrosscheckResult:
    """Compare a tsa source with its ``crosscheck`` PVOG source and keep the
    ``disagreements`` table; the ones that outlast ``sync_window_hours`` are reported
    (queued with ``alerts``, when given) in the same transaction."""
    pvog = tsa.crosscheck
    result = CrosscheckResult(tsa.name, pvog, ran=False)
    if not pvog:
        result.reason = "no crosscheck source configured"
        return result
    last = {name: _last_complete(history, name) for name in (tsa.name, pvog)}
    missing = [name for name, when in last.items() if when is None]
    if missing:
        result.reason = f"no complete crawl of {', '.join(missing)} yet"
        return result
    window = timedelta(hours=tsa.sync_window_hours)
    # Comparing with a side that has not been read completely for longer than the window
    # would report its outage as the two disagreeing.
    stale = [name for name, when in last.items() if when is not None and now - when > window]
    if stale:
        result.reason = (f"the last complete crawl of {', '.join(stale)} is older than the "
                         f"sync window of {tsa.sync_window_hours:g} h")
        return result
    at = stored(now)
    current = {(d.pair.zufi_id, d.aspect): d for d in differences(history, tsa.name, pvog)}
    with history.db.atomic():
        rows = {(row["zufi_id"], row["aspect"]): row for row in history.db.query(
            "SELECT * FROM disagreements WHERE tsa_source = ? AND pvog_source = ? "
            "AND resolved_at IS NULL", [tsa.name, pvog])}
        for ident, row in rows.items():
            if ident not in current:
                history.db.execute("UPDATE disagreements SET resolved_at = ? WHERE id = ?",
                                   [at, row["id"]])
                result.resolved += 1
        for ident, diff in current.items():
            values = [json.dumps(diff.zufi_value, ensure_ascii=False),
                      json.dumps(diff.pvog_value, ensure_ascii=False)]
            if ident in rows:
                history.db.execute(
                    "UPDATE disagreements SET zufi_value = ?, pvog_value = ?, last_seen = ?, "
                    "title = ?, office = ?, tsa_key = ?, pvog_key = ? WHERE id = ?",
                    [*values, at, diff.pair.title, diff.office, diff.pair.tsa_key,
                     diff.pair.pvog_key, rows[ident]["id"]])
            else:
                history.db.execute(
                    "INSERT INTO disagreements (tsa_source, pvog_source, zufi_id, aspect, "
                    "title, office, tsa_key, pvog_key, zufi_value, pvog_value, first_seen, "
                    "last_seen, severity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [tsa.name, pvog, diff.pair.zufi_id, diff.aspect, diff.pair.title,
                     diff.office, diff.pair.tsa_key, diff.pair.pvog_key, *values, at, at,
                     settings.rules.crosscheck_severity])
                result.new += 1
        due = [row for row in history.db.query(
            "SELECT * FROM disagreements WHERE tsa_source = ? AND pvog_source = ? "
            "AND resolved_at IS NULL AND reported_at IS NULL ORDER BY zufi_id, aspect",
            [tsa.name, pvog]) if datetime.fromisoformat(row["first_seen"]) + window <= now]
        for row in due:
            history.db.execute("UPDATE disagreements SET reported_at = ?, severity = ? "
                               "WHERE id = ?", [at, settings.rules.crosscheck_severity,
                                                row["id"]])
        result.due = len(due)
        if due and alerts is not None:
            message = alerts.disagreement(due, now, tsa.sync_window_hours)
            if message is not None:
                outbox_store.enqueue(history.db.conn, "disagreement", message, at)
        result.open = len(current)
    result.ran = True
    if result.due:
        log.warning("%d difference(s) between %s and %s outlasted the sync window of %g h",
                    result.due, tsa.name, pvog, tsa.sync_window_hours)
    return result


def open_disagreements(history: History, *, include_resolved: bool = False,
                       reported_only: bool = False) -> list[dict[str, Any]]:
    """The disagreements as rows with decoded values, oldest first."""
    where = [] if include_resolved else ["resolved_at IS NULL"]
    if reported_only:
        where.append("reported_at IS NOT NULL")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = []
    for row in history.db.query(f"SELECT * FROM disagreements {clause} "
                                "ORDER BY first_seen, zufi_id, aspect"):
        row["zufi_value"] = json.loads(row["zufi_value"])
        row["pvog_value"] = json.loads(row["pvog_value"])
        row["aspect_label"] = ASPECTS.get(row["aspect"], row["aspect"])
        rows.append(row)
    return rows
