"""Parsing recorded PVOG payloads (seen shapes): pure, tolerant of extras and of missing or
null optional fields, strict about required fields."""

from __future__ import annotations

import copy
import html
import json
import random
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shuffled_json
from zufiwatch.errors import MalformedPayload, MissingField, PayloadError
from zufiwatch.sources.base import decode_json
from zufiwatch.sources.pvog import (
    leistung_office_ids,
    parse_leistung,
    parse_listing,
    parse_office,
    parse_onlineservices,
)

PAYLOADS = Path(__file__).parent / "payloads" / "pvog"
JENA = "160530000000"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def test_listing_page() -> None:
    page = parse_listing(load("v7_listing_page.json"))
    assert page.ids == ("S1600001.LB.724923", "S1600001.LB.355152")
    assert page.total_elements == 7 and page.total_pages == 2 and not page.last
    assert page.last_update == {"S1600001.LB.355152": "2026-07-20T13:42:54.056Z"}


def test_leistung_from_detail_and_titles() -> None:
    record = parse_leistung(load("v6_detail_bewohnerparkausweis.json"),
                            load("v2_titles_bewohnerparkausweis.json"))
    content = record.content
    assert record.key == "leistung:S1600001.LB.355152"
    assert content["name"] == "Parkausweis - Bewohnerparkausweis beantragen"
    assert content["leika"] == ["99108001001000"]
    assert content["synonyme"] == ["Anwohnerparken", "Bewohnerparken", "Parkausweis"]
    assert content["gueltigkeit"] == {"von": "2024-01-01", "bis": "2999-12-31", "zeitraeume": []}
    assert content["onlinedienste"] == [{
        "url": "https://ajproxy.jena.de/olav/olav.htm?_flowId=parkausweisbeantragen-flow",
        "titel": "Bewohnerparkausweis online beantragen",
        "id": "S1600001.OD.400111", "gueltig_von": "2024-01-01", "gueltig_bis": "2026-12-31",
        "gueltigkeitszeitraeume": [], "vertrauensniveau": "10", "identifizierung": []}]
    assert content["texte"]["06"]["text"] == ("In Gebieten mit Bewohnerparken dürfen Sie mit "
                                              "einem gültigen Ausweis parken.\n"
                                              "Der Ausweis gilt für ein Fahrzeug.")
    assert content["texte"]["09"]["text"] == (
        "- Hauptwohnsitz im Gebiet\n- Fahrzeug auf Sie zugelassen")
    # A placeholder module says "no content": its filler text is never stored.
    assert content["texte"]["08"] == {"titel": "Unterlagen", "text": "", "platzhalter": True}
    assert content["texte"]["STATUS"] == {"titel": "Status Bibliothekseintrag", "text": "6"}
    assert [d["text"] for d in content["texte"]["98"]["details"]] == [
        "120,00 EUR", "10,50 EUR", "0,30 EUR"]  # sorted by title: Jahr, Monat, Tag
    assert content["texte"]["07"]["links"][0]["url"] == (
        "https://www.gesetze-im-internet.de/stvo_2013/__45.html")
    assert content["fachliche_freigabe"] == {
        "stelle": "Thüringer Ministerium für Digitales und Infrastruktur", "datum": "2026-07-17"}
    assert [u["url"] for u in content["ursprungsportal"]] == [
        "https://buerger.thueringen.de/portaldeeplink/?tsa_gebiet_id=351529"
        "&tsa_leistung_id=355152&tsa_sprache=de_DE"]
    assert [(o["rolle"], o["id"]) for o in content["zustaendigkeiten"]] == [
        ("01", "S1600001.OE.20003"), ("03", "S1600001.OE.20009")]
    assert content["zustaendigkeiten"][1]["name"] == "Bürgerservice Jena"
    assert record.volatile == {
        "lastUpdate": "2026-07-21T01:26:46.650442062Z",
        "timestamp": "2026-07-21T01:26:46.650442062Z",
        "externalLastUpdate": "2026-07-20T13:42:54.056Z",
        "suggest": ["parkausweis", "bewohnerparkausweis", "beantragen",
                    "Parkausweis - Bewohnerparkausweis beantragen"]}


def test_only_required_fields_are_needed() -> None:
    record = parse_leistung(load("v6_detail_minimal.json"))
    assert record.content == {
        "name": "Wohnen - Antrag auf Abgeschlossenheitsbescheinigung", "leika": [], "ars": [],
        "synonyme": [], "gueltigkeit": {}, "texte": {}, "fachliche_freigabe": {},
        "onlinedienste": [], "zustaendigkeiten": [], "ursprungsportal": []}
    assert record.volatile == {}


