"""One edit, one event: the field changes that several witnesses report about one edit.

An *event* is one edit of one thing the city keeps — a Leistung, an office, an
online-service link — seen by one or more *witnesses*: a crawl of the ZuFi, a crawl of
the PVOG (which imports the ZuFi about a day later), a link check. The working group hears
about the event once, from its first witness; later witnesses of the same edit are added to
it ("im PVOG angekommen am …").

This module is the pure core: which subject a record belongs to, which changes of one crawl
form an event, and which join an event opened earlier. :mod:`zufiwatch.store.events`
reads the candidates and writes the result inside the crawl's transaction.

The rules:

- The field changes one crawl finds on one record belong to one event.
- A record's *subject* is what the city keeps, independent of the source: a ZuFi Leistung
  is ``leistung:<ZuFi id>``; a PVOG Leistung the same, by the ZuFi id in its deep link
  (``tsa_leistung_id``), else by a LeiKa key exactly one Leistung on each side carries (the
  pairing of :mod:`zufiwatch.crosscheck`); an office of the PVOG is paired with the ZuFi's
  office of the same name; a link is ``link:<url>``.
- A change *joins* an event of the same subject that another source opened within the
  sync window when it reports the same edit: the same kind of change of the same field
  (the label before " › ") with the same value (each part of the shorter value is found in
  the other). What it does not correspond to is a new event.
- An Onlinedienst's or a link's changes join the event of a Leistung that names the same
  URL or Onlinedienst id in its changed values, in the same crawl or within the window
  (a link check's finding on a link an edit has just brought in is part of that edit).
- A change that continues a back-and-forth (flapping) joins the event of its first change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .model import Change, ChangeType, split_key
from .normalize import canonical_url

__all__ = ["WITNESS_NAMES", "Assignment", "Member", "NewEvent", "OpenEvent", "ZufiIndex",
           "assign", "corresponds", "fields_of", "headline", "office_name", "record_context",
           "refs_of", "status_of", "subject_of", "witness_text", "worst", "zufi_id_of"]

#: Severities in rising order.
_ORDER = ("low", "medium", "high", "critical")
_URL = re.compile(r"https?://[^\s\"'<>]+", re.IGNORECASE)


def worst(severities: Iterable[str]) -> str:
    """The most serious of ``severities`` ("low" when there are none)."""
    return max(severities, key=lambda s: _ORDER.index(s) if s in _ORDER else -1,
               default="low")


@dataclass(frozen=True)
class Member:
    """One change of the crawl being stored."""

    index: int
    key: str
    change: Change
    severity: str = "low"
    status: str = "untracked"
    #: The id of the first change of the back-and-forth this change continues.
    flap_of: int | None = None


@dataclass(frozen=True)
class OpenEvent:
    """A stored event that changes of a new crawl may join."""

    id: int
    subject: str
    opened_at: str
    #: Names of the sources that witnessed it so far.
    witnesses: frozenset[str]
    #: (record key, change) of its changes.
    changes: tuple[tuple[str, Change], ...]


@dataclass
class NewEvent:
    """A group of the crawl's changes that opens an event."""

    subject: str
    #: The record whose changes opened it (title, office, kind of the event).
    key: str
    members: list[int] = field(default_factory=list)


@dataclass
class Assignment:
    """Where each change of a crawl goes."""

    #: Change index → id of the stored event it joins.
    joins: dict[int, int] = field(default_factory=dict)
    #: The events the crawl opens.
    new: list[NewEvent] = field(default_factory=list)

    def event_of(self, index: int) -> tuple[str, int]:
        """("join", event id) or ("new", position in :attr:`new`)."""
        if index in self.joins:
            return "join", self.joins[index]
        for position, event in enumerate(self.new):
            if index in event.members:
                return "new", position
        raise KeyError(index)


# ---------------------------------------------------------------------------------------
# Comparing two witnesses' changes


def _norm(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def _leaves(value: Any) -> list[str]:
    """The parts of a value to compare: a link by its URL, else every scalar in it."""
    if value is None:
        return []
    if isinstance(value, dict):
        if isinstance(value.get("url"), str):
            return [canonical_url(value["url"]).casefold()]
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _leaves(item)]
    text = _norm(value)
    return [text] if text else []


def _within(shorter: list[str], longer: list[str]) -> bool:
    return all(any(part in whole for whole in longer) for part in shorter)


def _same_value(a: Any, b: Any) -> bool:
    left, right = _leaves(a), _leaves(b)
    if not left or not right:
        return not left and not right
    if len(left) > len(right):
        left, right = right, left
    return _within(left, right) or _within(right, left)


def _root(label: str) -> str:
    return label.split(" › ", 1)[0].strip().casefold()


def _kind(change_type: str) -> str:
    return "added" if change_type == ChangeType.REAPPEARED else str(change_type)


