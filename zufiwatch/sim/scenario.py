"""A seven-day scenario that changes the directory the way the real ZuFi changes.

Day 0 is the base directory; day N applies the edits of days 1..N. Each day has one
theme and a list of :class:`ExpectedEdit` values: the changes a correct monitor must
report for that day (and nothing else). Days after the last one repeat the last
directory unchanged, so long benchmarks can run for any number of days.

Edits are copy-on-write: a day's directory shares every untouched object with the
previous day and holds private copies of the objects it changes.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ._common import format_timestamp, id_number, leistung_id, office_id, parse_timestamp
from ._offices import PHONE, communication
from .dataset import Directory, new_leistung_detail, titles_for

__all__ = ["ExpectedEdit", "Scenario"]

# Real Jena Leistungen (ZuFi ids from data/jena_rows.json) the scenario touches.
TIMESTAMP_ONLY_LEISTUNGEN = (
    leistung_id(355164),  # 99008001012000 Personalausweis beantragen
    leistung_id(354394),  # 99115005104000 Wohnung anmelden
    leistung_id(215864084),  # 99102013104000 Hundesteuer anmelden
)
TIMESTAMP_ONLY_OFFICE = office_id(20001)  # Bürgerservice Jena
JENA_THAVEL_LINK = "https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc"  # Geburtsurkunde, Jena
GERA_THAVEL_LINK = "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc"  # same Leistung, Gera
NEW_LEISTUNG_NAME = "Förderung eines Lastenfahrrads beantragen"
NEW_LEISTUNG_LEIKA = "99150001012000"
NEW_LEISTUNG_OFFICE = office_id(20010)  # Umweltamt
REMOVED_LEISTUNG = leistung_id(213716060)  # 99108011153000 Parkplatzabsperrung für Umzug
PHONE_OFFICE = office_id(20006)  # Standesamt Jena
FEE_LEISTUNG = leistung_id(354614)  # 99059002012000 Ehefähigkeitszeugnis, fees "50 / 100"
OLD_FEE, NEW_FEE = "50,00 EUR", "55,00 EUR"
TEXT_LEISTUNG = leistung_id(354824)  # 99050012104000 Gewerbe anmelden
ADDED_SENTENCE = "<p>Bitte vereinbaren Sie für die persönliche Vorsprache vorab einen Termin.</p>"
WHITESPACE_LEISTUNG = leistung_id(355220)  # 99085001012000 Reisepass beantragen


@dataclass(frozen=True)
class ExpectedEdit:
    """One change a monitor must detect on a scenario day."""

    kind: str  # "leistung" | "organisationseinheit" | "onlinedienst"
    id: str  # the source id
    change: str  # "added" | "removed" | "modified"
    field: str | None  # top-level normalised field for "modified", None otherwise
    description: str


class ScenarioError(ValueError):
    """The base directory lacks an object a scenario day needs."""


class _DayEditor:
    """Derives the next day's directory from the previous one, copying on write."""

    def __init__(self, previous: Directory, moment: datetime) -> None:
        self.directory = Directory(
            leistungen=dict(previous.leistungen),
            titles=dict(previous.titles),
            offices=dict(previous.offices),
            onlineservices=list(previous.onlineservices),
        )
        self.moment = moment
        self._owned: dict[int, dict] = {}  # id -> the private copies made today

    def _own(self, item: dict) -> dict:
        """``item`` itself if it is already today's private copy, else a new deep copy."""
        if self._owned.get(id(item)) is item:
            return item
        owned = copy.deepcopy(item)
        self._owned[id(owned)] = owned
        return owned

    def leistung(self, lbid: str) -> dict:
        if lbid not in self.directory.leistungen:
            raise ScenarioError(f"the base directory has no Leistung {lbid}")
        owned = self._own(self.directory.leistungen[lbid])
        self.directory.leistungen[lbid] = owned
        return owned

    def office(self, oeid: str) -> dict:
        if oeid not in self.directory.offices:
            raise ScenarioError(f"the base directory has no Organisationseinheit {oeid}")
        owned = self._own(self.directory.offices[oeid])
        self.directory.offices[oeid] = owned
        return owned

    def onlineservice_with_link(self, uri: str) -> dict:
        for index, service in enumerate(self.directory.onlineservices):
            if any(link["uri"] == uri for link in service["links"]):
                owned = self._own(service)
                self.directory.onlineservices[index] = owned
                return owned
        raise ScenarioError(f"the base directory has no online service with link {uri}")

    def stamp(self, minutes: int = 0) -> str:
        return format_timestamp(self.moment + timedelta(minutes=minutes))

    def touch_leistung(self, detail: dict, minutes: int) -> None:
        """Move the timestamps forward, as every real edit does (the edit, then the import
        that carries it: ``lastUpdate`` and ``timestamp``)."""
        detail["externalLastUpdate"] = self.stamp(minutes)
        detail["lastUpdate"] = detail["timestamp"] = self.stamp(minutes + 23)


