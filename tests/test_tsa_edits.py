"""A day later in the ZuFi (seen shapes, over HTTP): what an editor changes is reported
once with its new value; timestamps, list order and whitespace are not."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import FakeClock, crawl_then_advance, current_volatile, zufi_source
from zufiwatch.archive import Archive
from zufiwatch.config import SourceSettings
from zufiwatch.fetch import Fetcher
from zufiwatch.model import ChangeType, Outcome
from zufiwatch.sim import Scenario
from zufiwatch.sim.tsa import SimulatedTSA, synthetic_service_id
from zufiwatch.store import History

API_KEY = "sim-api-key"
GEBURTSURKUNDE = 354790
JENA_THAVEL = "https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc"
NEW_LINK = "https://ajproxy.jena.de/olav/geburtsurkunde?_flowExecutionKey=e1s1"
STANDESAMT = 20006
BUERGERSERVICE = 20001
ORDNUNGSAMT = 20002
NEW_SPECIALISATION = "<p>In Jena  nur nach <strong>Terminvereinbarung</strong>.</p>"


@pytest.fixture
def tsa(scenario: Scenario) -> Iterator[SimulatedTSA]:
    with SimulatedTSA(scenario, lead_days=0) as server:
        yield server


@pytest.fixture
def zufi(tsa: SimulatedTSA, monkeypatch: pytest.MonkeyPatch) -> SourceSettings:
    return zufi_source(tsa.base_url, monkeypatch, api_key=API_KEY)


crawl = crawl_then_advance


def shuffled(pst: dict) -> None:
    """Every list of a Leistung in the opposite order."""
    for name in ("textBlocks", "charges", "documents", "leikaKeys", "receivers"):
        pst[name].reverse()
    for block in pst["textBlocks"]:
        block["specialisations"].reverse()
        block["externalLinks"].reverse()


def spaced(pst: dict) -> None:
    """Whitespace around and inside every text of a Leistung."""
    pst["teaser"] = "\n  " + pst["teaser"].replace(" ", "  ") + "  \n"
    for block in pst["textBlocks"]:
        block["text"] = block["text"].replace("</p>", " </p>\n").replace("<br>", "<br>\n  ")
        for spec in block["specialisations"]:
            spec["text"] = "  " + spec["text"] + "\n"
    for charge in pst["charges"]:
        charge["name"] = f" {charge['name']}  "


def later(stamped: dict) -> None:
    stamped["lastUpdated"] = "2031-01-01T00:00:00.000Z"


def test_a_day_later_each_edit_is_reported_once_with_its_new_value_and_noise_is_not(
        tsa: SimulatedTSA, zufi: SourceSettings, history: History, archive: Archive,
        fetcher: Fetcher, clock: FakeClock) -> None:
    data = tsa.data()
    variable = next(p for p in sorted(data.psts) if any(
        c["type"] == "VARIABLE" and "upperLimit" in c and c["restrictedArea"]
        for c in data.psts[p]["charges"]))
    local = next(p for p in sorted(data.psts) if p != variable and any(
        b["specialisations"] for b in data.psts[p]["textBlocks"]))
    (block,) = [b for b in data.psts[local]["textBlocks"] if b["specialisations"]]
    noise = [p for p in sorted(data.psts) if p not in (variable, local, GEBURTSURKUNDE)][:3]
    baseline = crawl(zufi, history, archive, fetcher, clock)
    assert baseline.outcome is Outcome.COMPLETE, baseline.reason

    # The editors' changes, all in the ZuFi only.
    (auslagen,) = [c for c in data.psts[variable]["charges"] if c["name"] == "Auslagen"]
    tsa.set_charge(variable, "Auslagen", upperLimit=auslagen["upperLimit"] + 40)
    tsa.set_specialisation(local, NEW_SPECIALISATION, block=block["type"]["key"])
    tsa.set_links(GEBURTSURKUNDE, [NEW_LINK])
    tsa.set_address(STANDESAMT, street="Löbdergraben", houseNumber="12")
    # Noise: timestamps, order, whitespace (and the scenario's day 1 moves timestamps too).
    for pst, edit in zip(noise, (later, shuffled, spaced), strict=True):
        tsa.edit_pst(pst, edit)
    tsa.edit_pst(local, shuffled)
    tsa.edit_ou(BUERGERSERVICE, later)
    tsa.edit_ou(ORDNUNGSAMT, lambda ou: [ou[name].reverse() for name in (
        "addresses", "communications", "paymentMethods")])
    tsa.edit_ou(ORDNUNGSAMT, lambda ou: ou.update(
        openingHours=ou["openingHours"].replace("<br>", " <br>\n "),
        description="  " + ou["description"]))
    tsa.set_day(1)
    result = crawl(zufi, history, archive, fetcher, clock)
    assert result.outcome is Outcome.COMPLETE, result.reason

    changes = {key: [(c.change_type, c.path, c.old, c.new) for c in found]
               for key in {k for k, _ in result.changes}
               for found in [[c for k, c in result.changes if k == key]]}
    low = f"{auslagen['lowerLimit']:.2f}".replace(".", ",")
    up = auslagen["upperLimit"]
    assert changes.pop(f"leistung:{variable}") == [(
        ChangeType.MODIFIED, "gebuehren[Auslagen:Jena].betrag",
        f"{low}–{up:.2f} EUR".replace(".", ","), f"{low}–{up + 40:.2f} EUR".replace(".", ","))]
    ((kind, path, old, new),) = changes.pop(f"leistung:{local}")
    assert (kind, path) == (ChangeType.MODIFIED,
                            f"texte.{block['type']['key']}.spezialisierungen[351529].text")
    assert new == "In Jena nur nach Terminvereinbarung." and old != new
    ((kind, path, old, new),) = changes.pop(f"leistung:{GEBURTSURKUNDE}")
    assert (kind, path, old["url"]) == (ChangeType.MODIFIED, f"onlinedienste[{JENA_THAVEL}]",
                                        JENA_THAVEL)
    assert new["url"] == "https://ajproxy.jena.de/olav/geburtsurkunde"
    assert new["id"] == str(synthetic_service_id(NEW_LINK))
    ((kind, path, old, new),) = changes.pop(f"organisationseinheit:{STANDESAMT}")
    assert (kind, path) == (ChangeType.MODIFIED,
                            "anschriften[Hausanschrift:Markt:1:07743:Jena]")
    assert (new["strasse"], new["hausnummer"], new["plz"]) == ("Löbdergraben", "12", "07743")
    assert (old["strasse"], old["hausnummer"]) == ("Markt", "1")
    # The new online service is a record of its own; nothing else changed.
    # It shows its link, which is what the working group needs to judge it.
    assert changes == {f"onlinedienst:{synthetic_service_id(NEW_LINK)}": [
        (ChangeType.ADDED, "", None, {"name": "Zum Online-Antrag", "links": [
            {"url": "https://ajproxy.jena.de/olav/geburtsurkunde",
             "titel": "Zum Online-Antrag"}]})]}
    # The noise was served and read: the new timestamps are kept, as volatile facts.
    for key in (f"leistung:{noise[0]}", f"organisationseinheit:{BUERGERSERVICE}"):
        volatile = current_volatile(history, key, "zufi-test")
        assert json.loads(volatile) == {"lastUpdate": "2031-01-01T00:00:00.000Z"}

    # Reported once: the next day says nothing more about them; the online service that
    # lost its only Leistung is gone after its second miss.
    tsa.set_day(2)
    again = crawl(zufi, history, archive, fetcher, clock)
    assert again.outcome is Outcome.COMPLETE, again.reason
    (old_service,) = [e["object"]["id"] for e in data.online[GEBURTSURKUNDE]]
    assert [(k, c.change_type) for k, c in again.changes] == [
        (f"onlinedienst:{old_service}", ChangeType.REMOVED)]
