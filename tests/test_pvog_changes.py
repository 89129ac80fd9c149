"""A day later, against the simulated PVOG in the seen shapes (issue 13, "Done when"):
changed INFO_TIMES opening hours, a changed phone, a moved ``validTo`` of an online-service
link and a lowered level of confidence are each reported exactly once, with the new value
in the change; a change only of timestamp/lastUpdate, of module order, of whitespace in
HTML or of placeholder filler text is not reported."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import Crawler, FakeClock, current_volatile
from zufiwatch.archive import Archive
from zufiwatch.config import SourceSettings
from zufiwatch.fetch import Fetcher
from zufiwatch.model import Outcome, record_key
from zufiwatch.sim import JENA_ARS, Directory, SimulatedPVOG, build_directory
from zufiwatch.store import History

NEW_HOURS = "<p>Mo–Fr 07:30–12:00 Uhr<br>Do 14:00–19:00 Uhr</p>"
NEW_PHONE = "+49 3641 49-9999"
NEW_VALID_TO = "2026-11-30"
LOWER_CONFIDENCE = "10"


class NextDay:
    """A scenario of two days: the base directory, then ``edit`` applied to a copy."""

    days = 1

    def __init__(self, base: Directory, edit: Callable[[Directory], None]) -> None:
        self._directories = {0: base}
        changed = base.copy()
        edit(changed)
        self._directories[1] = changed

    def effective_day(self, day: int) -> int:
        return min(day, self.days)

    def directory_for(self, day: int) -> Directory:
        return self._directories[self.effective_day(day)]


@dataclass
class Picked:
    """The entries the next day edits, one per kind of edit."""

    hours_office: str
    phone_office: str
    valid_to: str
    confidence: str
    timestamps: str
    order: str
    whitespace: str
    filler: str
    office_stamp: str


def _pick(directory: Directory) -> Picked:
    with_eid = [lbid for lbid, d in directory.leistungen.items()
                if any(link["levelOfConfidence"] == "15" for link in d["onlineServiceLinks"])]
    others = [lbid for lbid in directory.leistungen if lbid not in with_eid[:2]]
    offices = sorted(directory.offices)
    return Picked(offices[0], offices[1], with_eid[0], with_eid[1], *others[:4], offices[2])


def _edit(picked: Picked) -> Callable[[Directory], None]:
    def edit(directory: Directory) -> None:
        hours = directory.offices[picked.hours_office]
        next(i for i in hours["additionalInformation"] if i["type"] == "INFO_TIMES")[
            "text"] = NEW_HOURS
        phone = directory.offices[picked.phone_office]
        next(c for c in phone["location"]["communications"] if c["name"] == "Telefon")[
            "value"] = NEW_PHONE
        # The link's validity window moves, its period with it (as the live data repeats it).
        link = directory.leistungen[picked.valid_to]["onlineServiceLinks"][0]
        link["validTo"] = NEW_VALID_TO
        link["validityPeriods"] = [{"validFrom": link["validFrom"], "validTo": NEW_VALID_TO}]
        lowered = next(link for link in directory.leistungen[picked.confidence][
            "onlineServiceLinks"] if link["levelOfConfidence"] == "15")
        lowered["levelOfConfidence"] = LOWER_CONFIDENCE
        # Every edited Leistung moves its timestamps, as real edits do.
        for lbid in (picked.valid_to, picked.confidence, picked.timestamps, picked.order,
                     picked.whitespace, picked.filler):
            detail = directory.leistungen[lbid]
            detail["timestamp"] = detail["lastUpdate"] = "2026-09-30T01:26:46.650442062Z"
            detail["externalLastUpdate"] = "2026-09-29T17:00:00Z"
        directory.leistungen[picked.order]["details"].reverse()
        for module in directory.leistungen[picked.whitespace]["details"]:
            if module["text"].startswith("<"):
                module["text"] = module["text"].replace("<p>", "\n  <p>  ").replace(
                    "</li>", " </li>\n")
        filler = next(m for m in directory.leistungen[picked.filler]["details"]
                      if m["placeholder"])
        filler["text"] = "keine Angabe"
        directory.offices[picked.office_stamp]["lastUpdate"] = "2026-09-30T02:00:00.000Z"
    return edit


@pytest.fixture(scope="module")
def base() -> Directory:
    return build_directory(0)


@pytest.fixture
def next_day(base: Directory, tmp_path, fetcher: Fetcher,
             clock: FakeClock) -> Iterator[tuple[Crawler, Picked]]:
    picked = _pick(base)
    with SimulatedPVOG(NextDay(base, _edit(picked))) as pvog, \
            History(tmp_path / "h.db") as history:
        source = SourceSettings(name="pvog-seen", kind="pvog", base_url=pvog.base_url,
                                ars=JENA_ARS, page_size=25, max_concurrency=3, min_interval=0)
        yield Crawler(pvog, source, history, Archive(tmp_path / "snap"), fetcher, clock), picked


def _changes(result: Any) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for key, change in result.changes:
        found.setdefault(key, []).append(change)
    return found


def test_audit_facts_are_reported_once_and_noise_not_at_all(
        next_day: tuple[Crawler, Picked]) -> None:
    crawler, picked = next_day
    first = crawler.day(0)
    assert first.outcome is Outcome.COMPLETE, first.reason
    details = [path for path in crawler.pvog.requests if path.startswith(
        "/suchdienst/api/v6/servicedescriptions/")]
    assert details and all("applyDynamicParams=true" in path for path in details)
    result = crawler.day(1)
    assert result.outcome is Outcome.COMPLETE, result.reason
    changes = _changes(result)
    office = "organisationseinheit"
    assert set(changes) == {record_key(office, picked.hours_office),
                            record_key(office, picked.phone_office),
                            record_key("leistung", picked.valid_to),
                            record_key("leistung", picked.confidence)}
    assert all(len(found) == 1 for found in changes.values()), changes

    (hours,) = changes[record_key(office, picked.hours_office)]
    assert (hours.path, hours.new) == ("oeffnungszeiten",
                                       "Mo–Fr 07:30–12:00 Uhr\nDo 14:00–19:00 Uhr")
    (phone,) = changes[record_key(office, picked.phone_office)]
    assert phone.path.startswith("kommunikation[Telefon:")
    assert phone.new == {"kanal": "Telefon", "wert": NEW_PHONE}
    assert phone.old["kanal"] == "Telefon" and phone.old["wert"] != NEW_PHONE
    (valid_to,) = changes[record_key("leistung", picked.valid_to)]
    assert valid_to.path.endswith("].gueltig_bis") and valid_to.path.startswith("onlinedienste[")
    before = crawler.pvog.scenario.directory_for(0).leistungen[picked.valid_to]
    assert (valid_to.old, valid_to.new) == (before["onlineServiceLinks"][0]["validTo"],
                                            NEW_VALID_TO)
    (confidence,) = changes[record_key("leistung", picked.confidence)]
    assert confidence.path.endswith("].vertrauensniveau")
    assert (confidence.old, confidence.new) == ("15", LOWER_CONFIDENCE)

    # The noise moved the volatile fields only.
    stamp = current_volatile(crawler.history, record_key("leistung", picked.timestamps))
    assert "2026-09-30T01:26:46.650442062Z" in stamp
    assert crawler.day(1).changes == []
