"""Record content as people read it (render.content_rows): structures as words, never JSON;
with full=True texts keep their lines. Contents as the demo's ZuFi and PVOG sources store
them."""

from __future__ import annotations

from zufiwatch.render import content_rows, short_value

ZUFI_LEISTUNG = {
    "gebuehren": [{"art": "fest", "betrag": "10,00 EUR", "bezeichnung": "Gebühr",
                   "gebiet": "Jena", "gueltig_bis": "", "gueltig_von": "2024-01-01",
                   "hinweis": "", "vorkasse": False}],
    "name": "Geburtsurkunde beantragen",
    "onlinedienste": [{"id": "400122", "thavel": {"antrag": "5741", "form": "go"},
                       "titel": "Online-Antrag (ThAVEL)",
                       "url": "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc",
                       "vertrauensniveau": "substanziell"}],
    "schriftform_erforderlich": False,
    "texte": {"06": {"text": "Erste Zeile.\nZweite   Zeile.", "titel": "Volltext"}},
}
PVOG_LEISTUNG = {
    "fachliche_freigabe": {"datum": "2026-03-12", "stelle": "Fachdienst Bürgerservice"},
    "gueltigkeit": {"bis": "2999-12-31", "von": "1970-01-01", "zeitraeume": []},
}
ZUFI_OFFICE = {
    "anschriften": [{"barrierefrei": "Aufzug vorhanden", "hausnummer": "15", "ort": "Jena",
                     "plz": "07743", "postfach": "", "strasse": "Am Anger",
                     "typ": "Hausanschrift"}],
    "kommunikation": [{"hinweis": "", "kanal": "Telefon", "titel": "Telefon",
                       "wert": "+49 3641 49-0"}],
    "oeffnungszeiten": "Mo 08:00–12:00 Uhr\nDi 09:00–18:00 Uhr",
    "termin": {"erforderlich": False},
    "zusatzinformationen": {},
}


def rows(kind: str, content: dict, **kwargs: bool) -> dict[str, str]:
    return dict(content_rows(kind, content, **kwargs))


def test_fees_release_and_validity_are_words() -> None:
    leistung = rows("leistung", {**ZUFI_LEISTUNG, **PVOG_LEISTUNG})
    assert leistung["Gebühren"] == "Gebühr: 10,00 EUR (fest; Jena; gültig ab 01.01.2024)"
    assert leistung["Fachliche Freigabe"] == "12.03.2026, Fachdienst Bürgerservice"
    assert leistung["Gültigkeit der Leistung"] == "gültig 01.01.1970 – 31.12.2999"
    assert leistung["Schriftform erforderlich"] == "nein"
    assert not any("{" in value or '"' in value for value in leistung.values())


def test_office_structures_are_words() -> None:
    office = rows("organisationseinheit", ZUFI_OFFICE)
    assert office["Anschrift"] == "Am Anger 15, 07743 Jena"
    assert office["Kommunikation"] == "Telefon: +49 3641 49-0"
    assert office["Terminvereinbarung"] == "erforderlich: nein"
    assert office["Zusatzinformation"] == "—"
    assert not any("{" in value for value in office.values())


def test_any_other_structure_is_labelled_fields_not_json() -> None:
    assert short_value({"vertrauensniveau": "hoch", "gueltig_bis": "2027-01-31",
                        "leer": ""}) == "Vertrauensniveau: hoch; gültig bis: 31.01.2027"


def test_full_keeps_the_lines_of_a_text() -> None:
    assert rows("leistung", ZUFI_LEISTUNG)["Volltext"] == "Erste Zeile. Zweite Zeile."
    assert rows("leistung", ZUFI_LEISTUNG, full=True)["Volltext"] == \
        "Erste Zeile.\nZweite Zeile."
    hours = rows("organisationseinheit", ZUFI_OFFICE, full=True)["Öffnungszeiten"]
    assert hours.splitlines() == ["Mo 08:00–12:00 Uhr", "Di 09:00–18:00 Uhr"]
