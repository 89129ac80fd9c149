"""Messages to the AG OZG and to the operators, built by pure functions over templates.

Every builder takes plain values (:class:`ChangeNotice`, :class:`OverdueExpectation`,
:class:`CrawlProblem`), a :class:`Mail` and the current time, and returns an
``EmailMessage`` with a plain-text and an HTML part (multipart/alternative). Nothing is
looked up, fetched or sent here.

- **Language.** German by default, English with ``Mail(language="en")``. The users' own
  terms (Leistung, Organisationseinheit, Onlinedienst, zuständige Stelle, LeiKa) stay German
  in both.
- **Safety.** Crawled content is untrusted. The HTML templates are autoescaped and never mark
  crawled data safe; the HTML part loads nothing (no images, no external CSS, fonts or
  scripts, inline styles only). Crawled links are shown as text. Only the ZuFi deep link
  of a record becomes a link, and only when its scheme is http or https. Subjects carry no
  crawled text.
- **Message-IDs** depend on the content only, so a message rebuilt after a crash has the
  same id: ``<zufiwatch.{kind}.{first 24 hex of a SHA-256}@{domain}>`` over the sorted change
  ids (immediate), the ids and the period (digest), the ids, the overdue expectations' ids
  and the local date (reminder, one a day), the problems' (kind, source, at) (operator), or
  the time (test message).
- **Times** are shown in ``Mail.timezone`` (default Europe/Berlin).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import shlex
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.quoprimime import header_encode
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .. import weburl
from ..config import LANGUAGES, SEVERITIES
from ..events import witness_text
from ..model import KIND_LABELS
from ..render import change_pair, host_of, short_value
from .model import ChangeNotice, CrawlProblem, DisagreementNotice, OverdueExpectation

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["Mail", "ack_command", "digest", "disagreement_alert", "immediate_alert",
           "message_id", "operator_alert", "reminder", "test_message"]

#: Width of the plain-text part; URLs and commands may run longer.
TEXT_WIDTH = 78
_LABEL_WIDTH = 22
_KIND_ORDER = ("leistung", "organisationseinheit", "onlinedienst", "link")
_SEVERITY_COLOURS = {"critical": "#b00020", "high": "#d35400", "medium": "#b7950b",
                     "low": "#607d8b"}


@dataclass(frozen=True)
class Mail:
    """What every builder needs besides its content."""

    sender: str
    recipients: tuple[str, ...]
    #: "de" (default) or "en".
    language: str = "de"
    #: The right-hand side of Message-IDs.
    domain: str = "zufiwatch.local"
    #: The time zone times are shown in.
    timezone: str = "Europe/Berlin"
    #: The public address of ``zufiwatch serve`` ([web] base_url): each change then links
    #: to its page there, where it can be acknowledged. Empty: no links.
    web_base: str = ""

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {list(LANGUAGES)}, not {self.language!r}")
        if isinstance(self.recipients, str) or not self.recipients:
            raise ValueError("recipients must be a non-empty tuple of e-mail addresses")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone: {self.timezone!r}") from None


# ---------------------------------------------------------------------------------------
# Words

_WORDS: dict[str, dict[str, str]] = {
    "de": {
        "critical": "kritisch", "high": "hoch", "medium": "mittel", "low": "niedrig",
        "added": "neu", "modified": "geändert", "removed": "entfernt",
        "reappeared": "wieder vorhanden",
        "leika": "LeiKa", "office": "Zuständige Stelle", "no_office": "ohne zuständige Stelle",
        "key": "Schlüssel", "zufi": "Im ZuFi", "web": "Im Browser", "old": "Alt",
        "new": "Neu", "host": "Host",
        "flap": "Verlauf", "flap_prefix": "hin und her", "severity": "Schwere",
        "reasons": "Gründe", "expected": "Erwartet", "detected": "Erkannt",
        "untracked_for": "Ungeklärt seit", "ack": "Quittieren mit",
        "affected": "Betroffen", "fields": "Außerdem", "seen_by": "Gesehen",
        "status_untracked": "nein (ungeklärt)", "status_expected": "ja, eingetragen von",
        "status_acknowledged": "quittiert", "today": "heute", "until": "bis",
        "ack_hint": "NAME durch Ihren Namen und … durch eine kurze Notiz ersetzen.",
        "footer": "Automatisch erzeugt von zufiwatch. Links aus dem ZuFi werden nur "
                  "angezeigt, nicht abgerufen: Öffnen Sie einen Link erst, wenn Sie ihm "
                  "trauen. Zeiten in Ortszeit ({tz}).",
        "immediate_title": "Ungeklärte Änderungen im ZuFi",
        "immediate_intro": "Beim Crawl der Quelle {source} hat zufiwatch {count} gefunden. "
                           "Niemand hat sie vorher als erwartet eingetragen oder danach "
                           "quittiert. Bitte prüfen Sie jede Änderung im ZuFi und quittieren "
                           "Sie sie, wenn sie in Ordnung ist.",
        "digest_title": "Zusammenfassung der Änderungen im ZuFi",
        "digest_intro": "{count} im Zeitraum {start} bis {end}, nach zuständiger Stelle und "
                        "Art des Eintrags geordnet. Gleiche Änderungen an mehreren Einträgen "
                        "stehen in einem Block.",
        "digest_empty": "Keine Änderungen in diesem Zeitraum.",
        "reminder_title": "Erinnerung: offene Punkte",
        "reminder_changes": "Weiterhin ungeklärte Änderungen",
        "reminder_changes_intro": "Diese Änderungen hat noch niemand quittiert, die älteste "
                                  "zuerst.",
        "reminder_overdue": "Überfällige Erwartungen",
        "reminder_overdue_intro": "Diese Änderungen wurden erwartet, sind aber bis zum "
                                  "genannten Datum nicht im ZuFi erschienen.",
        "field": "Feld", "value": "Erwarteter Wert", "by": "Eingetragen von", "note": "Notiz",
        "operator_title": "Betrieb von zufiwatch",
        "operator_intro": "Die Überwachung des ZuFi braucht Aufmerksamkeit.",
        "source": "Quelle", "at": "Zeit", "detail": "Details",
        "todo": "Was tun", "see_with": "Grund ansehen mit",
        "test_title": "Testnachricht von zufiwatch",
        "test_intro": "Diese Nachricht prüft den Versand. Wenn Sie sie lesen, erreichen "
                      "Nachrichten von zufiwatch diese Adresse.",
        "sent": "Gesendet", "sender": "Absender", "recipients": "Empfänger",
        "language": "Sprache", "language_value": "Deutsch (de)",
        "disagreement_title": "ZuFi und PVOG widersprechen sich",
        "disagreement_intro": "Für {count} sagen der Zuständigkeitsfinder (ZuFi) und das "
                              "PVOG länger als {hours} Stunden Verschiedenes. Das PVOG "
                              "übernimmt die Daten des ZuFi etwa einmal am Tag: Entweder "
                              "kamen sie nicht an, oder ein Eintrag wurde nur auf einer Seite "
                              "geändert. Bitte prüfen Sie den Eintrag im ZuFi.",
        "in_zufi": "Im ZuFi", "in_pvog": "Im PVOG", "since": "Seit", "zufi_id": "ZuFi-ID",
        "aspect_onlinedienste": "Online-Dienst-Links",
        "aspect_zustaendige_stelle": "Zuständige Stelle", "nothing": "(nichts)",
    },
    "en": {
        "critical": "critical", "high": "high", "medium": "medium", "low": "low",
        "added": "added", "modified": "changed", "removed": "removed",
        "reappeared": "reappeared",
        "leika": "LeiKa", "office": "Zuständige Stelle", "no_office": "no zuständige Stelle",
        "key": "Key", "zufi": "In the ZuFi", "web": "In the browser", "old": "Old",
        "new": "New", "host": "Host",
        "flap": "History", "flap_prefix": "back and forth", "severity": "Severity",
        "reasons": "Reasons", "expected": "Expected", "detected": "Detected",
        "untracked_for": "Untracked for", "ack": "Acknowledge with",
        "affected": "Affected", "fields": "Also", "seen_by": "Seen by",
        "status_untracked": "no (untracked)", "status_expected": "yes, recorded by",
        "status_acknowledged": "acknowledged", "today": "less than a day", "until": "to",
        "ack_hint": "Replace NAME with your name and … with a short note.",
        "footer": "Generated by zufiwatch. Links from the ZuFi are shown, not fetched: open "
                  "a link only when you trust it. Times are local ({tz}).",
        "immediate_title": "Untracked changes in the ZuFi",
        "immediate_intro": "The crawl of the source {source} found {count}. Nobody recorded "
                           "them as expected beforehand or acknowledged them afterwards. "
                           "Please check each change in the ZuFi and acknowledge it when it "
                           "is right.",
        "digest_title": "Digest of the changes in the ZuFi",
        "digest_intro": "{count} between {start} and {end}, by zuständige Stelle and kind of "
                        "entry. Identical changes of several entries share one block.",
        "digest_empty": "No changes in this period.",
        "reminder_title": "Reminder: open items",
        "reminder_changes": "Changes still untracked",
        "reminder_changes_intro": "Nobody has acknowledged these changes yet; oldest first.",
        "reminder_overdue": "Overdue expectations",
        "reminder_overdue_intro": "These changes were expected but did not appear in the "
                                  "ZuFi by their date.",
        "field": "Field", "value": "Expected value", "by": "Recorded by", "note": "Note",
        "operator_title": "zufiwatch operations",
        "operator_intro": "The monitoring of the ZuFi needs attention.",
        "source": "Source", "at": "Time", "detail": "Detail",
        "todo": "What to do", "see_with": "See the reason with",
        "test_title": "Test message from zufiwatch",
        "test_intro": "This message tests delivery. If you can read it, messages from "
                      "zufiwatch reach this address.",
        "sent": "Sent", "sender": "Sender", "recipients": "Recipients",
        "language": "Language", "language_value": "English (en)",
        "disagreement_title": "ZuFi and PVOG disagree",
        "disagreement_intro": "For {count}, the Zuständigkeitsfinder (ZuFi) and the PVOG have "
                              "said different things for more than {hours} hours. The PVOG "
                              "takes over the ZuFi's data about once a day: either it did not "
                              "arrive, or an entry was changed on one side only. Please check "
                              "the entry in the ZuFi.",
        "in_zufi": "In the ZuFi", "in_pvog": "In the PVOG", "since": "Since",
        "zufi_id": "ZuFi id", "aspect_onlinedienste": "Online-service links",
        "aspect_zustaendige_stelle": "Zuständige Stelle", "nothing": "(nothing)",
    },
}

#: Singular and plural, by language.
_NOUNS: dict[str, dict[str, tuple[str, str]]] = {
    "de": {
        "change": ("Änderung", "Änderungen"),
        "untracked": ("ungeklärte Änderung", "ungeklärte Änderungen"),
        "expectation": ("Erwartung", "Erwartungen"),
        "problem": ("weiteres Problem", "weitere Probleme"),
        "day": ("Tag", "Tagen"),
        "leistung": ("Leistung", "Leistungen"),
        "organisationseinheit": ("Organisationseinheit", "Organisationseinheiten"),
        "onlinedienst": ("Onlinedienst", "Onlinedienste"),
        "link": ("Online-Dienst-Link", "Online-Dienst-Links"),
    },
    "en": {
        "change": ("change", "changes"),
        "untracked": ("untracked change", "untracked changes"),
        "expectation": ("expectation", "expectations"),
        "problem": ("more problem", "more problems"),
        "day": ("day", "days"),
        "leistung": ("Leistung", "Leistungen"),
        "organisationseinheit": ("Organisationseinheit", "Organisationseinheiten"),
        "onlinedienst": ("Onlinedienst", "Onlinedienste"),
        "link": ("online-service link", "online-service links"),
    },
}

_SUBJECTS = {
    "de": {
        "immediate": "{count} ({severities}) – {source}",
        "digest": "Zusammenfassung: {count} {period}",
        "reminder": "Erinnerung: {parts}",
        "reminder_changes": "{count} weiterhin ungeklärt",
        "reminder_overdue": "{count} überfällig",
        "operator": "Betrieb: {what}",
        "operator_more": "{what} (und {count})",
        "test": "Testnachricht",
        "disagreement": "ZuFi und PVOG widersprechen sich: {count}",
    },
    "en": {
        "immediate": "{count} ({severities}) – {source}",
        "digest": "Digest: {count} {period}",
        "reminder": "Reminder: {parts}",
        "reminder_changes": "{count} still untracked",
        "reminder_overdue": "{count} overdue",
        "operator": "Operations: {what}",
        "operator_more": "{what} (and {count})",
        "test": "Test message",
        "disagreement": "ZuFi and PVOG disagree: {count}",
    },
}

#: Per problem kind: heading, subject phrase, hint, whether ``zufiwatch crawls`` helps.
#: ``{source}`` is the source's name, ``{since}`` " seit <the last complete crawl>" or "".
_PROBLEMS: dict[str, dict[str, tuple[str, str, str, bool]]] = {
    "de": {
        "failed": ("Crawl fehlgeschlagen", "Crawl von {source} fehlgeschlagen",
                   "Ein fehlgeschlagener Crawl ändert nichts an der Historie; der nächste "
                   "Crawl versucht es erneut.", True),
        "suspicious": ("Crawl verdächtig gestoppt", "Crawl von {source} verdächtig gestoppt",
                       "Der Crawl wurde angehalten, bevor etwas übernommen wurde. Prüfen Sie "
                       "im ZuFi, ob wirklich so viele Einträge fehlen.", True),
        "stale": ("Kein vollständiger Crawl{since}",
                  "kein vollständiger Crawl von {source}{since}",
                  "Prüfen Sie, ob der Dienst läuft und die Quelle erreichbar ist.", True),
        "undeliverable": ("E-Mail nicht zustellbar", "E-Mail nicht zustellbar",
                          "Prüfen Sie den Mailserver und die Einstellungen unter [smtp] und "
                          "[notify]; die Details nennen die Antwort des Servers.", False),
    },
    "en": {
        "failed": ("Crawl failed", "Crawl of {source} failed",
                   "A failed crawl changes nothing in the history; the next crawl tries "
                   "again.", True),
        "suspicious": ("Crawl stopped as suspicious", "Crawl of {source} stopped as suspicious",
                       "The crawl was stopped before anything was taken over. Check in the "
                       "ZuFi whether that many entries are really gone.", True),
        "stale": ("No complete crawl{since}", "No complete crawl of {source}{since}",
                  "Check that the service runs and the source can be reached.", True),
        "undeliverable": ("Mail undeliverable", "Mail undeliverable",
                          "Check the mail server and the settings under [smtp] and [notify]; "
                          "the detail gives the server's answer.", False),
    },
}

_SINCE = {"de": "seit", "en": "since"}


def _count(n: int, noun: str, language: str) -> str:
    singular, plural = _NOUNS[language][noun]
    return f"{n} {singular if n == 1 else plural}"


# ---------------------------------------------------------------------------------------
# What the templates show


@dataclass(frozen=True)
class _Shown:
    """A value as one line; a link whose host changed is split around its host."""

    text: str
    before: str = ""
    host: str = ""
    after: str = ""


@dataclass(frozen=True)
class _Record:
    title: str
    kind: str
    leika: str
    key: str
    deeplink: str
    #: The deep link when it may be an <a href> (http or https), else "".
    href: str
    #: The record's page in the web application, or "" without [web] base_url.
    page: str = ""


@dataclass(frozen=True)
class _Block:
    """One change, or identical changes of several records, as a message shows it."""

    ids: tuple[int, ...]
    severity: str
    severity_word: str
    colour: str
    heading: str
    records: tuple[_Record, ...]
    affected: str
    office: str
    old: _Shown
    new: _Shown
    #: The event's other field changes as "label: old → new".
    fields: tuple[str, ...]
    #: Who saw the edit and when ("ZuFi …; im PVOG angekommen …").
    witnesses: str
    hosts: str
    flap: str
    reasons: str
    status: str
    detected: str
    age: str
    ack: str


@dataclass(frozen=True)
class _Group:
    title: str
    kinds: tuple[tuple[str, tuple[_Block, ...]], ...]


@dataclass(frozen=True)
class _Overdue:
    record: str
    key: str
    field: str
    value: str
    until: str
    by: str
    note: str


@dataclass(frozen=True)
class _Problem:
    heading: str
    source: str
    at: str
    detail: str
    extra: tuple[tuple[str, str], ...]
    hint: str
    #: The command that shows the crawls of the source, or "".
    command: str


class _View:
    """Formatting in one message's language and time zone."""

    def __init__(self, mail: Mail, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        self.language = mail.language
        self.web_base = mail.web_base.rstrip("/")
        self.words = _WORDS[mail.language]
        self.zone = ZoneInfo(mail.timezone)
        self.now = now

    def time(self, value: str, *, day_only: bool = False) -> str:
        """A stored time (UTC ISO) or a date, as people read it; unreadable: as given."""
        moment = _parse_time(value)
        if moment is None:
            return value
        if len(value.strip()) <= 10:
            return self.day(moment.date())
        local = moment.astimezone(self.zone)
        if day_only:
            return self.day(local.date())
        return local.strftime("%d.%m.%Y %H:%M" if self.language == "de" else "%Y-%m-%d %H:%M")

    def day(self, value: date) -> str:
        return value.strftime("%d.%m.%Y" if self.language == "de" else "%Y-%m-%d")

    def block(self, changes: Sequence[ChangeNotice], *, with_age: bool = False) -> _Block:
        """A block for one change, or for identical changes of several records."""
        first = changes[0]
        words = self.words
        severity = max((c.severity for c in changes), key=_severity_rank)
        change_word = words.get(first.change_type, first.change_type)
        heading = f"{words.get(severity, severity).upper()} – {first.label}"
        if not first.label.lower().endswith(change_word.lower()):
            heading += f" ({change_word})"
        old_text, new_text = change_pair(first.old, first.new)
        old_host, new_host = _link_host(first.old), _link_host(first.new)
        differs = (old_host, new_host) != (None, None) and old_host != new_host
        times = sorted(c.detected_at for c in changes)
        detected = self.time(times[0])
        if self.time(times[-1]) != detected:
            detected += f" {words['until']} {self.time(times[-1])}"
        untracked = sorted({c.change_id for c in changes if c.status == "untracked"})
        return _Block(
            ids=tuple(sorted(c.change_id for c in changes)),
            severity=severity,
            severity_word=words.get(severity, severity),
            colour=_SEVERITY_COLOURS.get(severity, "#607d8b"),
            heading=heading,
            records=tuple(self.record(c) for c in _unique_records(changes)),
            affected=self.affected(changes),
            office=first.office,
            old=_shown(old_text, differs and old_host is not None),
            new=_shown(new_text, differs and new_host is not None),
            fields=tuple(_field_text(label, old, new) for label, old, new in first.fields),
            witnesses=witness_text([{"source_kind": kind, "source": source, "at": at}
                                    for kind, source, at in first.witnesses],
                                   self.time, self.language),
            hosts=f"{old_host or '—'} → {new_host or '—'}" if differs else "",
            flap=self.flap(first.flap_sequence),
            reasons="; ".join(_unique(r for c in changes for r in c.reasons)),
            status=self.status(first),
            detected=detected,
            age=self.age(times[0]) if with_age else "",
            ack=ack_command(untracked) if untracked else "",
        )

    def record(self, change: ChangeNotice) -> _Record:
        return _Record(title=change.title or change.key,
                       kind=KIND_LABELS.get(change.kind, change.kind),
                       leika=", ".join(change.leika), key=change.key,
                       deeplink=change.deeplink, href=_safe_href(change.deeplink),
                       page=self.page(change))

    def page(self, change: ChangeNotice) -> str:
        """The change's page in the web application (the link's page for a link)."""
        if not self.web_base:
            return ""
        if change.kind == "link":
            path = "link?url=" + quote(change.key.split(":", 1)[1], safe="")
        else:
            path = "eintrag/" + quote(change.key, safe=":")
        return _safe_href(f"{self.web_base}/{path}")

    def affected(self, changes: Sequence[ChangeNotice]) -> str:
        kinds = {c.kind for c in changes}
        count = len(_unique_records(changes))
        if len(kinds) == 1 and next(iter(kinds)) in _NOUNS[self.language]:
            return _count(count, next(iter(kinds)), self.language)
        return str(count)

    def flap(self, sequence: Sequence[Any]) -> str:
        if not sequence:
            return ""
        values = [short_value(v, 0 if _link_host(v) is not None else 80) for v in sequence]
        return f"{self.words['flap_prefix']}: " + " → ".join(values)

    def status(self, change: ChangeNotice) -> str:
        if change.status == "expected":
            text = f"{self.words['status_expected']} {change.expected_by or '—'}"
            return f"{text}: {change.expected_note}" if change.expected_note else text
        if change.status == "acknowledged":
            return self.words["status_acknowledged"]
        return self.words["status_untracked"]

    def age(self, detected_at: str) -> str:
        moment = _parse_time(detected_at)
        if moment is None:
            return ""
        days = (self.now - moment).days
        return self.words["today"] if days < 1 else _count(days, "day", self.language)

    def overdue(self, item: OverdueExpectation) -> _Overdue:
        return _Overdue(record=item.title or item.key, key=item.key, field=item.field,
                        value=item.value, until=self.time(item.until, day_only=True),
                        by=item.by, note=item.note)

    def problem(self, item: CrawlProblem) -> _Problem:
        known = _PROBLEMS[self.language].get(item.kind)
        command = f"zufiwatch crawls --source {shlex.quote(item.source)}"
        extra = tuple((str(k), short_value(v)) for k, v in sorted(item.extra.items())
                      if k != "last_complete")
        return _Problem(
            heading=known[0].format(since=self.since(item)) if known else item.kind,
            source=item.source, at=self.time(item.at), detail=item.detail, extra=extra,
            hint=known[2] if known else "", command=command if known and known[3] else "")

    def problem_phrase(self, item: CrawlProblem) -> str:
        known = _PROBLEMS[self.language].get(item.kind)
        if known is None:
            return f"{item.kind} ({item.source})"
        return known[1].format(source=item.source, since=self.since(item))

    def since(self, item: CrawlProblem) -> str:
        """" seit <time>" of the last complete crawl, when the problem names it."""
        last = item.extra.get("last_complete")
        return f" {_SINCE[self.language]} {self.time(str(last))}" if last else ""


def _field_text(label: str, old: Any, new: Any) -> str:
    before, after = change_pair(old, new, 120)
    return f"{label}: {before} → {after}"


def _parse_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.strip())
    except (AttributeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _unique_records(changes: Sequence[ChangeNotice]) -> list[ChangeNotice]:
    """The first change of each record, in order."""
    return list({c.key: c for c in reversed(changes)}.values())[::-1]


def _link_host(value: Any) -> str | None:
    """The host of a link value (a dict with "url"); ``None`` for anything else."""
    if isinstance(value, dict) and isinstance(value.get("url"), str):
        return host_of(value["url"])
    return None


def _shown(text: str, mark_host: bool) -> _Shown:
    """``text`` (a URL when ``mark_host``) split around the host a browser opens, for the
    HTML part; not split when that host is not written as such (``0x7f.1``)."""
    span = weburl.host_span(text) if mark_host else None
    if span is None:
        return _Shown(text)
    start, end = span
    return _Shown(text, before=text[:start], host=text[start:end], after=text[end:])


def _safe_href(url: str) -> str:
    """``url`` when a mail may show it as a link (http or https, nothing hidden in its
    address), else ""."""
    if weburl.written_scheme(url) not in ("http", "https") or weburl.obfuscated(url):
        return ""
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return ""
    return url


# ---------------------------------------------------------------------------------------
# Templates and messages


def _wrap(text: object, indent: int = 0, first: str = "") -> str:
    """Text wrapped to ``TEXT_WIDTH``; URLs and other long words are never broken."""
    value = " ".join(str(text).split()) or "—"
    lead = " " * indent + first
    return textwrap.fill(value, width=TEXT_WIDTH, initial_indent=lead,
                         subsequent_indent=" " * len(lead), break_long_words=False,
                         break_on_hyphens=False)


def _field(label: str, value: object, indent: int = 2) -> str:
    """A "Label:  value" line of the plain-text part, wrapped with a hanging indent."""
    return _wrap(value, indent, f"{label}:".ljust(_LABEL_WIDTH - 1) + " ")


@functools.cache
def _environment() -> Environment:
    # Imported when a message is rendered: a slow import a crawl does not need.
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    environment = Environment(loader=PackageLoader("zufiwatch.notify", "templates"),
                              autoescape=select_autoescape(["html"]),
                              undefined=StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)
    environment.globals.update(field=_field, wrap=_wrap, rule="-" * TEXT_WIDTH)
    return environment


def _render(name: str, view: _View, title: str, **values: Any) -> tuple[str, str]:
    """The plain-text and HTML parts of the template pair ``name``."""
    environment = _environment()
    context = {"t": view.words, "lang": view.language, "title": title,
               "footer": view.words["footer"].format(tz=view.zone.key), **values}
    text = environment.get_template(f"{name}.txt").render(context)
    html = environment.get_template(f"{name}.html").render(context)
    return text.rstrip() + "\n", html


def message_id(kind: str, identity: Any, domain: str) -> str:
    """A Message-ID that depends only on ``kind``, ``identity`` (JSON) and ``domain``."""
    canonical = json.dumps(identity, ensure_ascii=False, sort_keys=True, default=str)
    digest_hex = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]
    return f"<zufiwatch.{kind}.{digest_hex}@{domain}>"


