"""Building the static overview: a handful of queries, then templates into a temp dir."""

from __future__ import annotations

import functools
import grp
import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from .. import queries, weburl
from ..config import LANGUAGES, SEVERITIES, Settings
from ..crosscheck import open_disagreements
from ..errors import ConfigError
from ..events import WITNESS_NAMES
from ..model import KIND_LABELS
from ..render import change_pair, change_row
from ..store import History
from ..timeutil import local_text, stored

__all__ = ["atom_feed", "build_overview", "host_class", "record_file_name", "safe_href"]

RECENT_CHANGES = 100
FEED_ENTRIES = 200
CHART_WEEKS = 52
SEVERITY_COLOURS = {"critical": "#b00020", "high": "#d35400", "medium": "#b7950b",
                    "low": "#607d8b"}
#: Hosts of federal and EfA services (the host itself or any subdomain).
FEDERAL_HOSTS = ("gov.de", "bund.de", "serviceportal.gemeinsamonline.de", "elster.de",
                 "arbeitsagentur.de", "deutsche-rentenversicherung.de", "bzst.de", "zoll.de",
                 "bafoeg-digital.de", "bamf.de", "kba.de", "bundesjustizamt.de")

_WORDS: dict[str, dict[str, str]] = {
    "de": {
        "title": "Übersicht ZuFi", "generated": "Erzeugt", "sources": "Quellen",
        "source": "Quelle", "last_complete": "Letzter vollständiger Crawl",
        "latest": "Letzter Crawl", "outcome": "Ergebnis", "reason": "Grund",
        "untracked_open": "Offene ungeklärte Änderungen", "never": "nie",
        "links": "Online-Dienst-Links", "leistung": "Leistung", "office": "Zuständige Stelle",
        "host": "Host", "host_class": "Host-Klasse", "link": "Link", "status": "Status",
        "check": "Link-Prüfung", "names": "nennt",
        "disagreements": "ZuFi und PVOG widersprechen sich",
        "disagreements_intro": "Leistungen, zu denen der Zuständigkeitsfinder und das PVOG "
                               "Verschiedenes sagen. Das PVOG übernimmt die Daten etwa einmal "
                               "am Tag; erst was länger als das Sync-Fenster dauert, wird "
                               "gemeldet.",
        "aspect": "Was", "in_zufi": "Im ZuFi", "in_pvog": "Im PVOG", "since": "Seit",
        "aspect_onlinedienste": "Online-Dienst-Links",
        "aspect_zustaendige_stelle": "Zuständige Stelle",
        "within_window": "im Sync-Fenster",
        "changes": "Letzte Änderungen", "detected": "Erkannt", "record": "Eintrag",
        "seen_by": "Gesehen", "more_fields": "weitere Felder",
        "field": "Feld", "type": "Art", "severity": "Schwere", "old_new": "Alt → Neu",
        "chart": "Änderungen pro Woche nach Schwere (letzte 52 Wochen)",
        "week": "Woche ab", "records": "Alle Einträge", "kind": "Art",
        "key": "Schlüssel", "versions": "Versionen", "feed": "Atom-Feed der Änderungen",
        "back": "Zur Übersicht", "valid_from": "Gültig ab", "valid_to": "Gültig bis",
        "parser": "Parser", "hash": "Inhalts-Hash", "no_changes": "keine Feldänderungen "
        "(erste Version oder Neuableitung)", "removals": "Entfernungen",
        "not_observed": "Nicht gelesen", "first_seen": "Zuerst gesehen",
        "last_seen": "Zuletzt bestätigt", "missing_since": "Fehlt seit", "none": "keine",
        "footer": "Statische Übersicht von zufiwatch. Links aus dem ZuFi werden als Text "
                  "gezeigt; nur http/https ist anklickbar. Zeiten in Ortszeit ({tz}).",
        "total": "gesamt",
        # values
        "complete": "vollständig", "partial": "teilweise", "failed": "fehlgeschlagen",
        "running": "läuft", "untracked": "ungeklärt", "expected": "erwartet",
        "acknowledged": "quittiert", "critical": "kritisch", "high": "hoch",
        "medium": "mittel", "low": "niedrig", "added": "neu", "modified": "geändert",
        "removed": "entfernt", "reappeared": "wieder vorhanden", "present": "vorhanden",
        "missing": "fehlt",
        "erreichbar": "erreichbar", "nicht erreichbar": "nicht erreichbar",
        "gesperrt": "gesperrt (nicht öffentliche Adresse oder kein http/https)",
        "hc_thavel": "ThAVEL", "hc_stadt": "Stadt", "hc_efa": "EfA/Bund", "hc_other": "sonstige",
    },
    "en": {
        "title": "ZuFi overview", "generated": "Generated", "sources": "Sources",
        "source": "Source", "last_complete": "Last complete crawl",
        "latest": "Latest crawl", "outcome": "Outcome", "reason": "Reason",
        "untracked_open": "Open untracked changes", "never": "never",
        "links": "Online-service links", "leistung": "Leistung", "office": "Zuständige Stelle",
        "host": "Host", "host_class": "Host class", "link": "Link", "status": "Status",
        "check": "Link check", "names": "names",
        "disagreements": "ZuFi and PVOG disagree",
        "disagreements_intro": "Leistungen about which the Zuständigkeitsfinder and the PVOG "
                               "say different things. The PVOG takes over the data about once "
                               "a day; only what outlasts the sync window is reported.",
        "aspect": "What", "in_zufi": "In the ZuFi", "in_pvog": "In the PVOG",
        "since": "Since", "aspect_onlinedienste": "Online-service links",
        "aspect_zustaendige_stelle": "Zuständige Stelle",
        "within_window": "within the sync window",
        "changes": "Recent changes", "detected": "Detected", "record": "Entry",
        "seen_by": "Seen by", "more_fields": "more fields",
        "field": "Field", "type": "Type", "severity": "Severity", "old_new": "Old → new",
        "chart": "Changes per week by severity (last 52 weeks)",
        "week": "Week from", "records": "All entries", "kind": "Kind",
        "key": "Key", "versions": "Versions", "feed": "Atom feed of the changes",
        "back": "Back to the overview", "valid_from": "Valid from", "valid_to": "Valid to",
        "parser": "Parser", "hash": "Content hash", "no_changes": "no field changes "
        "(first version or re-derivation)", "removals": "Removals",
        "not_observed": "Not read", "first_seen": "First seen",
        "last_seen": "Last confirmed", "missing_since": "Missing since", "none": "none",
        "footer": "Static overview by zufiwatch. Links from the ZuFi are shown as text; only "
                  "http/https is clickable. Times in local time ({tz}).",
        "total": "total",
        "complete": "complete", "partial": "partial", "failed": "failed",
        "running": "running", "untracked": "untracked", "expected": "expected",
        "acknowledged": "acknowledged", "critical": "critical", "high": "high",
        "medium": "medium", "low": "low", "added": "added", "modified": "changed",
        "removed": "removed", "reappeared": "reappeared", "present": "present",
        "missing": "missing",
        "erreichbar": "reachable", "nicht erreichbar": "broken",
        "gesperrt": "refused (not a public address or not http/https)",
        "hc_thavel": "ThAVEL", "hc_stadt": "City", "hc_efa": "EfA/Federal", "hc_other": "other",
    },
}

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
#: Characters XML 1.0 cannot carry at all.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def host_class(host: str) -> str:
    """``thavel``, ``stadt``, ``efa`` or ``other`` for a link's host."""
    host = host.lower().rstrip(".")

    def under(domain: str) -> bool:
        return host == domain or host.endswith("." + domain)

    if host.startswith("thavel") and host.endswith(".thueringen.de"):
        return "thavel"
    if under("jena.de"):
        return "stadt"
    if any(under(domain) for domain in FEDERAL_HOSTS):
        return "efa"
    return "other"


