"""The kinds and the simulator's own values the simulated TSA serves: Type objects
``{id, name, description, key, notPublic}`` for address and communication types, payment
methods, trust levels, periods and receivers; accessibility of addresses; the local
sentences of Jena's specialisations. Served objects share these: never edit them."""

from __future__ import annotations

__all__ = [
    "ACCESS",
    "ADDRESS_TYPES",
    "COMMUNICATION_TYPES",
    "DISTRICTS",
    "LOCAL_SENTENCES",
    "PAYMENT_METHODS",
    "PAYMENT_SETS",
    "PERIOD_TYPE",
    "PST_TYPES",
    "RECEIVERS",
    "SERVICE_PERIOD_TYPE",
    "TRUST_LEVELS",
    "TRUST_WORDS",
    "tsa_type",
]


def tsa_type(number: int, name: str, key: str, description: str = "") -> dict:
    """A Type object ``{id, name, description, key, notPublic}``."""
    return {"id": number, "name": name, "description": description, "key": key,
            "notPublic": False}


ADDRESS_TYPES = {
    "Hausanschrift": tsa_type(1, "Hausanschrift", "VISITOR", "Besucheranschrift"),
    "Postanschrift": tsa_type(2, "Postanschrift", "POSTAL"),
    "Lieferanschrift": tsa_type(3, "Lieferanschrift", "DELIVERY"),
}
COMMUNICATION_TYPES = {
    "Telefon": tsa_type(1, "Telefon", "TEL"),
    "Fax": tsa_type(2, "Fax", "FAX"),
    "E-Mail": tsa_type(3, "E-Mail", "EMAIL"),
    "Mobiltelefon": tsa_type(4, "Mobiltelefon", "MOBILE"),
}
PAYMENT_METHODS = (
    tsa_type(1, "Barzahlung", "CASH"),
    tsa_type(2, "EC-Karte", "DEBIT_CARD"),
    tsa_type(3, "Kreditkarte", "CREDIT_CARD"),
    tsa_type(4, "Überweisung", "TRANSFER"),
)
PAYMENT_SETS = ((0, 1), (3,), (0, 1, 2), (1, 3))
TRUST_LEVELS = {
    "LOW": tsa_type(1, "niedrig", "LOW"),
    "SUBSTANTIAL": tsa_type(2, "substanziell", "SUBSTANTIAL"),
    "HIGH": tsa_type(3, "hoch", "HIGH"),
}
TRUST_WORDS = {"niedrig": "LOW", "low": "LOW", "substanziell": "SUBSTANTIAL",
               "substantiell": "SUBSTANTIAL", "substantial": "SUBSTANTIAL", "hoch": "HIGH",
               "high": "HIGH"}
PERIOD_TYPE = tsa_type(1, "Antragsfrist", "APPLICATION_PERIOD")
SERVICE_PERIOD_TYPE = tsa_type(1, "Bearbeitungsdauer", "PROCESSING_TIME")
RECEIVERS = (tsa_type(1, "Bürgerinnen und Bürger", "CITIZEN"),
             tsa_type(2, "Unternehmen", "COMPANY"))
PST_TYPES = ("LO", "LO", "LO", "LOV", "LOVZ", "A")
#: (elevator, wheelchairAccessible, accessibleInfo) of visitor addresses, by bucket.
ACCESS = (
    (True, True, "Barrierefreier Zugang über den Haupteingang."),
    (False, False, "Das Gebäude ist nicht barrierefrei. Bitte sprechen Sie uns an."),
    (True, True, ""),
    (None, None, ""),
)
LOCAL_SENTENCES = (
    "In Jena stellen Sie den Antrag im Bürgerservice am Anger oder online.",
    "Die Stadt Jena bietet dafür eine Sprechstunde dienstags von 14 bis 18 Uhr an.",
    "In Jena erhalten Sie die Unterlagen nach Terminvereinbarung auch im Stadtteilbüro "
    "Lobeda.",
    "Für Jena gilt ergänzend die Verwaltungskostensatzung der Stadt.",
)
DISTRICTS = ("Lobeda", "Winzerla", "Nord", "Ost", "West", "Zentrum", "Göschwitz", "Burgau")