def test_null_lists_and_fields_are_absent_ones() -> None:
    minimal = load("v6_detail_minimal.json")
    nulls = dict(minimal, **dict.fromkeys((
        "leikakeys", "ars", "synonyms", "details", "onlineServiceLinks", "organisationIds",
        "sourcePortals", "validityPeriods", "validFrom", "validTo", "timestamp", "lastUpdate",
        "suggest")))
    assert parse_leistung(nulls) == parse_leistung(minimal)
    link = {"uri": "https://www.elster.de/", "title": "ELSTER", "id": None, "validFrom": None,
            "validTo": None, "validityPeriods": None, "levelOfConfidence": None,
            "identificationMethods": None}
    module = {"code": "06", "title": None, "text": None, "links": None, "details": None,
              "placeholder": None}
    record = parse_leistung(dict(minimal, onlineServiceLinks=[link], details=[module]))
    assert record.content["onlinedienste"] == [{
        "url": "https://www.elster.de/", "titel": "ELSTER", "id": "", "gueltig_von": "",
        "gueltig_bis": "", "gueltigkeitszeitraeume": [], "vertrauensniveau": "",
        "identifizierung": []}]
    assert record.content["texte"] == {"06": {"titel": "", "text": ""}}
    office = {"id": "S1.OE.1", "title": "Amt", "location": None, "internetAddresses": None,
              "additionalInformation": None, "lastUpdate": None}
    assert parse_office(office).content == {
        "name": "Amt", "anschriften": [], "kommunikation": [], "internetadressen": [],
        "oeffnungszeiten": "", "zusatzinformationen": {}}
    assert parse_office(dict(office, location={"addresses": None, "communications": None})
                        ).content == parse_office(office).content


def test_validity_periods_other_than_the_window_are_kept() -> None:
    periods = [{"validFrom": "2025-01-01", "validTo": "2999-12-31"},
               {"validFrom": "2020-01-01", "validTo": "2022-06-30"}, None]
    detail = dict(load("v6_detail_minimal.json"), validFrom="2025-01-01", validTo="2999-12-31",
                  validityPeriods=periods)
    detail["onlineServiceLinks"] = [{"uri": "https://www.elster.de/", "validTo": "2026-01-31",
                                     "validityPeriods": periods}]
    content = parse_leistung(detail).content
    assert content["gueltigkeit"] == {"von": "2025-01-01", "bis": "2999-12-31", "zeitraeume": [
        {"von": "2020-01-01", "bis": "2022-06-30"}]}
    (link,) = content["onlinedienste"]
    assert (link["gueltig_von"], link["gueltig_bis"]) == ("", "2026-01-31")
    assert link["gueltigkeitszeitraeume"] == [{"von": "2020-01-01", "bis": "2022-06-30"},
                                              {"von": "2025-01-01", "bis": "2999-12-31"}]
    only_periods = dict(load("v6_detail_minimal.json"), validityPeriods=periods[:1])
    assert parse_leistung(only_periods).content["gueltigkeit"] == {
        "von": "", "bis": "", "zeitraeume": [{"von": "2025-01-01", "bis": "2999-12-31"}]}


def test_offices_from_organisation_ids_where_no_titles_answer() -> None:
    detail = load("v6_detail_bewohnerparkausweis.json")
    unnamed = [{"id": "S1600001.OE.20003", "name": "", "rolle": "", "rollenname": ""},
               {"id": "S1600001.OE.20009", "name": "", "rolle": "", "rollenname": ""}]
    assert parse_leistung(detail).content["zustaendigkeiten"] == unnamed
    assert parse_leistung(detail, []).content["zustaendigkeiten"] == unnamed
    # A titles answer that names the role without its code.
    titles = [{"id": "S1600001.OE.20003", "title": "Ordnungsamt", "role": "Zuständige Stelle"}]
    assert parse_leistung(detail, titles).content["zustaendigkeiten"] == [
        {"id": "S1600001.OE.20003", "name": "Ordnungsamt", "rolle": "01",
         "rollenname": "Zuständige Stelle"}]
    assert leistung_office_ids(detail, titles) == {"S1600001.OE.20003", "S1600001.OE.20009"}
    assert leistung_office_ids({"organisationIds": None}, None) == set()