def record_file_name(key: str) -> str:
    """A file name for a record's page: anything but [A-Za-z0-9._-] becomes "_"."""
    name = _UNSAFE_NAME.sub("_", key)[:180]
    if not name or name.startswith("."):
        name = "_" + name
    return name + ".html"


def safe_href(url: Any) -> str:
    """``url`` when it may become a link (http or https, no spaces/controls, nothing
    hidden in its address: ``http://127.0.0.1:1\\@thavel.thueringen.de/`` is shown, not
    linked), else ""."""
    if not isinstance(url, str):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    if any(ch.isspace() or ord(ch) < 32 or ch == "\x7f" for ch in url):
        return ""
    if weburl.obfuscated(url):
        return ""
    return url


# ---------------------------------------------------------------------------------------
# Queries: a fixed number, whatever the size of the history


def _source_rows(history: History, settings: Settings) -> list[dict[str, Any]]:
    names = [s.name for s in settings.sources]
    if not names:  # no configuration: show what the history holds
        names = [r[0] for r in history.db.execute(
            "SELECT DISTINCT source FROM crawls ORDER BY source")]
    untracked = dict(history.db.execute(
        "SELECT w.source, count(DISTINCT e.id) FROM events e JOIN witnesses w "
        "ON w.event_id = e.id WHERE e.status = 'untracked' GROUP BY w.source").fetchall())
    rows = []
    for name in names:
        complete = list(history.db.query(
            "SELECT * FROM crawls WHERE source = ? AND outcome = 'complete' "
            "ORDER BY started_at DESC, id DESC LIMIT 1", [name]))
        latest = history.crawls(source=name, limit=1)
        rows.append({"name": name, "complete": complete[0] if complete else None,
                     "latest": latest[0] if latest else None,
                     "untracked": untracked.get(name, 0)})
    return rows