class _Policy(EmailPolicy):
    """``email.policy.default``, except that the Subject is folded by :func:`_fold_subject`:
    Python 3.11 doubles the space before an encoded word when it folds there."""

    def fold(self, name: str, value: str) -> str:
        if name.lower() == "subject":
            return _fold_subject(str(value), self.linesep)
        return super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() == "subject":
            return _fold_subject(str(value), self.linesep).encode("ascii")
        return super().fold_binary(name, value)


def _fold_subject(text: str, linesep: str) -> str:
    """The Subject header in lines of at most 78 characters where its words allow: ASCII
    words as they are, each run of other words as RFC 2047 encoded words."""
    tokens: list[str] = []
    for is_ascii, group in itertools.groupby(text.split(" "), key=str.isascii):
        words = list(group)
        tokens.extend(words if is_ascii else _encoded_words(" ".join(words)))
    lines = ["Subject:"]
    for token in tokens:
        if len(lines[-1]) + 1 + len(token) > TEXT_WIDTH and lines[-1] != "Subject:":
            lines.append("")
        lines[-1] += " " + token
    return linesep.join(lines) + linesep


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 encoded words of at most 75 characters each. Spaces are encoded,
    since the space between two encoded words is not part of the text."""
    words: list[str] = []
    chunk = ""
    for char in text:
        if chunk and len(header_encode((chunk + char).encode(), "utf-8")) > 75:
            words.append(header_encode(chunk.encode(), "utf-8"))
            chunk = ""
        chunk += char
    return [*words, header_encode(chunk.encode(), "utf-8")]


def _message(mail: Mail, kind: str, subject: str, identity: Any, now: datetime,
             parts: tuple[str, str]) -> EmailMessage:
    message = EmailMessage(policy=_Policy())
    message["From"] = mail.sender
    message["To"] = ", ".join(mail.recipients)
    message["Subject"] = f"[zufiwatch] {subject}"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(kind, identity, mail.domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Zufiwatch-Kind"] = kind
    message.set_content(parts[0], cte="quoted-printable")
    message.add_alternative(parts[1], subtype="html", cte="quoted-printable")
    # After the content: set_content() drops every Content-* header.
    message["Content-Language"] = mail.language
    return message


def ack_command(change_ids: Sequence[int]) -> str:
    """The command that acknowledges these changes: ``zufiwatch ack 12 13 --by NAME --note "…"``."""
    ids = sorted(set(change_ids))
    if not ids:
        raise ValueError("ack_command needs at least one change id")
    return f"zufiwatch ack {' '.join(str(i) for i in ids)} --by NAME --note \"…\""


def immediate_alert(changes: Sequence[ChangeNotice], mail: Mail, *, now: datetime,
                    source: str) -> EmailMessage:
    """The alert for untracked changes of one crawl of ``source``, critical first."""
    if not changes:
        raise ValueError("immediate_alert needs at least one change")
    view = _View(mail, now)
    ordered = sorted(changes, key=lambda c: (-_severity_rank(c.severity), c.detected_at,
                                             c.change_id))
    count = _count(len(changes), "untracked", mail.language)
    severities = ", ".join(f"{n} {view.words[s]}" for s, n in _severity_counts(changes))
    subject = _SUBJECTS[mail.language]["immediate"].format(count=count, severities=severities,
                                                           source=source)
    parts = _render("immediate", view, view.words["immediate_title"],
                    intro=view.words["immediate_intro"].format(source=source, count=count),
                    blocks=[view.block([c]) for c in ordered])
    return _message(mail, "immediate", subject, sorted(c.change_id for c in changes), now,
                    parts)


def digest(changes: Sequence[ChangeNotice], mail: Mail, *, now: datetime, period_start: str,
           period_end: str) -> EmailMessage:
    """The digest of a period: by zuständige Stelle, then kind; identical changes collapsed
    (same label, old value, new value and change type, and the same tracking status)."""
    view = _View(mail, now)
    count = _count(len(changes), "change", mail.language)
    subject = _SUBJECTS[mail.language]["digest"].format(
        count=count, period=_period_phrase(period_start, period_end, view))
    summary = ", ".join(f"{n} {view.words[s]}" for s, n in _severity_counts(changes))
    parts = _render("digest", view, view.words["digest_title"],
                    intro=view.words["digest_intro"].format(
                        count=count, start=view.time(period_start), end=view.time(period_end)),
                    summary=summary, groups=_digest_groups(changes, view))
    identity = {"ids": sorted(c.change_id for c in changes), "from": period_start,
                "to": period_end}
    return _message(mail, "digest", subject, identity, now, parts)


def _digest_groups(changes: Sequence[ChangeNotice], view: _View) -> list[_Group]:
    by_office: dict[str, dict[str, dict[str, list[ChangeNotice]]]] = {}
    for change in changes:
        same = json.dumps([change.label, change.old, change.new, change.change_type,
                           change.status, change.expected_by, change.expected_note,
                           list(change.flap_sequence), list(change.fields)],
                          ensure_ascii=False, sort_keys=True, default=str)
        kinds = by_office.setdefault(change.office, {})
        kinds.setdefault(change.kind, {}).setdefault(same, []).append(change)
    groups = []
    for office in sorted(by_office, key=lambda o: (o == "", o.casefold())):
        kinds = by_office[office]
        ordered = sorted(kinds, key=lambda k: (_KIND_ORDER.index(k) if k in _KIND_ORDER
                                               else len(_KIND_ORDER), k))
        sections = []
        for kind in ordered:
            blocks = [view.block(same) for same in kinds[kind].values()]
            blocks.sort(key=lambda b: (-_severity_rank(b.severity), b.heading,
                                       b.records[0].title.casefold()))
            plural = _NOUNS[view.language].get(kind, (kind, kind))[1]
            sections.append((plural, tuple(blocks)))
        groups.append(_Group(office or f"({view.words['no_office']})", tuple(sections)))
    return groups


def _period_phrase(period_start: str, period_end: str, view: _View) -> str:
    """ "vom 01.03. bis 02.03.2026" / "from 2026-03-01 to 2026-03-02"."""
    start, end = _parse_time(period_start), _parse_time(period_end)
    if start is None or end is None:
        word = ("vom {} bis {}" if view.language == "de" else "from {} to {}")
        return word.format(period_start, period_end)
    first = start.date() if len(period_start.strip()) <= 10 else start.astimezone(view.zone).date()
    last = end.date() if len(period_end.strip()) <= 10 else end.astimezone(view.zone).date()
    if view.language == "en":
        return f"on {first}" if first == last else f"from {first} to {last}"
    if first == last:
        return f"am {view.day(first)}"
    head = first.strftime("%d.%m." if first.year == last.year else "%d.%m.%Y")
    return f"vom {head} bis {view.day(last)}"


def _severity_counts(changes: Sequence[ChangeNotice]) -> list[tuple[str, int]]:
    """(severity, count) for the severities present, most serious first."""
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.severity] = counts.get(change.severity, 0) + 1
    return sorted(counts.items(), key=lambda item: -_severity_rank(item[0]))


def reminder(changes: Sequence[ChangeNotice], overdue: Sequence[OverdueExpectation],
             mail: Mail, *, now: datetime) -> EmailMessage:
    """Changes still untracked (oldest first, with their age) and overdue expectations."""
    if not changes and not overdue:
        raise ValueError("reminder needs at least one change or overdue expectation")
    view = _View(mail, now)
    subjects = _SUBJECTS[mail.language]
    pieces = []
    if changes:
        pieces.append(subjects["reminder_changes"].format(
            count=_count(len(changes), "change", mail.language)))
    if overdue:
        pieces.append(subjects["reminder_overdue"].format(
            count=_count(len(overdue), "expectation", mail.language)))
    ordered = sorted(changes, key=lambda c: (c.detected_at, c.change_id))
    parts = _render("reminder", view, view.words["reminder_title"],
                    blocks=[view.block([c], with_age=True) for c in ordered],
                    overdue=[view.overdue(item) for item in overdue])
    identity = {"ids": sorted(c.change_id for c in changes),
                "overdue": sorted(item.expectation_id for item in overdue),
                "day": now.astimezone(view.zone).date().isoformat()}
    return _message(mail, "reminder", subjects["reminder"].format(parts=", ".join(pieces)),
                    identity, now, parts)


def operator_alert(problems: Sequence[CrawlProblem], mail: Mail, *,
                   now: datetime) -> EmailMessage:
    """What the operators must hear about. A "stale" problem may name the time of the last
    complete crawl (UTC ISO) as ``extra["last_complete"]``; heading and subject then say
    "seit …"."""
    if not problems:
        raise ValueError("operator_alert needs at least one problem")
    view = _View(mail, now)
    subjects = _SUBJECTS[mail.language]
    what = view.problem_phrase(problems[0])
    what = what[:1].upper() + what[1:]
    if len(problems) > 1:
        what = subjects["operator_more"].format(
            what=what, count=_count(len(problems) - 1, "problem", mail.language))
    parts = _render("operator", view, view.words["operator_title"],
                    problems=[view.problem(p) for p in problems])
    identity = sorted([p.kind, p.source, p.at] for p in problems)
    return _message(mail, "operator", subjects["operator"].format(what=what), identity, now,
                    parts)


def disagreement_alert(items: Sequence[DisagreementNotice], mail: Mail, *, now: datetime,
                       window_hours: float) -> EmailMessage:
    """The differences between ZuFi and PVOG that outlasted the sync window."""
    if not items:
        raise ValueError("disagreement_alert needs at least one difference")
    view = _View(mail, now)
    words = view.words
    leistungen = len({item.zufi_id for item in items})
    count = _count(leistungen, "leistung", mail.language)
    blocks = []
    for item in sorted(items, key=lambda i: (i.title.casefold(), i.zufi_id, i.aspect)):
        blocks.append({
            "heading": f"{words[item.severity].upper()} – {item.title} – "
                       f"{words['aspect_' + item.aspect]}",
            "fields": [(words["zufi_id"], item.zufi_id), (words["office"], item.office or "—"),
                       (words["in_zufi"], "; ".join(item.zufi_value) or words["nothing"]),
                       (words["in_pvog"], "; ".join(item.pvog_value) or words["nothing"]),
                       (words["since"], view.time(item.first_seen)),
                       (words["severity"], words[item.severity]),
                       (words["key"], f"{item.tsa_key} / {item.pvog_key}")]})
    hours = f"{window_hours:g}"
    parts = _render("disagreement", view, words["disagreement_title"],
                    intro=words["disagreement_intro"].format(count=count, hours=hours),
                    blocks=blocks)
    subject = _SUBJECTS[mail.language]["disagreement"].format(count=count)
    identity = sorted([i.zufi_id, i.aspect, i.first_seen] for i in items)
    return _message(mail, "disagreement", subject, identity, now, parts)


def test_message(mail: Mail, *, now: datetime) -> EmailMessage:
    """A message that shows mail reaches the recipients."""
    view = _View(mail, now)
    parts = _render("test", view, view.words["test_title"],
                    sent=view.time(now.isoformat()), sender=mail.sender,
                    recipients=", ".join(mail.recipients))
    return _message(mail, "test", _SUBJECTS[mail.language]["test"], now.isoformat(), now,
                    parts)


# Not a test for pytest, whatever its name says.
test_message.__test__ = False  # type: ignore[attr-defined]
