"""The pure ZuFi parsers on hand-written answers in the seen shapes (tests/payloads/tsa/):
Type objects, wrapped search results, FIX and VARIABLE charges, specialisations per area,
unknown fields, missing optional fields and null lists."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from zufiwatch.errors import MissingField, PayloadError
from zufiwatch.sources.tsa import (
    EP_COMPETENCE,
    EP_FIND,
    EP_OS,
    EP_PST,
    SHAPES,
    Shape,
    format_charge,
    parse_competences,
    parse_ou,
    parse_page,
    parse_pst,
    parse_services,
    type_key,
    type_name,
)

PAYLOADS = Path(__file__).resolve().parent / "payloads" / "tsa"
STANDESAMT = [("20006", "Standesamt Jena")]
JENA_THAVEL = "https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc"


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def unknown_keys(value: Any, shape: Shape, path: str = "") -> set[str]:
    """The keys of ``value`` its shape does not know (a small drift checker for tests)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= unknown_keys(item, shape, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in shape:
                found.add(f"{path}{key}")
            elif isinstance(shape[key], dict):
                found |= unknown_keys(item, shape[key], f"{path}{key}.")  # type: ignore[arg-type]
    return found


# -- search answers ----------------------------------------------------------------------------


def test_a_page_is_unwrapped_and_names_its_count_and_total() -> None:
    page = parse_page(payload("ou_find_page.json"), EP_FIND)
    assert (page.count, page.total) == (2, 61)
    assert [item["id"] for item in page.items] == [20006, 20001]  # results[].object
    assert "score" not in page.items[0]


def test_page_shapes_other_than_the_seen_one_are_tolerated() -> None:
    bare = parse_page([{"id": 1}, {"score": 1.0, "object": {"id": 2}}], "x")
    assert (bare.items, bare.total) == ([{"id": 1}, {"id": 2}], 2)
    spring = parse_page({"content": [{"id": 3}], "totalElements": 9}, "x")
    assert (spring.items, spring.total) == ([{"id": 3}], 9)
    # No totalCount: a count above the page's length can only be the total.
    assert parse_page({"count": 5, "results": [{"id": 1}]}, "x").total == 5
    assert parse_page({"count": 1, "results": [{"id": 1}]}, "x").total is None
    assert parse_page({"count": 0, "totalCount": 0, "results": None}, "x").items == []
    assert parse_page(None, EP_COMPETENCE, null_is_empty=True).items == []


def test_a_page_that_is_not_a_search_answer_names_endpoint_and_field() -> None:
    with pytest.raises(MissingField, match=r"/ou/find: required field 'results'"):
        parse_page({"count": 1}, EP_FIND)
    with pytest.raises(PayloadError, match="/ou/find: a result is not an object"):
        parse_page({"totalCount": 1, "results": [7]}, EP_FIND)
    with pytest.raises(PayloadError, match="expected a JSON object"):
        parse_page(None, EP_FIND)


def test_competences_name_the_leistungen_and_a_null_list_names_none() -> None:
    items = parse_page(payload("competence_page.json"), EP_COMPETENCE).items
    assert parse_competences(items) == ["354614", "354790", "354791"]
    assert parse_competences([{"publicServiceTypes": []}, {"object": {}}]) == []
    with pytest.raises(MissingField, match="publicServiceTypes\\[\\]: required field 'id'"):
        parse_competences([{"publicServiceTypes": [{"name": "ohne id"}]}])


def test_online_services_with_type_or_text_trust_levels() -> None:
    services = parse_services(payload("os_page.json"))
    assert [(s.id, s.name, s.title, s.trust_level) for s in services] == [
        ("105136908", "Geburtsurkunde online", "Online-Antrag (ThAVEL)", "substanziell"),
        ("77", "Formular", "", "niedrig")]
    assert parse_services({"count": 0, "totalCount": 0, "results": []}) == []
    assert parse_services(None) == []  # no list at all: none


def test_type_objects_are_read_as_their_name_and_compared_on_their_key() -> None:
    kind = {"id": 2, "name": " Post   anschrift ", "description": "x", "key": "POSTAL",
            "notPublic": True}
    assert (type_name(kind), type_key(kind)) == ("Post anschrift", "POSTAL")
    assert (type_name({"id": 4, "key": "FAX"}), type_key({"id": 4})) == ("FAX", "4")
    assert (type_name("Telefon"), type_key("FIX ")) == ("Telefon", "FIX")
    assert (type_name(None), type_key(None), type_name(True)) == ("", "", "")


# -- Organisationseinheit ---------------------------------------------------------------------


def test_an_office_with_every_seen_field() -> None:
    ou = parse_page(payload("ou_find_page.json"), EP_FIND).items[0]
    record = parse_ou(ou, EP_FIND)
    assert (record.key, record.volatile) == ("organisationseinheit:20006",
                                             {"lastUpdate": "2026-03-29T06:49:03.044Z"})
    assert record.content == {
        "name": "Standesamt Jena",
        "uebergeordnet": "19001",
        "beschreibung": "Das Standesamt der Stadt Jena.",
        "anschriften": [
            {"typ": "Hausanschrift", "strasse": "Markt", "hausnummer": "1", "plz": "07743",
             "ort": "Jena", "postfach": "",
             "barrierefrei": "Aufzug vorhanden; nicht rollstuhlgerecht; Rampe am "
                             "Seiteneingang"},
            {"typ": "Postanschrift", "strasse": "", "hausnummer": "", "plz": "07703",
             "ort": "Jena", "postfach": "100338", "barrierefrei": ""},
        ],
        "kommunikation": [
            {"kanal": "E-Mail", "titel": "E-Mail", "hinweis": "",
             "wert": "standesamt@jena.de"},
            {"kanal": "Telefon", "titel": "Zentrale", "hinweis": "nur vormittags",
             "wert": "+49 3641 49-2250"},
        ],
        "oeffnungszeiten": "Mo 08:00–12:00 Uhr\nDi 09:00–18:00 Uhr",
        "termin": {"erforderlich": True, "online": "https://termine.jena.de/standesamt"},
        "zahlungsarten": ["Barzahlung", "EC-Karte"],
    }


def test_an_office_with_null_lists_and_missing_optional_fields() -> None:
    ou = parse_page(payload("ou_find_page.json"), EP_FIND).items[1]
    assert parse_ou(ou).content == {
        "name": "Bürgerservice Jena", "uebergeordnet": "19001", "beschreibung": "",
        "anschriften": [], "kommunikation": [], "oeffnungszeiten": "",
        "termin": {"erforderlich": False}, "zahlungsarten": []}
    with pytest.raises(MissingField, match="/ou: required field 'name'"):
        parse_ou({"id": 1})
    with pytest.raises(MissingField, match="/ou: required field 'id'"):
        parse_ou({"name": "ohne id"})


def test_an_office_does_not_depend_on_order_whitespace_or_the_search_score() -> None:
    first = payload("ou_find_page.json")["results"][0]
    shuffled = copy.deepcopy(first)
    shuffled["score"] = 0.1
    ou = shuffled["object"]
    ou["addresses"].reverse()
    ou["communications"].reverse()
    ou["paymentMethods"].reverse()
    ou["openingHours"] = ou["openingHours"].replace("<br>", " <br>\n ")
    ou["description"] = "  " + ou["description"] + "\n"
    assert parse_ou(shuffled).content == parse_ou(first).content


# -- Leistung --------------------------------------------------------------------------------


EXPECTED_PST = {
    "name": "Ehefähigkeitszeugnis ausstellen",
    "zufi_id": "354614",
    "leika": ["99059002012000"],
    "typ": "LO",
    "texte": {
        "24": {"titel": "Kurztext", "text": "Sie möchten im Ausland heiraten?"},
        "06": {
            "titel": "Volltext",
            "text": "Das Zeugnis stellt das Standesamt aus.",
            "links": [{"url": "https://www.gesetze-im-internet.de/pstg/", "titel": "PStG"},
                      {"url": "https://www.jena.de/standesamt", "titel": "Standesamt"}],
            "spezialisierungen": [
                {"gebiet_id": "351527", "gebiet": "Erfurt", "text": "In Erfurt im Rathaus."},
                {"gebiet_id": "351529", "gebiet": "Jena",
                 "text": "In Jena nur nach Terminvereinbarung.",
                 "links": [{"url": "https://termine.jena.de/standesamt",
                            "titel": "Termin buchen"}],
                 "rechtsnormen": [
                     "Verwaltungskostensatzung der Stadt Jena",
                     "§ 39 PStG (https://www.gesetze-im-internet.de/pstg/__39.html)"]},
            ],
        },
        "07": {"titel": "Rechtsgrundlage", "text": "Personenstandsgesetz"},  # key null: id
        "16": {"titel": "Hinweise", "text": "Erster Hinweis."},
        "16#2": {"titel": "Hinweise", "text": "Zweiter Hinweis."},
        "98": {"titel": "Kosten", "text": "Es fallen Gebühren an."},
    },
    "gebuehren": [
        {"bezeichnung": "Auslagen", "art": "variabel", "betrag": "20,00–80,00 EUR",
         "hinweis": "", "gueltig_von": "2024-01-01", "gueltig_bis": "2026-12-31",
         "vorkasse": False, "gebiet": "Jena"},
        {"bezeichnung": "Beglaubigung", "art": "variabel", "betrag": "bis 1.250,50 EUR",
         "hinweis": "", "gueltig_von": "", "gueltig_bis": "", "vorkasse": False,
         "gebiet": ""},
        {"bezeichnung": "Gebühr", "art": "fest", "betrag": "1.234,50 EUR", "hinweis": "",
         "gueltig_von": "", "gueltig_bis": "", "vorkasse": False, "gebiet": "Jena"},
        {"bezeichnung": "Gebühr#2", "art": "fest", "betrag": "12,00 EUR",
         "hinweis": "bei Antragstellung", "gueltig_von": "2024-01-01", "gueltig_bis": "",
         "vorkasse": True, "gebiet": "Jena"},
        {"bezeichnung": "Übersetzung", "art": "variabel", "betrag": "ab 20,00 EUR",
         "hinweis": "", "gueltig_von": "", "gueltig_bis": "", "vorkasse": False,
         "gebiet": ""},
    ],
    "fristen": ["Antragsfrist: Spätestens sechs Wochen vor der Eheschließung."],
    "bearbeitungsdauer": ["Bearbeitungsdauer: 2 Wochen"],
    "unterlagen": ["Geburtsurkunde: beglaubigte Abschrift", "Personalausweis"],
    "vertrauensniveau": "substanziell",
    "fachbereich": "Dezernat Bürgerservice und Ordnung",
    "schriftform_erforderlich": True,
    "onlinedienste": [
        {"url": "https://ajproxy.jena.de/olav/geburtsurkunde", "titel": "Formular",
         "id": "77", "vertrauensniveau": "niedrig"},
        {"url": JENA_THAVEL, "titel": "Online-Antrag (ThAVEL)",
         "thavel": {"host": "thavelp.thueringen.de", "instanz": "thavelp.thueringen.de/thavelp",
                    "form": "go", "antrag": "1273"},
         "id": "105136908", "vertrauensniveau": "substanziell"},
    ],
    "zustaendigkeiten": [{"id": "20006", "name": "Standesamt Jena", "rolle": "01",
                          "rollenname": "Zuständige Stelle"}],
}


def test_a_leistung_with_every_seen_field() -> None:
    services = parse_services(payload("os_page.json"))
    record = parse_pst(payload("pst_full.json"), services, STANDESAMT)
    assert (record.key, record.volatile) == ("leistung:354614",
                                             {"lastUpdate": "2026-06-01T15:33:49.725Z"})
    assert record.content == EXPECTED_PST


def test_a_leistung_does_not_depend_on_order_whitespace_or_timestamps() -> None:
    services = parse_services(payload("os_page.json"))
    pst = payload("pst_full.json")
    pst["lastUpdated"] = "2027-01-01T00:00:00.000Z"
    for name in ("textBlocks", "charges", "documents", "leikaKeys"):
        pst[name].reverse()
    for block in pst["textBlocks"]:
        block["text"] = block["text"].replace("</p>", " </p>\n")
        if block.get("specialisations"):
            block["specialisations"].reverse()
    pst["teaser"] = "\n  " + pst["teaser"]
    record = parse_pst(pst, list(reversed(services)), STANDESAMT * 2)
    assert record.content == EXPECTED_PST
    assert record.volatile == {"lastUpdate": "2027-01-01T00:00:00.000Z"}


def test_a_leistung_with_null_lists_and_missing_optional_fields() -> None:
    assert parse_pst(payload("pst_minimal.json"), [], []).content == {
        "name": "Parkplatzabsperrung für Umzug", "zufi_id": "213716060", "leika": [],
        "typ": "", "texte": {}, "gebuehren": [], "fristen": [], "bearbeitungsdauer": [],
        "unterlagen": [], "vertrauensniveau": "", "fachbereich": "",
        "schriftform_erforderlich": None, "onlinedienste": [], "zustaendigkeiten": []}
    # Absent is the same as null.
    assert parse_pst({"id": 213716060, "name": "Parkplatzabsperrung für Umzug"}, [],
                     []).content == parse_pst(payload("pst_minimal.json"), [], []).content
    with pytest.raises(MissingField, match="/pst: required field 'textBlocks'"):
        parse_pst({"id": 1, "name": "x", "textBlocks": {"not": "a list"}}, [], [])


def test_specialisations_are_one_text_per_area() -> None:
    block = {"type": {"id": 6, "name": "Volltext", "key": "06"}, "text": "<p>Land</p>",
             "specialisations": [
                 {"restrictedArea": 351529, "text": "<p>zweiter Satz</p>"},
                 {"restrictedArea": {"id": 351529, "name": "Jena"}, "text": "<p>erster</p>",
                  "legalNorms": [{"title": "Satzung"}, "", None]},
                 {"restrictedArea": None, "text": "<p>ohne Gebiet</p>"},
                 "not an object"]}
    texte = parse_pst({"id": 1, "name": "x", "textBlocks": [block]}, [], []).content["texte"]
    assert texte["06"]["spezialisierungen"] == [
        {"gebiet_id": "", "gebiet": "", "text": "ohne Gebiet"},
        {"gebiet_id": "351529", "gebiet": "Jena", "text": "erster\nzweiter Satz",
         "rechtsnormen": ["Satzung"]}]


@pytest.mark.parametrize(("charge", "betrag", "art"), [
    ({"type": "FIX", "amount": 12}, "12,00 EUR", "fest"),
    ({"type": "FIX", "amount": "12.5"}, "12,50 EUR", "fest"),
    ({"type": "FIX", "amount": "1.234,5"}, "1.234,50 EUR", "fest"),
    ({"type": "FIX", "amount": 0}, "0,00 EUR", "fest"),
    ({"type": "FIX", "amount": "nach Aufwand"}, "nach Aufwand", "fest"),
    ({"type": "VARIABLE", "lowerLimit": "-", "upperLimit": 3}, "-–3,00", "variabel"),
    ({"type": "FIX"}, "", "fest"),
    ({"type": "VARIABLE", "lowerLimit": 20, "upperLimit": 80.0}, "20,00–80,00 EUR",
     "variabel"),
    ({"type": "VARIABLE", "lowerLimit": 20}, "ab 20,00 EUR", "variabel"),
    ({"type": "VARIABLE", "upperLimit": 80, "lowerLimit": None}, "bis 80,00 EUR", "variabel"),
    ({"type": "VARIABLE", "lowerLimit": 5, "upperLimit": 5}, "5,00 EUR", "variabel"),
    ({"type": {"key": "VARIABLE", "name": "variabel"}, "lowerLimit": 1}, "ab 1,00 EUR",
     "variabel"),
    ({"lowerLimit": 1, "upperLimit": 2}, "1,00–2,00 EUR", "variabel"),  # no type: amounts
    ({"amount": 3, "currency": "CHF"}, "3,00 CHF", "fest"),
    ({"type": "FIX", "amount": True}, "", "fest"),
])
def test_charges_in_german_form(charge: dict, betrag: str, art: str) -> None:
    (fee,) = parse_pst({"id": 1, "name": "x", "charges": [charge]}, [], []).content[
        "gebuehren"]
    assert (fee["betrag"], fee["art"]) == (betrag, art)


def test_format_charge() -> None:
    assert format_charge(1234567.891) == "1.234.567,89 EUR"
    assert format_charge(None, 20, None, "EUR") == "ab 20,00 EUR"
    assert format_charge(None) == ""


# -- known keys ------------------------------------------------------------------------------


def test_the_shapes_know_every_seen_key_and_only_the_new_ones_are_unknown() -> None:
    assert unknown_keys(payload("ou_find_page.json"), SHAPES[EP_FIND]) == set()
    assert unknown_keys(payload("competence_page.json"), SHAPES[EP_COMPETENCE]) == set()
    assert unknown_keys(payload("os_page.json"), SHAPES[EP_OS]) == set()
    assert unknown_keys(payload("pst_full.json"), SHAPES[EP_PST]) == {"approvalStatus"}
    assert unknown_keys({"count": 0, "totalCount": 0, "nextPage": 2, "results": [
        {"score": 1, "object": {"id": 1, "name": "x", "addresses": [{"floor": 3}]}}]},
        SHAPES[EP_FIND]) == {"nextPage", "results.object.addresses.floor"}