_CHANGE_COLUMNS = (
    "c.id, c.detected_at, r.source, r.key, r.kind, r.title, c.change_type, c.path, c.label, "
    "c.old_value, c.new_value, c.cause, c.flap_of, c.severity, c.reasons, c.status, "
    "c.crawl_id, c.version_id, c.event_id")


def _latest_events(history: History, limit: int) -> list[dict[str, Any]]:
    """The newest events, as :func:`queries.events` presents them."""
    return queries.events(history, newest_first=True, limit=limit)


def _all_histories(history: History) -> list[dict[str, Any]]:
    """What :func:`queries.record_history` answers, for every record with versions, in
    four queries instead of four per record."""
    changes: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in history.db.query(
            f"SELECT c.record_id AS _rid, {_CHANGE_COLUMNS} FROM changes c "
            "JOIN records r ON r.id = c.record_id ORDER BY c.detected_at, c.id"):
        changes[row.pop("_rid")].append(row)
    versions: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in history.db.query(
            "SELECT id, record_id, crawl_id, valid_from, valid_to, content_hash, "
            "parser_version FROM versions ORDER BY record_id, valid_from, id"):
        versions[row["record_id"]].append(row)
    gaps: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in history.db.query(
            "SELECT g.record_id, g.crawl_id, g.reason, c.started_at FROM observation_gaps g "
            "JOIN crawls c ON c.id = g.crawl_id ORDER BY c.started_at"):
        gaps[row.pop("record_id")].append(row)
    result = []
    for record in history.db.query("SELECT * FROM records ORDER BY kind, key, source"):
        own_versions = versions.get(record["id"])
        if not own_versions:
            continue
        by_crawl: dict[int, list[dict[str, Any]]] = {}
        for change in changes.get(record["id"], []):
            by_crawl.setdefault(change["crawl_id"], []).append(change_row(change))
        entries = [{
            "id": v["id"], "valid_from": v["valid_from"], "valid_to": v["valid_to"],
            "content_hash": v["content_hash"], "parser_version": v["parser_version"],
            "changes": by_crawl.pop(v["crawl_id"], []),
        } for v in own_versions]
        result.append({
            "source": record["source"], "key": record["key"], "kind": record["kind"],
            "title": record["title"], "status": record["status"],
            "first_seen_at": record["first_seen_at"], "last_seen_at": record["last_seen_at"],
            "missing_since": record["missing_since"], "versions": entries,
            "removals": [c for rows in by_crawl.values() for c in rows],
            "not_observed": gaps.get(record["id"], []),
        })
    return result