def test_repeated_module_codes_do_not_depend_on_the_order() -> None:
    detail = load("v6_detail_minimal.json")
    first = {"code": "16", "title": "Hinweise", "text": "<p>Erster Hinweis</p>"}
    second = {"code": "16", "title": "Hinweise", "text": "<p>Zweiter Hinweis</p>"}
    one = parse_leistung(dict(detail, details=[first, second]))
    other = parse_leistung(dict(detail, details=[second, first]))
    assert one == other
    assert sorted(one.content["texte"]) == ["16", "16#2"]



def _with_extras(value: Any) -> Any:
    if isinstance(value, dict):
        return {**{k: _with_extras(v) for k, v in value.items()}, "unknownFieldV8": {"x": [1]}}
    if isinstance(value, list):
        return [_with_extras(v) for v in value]
    return value


@pytest.mark.parametrize("seed", range(5))
def test_order_and_unknown_fields_do_not_change_the_record(seed: int) -> None:
    detail, titles = load("v6_detail_bewohnerparkausweis.json"), load(
        "v2_titles_bewohnerparkausweis.json")
    reference = parse_leistung(detail, titles)
    rng = random.Random(seed)
    variant = parse_leistung(_with_extras(shuffled_json(detail, rng)),
                             _with_extras(shuffled_json(titles, rng)))
    assert variant.hash == reference.hash
    office = load("v5_office_ordnungsamt.json")
    assert parse_office(_with_extras(shuffled_json(office, rng))).hash == parse_office(office).hash


@pytest.mark.parametrize(("payload", "field"), [
    ({"name": "x"}, "id"),
    ({"id": "S1.LB.1"}, "name"),
    ({"id": 17, "name": "x"}, "id"),
    ({"id": "S1.LB.1", "name": "x", "details": [{"title": "ohne Code"}]}, "details[].code"),
    ({"id": "S1.LB.1", "name": "x", "details": [{"code": "97", "details": "kein Array"}]},
     "details[].details"),
    ({"id": "S1.LB.1", "name": "x", "onlineServiceLinks": [{"uri": "https://a.de/",
                                                             "validityPeriods": {}}]},
     "onlineServiceLinks[].validityPeriods"),
    ({"id": "S1.LB.1", "name": "x", "details": "<p>kein Array</p>"}, "details"),
    ({"id": "S1.LB.1", "name": "x", "organisationIds": [{"title": "keine id"}]},
     "organisationIds"),
    ({"id": "S1.LB.1", "name": "x", "organisationIds": "S1.OE.1"}, "organisationIds"),
])
def test_missing_required_detail_field_is_named(payload: dict, field: str) -> None:
    with pytest.raises(MissingField) as info:
        parse_leistung(payload)
    # Named by the endpoint and the field's path in the answer (as shape drift names keys).
    assert info.value.field == field
    assert info.value.endpoint == "/v6/servicedescriptions/detail"
    assert str(info.value).startswith(f"/v6/servicedescriptions/detail: required field {field!r}")


