"""Word lists and HTML text modules for plausible German Leistung descriptions.

Texts are limited to the markup the live directory allows (p, br, strong, ul, li,
a href). Every function takes the ``random.Random`` to draw from, so the output is
deterministic for a given seed.
"""

from __future__ import annotations

import random

from ._common import pick, sample

THEMES = (
    "Bauen",
    "Wohnen",
    "Gewerbe",
    "Umwelt",
    "Verkehr",
    "Familie",
    "Soziales",
    "Steuern",
    "Ordnung",
    "Kultur",
    "Bildung",
    "Gesundheit",
)

OBJECTS = (
    "Sondernutzungserlaubnis",
    "Ausnahmegenehmigung",
    "Abrissgenehmigung",
    "Gaststättenerlaubnis",
    "Marktzulassung",
    "Feuerwerkserlaubnis",
    "Waffenbesitzkarte",
    "Anwohnerparkausweis",
    "Kita-Platz",
    "Hortplatz",
    "Schulplatz",
    "Grabnutzungsrecht",
    "Sperrmüllabholung",
    "Biotonne",
    "Kinderreisepass",
    "Meldebescheinigung",
    "Aufenthaltstitel",
    "Lernförderung",
    "Leistungen für Bildung und Teilhabe",
    "Landeserziehungsgeld",
    "Pflegewohngeld",
    "Vereinsförderung",
    "Straßenreinigungsgebühr",
    "Informationszugang",
    "Baumschutzgenehmigung",
    "Grundstücksentwässerung",
    "Werbeanlage",
    "Straßensperrung",
    "Veranstaltungserlaubnis",
    "Taxikonzession",
    "Spielhallenerlaubnis",
    "Fahrradabstellanlage",
    "Lastenradförderung",
    "Erdwärmesonde",
    "Brennholzschein",
    "Fundsache",
    "Kleingartenpacht",
    "Jugendschutzausnahme",
    "Hundehaltung",
    "Plakatierungserlaubnis",
    "Bewohnerparkberechtigung",
    "Schankerlaubnis",
    "Lärmschutzausnahme",
    "Zweckentfremdungsgenehmigung",
    "Denkmalrechtliche Erlaubnis",
    "Kindertagespflegeerlaubnis",
    "Ehrenamtskarte",
    "Familienpass",
    "Sozialticket",
    "Schwerlasttransport",
    "Grundbuchauskunft",
    "Wasserrechtliche Erlaubnis",
)

VERBS = (
    "beantragen",
    "verlängern",
    "ändern",
    "anmelden",
    "abmelden",
    "ausstellen",
    "erteilen",
    "zurückgeben",
    "ersetzen",
    "kündigen",
    "anzeigen",
    "übertragen",
)

QUALIFIERS = (
    "",
    "",
    "",
    " für Unternehmen",
    " für Vereine",
    " für Minderjährige",
    " für Gewerbetreibende",
    " im vereinfachten Verfahren",
    " bei Verlust",
    " für Grundstückseigentümer",
)

_FULLTEXT_SENTENCES = (
    "Die Stadt Jena bearbeitet Ihren Antrag in der Regel innerhalb von zwei Wochen.",
    "Bitte stellen Sie den Antrag rechtzeitig, spätestens vier Wochen vor dem geplanten Termin.",
    "Die Entscheidung erhalten Sie schriftlich per Post oder elektronisch.",
    "Für Rückfragen steht Ihnen die zuständige Stelle telefonisch zur Verfügung.",
    "Sie können den Antrag persönlich, schriftlich oder online stellen.",
    "Unvollständige Anträge verzögern die Bearbeitung.",
    "Die Genehmigung ist befristet und kann auf Antrag verlängert werden.",
    "Eine persönliche Vorsprache ist nur nach vorheriger Terminvereinbarung möglich.",
    "Änderungen Ihrer Angaben müssen Sie unverzüglich mitteilen.",
    "Die Gebühr ist bei Antragstellung fällig.",
)

_REQUIREMENTS = (
    "Sie haben Ihren Hauptwohnsitz in Jena.",
    "Sie sind mindestens 18 Jahre alt.",
    "Sie sind Eigentümerin oder Eigentümer des Grundstücks.",
    "Es liegen keine Versagungsgründe vor.",
    "Sie besitzen einen gültigen Personalausweis oder Reisepass.",
    "Das Vorhaben entspricht den öffentlich-rechtlichen Vorschriften.",
    "Sie sind zuverlässig im Sinne des Gesetzes.",
)

_DOCUMENTS = (
    "gültiger Personalausweis oder Reisepass",
    "ausgefülltes Antragsformular",
    "Vollmacht, falls Sie eine andere Person beauftragen",
    "aktuelles biometrisches Passfoto",
    "Lageplan im Maßstab 1:500",
    "Nachweis über das Einkommen der letzten drei Monate",
    "Meldebescheinigung",
    "Handelsregisterauszug (bei juristischen Personen)",
)