def _weekly_counts(history: History, first_day: date) -> dict[tuple[str, str], int]:
    """(day, severity) → count of events opened since ``first_day`` (UTC days)."""
    rows = history.db.execute(
        "SELECT substr(opened_at, 1, 10), severity, count(*) FROM events "
        "WHERE opened_at >= ? GROUP BY 1, 2", [first_day.isoformat()]).fetchall()
    return {(day, severity): count for day, severity, count in rows}


# ---------------------------------------------------------------------------------------
# The chart


def _chart(history: History, now: datetime, words: dict[str, str]) -> dict[str, Any]:
    today = now.astimezone(UTC).date()
    this_monday = today - timedelta(days=today.weekday())
    starts = [this_monday - timedelta(weeks=CHART_WEEKS - 1 - i) for i in range(CHART_WEEKS)]
    totals = [dict.fromkeys(SEVERITIES, 0) for _ in starts]
    for (day, severity), count in _weekly_counts(history, starts[0]).items():
        index = (date.fromisoformat(day) - starts[0]).days // 7
        if 0 <= index < CHART_WEEKS and severity in totals[index]:
            totals[index][severity] += count
    width, height, left, bottom, top, bar = 760, 220, 40, 30, 10, 12
    step = (width - left - 10) / CHART_WEEKS
    peak = max([sum(t.values()) for t in totals] + [1])
    scale = (height - top - bottom) / peak
    bars = []
    for i, (start, counts) in enumerate(zip(starts, totals, strict=True)):
        x = left + i * step + (step - bar) / 2
        y: float = height - bottom
        total = sum(counts.values())
        segments = []
        for severity in SEVERITIES:
            if counts[severity]:
                h = counts[severity] * scale
                y -= h
                segments.append({"x": round(x, 1), "y": round(y, 1), "w": bar,
                                 "h": round(h, 1), "colour": SEVERITY_COLOURS[severity],
                                 "title": f"{words['week']} {start.isoformat()}: "
                                          f"{counts[severity]} {words[severity]}"})
        label = ", ".join(f"{counts[s]} {words[s]}" for s in SEVERITIES if counts[s])
        bars.append({"x": round(x, 1), "start": start.isoformat(), "total": total,
                     "segments": segments,
                     "title": f"{words['week']} {start.isoformat()}: {total} "
                              f"({label or words['none']})",
                     "tick": start.isoformat()[5:] if i % 8 == 0 else ""})
    legend = [{"severity": s, "label": words[s], "colour": SEVERITY_COLOURS[s],
               "count": sum(t[s] for t in totals)} for s in SEVERITIES]
    return {"width": width, "height": height, "left": left, "bottom": height - bottom,
            "peak": peak, "bars": bars, "legend": legend,
            "total": sum(sum(t.values()) for t in totals)}


# ---------------------------------------------------------------------------------------
# Rendering


