"""Organisationseinheiten of Jena: a fixed realistic core plus generated ones.

Served as ``/v5/organisationunits/detail`` answers in the seen shape (sources.md): opening
hours as the ``additionalInformation`` item of type ``INFO_TIMES`` (no ``openingHours``
key), communications named ``Telefon``, ``Fax``, ``E-Mail``, addresses with ``geo``.
Addresses, phone extensions, coordinates and mail boxes are plausible, not real.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ._common import format_timestamp, office_id, stable_bucket

ROLE_ZUSTAENDIG = {"code": "01", "name": "Zuständige Stelle"}
ROLE_ANSPRECHPUNKT = {"code": "03", "name": "Ansprechpunkt"}

# Communication channels: the ``name`` of a communication (seen).
PHONE, FAX, EMAIL = "Telefon", "Fax", "E-Mail"

#: The ``additionalInformation`` type of the opening hours (seen).
INFO_TIMES = "INFO_TIMES"
#: Another ``additionalInformation`` type some offices carry (the name is made up: only
#: INFO_TIMES is seen; the parser keeps every other type as a field of its own).
INFO_PARKING = "INFO_PARKING"
_PARKING = "<p>Parkplätze im Parkhaus am Eichplatz; Fahrradständer vor dem Eingang.</p>"


@dataclass(frozen=True)
class OfficeSeed:
    """What is needed to build one office detail."""

    number: int
    title: str
    street: str
    house_number: str
    zip_code: str
    extension: int
    slug: str  # mailbox (slug@jena.de) and web path (www.jena.de/slug)


# number, title, street, house number, zip, phone extension, slug
_CORE_TABLE = (
    (20001, "Bürgerservice Jena", "Am Anger", "15", "07743", 2000, "buergerservice"),
    (20002, "Ordnungsamt", "Löbdergraben", "12", "07743", 2400, "ordnungsamt"),
    (20003, "Bauordnungsamt", "Am Anger", "26", "07743", 5200, "bauordnung"),
    (20004, "Kfz-Zulassungsbehörde", "Kahlaische Straße", "4", "07745", 2700, "kfz-zulassung"),
    (20005, "Fahrerlaubnisbehörde", "Kahlaische Straße", "4", "07745", 2750, "fuehrerschein"),
    (20006, "Standesamt Jena", "Markt", "1", "07743", 2250, "standesamt"),
    (20007, "Fachdienst Soziales", "Lutherplatz", "3", "07743", 4600, "soziales"),
    (20008, "Fachdienst Jugendhilfe (Jugendamt)", "Knebelstraße", "10", "07743", 4500, "jugendamt"),
    (20009, "Fachdienst Finanzen - Team Steuern", "Am Anger", "15", "07743", 2100, "steuern"),
    (20010, "Fachdienst Umweltschutz (Umweltamt)", "Am Anger", "26", "07743", 5300, "umweltamt"),
    (20011, "Ausländerbehörde", "Löbdergraben", "18", "07743", 2450, "auslaenderbehoerde"),
    (20012, "Gewerbeamt", "Löbdergraben", "12", "07743", 2420, "gewerbe"),
    (20013, "Straßenverkehrsbehörde", "Kahlaische Straße", "4", "07745", 2800, "verkehr"),
    (20014, "Schulverwaltungsamt", "Knebelstraße", "10", "07743", 4700, "schulverwaltung"),
    (20015, "Jobcenter Jenarbeit", "Leutragraben", "2", "07743", 6000, "jenarbeit"),
)
CORE_OFFICES = tuple(OfficeSeed(*row) for row in _CORE_TABLE)

_TOPICS = (
    "Friedhofswesen",
    "Wohngeld",
    "Elterngeld",
    "Kindertagesbetreuung",
    "Stadtentwicklung",
    "Verkehrsplanung",
    "Abfallwirtschaft",
    "Grünflächen",
    "Denkmalschutz",
    "Wirtschaftsförderung",
    "Kultur",
    "Sport",
    "Gesundheitsschutz",
    "Veterinärwesen",
    "Brandschutz",
    "Katastrophenschutz",
    "Liegenschaften",
    "Statistik und Wahlen",
    "Integration",
    "Senioren",
    "Eingliederungshilfe",
    "Wasserbehörde",
    "Immissionsschutz",
    "Vermessung",
    "Bodenordnung",
    "Straßenbau",
)
_PREFIXES = ("Fachdienst", "Team", "Servicestelle", "Sachgebiet")
_DISTRICTS = (
    "Lobeda",
    "Winzerla",
    "Zwätzen",
    "Wenigenjena",
    "Drackendorf",
    "Ammerbach",
    "Burgau",
    "Göschwitz",
    "Isserstedt",
    "Kunitz",
    "Cospeda",
    "Lichtenhain",
    "Maua",
    "Löbstedt",
)
_STREETS = (
    ("Am Anger", "07743"),
    ("Löbdergraben", "07743"),
    ("Saalstraße", "07743"),
    ("Leutragraben", "07743"),
    ("Knebelstraße", "07743"),
    ("Dornburger Straße", "07743"),
    ("Spitzweidenweg", "07743"),
    ("Kahlaische Straße", "07745"),
    ("Rudolstädter Straße", "07745"),
    ("Mühlenstraße", "07745"),
    ("Ammerbacher Straße", "07745"),
    ("Erlanger Allee", "07745"),
)

_OPENING_HOURS = (
    "<p>Mo 08:00–12:00 Uhr<br>Di 09:00–12:00 und 13:00–18:00 Uhr<br>"
    "Do 09:00–12:00 und 13:00–16:00 Uhr<br>Fr 08:00–12:00 Uhr</p>",
    "<p>Di 09:00–12:00 und 13:00–18:00 Uhr<br>Do 09:00–12:00 und 13:00–15:00 Uhr</p>"
    "<p>Termine nach Vereinbarung.</p>",
    "<p>Mo–Fr 08:00–12:00 Uhr<br>Di 14:00–18:00 Uhr</p>",
)


def phone(extension: int) -> str:
    return f"+49 3641 49-{extension:04d}"


def office_detail(seed: OfficeSeed, last_update: str, opening_hours: str) -> dict:
    """The /v5/organisationunits/detail object of one office."""
    oeid = office_id(seed.number)
    geo_rng = random.Random(f"geo:{seed.number}")
    information = [{"type": INFO_TIMES, "text": opening_hours}]
    if stable_bucket(oeid, 4) == 0:
        information.append({"type": INFO_PARKING, "text": _PARKING})
    return {
        "id": oeid,
        "title": seed.title,
        "lastUpdate": last_update,
        "languages": ["de"],
        "forms": [],
        "employees": [],
        "bankAccounts": [],
        "communicationSystems": [],
        "location": {
            "addresses": [
                {
                    "type": "Hausanschrift",
                    "street": seed.street,
                    "houseNumber": seed.house_number,
                    "zip": seed.zip_code,
                    "city": "Jena",
                    "geo": {
                        "latitude": round(50.90 + geo_rng.random() * 0.05, 6),
                        "longitude": round(11.56 + geo_rng.random() * 0.06, 6),
                    },
                },
                {
                    "type": "Postanschrift",
                    "street": "Postfach",
                    "houseNumber": "100338",
                    "zip": "07703",
                    "city": "Jena",
                },
            ],
            "communications": [
                {"name": PHONE, "value": phone(seed.extension)},
                {"name": FAX, "value": phone(seed.extension + 9)},
                {"name": EMAIL, "value": f"{seed.slug}@jena.de"},
            ],
        },
        "internetAddresses": [{"uri": f"https://www.jena.de/{seed.slug}"}],
        "additionalInformation": information,
    }


def opening_hours(office: dict[str, Any]) -> str:
    """The opening hours (HTML) of a served office: its ``INFO_TIMES`` text, "" if none."""
    return next((item.get("text") or "" for item in office.get("additionalInformation", [])
                 if item.get("type") == INFO_TIMES), "")


def set_opening_hours(office: dict[str, Any], text: str) -> None:
    """Replace the ``INFO_TIMES`` text of an office (one the caller owns)."""
    for item in office.setdefault("additionalInformation", []):
        if item.get("type") == INFO_TIMES:
            item["text"] = text
            return
    office["additionalInformation"].append({"type": INFO_TIMES, "text": text})


def communication(office: dict[str, Any], name: str) -> dict[str, Any]:
    """The first communication of an office with channel ``name`` ("Telefon", …)."""
    for entry in office.get("location", {}).get("communications", []):
        if entry.get("name") == name:
            return entry
    raise KeyError(f"office {office.get('id')} has no communication {name!r}")


def generated_seeds(rng: random.Random, count: int) -> list[OfficeSeed]:
    """``count`` more offices with unique titles."""
    seeds: list[OfficeSeed] = []
    used_titles = {seed.title for seed in CORE_OFFICES}
    for index in range(count):
        title = f"{rng.choice(_PREFIXES)} {rng.choice(_TOPICS)}"
        if title in used_titles:
            title = f"{title} (Außenstelle {rng.choice(_DISTRICTS)})"
        if title in used_titles:
            title = f"{title}, Büro {index + 1}"
        used_titles.add(title)
        street, zip_code = rng.choice(_STREETS)
        number = 30001 + index
        house = str(rng.randint(1, 60))
        extension = 7000 + index % 2990
        seeds.append(OfficeSeed(number, title, street, house, zip_code, extension, f"oe-{number}"))
    return seeds


def random_office_timestamp(rng: random.Random) -> str:
    start = datetime(2023, 1, 1, tzinfo=UTC)
    return format_timestamp(start + timedelta(milliseconds=rng.randrange(3 * 365 * 86400 * 1000)))


def build_offices(rng: random.Random, total: int) -> dict[str, dict]:
    """The core offices (fixed) plus generated ones up to ``total``."""
    offices: dict[str, dict] = {}
    for index, seed in enumerate(CORE_OFFICES):
        core_rng = random.Random(seed.number)
        hours = _OPENING_HOURS[index % len(_OPENING_HOURS)]
        offices[office_id(seed.number)] = office_detail(
            seed, random_office_timestamp(core_rng), hours
        )
    for seed in generated_seeds(rng, max(0, total - len(CORE_OFFICES))):
        offices[office_id(seed.number)] = office_detail(
            seed, random_office_timestamp(rng), rng.choice(_OPENING_HOURS)
        )
    return offices


# Keyword -> core office number, most specific first (matched against the lowered name).
_RESPONSIBILITY_RULES = (
    ("schwerbehindert", 20007),
    ("parkausweis", 20013),
    ("parkplatz", 20013),
    ("führerschein", 20005),
    ("fahrerlaubnis", 20005),
    ("fahrzeug", 20004),
    ("reisegewerbe", 20012),
    ("gewerbezentralregister", 20001),
    ("gewerbesteuer", 20009),
    ("gewerbe", 20012),
    ("steuer", 20009),
    ("unterhalt", 20008),
    ("urkunde", 20006),
    ("eheschließung", 20006),
    ("ehefähigkeit", 20006),
    ("abgeschlossenheit", 20003),
    ("vaterschaft", 20006),
    ("aufenthalt", 20011),
    ("niederlassung", 20011),
    ("einbürgerung", 20011),
    ("verpflichtungserklärung", 20011),
    ("bauen", 20003),
    ("baum", 20010),
    ("fischerei", 20002),
    ("jagd", 20002),
    ("versammlung", 20002),
    ("sondernutzung", 20002),
    ("bürgergeld", 20015),
    ("arbeitslosen", 20015),
    ("sozialhilfe", 20007),
    ("wohngeld", 20007),
    ("wohnberechtigung", 20007),
    ("eltern", 20008),
    ("kinder", 20008),
    ("bafög", 20008),
    ("schüler", 20014),
)


def core_office_for(name: str) -> str:
    """The id of the core office responsible for a Leistung name (default Bürgerservice)."""
    lowered = name.lower()
    for keyword, number in _RESPONSIBILITY_RULES:
        if keyword in lowered:
            return office_id(number)
    return office_id(CORE_OFFICES[0].number)


def organisation_entry(office: dict, role: dict) -> dict:
    return {"id": office["id"], "title": office["title"], "role": dict(role)}