LAWS = (
    ("§ 14 Gewerbeordnung (GewO)", "https://www.gesetze-im-internet.de/gewo/__14.html"),
    (
        "§ 46 Straßenverkehrs-Ordnung (StVO)",
        "https://www.gesetze-im-internet.de/stvo_2013/__46.html",
    ),
    (
        "Thüringer Bauordnung (ThürBO)",
        "https://landesrecht.thueringen.de/bsth/document/jlr-BauOTH2014rahmen",
    ),
    ("Bundesmeldegesetz (BMG)", "https://www.gesetze-im-internet.de/bmg/"),
    (
        "Thüringer Kommunalabgabengesetz (ThürKAG)",
        "https://landesrecht.thueringen.de/bsth/document/jlr-KAGTHrahmen",
    ),
    ("Personenstandsgesetz (PStG)", "https://www.gesetze-im-internet.de/pstg/"),
    ("Aufenthaltsgesetz (AufenthG)", "https://www.gesetze-im-internet.de/aufenthg_2004/"),
    ("Sozialgesetzbuch Zwölftes Buch (SGB XII)", "https://www.gesetze-im-internet.de/sgb_12/"),
    (
        "Thüringer Verwaltungskostengesetz (ThürVwKostG)",
        "https://landesrecht.thueringen.de/bsth/document/jlr-VwKostGTHrahmen",
    ),
)

APPROVERS = (
    "Thüringer Ministerium für Inneres, Kommunales und Landesentwicklung",
    "Thüringer Ministerium für Digitales und Infrastruktur",
    "Thüringer Ministerium für Umwelt, Energie und Naturschutz",
    "Thüringer Ministerium für Soziales, Gesundheit, Arbeit und Familie",
    "Thüringer Ministerium für Wirtschaft, Wissenschaft und Digitale Gesellschaft (TMWWDG)",
    "Thüringer Ministerium für Bildung, Jugend und Sport",
    "Thüringer Finanzministerium",
)


def leistung_name(rng: random.Random) -> str:
    """A plausible German name of an administrative service."""
    core = f"{pick(rng, OBJECTS)} {pick(rng, VERBS)}{pick(rng, QUALIFIERS)}"
    if rng.random() < 0.3:
        return f"{pick(rng, THEMES)} - {core}"
    return core


def kurzinfo(name: str) -> str:
    return (
        f"<p>{name}: Hier erfahren Sie, wer in der Stadt Jena zuständig ist, "
        "welche Unterlagen Sie benötigen und welche Kosten entstehen.</p>"
    )


def volltext(rng: random.Random, slug: str) -> str:
    first, second, third = sample(rng, _FULLTEXT_SENTENCES, 3)
    return (
        f"<p>{first} {second}</p>"
        f"<p><strong>Wichtig:</strong> {third}<br>"
        "Weitere Informationen finden Sie "
        f'<a href="https://www.jena.de/{slug}">auf jena.de</a>.</p>'
    )


def voraussetzungen(rng: random.Random) -> str:
    items = "".join(f"<li>{item}</li>" for item in sample(rng, _REQUIREMENTS, 2))
    return f"<ul>{items}</ul>"


def unterlagen(rng: random.Random, slug: str) -> str:
    items = "".join(f"<li>{item}</li>" for item in sample(rng, _DOCUMENTS, 3))
    return (
        f"<p>Bitte legen Sie folgende Unterlagen vor:</p><ul>{items}</ul>"
        f'<p>Formular: <a href="https://www.jena.de/formulare/{slug}.pdf">Antrag (PDF)</a></p>'
    )


def format_euro(amount: str) -> str:
    """``"5000"`` -> ``"5.000,00 EUR"``, ``"10.5"`` -> ``"10,50 EUR"``."""
    text = f"{float(amount):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"{text} EUR"


def fee_lines(amounts: str) -> list[dict]:
    """Sub-details of module 98 from ``"50 / 100"``-style amount lists."""
    values = [part.strip() for part in amounts.split("/") if part.strip()]
    many = len(values) > 1
    return [
        {
            "title": f"Gebühr {index}" if many else "Gebühr",
            "text": f"Gebühr: {format_euro(value)}",
        }
        for index, value in enumerate(values, start=1)
    ]


def random_fee_amounts(rng: random.Random) -> str:
    """A fee list in the real ``gebuehrBetraege`` form, often empty."""
    if rng.random() < 0.45:
        return ""
    choices = ("5", "10", "12.5", "15", "20", "25", "30", "40", "50", "75", "100", "150")
    return " / ".join(sample(rng, choices, pick(rng, (1, 1, 1, 2, 3))))


def kosten_text(has_fees: bool) -> str:
    if has_fees:
        return "<p>Es fallen folgende Gebühren an:</p>"
    return "<p>Für diese Leistung fallen keine Gebühren an.</p>"
