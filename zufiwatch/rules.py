"""How serious a change is: severity rules from the configuration (pure).

Defaults, as the AG OZG asked for them:

- **critical**: an online-service link to a host outside ``allowed_hosts``, a ThAVEL
  application not among ``own_thavel`` (when that list is configured), https turned
  into http, a link whose written address hides the host it opens ("verschleierte
  Adresse": userinfo, a backslash, …; :mod:`zufiwatch.weburl`). The host is always the
  one a browser opens, not the one the link seems to name;
- **high**: an online-service link that changes, appears or disappears; a link that ends
  (its ``gueltig_bis`` now lies within :data:`ENDING_WITHIN` of the change, or moved
  earlier) or whose level of confidence (Vertrauensniveau) drops; a change of the
  zuständige Stelle (role 01); a Leistung or Organisationseinheit that appears, goes or
  comes back;
- **medium**: the other facts of an online-service link (validity moved later, periods,
  identification methods, its Onlinedienst id); address, phone, e-mail, opening hours,
  other office information, fees, validity of the Leistung, the fachliche Freigabe;
- **low**: text edits and everything else.

Link records (the link checker's findings about a link's target):

- **critical**: a link the safety rules refuse (a non-public address, not http(s)); a
  link whose written address hides the host it opens; a
  target that now lies on another host, or on a host outside ``allowed_hosts``; a
  target naming an authority not among ``own_authorities`` or a ThAVEL instance not among
  ``own_thavel``; an https link that ends on http;
- **high**: a link found broken (after ``broken_after`` failed checks); a change of the
  authority or ThAVEL instance a target names;
- **medium**: a broken link that works again;
- **low**: the rest (title, status, redirect chain).

``[[rules.override]]`` entries set the severity of a field (its German label, or the
label's start) for a kind of record; the critical link checks still apply on top.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from fnmatch import fnmatchcase
from typing import Any

from . import weburl
from .config import RulesSettings
from .model import Change, ChangeType
from .normalize import thavel_instance

__all__ = ["ENDING_WITHIN", "SEVERITY_ORDER", "Classification", "classify",
           "confidence_rank", "links_of", "obfuscation"]

SEVERITY_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3}

_LINK_LABELS = ("Online-Dienst › Link",)
_MEDIUM_LABELS = ("Anschrift", "Kommunikation", "Internetadresse", "Öffnungszeiten",
                  "Gebühren", "Fachliche Freigabe", "Terminvereinbarung", "Zusatzinformation",
                  "Gültigkeit der Leistung", "Vertrauensniveau", "Zahlungsarten")
#: A link whose validity ends within this time of the change is about to stop working.
ENDING_WITHIN = timedelta(days=60)
#: The fact of an online-service link a change is about: ``gueltig_bis`` of
#: ``onlinedienste[https://…].gueltig_bis`` (None for the link itself).
_LINK_FACT = re.compile(r"^onlinedienste\[.*?\]\.([a-z_]+)")
#: Levels of confidence in words (eIDAS and the German names), lowest first.
_CONFIDENCE_WORDS = {"niedrig": 1, "low": 1, "basis": 1, "substanziell": 2, "substantiell": 2,
                     "substantial": 2, "normal": 2, "hoch": 3, "high": 3}
_HIGH_LABELS = ("Zuständige Stelle",)
#: What hides the host a link opens, in words (when no other host is written to name).
_HIDING_WORDS = {
    weburl.USERINFO: "Anmeldedaten vor dem Host",
    weburl.BACKSLASH: "Backslash in der Adresse",
    weburl.CONTROL: "Steuerzeichen in der Adresse",
    weburl.SLASHES: "kein Host nach „//“",
    weburl.HOST_FORM: "ungewöhnliche Schreibweise des Hosts",
}


@dataclass(frozen=True)
class Classification:
    severity: str
    #: Why, as short German phrases ("Host nicht freigegeben: evil.example").
    reasons: tuple[str, ...] = ()


def classify(kind: str, change: Change, rules: RulesSettings,
             content: dict[str, Any] | None = None,
             today: date | None = None) -> Classification:
    """The severity of one change of a record of ``kind``; ``content`` is the record's
    content after the change (the link checker's findings are judged on it); ``today`` is
    the day the change was detected (without it, no link counts as ending soon)."""
    if kind == "link":
        severity, reasons = _link_default(change, content or {})
    else:
        severity, reasons = _default(kind, change, today)
    for override in rules.override:
        if override.kind in ("*", kind) and change.label.startswith(override.field):
            severity = override.severity
            reasons = [f"Regel: {override.field} = {override.severity}"]
    critical = (_link_critical(change, content or {}, rules) if kind == "link"
                else _critical_reasons(change, rules))
    if critical:
        severity = "critical"
        reasons = [*critical, *reasons]
    return Classification(severity, tuple(reasons))


def _default(kind: str, change: Change, today: date | None) -> tuple[str, list[str]]:
    fact = _link_field(change)
    if fact not in (None, "url", "titel", "thavel"):
        return _link_fact(str(fact), change, today)
    if change.label.startswith(_LINK_LABELS):
        return "high", ["Online-Dienst-Link"]
    if change.path == "vertrauensniveau" and _lowered(change.old, change.new):
        return "high", [f"Vertrauensniveau gesenkt: {change.old} → {change.new}"]
    if not change.path and kind in ("leistung", "organisationseinheit", "onlinedienst"):
        return "high", []
    if change.label.startswith(_HIGH_LABELS):
        return "high", ["zuständige Stelle"]
    if change.label.startswith(_MEDIUM_LABELS):
        return "medium", []
    return "low", []


def _link_field(change: Change) -> str | None:
    """The field of an online-service link a change is in (``gueltig_bis``, ``titel``);
    None for the link as a whole or a change elsewhere."""
    fact = _LINK_FACT.match(change.path)
    return fact.group(1) if fact else None


def _link_fact(fact: str, change: Change, today: date | None) -> tuple[str, list[str]]:
    """A change of the validity, level of confidence or other facts of a link."""
    if change.change_type is ChangeType.REMOVED:
        return "medium", []
    if fact == "gueltig_bis":
        new, old = _day(change.new), _day(change.old)
        if new is not None and today is not None and new <= today + ENDING_WITHIN:
            return "high", [f"Online-Dienst endet am {new:%d.%m.%Y}"]
        if new is not None and old is not None and new < old:
            return "high", [f"Ende des Online-Dienstes vorgezogen: {old:%d.%m.%Y} → "
                            f"{new:%d.%m.%Y}"]
        return "medium", ["Gültigkeit des Online-Dienstes geändert"]
    if fact == "vertrauensniveau" and _lowered(change.old, change.new):
        return "high", [f"Vertrauensniveau gesenkt: {change.old} → {change.new}"]
    return "medium", []


def _day(value: Any) -> date | None:
    """The day of ``2027-01-31`` or ``2027-01-31T00:00:00Z``; None when there is none."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def confidence_rank(value: Any) -> int | None:
    """A level of confidence as a comparable number (``"15"``, ``"substanziell"``); None
    when it cannot be ranked."""
    text = str(value or "").strip().casefold()
    if text.isdigit():
        return int(text)
    for word, rank in _CONFIDENCE_WORDS.items():
        if word in text:
            return rank
    return None


def _lowered(old: Any, new: Any) -> bool:
    """Whether the level of confidence dropped (also when it is no longer named)."""
    before, after = confidence_rank(old), confidence_rank(new)
    if before is None:
        return False
    if not str(new or "").strip():
        return True  # no longer named
    return after is not None and after < before


_REACHABLE, _BROKEN, _REFUSED = "erreichbar", "nicht erreichbar", "gesperrt"


def _top_field(change: Change) -> str:
    """The record field a change is in: ``zielhost`` of ``zielhost``, ``weiterleitungen`` of
    ``weiterleitungen[0].url``."""
    return change.path.split(".", 1)[0].split("[", 1)[0]


def _link_default(change: Change, content: dict[str, Any]) -> tuple[str, list[str]]:
    field = _top_field(change)
    if change.change_type is ChangeType.REMOVED:
        return "low", []
    if not change.path and content.get("zustand") == _BROKEN:
        return "high", [f"Link nicht erreichbar: {content.get('fehler', '')}"]
    if field == "zustand" and change.new == _BROKEN:
        return "high", ["Link nicht erreichbar"]
    if field == "zustand" and change.new == _REACHABLE:
        return "medium", ["Link wieder erreichbar"]
    if field in ("stelle", "thavel") and change.new:
        return "high", ["Genannte Stelle oder ThAVEL-Instanz geändert"]
    return "low", []


def _link_critical(change: Change, content: dict[str, Any],
                   rules: RulesSettings) -> list[str]:
    """Findings about a link's target that are critical: on a new link record, all of
    them; on a change, those the changed field brings."""
    if change.change_type is ChangeType.REMOVED:
        return []
    field = _top_field(change)
    whole = not change.path  # a new (or returning) link record: judge all it says
    reasons = []
    if (whole or field == "zustand") and content.get("zustand") == _REFUSED:
        reasons.append(f"Link-Ziel gesperrt: {content.get('fehler', '')}")
    hidden = obfuscation(str(content.get("url") or "")) if whole or field == "url" else ""
    if hidden:
        reasons.append(hidden)
    target_host = str(content.get("zielhost") or "")
    if target_host and (whole or field == "zielhost"):
        if not _allowed(target_host, rules.allowed_hosts):
            reasons.append(f"Link-Ziel auf nicht freigegebenem Host: {target_host}")
        elif field == "zielhost" and isinstance(change.old, str) and change.old \
                and change.old != target_host:
            reasons.append(f"Link leitet jetzt auf einen anderen Host um: {change.old} → "
                           f"{target_host}")
    target = str(content.get("ziel") or "")
    if (whole or field == "ziel") and str(content.get("url", "")).startswith("https://") \
            and target.startswith("http://"):
        reasons.append("https → http: das Link-Ziel ist unverschlüsselt")
    authority = str(content.get("stelle") or "")
    if (whole or field == "stelle") and authority and rules.own_authorities \
            and not any(fnmatchcase(authority.casefold(), own.casefold())
                        for own in rules.own_authorities):
        reasons.append(f"Link-Ziel nennt eine andere Stelle: {authority}")
    instance = str(content.get("thavel") or "")
    if (whole or field == "thavel") and instance and rules.own_thavel \
            and instance not in rules.own_thavel:
        reasons.append(f"ThAVEL-Instanz einer anderen Stelle: {instance}")
    return reasons


def links_of(value: Any) -> list[str]:
    """The URLs in a change value: a link dict, a list of them, or nothing."""
    if isinstance(value, dict) and isinstance(value.get("url"), str):
        return [value["url"]]
    if isinstance(value, dict):  # what an added record shows (differ.added_value)
        return links_of(value.get("onlinedienste")) + links_of(value.get("links"))
    if isinstance(value, list):
        return [url for item in value for url in links_of(item)]
    return []


def _critical_reasons(change: Change, rules: RulesSettings) -> list[str]:
    if change.change_type is ChangeType.REMOVED or _link_field(change) not in (None, "url"):
        return []  # a title, validity or trust level is no link to judge
    new_links = links_of(change.new)
    if not new_links and change.label.startswith(_LINK_LABELS) and isinstance(change.new, str):
        new_links = [change.new]
    reasons = []
    for url in new_links:
        host = weburl.host_of(url)  # the host a browser opens
        hidden = obfuscation(url)
        if hidden:
            reasons.append(hidden)
        if not host or not _allowed(host, rules.allowed_hosts):
            reasons.append(f"Host nicht freigegeben: {host or url}")
        identity = _thavel_instance(change.new, url)
        if rules.own_thavel and identity and identity not in rules.own_thavel:
            reasons.append(f"ThAVEL-Antrag einer anderen Stelle: {identity}")
    for old_url in links_of(change.old):
        for url in new_links:
            if (old_url.startswith("https://") and url.startswith("http://")
                    and weburl.host_of(old_url) == weburl.host_of(url)):
                reasons.append("https → http")
    return reasons


def obfuscation(url: str) -> str:
    """The reason a link is critical because its written address hides the host a
    browser opens ("verschleierte Adresse: öffnet 127.0.0.1:1, nicht
    thavel.thueringen.de"); "" for a link that is what it looks like."""
    seen = weburl.parse(url)
    if seen is None or not seen.hidden:
        return ""
    if seen.appears:
        return f"verschleierte Adresse: öffnet {seen.opens}, nicht {seen.appears}"
    return f"verschleierte Adresse: öffnet {seen.opens} ({_HIDING_WORDS[seen.hidden[0]]})"


def _allowed(host: str, patterns: Iterable[str]) -> bool:
    """Whether ``host`` (as a browser opens it) matches one of the configured patterns."""
    for pattern in patterns:
        pattern = weburl.ascii_pattern(pattern)
        if host == pattern or fnmatchcase(host, pattern):
            return True
        if pattern.startswith("*.") and host == pattern[2:]:
            return True
    return False


def _thavel_instance(value: Any, url: str) -> str:
    """``go/a/<n>``, ``zs/<n>`` or ``verfahren/<n>`` of a ThAVEL link; "" when statewide."""
    items = value if isinstance(value, list) else [value]
    if isinstance(value, dict) and "url" not in value:  # an added record's summary
        items = [*(value.get("onlinedienste") or []), *(value.get("links") or [])]
    for item in items:
        if isinstance(item, dict) and item.get("url") == url and item.get("thavel"):
            return thavel_instance(item["thavel"])
    return ""
