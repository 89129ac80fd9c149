"""How serious a change is: severity rules from the configuration (pure).

Defaults, as the AG OZG asked for them:

- **critical**: an online-service link to a host outside ``allowed_hosts``, a ThAVEL
  application not among ``own_thavel`` (when that list is configured), https turned
  into http;
- **high**: an online-service link that changes, appears or disappears; a change of the
  zuständige Stelle (role 01); a Leistung or Organisationseinheit that appears, goes or
  comes back;
- **medium**: address, phone, e-mail, opening hours, fees, the fachliche Freigabe;
- **low**: text edits and everything else.

``[[rules.override]]`` entries set the severity of a field (its German label, or the
label's start) for a kind of record; the critical link checks still apply on top.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from .config import RulesSettings
from .model import Change, ChangeType

__all__ = ["SEVERITY_ORDER", "Classification", "classify", "links_of"]

SEVERITY_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3}

_LINK_LABELS = ("Online-Dienst › Link",)
_MEDIUM_LABELS = ("Anschrift", "Kommunikation", "Internetadresse", "Öffnungszeiten",
                  "Gebühren", "Fachliche Freigabe")
_HIGH_LABELS = ("Zuständige Stelle",)


@dataclass(frozen=True)
class Classification:
    severity: str
    #: Why, as short German phrases ("Host nicht freigegeben: evil.example").
    reasons: tuple[str, ...] = ()


def classify(kind: str, change: Change, rules: RulesSettings) -> Classification:
    """The severity of one change of a record of ``kind``."""
    severity, reasons = _default(kind, change)
    for override in rules.override:
        if override.kind in ("*", kind) and change.label.startswith(override.field):
            severity = override.severity
            reasons = [f"Regel: {override.field} = {override.severity}"]
    critical = _critical_reasons(change, rules)
    if critical:
        severity = "critical"
        reasons = [*critical, *reasons]
    return Classification(severity, tuple(reasons))


def _default(kind: str, change: Change) -> tuple[str, list[str]]:
    if change.label.startswith(_LINK_LABELS):
        return "high", ["Online-Dienst-Link"]
    if not change.path and kind in ("leistung", "organisationseinheit", "onlinedienst"):
        return "high", []
    if change.label.startswith(_HIGH_LABELS):
        return "high", ["zuständige Stelle"]
    if change.label.startswith(_MEDIUM_LABELS):
        return "medium", []
    return "low", []


def links_of(value: Any) -> list[str]:
    """The URLs in a change value: a link dict, a list of them, or nothing."""
    if isinstance(value, dict) and isinstance(value.get("url"), str):
        return [value["url"]]
    if isinstance(value, list):
        return [url for item in value for url in links_of(item)]
    return []


def _critical_reasons(change: Change, rules: RulesSettings) -> list[str]:
    if change.change_type is ChangeType.REMOVED:
        return []
    new_links = links_of(change.new)
    if not new_links and change.label.startswith(_LINK_LABELS) and isinstance(change.new, str):
        new_links = [change.new]
    reasons = []
    for url in new_links:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not _allowed(host, rules.allowed_hosts):
            reasons.append(f"Host nicht freigegeben: {host or url}")
        identity = _thavel_instance(change.new, url)
        if rules.own_thavel and identity and identity not in rules.own_thavel:
            reasons.append(f"ThAVEL-Antrag einer anderen Stelle: {identity}")
    for old_url in links_of(change.old):
        for url in new_links:
            if (old_url.startswith("https://") and url.startswith("http://")
                    and urlsplit(old_url).hostname == urlsplit(url).hostname):
                reasons.append("https → http")
    return reasons


def _allowed(host: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        pattern = pattern.lower()
        if host == pattern or fnmatchcase(host, pattern):
            return True
        if pattern.startswith("*.") and host == pattern[2:]:
            return True
    return False


def _thavel_instance(value: Any, url: str) -> str:
    """``go/a/<n>``, ``zs/<n>`` or ``verfahren/<n>`` of a ThAVEL link; "" when statewide."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, dict) and item.get("url") == url and item.get("thavel"):
            thavel = item["thavel"]
            form = thavel.get("form")
            if form == "go":
                return f"go/a/{thavel.get('antrag', '')}"
            if form == "zs":
                return f"zs/{thavel.get('zs', '')}"
            if form == "a3start":
                return f"verfahren/{thavel.get('verfahrenId', '')}"
    return ""