def corresponds(a: Change, b: Change) -> bool:
    """Whether two changes (of two witnesses, or of two records) report the same edit."""
    if _kind(a.change_type) != _kind(b.change_type) or _root(a.label) != _root(b.label):
        return False
    if not a.path and not b.path:  # a record added or removed: its label says it
        return _norm(a.label) == _norm(b.label)
    if a.change_type == ChangeType.REMOVED:
        return _same_value(a.old, b.old)
    return _same_value(a.new, b.new)


# ---------------------------------------------------------------------------------------
# What a change names: URLs and Onlinedienst ids


def refs_of(key: str, change: Change) -> frozenset[str]:
    """The online-service links (``url:<canonical URL>``) and Onlinedienst ids
    (``od:<id>``, exactly as the source names it) a change is about: a link record's own
    URL, an Onlinedienst's id, the URLs and ids in a Leistung's changed online services.
    Empty for changes that are not about online services."""
    kind, ident = split_key(key)
    found: set[str] = set()
    if kind == "link":
        return frozenset({f"url:{canonical_url(ident)}"})
    if kind == "onlinedienst":
        found.add(f"od:{ident.strip()}")
    elif not change.path.startswith("onlinedienste") and change.path:
        return frozenset()
    found.update(f"url:{u}" for u in _urls_in(change.path))
    for value in (change.old, change.new):
        found.update(_value_refs(value))
    return frozenset(found)


def _urls_in(text: str) -> set[str]:
    return {canonical_url(match.rstrip("])},.;")) for match in _URL.findall(text or "")}