@functools.cache
def _environment() -> Environment:
    return Environment(loader=PackageLoader("zufiwatch.report", "templates"),
                       autoescape=select_autoescape(["html", "xml"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


class _View:
    """Formatting shared by the templates: local times, words, values."""

    def __init__(self, language: str, timezone: str) -> None:
        self.language = language
        self.words = _WORDS[language]
        self.zone = ZoneInfo(timezone)

    def time(self, value: str | None) -> str:
        return local_text(value, self.zone, "%Y-%m-%d %H:%M")

    def word(self, value: Any) -> str:
        return self.words.get(str(value), str(value)) if value is not None else "—"

    def pair(self, change: dict[str, Any]) -> tuple[str, str]:
        return change_pair(change["old_value"], change["new_value"], width=300)


def _event_view(event: dict[str, Any], view: _View, pages: dict[tuple[str, str], str]
                ) -> dict[str, Any]:
    old, new = change_pair(event["old_value"], event["new_value"], width=300)
    names = WITNESS_NAMES[view.language]
    return {**event, "old": old, "new": new,
            "page": pages.get((event["source"], event["key"]), ""),
            "more": [f"{f['label']}: " + " → ".join(change_pair(f["old_value"],
                                                               f["new_value"], 120))
                     for f in event["fields"][1:]],
            "seen": [f"{names.get(w['source_kind'], w['source'])} {view.time(w['at'])}"
                     for w in event["witnesses"]]}


def _change_view(change: dict[str, Any], view: _View, pages: dict[tuple[str, str], str]
                 ) -> dict[str, Any]:
    old, new = view.pair(change)
    return {**change, "old": old, "new": new,
            "page": pages.get((change["source"], change["key"]), "")}


def build_overview(history: History, settings: Settings, out: Path, *, now: datetime,
                   language: str = "de") -> Path:
    """Write the static overview into ``out`` (replacing it as a whole) and return the path
    of its ``index.html``.

    Layout: ``index.html``, ``feed.atom`` (the latest 200 changes) and
    ``records/<key with unsafe characters as _>.html`` for every record with versions.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {list(LANGUAGES)}, not {language!r}")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    out = Path(out)
    view = _View(language, settings.timezone)
    words = view.words
    at = stored(now)

    histories = _all_histories(history)
    pages: dict[tuple[str, str], str] = {}
    used: set[str] = set()
    for entry in histories:
        name = record_file_name(entry["key"])
        if name.lower() in used:  # keys differing only in unsafe characters, or sources
            name = f"{name[:-5]}-{len(used)}.html"
        used.add(name.lower())
        pages[(entry["source"], entry["key"])] = name

    latest = _latest_events(history, max(RECENT_CHANGES, FEED_ENTRIES))
    page_of_key = {key: page for (_, key), page in pages.items()}
    links = [{**row, "class": host_class(row["host"]), "href": safe_href(row["url"]),
              "page": page_of_key.get(row["key"], "")} for row in queries.links(history, at=at)]
    link_status = _link_status(history, [row["key"] for row in links])
    for row in links:
        row["status"] = link_status.get(row["key"], "")
        row["check_page"] = page_of_key.get(f"link:{row['url']}", "")

    env = _environment()
    common = {"t": words, "v": view, "lang": language, "generated": view.time(at),
              "footer": words["footer"].format(tz=settings.timezone),
              "colours": SEVERITY_COLOURS}
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        (work / "records").mkdir()
        record_template = env.get_template("record.html")
        for entry in histories:
            for version in entry["versions"]:
                version["changes"] = [_change_view(c, view, pages) for c in version["changes"]]
            entry["removals"] = [_change_view(c, view, pages) for c in entry["removals"]]
            html = record_template.render(**common, r=entry, href=safe_href,
                                          kind_label=KIND_LABELS.get(entry["kind"],
                                                                     entry["kind"]))
            (work / "records" / pages[(entry["source"], entry["key"])]).write_text(
                html, encoding="utf-8")
        index = env.get_template("index.html").render(
            **common, sources=_source_rows(history, settings), links=links,
            disagreements=[{**d, "page": page_of_key.get(d["tsa_key"], "")}
                           for d in open_disagreements(history)],
            changes=[_event_view(e, view, pages) for e in latest[:RECENT_CHANGES]],
            change_total=history.db.execute("SELECT count(*) FROM events").fetchone()[0],
            chart=_chart(history, now, words),
            records=[{**{k: e[k] for k in ("source", "key", "kind", "title", "status")},
                      "versions": len(e["versions"]),
                      "page": pages[(e["source"], e["key"])],
                      "kind_label": KIND_LABELS.get(e["kind"], e["kind"])} for e in histories])
        (work / "index.html").write_text(index, encoding="utf-8")
        (work / "feed.atom").write_bytes(atom_feed(latest[:FEED_ENTRIES], language=language,
                                                   timezone=settings.timezone, at=at))
        share(work, settings.report.group)
        _replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out / "index.html"


def _link_status(history: History, keys: list[str]) -> dict[str, str]:
    """key → record status (present / missing / removed) of the records carrying links."""
    wanted = sorted(set(keys))
    status: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        status.update(history.db.execute(
            f"SELECT key, status FROM records WHERE key IN ({','.join('?' * len(chunk))})",
            chunk).fetchall())
    return status


def share(tree: Path, group: str) -> None:
    """Give the overview at ``tree`` its modes: readable by ``group`` (files 0640, folders
    0750, owned by the group) or, without a group, by zufiwatch's user only (0600/0700)."""
    gid = -1
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise ConfigError(f"[report] group {group!r} does not exist on this machine") from None
    file_mode, dir_mode = (0o640, 0o750) if group else (0o600, 0o700)
    paths = [tree, *tree.rglob("*")]
    try:
        for path in paths:
            if gid != -1:
                os.chown(path, -1, gid)
            os.chmod(path, dir_mode if path.is_dir() else file_mode)
    except PermissionError as exc:
        raise ConfigError(f"[report] group {group!r}: cannot hand {exc.filename} to the group "
                          "(zufiwatch's user must be a member of it)") from exc


def _replace(work: Path, out: Path) -> None:
    """Put the finished ``work`` directory where ``out`` is: readers see the old site or
    the new one, never a half-written one."""
    if not out.exists():
        os.replace(work, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    old.rmdir()
    os.replace(out, old)
    try:
        os.replace(work, out)
    except OSError:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# The Atom feed

ATOM = "http://www.w3.org/2005/Atom"


def _xml_text(value: Any) -> str:
    return _XML_INVALID.sub("\ufffd", str(value))


def atom_feed(changes: list[dict[str, Any]], *, language: str, timezone: str, at: str,
              self_href: str = "feed.atom", alternate_href: str = "index.html") -> bytes:
    """The Atom feed of ``changes`` (events, newest first), as the static overview and the
    web application (``zufiwatch serve``) publish it; ``at``: the stored time of now."""
    ET.register_namespace("", ATOM)
    view = _View(language, timezone)
    words = view.words

    def sub(parent: ET.Element, tag: str, text: str = "", **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text:
            element.text = _xml_text(text)
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", "tag:zufiwatch,2026:overview")
    sub(feed, "title", f"zufiwatch: {words['changes']}")
    updated = changes[0]["opened_at"] if changes else at
    sub(feed, "updated", _rfc3339(updated))
    author = sub(feed, "author")
    sub(author, "name", "zufiwatch")
    sub(feed, "link", rel="self", href=self_href, type="application/atom+xml")
    sub(feed, "link", rel="alternate", href=alternate_href, type="text/html")
    names = WITNESS_NAMES[view.language]
    for event in changes:
        entry = sub(feed, "entry")
        sub(entry, "id", f"tag:zufiwatch,2026:event/{int(event['id'])}")
        title = (f"{view.word(event['change_type'])}: {event['title'] or event['key']}"
                 f" – {event['field']}")
        sub(entry, "title", title, type="text")
        last = max([w["at"] for w in event["witnesses"]] or [event["opened_at"]])
        sub(entry, "updated", _rfc3339(last))
        lines = [f"{event['subject']} ({event['office'] or '—'})"]
        for field in event["fields"]:
            old, new = change_pair(field["old_value"], field["new_value"], width=300)
            lines.append(f"{field['label']}: {old} → {new}")
        lines.append(f"{words['severity']}: {view.word(event['severity'])}; "
                     f"{words['status']}: {view.word(event['status'])}")
        lines.append(f"{words['seen_by']}: " + "; ".join(
            f"{names.get(w['source_kind'], w['source'])} {view.time(w['at'])}"
            for w in event["witnesses"]))
        sub(entry, "content", "\n".join(lines), type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _rfc3339(value: str) -> str:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