def _module(detail: dict, code: str) -> dict:
    for module in detail["details"]:
        if module["code"] == code:
            return module
    raise ScenarioError(f"Leistung {detail['id']} has no text module {code}")


def _day1_timestamps_only(editor: _DayEditor) -> tuple[str, list[ExpectedEdit]]:
    for minutes, lbid in enumerate(TIMESTAMP_ONLY_LEISTUNGEN):
        editor.touch_leistung(editor.leistung(lbid), minutes * 7)
    editor.office(TIMESTAMP_ONLY_OFFICE)["lastUpdate"] = editor.stamp(40)
    ids = ", ".join(TIMESTAMP_ONLY_LEISTUNGEN)
    return (
        f"timestamp/lastUpdate/externalLastUpdate of {ids} and of office "
        f"{TIMESTAMP_ONLY_OFFICE} "
        "moved forward with no content change (nothing to report)"
    ), []


def _leistung_with_link(editor: _DayEditor, uri: str) -> str:
    for lbid, detail in editor.directory.leistungen.items():
        if any(link["uri"] == uri for link in detail["onlineServiceLinks"]):
            return lbid
    raise ScenarioError(f"the base directory has no Leistung with online link {uri}")


def _day2_foreign_thavel(editor: _DayEditor) -> tuple[str, list[ExpectedEdit]]:
    lbid = _leistung_with_link(editor, JENA_THAVEL_LINK)
    detail = editor.leistung(lbid)
    for link in detail["onlineServiceLinks"]:
        if link["uri"] == JENA_THAVEL_LINK:
            link["uri"] = GERA_THAVEL_LINK
    editor.touch_leistung(detail, 5)
    service = editor.onlineservice_with_link(JENA_THAVEL_LINK)
    for link in service["links"]:
        if link["uri"] == JENA_THAVEL_LINK:
            link["uri"] = GERA_THAVEL_LINK
    what = f"ThAVEL link of '{detail['name']}' ({lbid}) replaced by Gera's instance go/a/5741"
    return what, [
        ExpectedEdit(
            "leistung",
            lbid,
            "modified",
            "onlinedienste",
            f"online link {JENA_THAVEL_LINK} -> {GERA_THAVEL_LINK}",
        ),
        ExpectedEdit(
            "onlinedienst",
            service["id"],
            "modified",
            "links",
            f"link {JENA_THAVEL_LINK} -> {GERA_THAVEL_LINK} (another authority's instance)",
        ),
    ]


def _new_leika(directory: Directory) -> str:
    used = {key for detail in directory.leistungen.values() for key in detail["leikakeys"]}
    leika = int(NEW_LEISTUNG_LEIKA)
    while str(leika) in used:
        leika += 1000
    return str(leika)


def _day3_new_leistung(editor: _DayEditor) -> tuple[str, list[ExpectedEdit]]:
    directory = editor.directory
    number = max(id_number(lbid) for lbid in directory.leistungen) + 1009
    if NEW_LEISTUNG_OFFICE not in directory.offices:
        raise ScenarioError(f"the base directory has no Organisationseinheit {NEW_LEISTUNG_OFFICE}")
    detail = new_leistung_detail(
        number,
        NEW_LEISTUNG_NAME,
        _new_leika(directory),
        directory.offices[NEW_LEISTUNG_OFFICE],
        editor.moment,
    )
    directory.leistungen[detail["id"]] = detail
    directory.titles[detail["id"]] = titles_for(detail)
    return f"new Leistung '{NEW_LEISTUNG_NAME}' ({detail['id']}) appears", [
        ExpectedEdit(
            "leistung",
            detail["id"],
            "added",
            None,
            f"new Leistung '{NEW_LEISTUNG_NAME}' at {NEW_LEISTUNG_OFFICE}",
        ),
    ]