def _value_refs(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        url = value.get("url")
        if isinstance(url, str) and url.strip():
            found.add(f"url:{canonical_url(url)}")
        ident = value.get("id")
        if isinstance(ident, str | int) and str(ident).strip() and (
                "url" in value or "links" in value or "thavel" in value):
            found.add(f"od:{str(ident).strip()}")
        for item in value.values():
            if isinstance(item, dict | list):
                found.update(_value_refs(item))
    elif isinstance(value, list):
        for item in value:
            found.update(_value_refs(item))
    elif isinstance(value, str):
        found.update(f"url:{u}" for u in _urls_in(value))
    return found


# ---------------------------------------------------------------------------------------
# The assignment


def assign(source: str, members: Sequence[Member], subjects: Mapping[str, str],
           candidates: Sequence[OpenEvent], *,
           flap_events: Mapping[int, int] | None = None,
           recent_refs: Callable[[], Sequence[tuple[int, str, frozenset[str]]]] | None = None,
           window_start: str = "") -> Assignment:
    """Where each of a crawl's changes goes.

    ``subjects`` maps record keys to subjects; ``candidates`` are the events opened within
    the sync window (any source); ``flap_events`` maps first changes of a back-and-forth to
    their event; ``recent_refs`` gives (event id, opened at, refs) of recent events that name
    links or Onlinedienste (for Onlinedienst and link changes): a link or Onlinedienst that
    appears or disappears joins such an event however recent (its record follows the edit
    with the checker's and the removal rule's delay), a finding about it (a link that breaks)
    only an event opened since ``window_start``."""
    result = Assignment()
    flap_events = flap_events or {}
    by_record: dict[str, list[Member]] = {}
    for member in members:
        if member.flap_of is not None and member.flap_of in flap_events:
            result.joins[member.index] = flap_events[member.flap_of]
        else:
            by_record.setdefault(member.key, []).append(member)
    own: dict[str, NewEvent] = {}
    for key, changes in by_record.items():
        subject = subjects.get(key, key)
        rest = _join_witnessed(source, subject, key, changes, candidates, result)
        if rest:
            own[key] = NewEvent(subject, key, [m.index for m in rest])
    _attach_services(own, by_record, result, recent_refs, window_start)
    result.new = [event for event in own.values() if event.members]
    return result


def _join_witnessed(source: str, subject: str, key: str, changes: list[Member],
                    candidates: Sequence[OpenEvent], result: Assignment) -> list[Member]:
    """Join the changes that report the edit of an event another source opened about the
    same subject (or about a record of the same key: a PVOG Leistung and the link watch's
    record of it, paired before the ZuFi could pair either); return the rest."""
    rest = list(changes)
    for event in sorted(candidates, key=lambda e: (e.opened_at, e.id), reverse=True):
        same = event.subject == subject or any(other == key for other, _ in event.changes)
        if not same or source in event.witnesses:
            continue
        matched = [m for m in rest
                   if any(corresponds(m.change, change) for _key, change in event.changes)]
        for member in matched:
            result.joins[member.index] = event.id
        rest = [m for m in rest if m not in matched]
        if not rest:
            break
    return rest


def _attach_services(own: dict[str, NewEvent], by_record: dict[str, list[Member]],
                     result: Assignment,
                     recent_refs: Callable[[], Sequence[tuple[int, str, frozenset[str]]]] | None,
                     window_start: str) -> None:
    """Onlinedienst and link changes that name a link or Onlinedienst a Leistung's changes
    name (this crawl first, then events within the window) join that Leistung's event."""
    leistung_refs: list[tuple[str, frozenset[str]]] = []
    for key, changes in by_record.items():
        if split_key(key)[0] == "leistung":
            refs = frozenset().union(*(refs_of(key, m.change) for m in changes))
            if refs:
                leistung_refs.append((key, refs))
    stored: Sequence[tuple[int, str, frozenset[str]]] | None = None
    for key, event in own.items():
        kind = split_key(key)[0]
        if kind not in ("onlinedienst", "link"):
            continue
        refs = frozenset().union(*(refs_of(key, m.change) for m in by_record[key]))
        target = _crawl_target(refs, leistung_refs, own, result, by_record)
        if target is not None:
            where, ident = target
            if where == "new":
                own[str(ident)].members.extend(event.members)
            else:
                for index in event.members:
                    result.joins[index] = int(ident)
            event.members = []
            continue
        if stored is None:
            stored = list(recent_refs()) if recent_refs is not None else []
        whole_record = all(not m.change.path for m in by_record[key])
        for event_id, opened_at, named in sorted(stored, key=lambda item: -item[0]):
            if (whole_record or opened_at >= window_start) and refs & named:
                for index in event.members:
                    result.joins[index] = event_id
                event.members = []
                break


def _crawl_target(refs: frozenset[str], leistung_refs: list[tuple[str, frozenset[str]]],
                  own: dict[str, NewEvent], result: Assignment,
                  by_record: dict[str, list[Member]]) -> tuple[str, str | int] | None:
    """The event of this crawl's Leistung change that names one of ``refs``."""
    for key, named in leistung_refs:
        if not refs & named:
            continue
        if key in own and own[key].members:
            return "new", key
        joined = [result.joins[m.index] for m in by_record[key] if m.index in result.joins]
        if joined:
            return "join", joined[0]
    return None


# ---------------------------------------------------------------------------------------
# Subjects and what an event says about its record


def _nothing() -> Mapping[str, str]:
    return {}


@dataclass(frozen=True)
class ZufiIndex:
    """What pairs a PVOG record with the ZuFi's, asked for only when needed: whether the
    ZuFi has (or had) a Leistung of that key, the LeiKa keys exactly one ZuFi Leistung
    carries, the names exactly one ZuFi office has."""

    has_leistung: Callable[[str], bool] = lambda key: False
    leika: Callable[[], Mapping[str, str]] = _nothing
    offices: Callable[[], Mapping[str, str]] = _nothing


def subject_of(source_kind: str, key: str, content: Mapping[str, Any] | None,
               zufi: ZufiIndex, pvog_leika: Callable[[], Mapping[str, str]]) -> str:
    """The subject of a record: its own key, or for a PVOG record the ZuFi record it is
    paired with (see the module's rules). ``pvog_leika`` gives the LeiKa keys exactly one
    PVOG Leistung carries (asked for only when a deep link does not pair it)."""
    if source_kind != "pvog" or not content:
        return key
    kind = split_key(key)[0]
    if kind == "leistung":
        zufi_id = zufi_id_of(content)
        if zufi_id and zufi.has_leistung(f"leistung:{zufi_id}"):
            return f"leistung:{zufi_id}"
        for leika in content.get("leika") or []:
            paired = zufi.leika().get(str(leika))
            if paired and pvog_leika().get(str(leika)) == key:
                return paired
    elif kind == "organisationseinheit":
        paired = zufi.offices().get(office_name(content.get("name")))
        if paired:
            return paired
    return key


def zufi_id_of(content: Mapping[str, Any]) -> str:
    """The ZuFi Leistung id of a PVOG Leistung: ``tsa_leistung_id`` of its deep link."""
    for item in _links_in(content.get("ursprungsportal"), content.get("texte")):
        try:
            query = parse_qs(urlsplit(item).query)
        except ValueError:
            continue
        for value in query.get("tsa_leistung_id", []):
            if value.strip():
                return value.strip()
    return ""


def _links_in(*values: Any) -> Iterable[str]:
    for value in values:
        if isinstance(value, dict):
            if isinstance(value.get("url"), str):
                yield value["url"]
            yield from _links_in(*value.values())
        elif isinstance(value, list):
            yield from _links_in(*value)


def office_name(name: Any) -> str:
    """A name of an office as offices are compared: case and spacing aside."""
    return " ".join(str(name or "").split()).casefold()


def record_context(kind: str, content: Mapping[str, Any] | None,
                   volatile: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a message says about the record a change belongs to: title, LeiKa keys,
    zuständige Stelle, ZuFi deep link. A link is named by its URL and placed with the
    zuständige Stelle of the first record that holds it."""
    content = content or {}
    if kind == "link":
        users = (volatile or {}).get("verwendet_in") or [{}]
        return {"title": content.get("url", ""), "leika": (),
                "office": users[0].get("stelle", ""), "deeplink": ""}
    office = ""
    if kind == "leistung":
        office = next((o.get("name", "") for o in content.get("zustaendigkeiten", [])
                       if isinstance(o, dict) and o.get("rolle") == "01"), "")
    elif kind == "organisationseinheit":
        office = content.get("name", "")
    deeplink = next((link.get("url", "") for link in content.get("ursprungsportal", [])
                     if isinstance(link, dict) and "portaldeeplink" in link.get("url", "")), "")
    return {"title": content.get("name", ""), "leika": tuple(content.get("leika", [])),
            "office": office, "deeplink": deeplink}


def status_of(members: Sequence[Member]) -> str:
    """An event's triage status from its changes: ``untracked`` when any change nobody
    expected is not just the same edit as another of them (an Onlinedienst's link change
    mirrors its Leistung's), else ``expected`` when one was expected, else
    ``acknowledged`` when all were (histories from before events)."""
    own = [m for i, m in enumerate(members)
           if not any(other.key != m.key and other.status != "untracked"
                      and corresponds(m.change, other.change)
                      for other in [*members[:i], *members[i + 1:]])]
    statuses = {m.status for m in own} or {m.status for m in members}
    if "untracked" in statuses:
        return "untracked"
    if "expected" in statuses:
        return "expected"
    return "acknowledged" if statuses == {"acknowledged"} else "untracked"


# ---------------------------------------------------------------------------------------
# An event as people read it

#: The witnesses' names, by the kind of their source.
WITNESS_NAMES = {"de": {"tsa": "ZuFi", "pvog": "PVOG", "links": "Link-Prüfung",
                        "linkwatch": "PVOG-Linkliste"},
                 "en": {"tsa": "ZuFi", "pvog": "PVOG", "links": "link check",
                        "linkwatch": "PVOG link list"}}


def _change_of(row: Mapping[str, Any]) -> Change:
    return Change(row["change_type"], row["path"], row["label"], row["old_value"],
                  row["new_value"])


def fields_of(changes: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The distinct field changes of an event, the most serious first: a change that
    reports the same edit as one listed before (the PVOG's copy of the ZuFi's, an
    Onlinedienst's copy of its Leistung's link change) is left out."""
    ordered = sorted(changes, key=lambda c: (-_rank(c["severity"]), c["detected_at"], c["id"]))
    shown: list[Mapping[str, Any]] = []
    for change in ordered:
        if change.get("flap_of"):
            continue
        if not any(corresponds(_change_of(change), _change_of(other)) for other in shown):
            shown.append(change)
    return shown or ordered[:1]


def _rank(severity: str) -> int:
    return _ORDER.index(severity) if severity in _ORDER else -1


def headline(event: Mapping[str, Any], fields: Sequence[Mapping[str, Any]]) -> str:
    """What happened, in the working group's words: "Link defekt" for a link check that
    found a link unreachable, else the label of the most serious field change."""
    if event["kind"] == "link":
        for change in fields:
            if change["path"] == "zustand" and change["new_value"] != "erreichbar":
                return "Link defekt"
            if change["path"] == "zustand" and change["new_value"] == "erreichbar":
                return "Link wieder erreichbar"
    return str(fields[0]["label"]) if fields else ""


def witness_text(witnesses: Sequence[Mapping[str, Any]], show: Callable[[str], str],
                 language: str = "de") -> str:
    """"ZuFi 23.09.2026 11:00; im PVOG angekommen 24.09.2026 10:30" — the first witness,
    then each later one."""
    names = WITNESS_NAMES.get(language, WITNESS_NAMES["de"])
    parts = []
    for number, witness in enumerate(witnesses):
        name = names.get(witness["source_kind"], witness["source"])
        earlier = {w["source_kind"] for w in witnesses[:number]}
        if number and witness["source_kind"] == "pvog" and "linkwatch" in earlier:
            lead = "im PVOG-Abruf bestätigt" if language == "de" else "confirmed by the PVOG crawl"
        elif number and (witness["source_kind"] == "pvog" or (
                witness["source_kind"] == "linkwatch" and "pvog" not in earlier)):
            lead = "im PVOG angekommen" if language == "de" else "arrived in the PVOG"
        elif number and witness["source_kind"] == "tsa":
            lead = "im ZuFi gesehen" if language == "de" else "seen in the ZuFi"
        else:
            lead = name
        parts.append(f"{lead} {show(witness['at'])}")
    return "; ".join(parts)
