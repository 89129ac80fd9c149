"""The one verbatim PVOG detail answer found in public, parsed end to end.

``tests/payloads/pvog/pvog-v5-detail-B100019.LB.574711.json`` (Ausbildungsgeld beantragen,
Bund, 2025-01): every module, link and validity field of it is accounted for here, and
every key of it is a known key of the detail's shape (no drift on the seen answer).
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shuffled_json
from zufiwatch.model import canonical_json
from zufiwatch.sources.drift import unknown_keys
from zufiwatch.sources.pvog import (
    EP_DETAIL,
    SHAPES,
    leistung_office_ids,
    parse_leistung,
)

PAYLOAD = Path(__file__).parent / "payloads" / "pvog" / "pvog-v5-detail-B100019.LB.574711.json"
EID = "Elektronische Identifizierung mittels nationalen eID Mittel - "


@pytest.fixture
def raw() -> dict[str, Any]:
    return json.loads(PAYLOAD.read_text(encoding="utf-8"))


@pytest.fixture
def content(raw: dict[str, Any]) -> dict[str, Any]:
    return parse_leistung(raw).content



def test_every_key_of_the_verbatim_answer_is_known(raw: dict[str, Any]) -> None:
    assert unknown_keys(raw, SHAPES[EP_DETAIL]) == set()
    assert unknown_keys({**raw, "newInV8": 1}, SHAPES[EP_DETAIL]) == {"newInV8"}


def test_top_level_facts(raw: dict[str, Any], content: dict[str, Any]) -> None:
    record = parse_leistung(raw)
    assert record.key == "leistung:B100019.LB.574711"
    assert content["name"] == "Ausbildungsgeld beantragen"
    assert content["leika"] == ["99007002017000"]
    assert content["ars"] == ["000000000000"]
    assert content["synonyme"] == sorted(raw["synonyms"]) and len(content["synonyme"]) == 10
    # The only period repeats the window: kept once.
    assert raw["validityPeriods"] == [{"validFrom": "1970-01-01", "validTo": "2999-12-31"}]
    assert content["gueltigkeit"] == {"von": "1970-01-01", "bis": "2999-12-31", "zeitraeume": []}
    assert content["ursprungsportal"] == [{"url": "https://fimportal.de/detail/L/99007002017000",
                                           "titel": "Ausbildungsgeld Bewilligung"}]
    assert content["fachliche_freigabe"] == {}  # this answer has no module 93
    # The offices are named only by organisationIds: kept without name and role.
    assert content["zustaendigkeiten"] == [
        {"id": oe, "name": "", "rolle": "", "rollenname": ""}
        for oe in sorted(raw["organisationIds"])]
    assert leistung_office_ids(raw, []) == set(raw["organisationIds"])
    # The import time and the search terms are volatile, never content.
    assert record.volatile == {"timestamp": "2025-01-20T01:26:46.650442062Z",
                               "lastUpdate": "2025-01-20T01:26:46.650442062Z",
                               "externalLastUpdate": "2024-01-24T12:21:29Z",
                               "suggest": raw["suggest"]}
    assert "2025-01-20" not in canonical_json(content)
    assert "ausbildungsunterstützung" not in canonical_json(content)  # a search term only
    assert set(content) == {"name", "leika", "ars", "synonyme", "gueltigkeit", "texte",
                            "fachliche_freigabe", "onlinedienste", "zustaendigkeiten",
                            "ursprungsportal"}


def test_the_online_service_link_with_id_validity_and_trust(content: dict[str, Any]) -> None:
    assert content["onlinedienste"] == [{
        "url": "https://www.arbeitsagentur.de/menschen-mit-behinderungen/berufliche-rehabilitation",
        "titel": "Berufliche Rehabilitation durch die Bundesagentur für Arbeit",
        "id": "B100019.OD.105136908",
        "gueltig_von": "1970-01-01", "gueltig_bis": "2999-12-31",
        "gueltigkeitszeitraeume": [],  # the one period is the window itself
        "vertrauensniveau": "15",
        # The source's line break and indentation inside a method are formatting only.
        "identifizierung": [EID + "Benutzername/Passwort", EID + "Personalausweis"],
    }]


def test_every_module_is_accounted_for(raw: dict[str, Any], content: dict[str, Any]) -> None:
    texte = content["texte"]
    assert sorted(texte) == sorted(m["code"] for m in raw["details"]) == [
        "02", "03", "06", "07", "08", "09", "11", "14", "15", "18", "22", "23", "24", "25",
        "95", "97", "98", "STATUS", "STATUSKATALOG"]
    assert texte["24"] == {"titel": "Kurzinfo", "text": (
        "Als Mensch mit Behinderungen können Sie zur Sicherung des Lebensunterhaltes "
        "Ausbildungsgeld erhalten, wenn Sie an bestimmten Bildungsmaßnahmen teilnehmen.")}
    dienststelle = ("Die für Sie zuständige Dienststelle der Bundesagentur für Arbeit finden "
                    "Sie über den Dienststellenfinder.")
    assert texte["23"] == {"titel": "Ansprechpunkt", "text": dienststelle}
    assert texte["22"] == {"titel": "Zuständige Stelle", "text": dienststelle}
    beschreibung = texte["06"]
    assert beschreibung["titel"] == "Beschreibung" and set(beschreibung) == {"titel", "text"}
    lines = beschreibung["text"].split("\n")
    assert len(lines) == 15
    assert lines[0].startswith("Wenn Sie eine Behinderung haben")
    assert "Das Einkommen spielt nur während der beruflichen Ausbildung eine Rolle." in lines[0]
    assert lines[3] == "- der Maßnahme, an der Sie teilnehmen und"
    assert lines[4].startswith("- der Art der Unterbringung")
    assert lines[9:13] == ["- Eheschließung", "- Geburt eines Kindes", "- Wohnungswechsel",
                           "- Wahrnehmung eines Gerichtstermins"]
    assert lines[-1] == ("Das Ausbildungsgeld wird Ihnen als Zuschuss gezahlt, Sie müssen es "
                         "nicht zurückzahlen.")
    assert texte["09"]["titel"] == "Voraussetzungen"
    assert texte["09"]["text"].split("\n") == [
        "- Sie haben eine Behinderung und Ihr zuständiger Rehabilitationsträger ist die "
        "Bundesagentur für Arbeit.",
        "- Sie werden an einer der folgenden Maßnahmen teilnehmen:",
        "- (erste) berufliche Ausbildung,",
        "- berufsvorbereitende Bildungsmaßnahme einschließlich einer Grundausbildung,",
        "- individuelle betriebliche Qualifizierung im Rahmen der Unterstützten Beschäftigung,",
        "- Eingangsverfahren oder Berufsbildungsbereich in einer Werkstatt für behinderte "
        "Menschen oder bei einem anderen Leistungsanbieter.",
        "- Sie haben keinen Anspruch auf Übergangsgeld."]
    assert texte["08"] == {"titel": "Erforderliche Unterlagen", "text": (
        "Bitte erfragen Sie bei Ihrer Kontaktaufnahme mit Ihrer Beraterin oder Ihrem Berater, "
        "welche Unterlagen Sie im Einzelnen benötigen.")}
    assert texte["14"] == {"titel": "Formulare", "text": (
        "Formulare vorhanden: Nein\nSchriftform erforderlich: Ja\nFormlose Antragsstellung "
        "möglich: Nein\nPersönliches Erscheinen nötig: Nein\nOnline-Dienste vorhanden: Ja")}
    assert texte["15"] == {"titel": "weiterführende Informationen", "text": "", "links": [
        {"url": "https://www.arbeitsagentur.de/datei/merkblatt-12-teilhabe_ba015371.pdf",
         "titel": "Merkblatt der Bundesagentur für Arbeit zur Förderung der Teilhabe am "
                  "Arbeitsleben (Merkblatt 12)"},
        {"url": "https://www.arbeitsagentur.de/menschen-mit-behinderungen/"
                "unterstuetzung-finanzielle-hilfen",
         "titel": "Informationen der Bundesagentur für Arbeit zu finanziellen Hilfen für "
                  "Menschen mit Behinderungen"},
        {"url": "https://www.arbeitsagentur.de/veroeffentlichungen/gesetze-und-weisungen",
         "titel": "Fachliche Weisungen der Bundesagentur für Arbeit zum Ausbildungsgeld "
                  "(§§ 122 - 126 SGB III)"}]}
    assert texte["07"] == {"titel": "Rechtsgrundlage(n)", "text": "", "links": [
        {"url": "https://www.gesetze-im-internet.de/sgb_3/index.html",
         "titel": "§§ 122 bis 126 Sozialgesetzbuch Drittes Buch (SGB III)"}]}
    # The placeholder: "no content", its filler "nicht angegeben" is not stored.
    assert texte["18"] == {"titel": "Urheber", "text": "", "platzhalter": True}
    assert "nicht angegeben" not in canonical_json(content)
    assert texte["02"] == {"titel": "Leistungsbezeichnung", "text": "Ausbildungsgeld Bewilligung"}
    assert texte["03"] == {"titel": "Leistungsbezeichnung II (Leistungsname)",
                           "text": "Ausbildungsgeld beantragen"}
    verfahren = texte["11"]["text"].split("\n")
    assert texte["11"]["titel"] == "Verfahrensablauf" and len(verfahren) == 7
    assert verfahren[0] == "Das Ausbildungsgeld müssen Sie schriftlich beantragen:"
    assert verfahren[5] == "Verlängerung:"
    assert verfahren[6].startswith("- Wenn Ihre Ausbildungsmaßnahme länger als 18 Monate dauert")
    assert texte["25"] == {"titel": "Rechtsbehelf", "text": (
        "Widerspruch bei der Agentur für Arbeit, die den Bescheid erlassen hat. Weitere "
        "Informationen, wie Sie Widerspruch einlegen können, finden Sie im jeweiligen Bescheid.")}
    assert texte["STATUS"] == {"titel": "Status Bibliothekseintrag", "text": "6"}
    assert texte["STATUSKATALOG"] == {"titel": "Status Katalogeintrag", "text": "6"}
    assert "\xa0" not in canonical_json(content)  # &#xa0; is whitespace like any other


def test_module_details_with_their_sub_modules(content: dict[str, Any]) -> None:
    texte = content["texte"]
    # 98 Kosten: a _moduleDetail without sub-modules.
    assert texte["98"] == {"titel": "Kosten & Gebühren", "text": "Keine"}
    # 97 Fristen: its text and the sub-module 009.
    assert texte["97"] == {"titel": "Fristen", "text": (
        "Das Ausbildungsgeld muss beantragt werden, bevor die Ausbildung oder die Maßnahme "
        "beginnt.\nHinweis: Wenn Sie den Antrag stellen, nachdem Ihre Ausbildung oder "
        "Maßnahme begonnen hat, wird das Ausbildungsgeld erst ab Beginn des Monats gezahlt, "
        "in dem Sie den Antrag gestellt haben."),
        "details": [{"titel": "Widerspruchsfrist", "text": (
            "Widerspruch kann innerhalb eines Monats nach Bekanntgabe des Bescheides "
            "eingelegt werden.: 1 Monat")}]}
    # 95 Bearbeitungsdauer: no text of its own, the duration in its sub-module.
    assert texte["95"] == {"titel": "Bearbeitungsdauer", "text": "", "details": [{
        "titel": "Bei Abgabe vor Beginn der Ausbildung oder Maßnahme: rund 1 Monat nach "
                 "Beginn der Ausbildung oder Maßnahme. Bei Abgabe des Fragebogens nach Beginn "
                 "der Ausbildung oder Maßnahme: rund 1 Monat",
        "text": "1 Monat"}]}



@pytest.mark.parametrize("seed", range(3))
def test_noise_does_not_change_the_record(raw: dict[str, Any], seed: int) -> None:
    """Import time, search terms, order, HTML whitespace and placeholder filler."""
    reference = parse_leistung(raw).hash
    noisy = shuffled_json(copy.deepcopy(raw), random.Random(seed))
    noisy["timestamp"] = noisy["lastUpdate"] = "2025-01-21T01:30:00.000000000Z"
    noisy["suggest"] = ["ausbildungsgeld"]
    for module in noisy["details"]:
        if module["placeholder"]:
            module["text"] = "keine Angabe"
        elif module["text"].startswith("<p>"):
            module["text"] = module["text"].replace("</p> <p>", "</p>\n\n   <p>")
    assert parse_leistung(noisy).hash == reference