def _day4_removed_leistung(editor: _DayEditor) -> tuple[str, list[ExpectedEdit]]:
    directory = editor.directory
    detail = directory.leistungen.get(REMOVED_LEISTUNG)
    if detail is None or detail["onlineServiceLinks"]:
        raise ScenarioError(f"day 4 needs Leistung {REMOVED_LEISTUNG} without online links")
    del directory.leistungen[REMOVED_LEISTUNG]
    directory.titles.pop(REMOVED_LEISTUNG, None)
    return f"Leistung '{detail['name']}' ({REMOVED_LEISTUNG}) removed", [
        ExpectedEdit(
            "leistung",
            REMOVED_LEISTUNG,
            "removed",
            None,
            f"Leistung '{detail['name']}' no longer offered for Jena",
        ),
    ]


def _day5_office_phone(editor: _DayEditor) -> tuple[str, list[ExpectedEdit]]:
    office = editor.office(PHONE_OFFICE)
    phone = communication(office, PHONE)
    old = phone["value"]
    phone["value"] = old[:-1] + str((int(old[-1]) + 5) % 10)
    office["lastUpdate"] = editor.stamp(12)
    return f"phone number of '{office['title']}' ({PHONE_OFFICE}) changed", [
        ExpectedEdit(
            "organisationseinheit",
            PHONE_OFFICE,
            "modified",
            "kommunikation",
            f"phone {old} -> {phone['value']}",
        ),
    ]


def _day6_fee(editor: _DayEditor) -> tuple[str, list[ExpectedEdit]]:
    detail = editor.leistung(FEE_LEISTUNG)
    fees = _module(detail, "98")["details"]
    line = next((entry for entry in fees if OLD_FEE in entry["text"]), None)
    if line is None:
        raise ScenarioError(f"Leistung {FEE_LEISTUNG} has no fee of {OLD_FEE}")
    line["text"] = line["text"].replace(OLD_FEE, NEW_FEE)
    editor.touch_leistung(detail, 30)
    return f"fee of '{detail['name']}' ({FEE_LEISTUNG}) raised from {OLD_FEE} to {NEW_FEE}", [
        ExpectedEdit(
            "leistung",
            FEE_LEISTUNG,
            "modified",
            "texte",
            f"fee {OLD_FEE} -> {NEW_FEE} (module 98 Kosten)",
        ),
    ]


def _day7_text_and_whitespace(editor: _DayEditor) -> tuple[str, list[ExpectedEdit]]:
    detail = editor.leistung(TEXT_LEISTUNG)
    module = _module(detail, "06")
    module["text"] = module["text"] + ADDED_SENTENCE
    editor.touch_leistung(detail, 3)
    noise = editor.leistung(WHITESPACE_LEISTUNG)
    kurz = _module(noise, "24")
    if not kurz["text"].endswith("</p>"):
        raise ScenarioError(f"Leistung {WHITESPACE_LEISTUNG} module 24 does not end with </p>")
    kurz["text"] = kurz["text"][: -len("</p>")] + " </p>\n"
    editor.touch_leistung(noise, 9)
    return (
        f"sentence added to the Volltext of '{detail['name']}' ({TEXT_LEISTUNG}); "
        f"whitespace-only edit of {WHITESPACE_LEISTUNG} (nothing to report)"
    ), [
        ExpectedEdit(
            "leistung", TEXT_LEISTUNG, "modified", "texte", "sentence added to module 06 Volltext"
        ),
    ]


_DayFunction = Callable[[_DayEditor], tuple[str, list[ExpectedEdit]]]
_DAYS: tuple[_DayFunction, ...] = (
    _day1_timestamps_only,
    _day2_foreign_thavel,
    _day3_new_leistung,
    _day4_removed_leistung,
    _day5_office_phone,
    _day6_fee,
    _day7_text_and_whitespace,
)


def _latest_timestamp(directory: Directory) -> datetime:
    stamps = [detail["lastUpdate"] for detail in directory.leistungen.values()]
    stamps += [office["lastUpdate"] for office in directory.offices.values()]
    return parse_timestamp(max(stamps, key=lambda text: text[:19]))


