"""The values messages are built from: plain, already classified, nothing to look up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChangeNotice", "CrawlProblem", "OverdueExpectation"]


@dataclass(frozen=True)
class ChangeNotice:
    """One event (an edit, with the field changes its witnesses saw) as the AG OZG reads
    it: its most serious field change, the other fields, and the witnesses."""

    #: The event's id (what ``zufiwatch ack`` takes).
    change_id: int
    #: UTC ISO time it was detected.
    detected_at: str
    source: str
    #: The record key, e.g. ``leistung:S1600001.LB.354790``.
    key: str
    #: "leistung", "organisationseinheit", "onlinedienst".
    kind: str
    #: The record's name (the Leistung's, the office's, the Onlinedienst's).
    title: str
    #: LeiKa keys of the Leistung (empty for other kinds).
    leika: tuple[str, ...]
    #: Name of the zuständige Stelle (role 01) of the Leistung, or the office itself.
    office: str
    #: "added", "modified", "removed", "reappeared".
    change_type: str
    #: German field label, e.g. "Online-Dienst › Link".
    label: str
    #: Old and new value (JSON values: str, dict with "url"/"titel", list, None).
    old: Any
    new: Any
    #: "low", "medium", "high", "critical".
    severity: str
    #: Why the severity is what it is, in the message language, e.g. "Host nicht freigegeben".
    reasons: tuple[str, ...] = ()
    #: "untracked", "expected", "acknowledged".
    status: str = "untracked"
    #: Who expected it and their note, when ``status == "expected"``.
    expected_by: str = ""
    expected_note: str = ""
    #: The ZuFi deep link of the Leistung (buerger.thueringen.de/portaldeeplink/…), or "".
    deeplink: str = ""
    #: For a back-and-forth: the sequence of values (first old, then each new value).
    flap_sequence: tuple[Any, ...] = ()
    #: The event's other field changes: (label, old, new).
    fields: tuple[tuple[str, Any, Any], ...] = ()
    #: Who saw it, first first: (source kind "tsa"/"pvog"/"links", source name, UTC time).
    witnesses: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class OverdueExpectation:
    """An expected change that did not happen by its date."""

    expectation_id: int
    key: str
    title: str
    field: str
    value: str
    until: str
    by: str
    note: str = ""


@dataclass(frozen=True)
class CrawlProblem:
    """Something the operator must hear about."""

    #: "failed", "suspicious", "stale", "undeliverable".
    kind: str
    source: str
    #: UTC ISO time.
    at: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DisagreementNotice:
    """A difference between the ZuFi and the PVOG that outlasted the sync window."""

    zufi_id: str
    #: The Leistung's name (as the ZuFi has it).
    title: str
    #: Its zuständige Stelle in the ZuFi.
    office: str
    #: "onlinedienste" or "zustaendige_stelle".
    aspect: str
    zufi_value: tuple[str, ...]
    pvog_value: tuple[str, ...]
    #: UTC ISO time the difference was first seen.
    first_seen: str
    severity: str
    tsa_key: str
    pvog_key: str