@pytest.mark.parametrize(("payload", "message"), [
    ({}, "'serviceDescriptions' is missing"),
    ({"serviceDescriptions": {"totalElements": 3}}, "'content' is missing"),
    ({"serviceDescriptions": {"content": []}}, "'totalElements' is missing"),
    ({"serviceDescriptions": {"content": [{"title": "x"}], "totalElements": 1}},
     "'content\\[\\].id' is missing"),
    ({"content": [], "totalElements": 0}, "'serviceDescriptions' is missing"),
    ([], "expected a JSON object, got list"),
])
def test_listing_shape_changes_fail_loudly(payload: Any, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse_listing(payload)


def test_office() -> None:
    record = parse_office(load("v5_office_ordnungsamt.json"))
    assert record.key == "organisationseinheit:S1600001.OE.20003"
    # The channel is the communication's name; an answer with only a code keeps the code.
    assert record.content["kommunikation"] == [
        {"kanal": "E-Mail", "wert": "ordnungsamt@jena.de"},
        {"kanal": "FAX", "wert": "+49 3641 49-3309"},
        {"kanal": "Telefon", "wert": "+49 3641 49-3301"}]
    assert record.content["anschriften"] == [
        {"typ": "Hausanschrift", "strasse": "Am Anger", "hausnummer": "26", "plz": "07743",
         "ort": "Jena"},
        {"typ": "Postanschrift", "strasse": "Postfach 10 03 38", "hausnummer": "",
         "plz": "07703", "ort": "Jena"}]
    # Opening hours are the additionalInformation of type INFO_TIMES, every other type
    # a field of its own.
    assert record.content["oeffnungszeiten"] == "Mo, Di, Do: 9 - 12 Uhr\nDi, Do: 14 - 18 Uhr"
    assert record.content["zusatzinformationen"] == {"INFO_PARKING": "Parkhaus am Eichplatz"}
    assert record.content["internetadressen"] == ["https://www.jena.de/ordnungsamt"]
    assert record.volatile == {"lastUpdate": "2026-05-02T09:00:00.000Z"}
    with pytest.raises(MissingField, match="'title'"):
        parse_office({"id": "S1.OE.1"})
    assert parse_office({"id": "S1.OE.1", "name": "Amt"}).content["name"] == "Amt"


def test_onlineservices_page_marks_inherited_services() -> None:
    page = parse_onlineservices(load("v1beta2_onlineservices_page.json"), JENA)
    assert page.next_token == "eyJvZmZzZXQiOjJ9" and page.total_hits == 3
    local, inherited = sorted(page.records, key=lambda r: r.content["geerbt"])
    assert local.content["geerbt"] is False
    assert local.content["links"][0]["url"] == (
        "https://ajproxy.jena.de/olav/olav.htm?_flowId=parkausweisbeantragen-flow")
    assert inherited.content["geerbt"] is True
    with pytest.raises(MissingField, match="'onlineservices'"):
        parse_onlineservices({"totalHits": 0}, JENA)


@pytest.mark.parametrize(("body", "message"), [
    (b'{"id": "S1', "truncated JSON"),
    (b'{"id": 1,}', "malformed JSON"),
    (b"<!DOCTYPE html><html><body>Wartungsarbeiten</body></html>", "HTML page"),
    (b'{"name": "Geb\xfchr"}', "not UTF-8"),
])
def test_undecodable_payloads_are_named(body: bytes, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        decode_json(body, "/v6/servicedescriptions/detail")


def _detail_from_real_row(row: dict[str, str]) -> dict[str, Any]:
    """A /v6 detail as the live API would carry the values the harvester recorded."""
    tsa_id = row["quelle"].split("tsa_leistung_id=")[1].split("&")[0] if (
        "tsa_leistung_id=" in row["quelle"]) else row["leika"]
    detail: dict[str, Any] = {
        "id": f"S1600001.LB.{tsa_id}",
        "name": row["pvogName"],
        "leikakeys": [row["leika"]],
        "ars": [row["ars"]],
        "externalLastUpdate": row["pvogStand"],
        "details": [{"code": "93", "text": row["freigabeStelle"], "date": row["freigabeDatum"]},
                    {"code": "94", "links": [{"uri": row["quelle"], "title": "ZuFi"}]}],
        "onlineServiceLinks": [{"uri": row["onlineDienst"], "title": ""}]
        if row["onlineDienst"] else [],
    }
    if row["gebuehrBetraege"]:
        detail["details"].append({"code": "98", "text": "", "details": [
            {"title": "Gebühr", "text": f"{fee} EUR"} for fee in row["gebuehrBetraege"].split(" / ")
            if fee.strip()]})
    return detail


def _real_jena_rows() -> list[dict[str, str]]:
    data = resources.files("zufiwatch.sim") / "data" / "jena_rows.json"
    return [r for r in json.loads(data.read_text(encoding="utf-8"))["rows"]
            if r["gefunden"] == "true"]


@pytest.mark.parametrize("row", _real_jena_rows(), ids=lambda r: r["leistung"])
def test_every_real_jena_value_parses(row: dict[str, str]) -> None:
    record = parse_leistung(copy.deepcopy(_detail_from_real_row(row)))
    content = record.content
    assert content["name"] == row["pvogName"]
    assert content["leika"] == [row["leika"]]
    # The authority is HTML text: entities decoded, line breaks of the source are spaces.
    stelle = " ".join(html.unescape(row["freigabeStelle"]).split())
    assert content["fachliche_freigabe"] == {"stelle": stelle, "datum": row["freigabeDatum"]}
    assert record.volatile["externalLastUpdate"] == row["pvogStand"]
    if row["onlineDienst"]:
        (link,) = content["onlinedienste"]
        assert link["url"].split("?")[0].lower() == row["onlineDienst"].split("?")[0].lower()
        assert ("thavel" in link) == ("thavel" in row["onlineDienst"])
    if row["quelle"]:
        assert content["ursprungsportal"][0]["url"].startswith(row["quelle"].split("?")[0])