class Scenario:
    """The base directory and its day-by-day edits (deterministic, cached)."""

    days: int = len(_DAYS)

    def __init__(self, base: Directory) -> None:
        self._directories: dict[int, Directory] = {0: base}
        self._edits: dict[int, list[ExpectedEdit]] = {0: []}
        self._descriptions: dict[int, str] = {
            0: (
                f"baseline: {len(base.leistungen)} Leistungen, {len(base.offices)} "
                f"Organisationseinheiten, {len(base.onlineservices)} online services"
            ),
        }
        latest = _latest_timestamp(base)
        self._start = datetime(
            latest.year, latest.month, latest.day, 5, 30, tzinfo=latest.tzinfo
        ) + timedelta(days=1)
        self._lock = threading.Lock()

    @staticmethod
    def _check(day: int) -> None:
        if day < 0:
            raise ValueError(f"scenario day must be >= 0, got {day}")

    def _ensure(self, day: int) -> int:
        """Compute days up to ``min(day, days)``; return that effective day."""
        self._check(day)
        effective = min(day, self.days)
        with self._lock:
            for current in range(1, effective + 1):
                if current in self._directories:
                    continue
                moment = self._start + timedelta(days=current - 1)
                editor = _DayEditor(self._directories[current - 1], moment)
                description, edits = _DAYS[current - 1](editor)
                self._directories[current] = editor.directory
                self._edits[current] = edits
                self._descriptions[current] = description
        return effective

    def effective_day(self, day: int) -> int:
        """The scenario day whose directory ``day`` serves (days past the end repeat it)."""
        self._check(day)
        return min(day, self.days)

    def directory_for(self, day: int) -> Directory:
        """The directory as of ``day`` (shared objects: copy before editing)."""
        return self._directories[self._ensure(day)]

    def edits(self, day: int) -> list[ExpectedEdit]:
        """The changes ``day`` introduces relative to ``day - 1``."""
        effective = self._ensure(day)
        return list(self._edits[effective]) if effective == day else []

    def describe(self, day: int) -> str:
        """One English line about what ``day`` changes."""
        effective = self._ensure(day)
        if effective != day:
            return f"day {day}: no changes (the scenario ends after day {self.days})"
        return f"day {day}: {self._descriptions[day]}"

    def date_of(self, day: int) -> datetime:
        """The moment (UTC) at which ``day``'s edits happen."""
        self._check(day)
        return self._start + timedelta(days=day - 1)


class ChurnScenario:
    """A directory in which a share of the Leistungen changes every day, for ever.

    Day N edits ``share`` of the Leistungen (chosen with a seeded random generator): a
    sentence is added to the Volltext (module 06, or the first text module) and both
    timestamps move. Only the last computed day is kept, so a year of days costs the
    memory of two. Same interface as :class:`Scenario` for :class:`SimulatedPVOG`.

    ``touch_all``: every other Leistung's ``lastUpdate`` and ``timestamp`` move too, as
    when the PVOG re-imports the whole directory every night without a real edit.
    """

    def __init__(self, base: Directory, share: float = 0.01, seed: int = 11, *,
                 touch_all: bool = False) -> None:
        self.days = 10**6
        self.share = share
        self.touch_all = touch_all
        self._seed = seed
        self._start = Scenario(base)._start
        self._day = 0
        self._directory = base
        self._edits: list[ExpectedEdit] = []
        self._lock = threading.Lock()

    def effective_day(self, day: int) -> int:
        if day < 0:
            raise ValueError(f"scenario day must be >= 0, got {day}")
        return day

    def directory_for(self, day: int) -> Directory:
        with self._lock:
            if day < self._day:
                raise ValueError(f"ChurnScenario only moves forward (at day {self._day})")
            while self._day < day:
                self._day += 1
                self._directory, self._edits = self._next(self._directory, self._day)
            return self._directory

    def _next(self, previous: Directory, day: int) -> tuple[Directory, list[ExpectedEdit]]:
        editor = _DayEditor(previous, self.date_of(day))
        rng = random.Random(self._seed * 100_003 + day)
        ids = sorted(previous.leistungen)
        chosen = rng.sample(ids, max(1, round(len(ids) * self.share)))
        edits = []
        for lb_id in chosen:
            detail = editor.leistung(lb_id)
            modules = [m for m in detail["details"] if m.get("text") and m["code"] not in
                       ("93", "94") and not m.get("placeholder")]
            module = next((m for m in modules if m["code"] == "06"), modules[0])
            module["text"] += f"<p>Aktualisiert am Tag {day}.</p>"
            editor.touch_leistung(detail, rng.randrange(600))
            edits.append(ExpectedEdit("leistung", lb_id, "modified", "texte",
                                      f"day {day}: sentence added"))
        if self.touch_all:
            edited = set(chosen)
            for lb_id in ids:
                if lb_id not in edited:
                    detail = editor.leistung(lb_id)
                    detail["lastUpdate"] = detail["timestamp"] = editor.stamp(
                        rng.randrange(600) + 23)
        return editor.directory, edits

    def edits(self, day: int) -> list[ExpectedEdit]:
        self.directory_for(day)
        return list(self._edits) if day == self._day and day > 0 else []

    def describe(self, day: int) -> str:
        return f"day {day}: {len(self.edits(day))} Leistungen edited"

    def date_of(self, day: int) -> datetime:
        return self._start + timedelta(days=day - 1)
