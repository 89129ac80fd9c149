"""Human labels for record fields, as the AG OZG reads them (German).

A field path such as ``texte.06.text`` or ``zustaendigkeiten[01:S1.OE.4]`` becomes
"Volltext" or "Zuständige Stelle". Item keys of keyed collections (URLs, ids) are part of
the path but not of the label.
"""

from __future__ import annotations

__all__ = ["CODE_LABELS", "ROLE_LABELS", "field_label"]

#: LeiKa text-module codes (``details[].code`` in PVOG).
CODE_LABELS = {
    "01": "Leistungsbezeichnung",
    "02": "Leistungsbezeichnung",
    "03": "Leistungsbezeichnung II",
    "06": "Volltext",
    "07": "Rechtsgrundlagen",
    "08": "Erforderliche Unterlagen",
    "09": "Voraussetzungen",
    "11": "Verfahrensablauf",
    "14": "Formulare",
    "15": "Weiterführende Informationen",
    "16": "Hinweise",
    "18": "Urheber",
    # Texts about the offices; "Text:" keeps them apart from the Zuständigkeit itself.
    "22": "Text: Zuständige Stelle",
    "23": "Text: Ansprechpunkt",
    "24": "Kurztext",
    "25": "Rechtsbehelf",
    "93": "Fachliche Freigabe",
    "94": "Ursprungsportal",
    "95": "Bearbeitungsdauer",
    "97": "Fristen",
    "98": "Gebühren",
    "STATUS": "Status Bibliothekseintrag",
    "STATUSKATALOG": "Status Katalogeintrag",
}

ROLE_LABELS = {"01": "Zuständige Stelle", "03": "Ansprechpunkt"}

FIELD_LABELS = {
    "leistung": {
        "name": "Name der Leistung",
        "leika": "LeiKa-Schlüssel",
        "ars": "Gebiet (ARS)",
        "texte": "Texte",
        "fachliche_freigabe": "Fachliche Freigabe",
        "onlinedienste": "Online-Dienst › Link",
        "zustaendigkeiten": "Zuständigkeit",
        "ursprungsportal": "Ursprungsportal",
        "zufi_id": "ZuFi-ID",
        "synonyme": "Synonyme",
        "gueltigkeit": "Gültigkeit der Leistung",
        "typ": "Leistungstyp",
        "gebuehren": "Gebühren",
        "fristen": "Fristen",
        "bearbeitungsdauer": "Bearbeitungsdauer",
        "unterlagen": "Erforderliche Unterlagen",
        "vertrauensniveau": "Vertrauensniveau",
        "fachbereich": "Fachbereich",
        "schriftform_erforderlich": "Schriftform erforderlich",
    },
    "organisationseinheit": {
        "name": "Bezeichnung",
        "anschriften": "Anschrift",
        "kommunikation": "Kommunikation",
        "internetadressen": "Internetadresse",
        "oeffnungszeiten": "Öffnungszeiten",
        "uebergeordnet": "Übergeordnete Stelle",
        "beschreibung": "Beschreibung",
        "termin": "Terminvereinbarung",
        "zusatzinformationen": "Zusatzinformation",
        "zahlungsarten": "Zahlungsarten",
    },
    "onlinedienst": {
        "name": "Name des Onlinedienstes",
        "links": "Online-Dienst › Link",
        "leistungen": "Zugeordnete Leistung",
        "geerbt": "Geerbt von Land/Bund",
        "vertrauensniveau": "Vertrauensniveau",
    },
    "link": {
        "url": "Link",
        "zustand": "Link-Prüfung › Zustand",
        "status": "Link-Prüfung › HTTP-Status",
        "fehler": "Link-Prüfung › Fehler",
        "weiterleitungen": "Link-Prüfung › Weiterleitungen",
        "ziel": "Link-Prüfung › Ziel-URL",
        "zielhost": "Link-Prüfung › Ziel-Host",
        "inhaltstyp": "Link-Prüfung › Inhaltstyp",
        "seitentitel": "Link-Prüfung › Seitentitel",
        "stelle": "Link-Prüfung › Genannte Stelle",
        "thavel": "Link-Prüfung › ThAVEL-Instanz",
    },
}

SUB_LABELS = {
    "text": "",
    "titel": "Titel",
    "url": "Link",
    "links": "Link",
    "details": "",
    "datum": "Datum",
    "stelle": "Stelle",
    "name": "Name",
    "rolle": "Rolle",
    "rollenname": "Rolle",
    "wert": "",
    "thavel": "ThAVEL",
    "erforderlich": "erforderlich",
    "online": "Online-Termin",
    "id": "Onlinedienst-ID",
    "gueltig_von": "gültig ab",
    "gueltig_bis": "gültig bis",
    "gueltigkeitszeitraeume": "Gültigkeitszeiträume",
    "von": "gültig ab",
    "bis": "gültig bis",
    "zeitraeume": "Gültigkeitszeiträume",
    "vertrauensniveau": "Vertrauensniveau",
    "identifizierung": "Identifizierung",
    "platzhalter": "kein Inhalt",
    "spezialisierungen": "Spezialisierung",
    "gebiet": "Gebiet",
    "gebiet_id": "Gebiet",
    "rechtsnormen": "Rechtsnormen",
    "bezeichnung": "Bezeichnung",
    "art": "Art",
    "betrag": "Betrag",
    "hinweis": "Hinweis",
    "vorkasse": "Vorkasse",
    "postfach": "Postfach",
    "barrierefrei": "Barrierefreiheit",
    "kanal": "Kanal",
}

#: Channel codes as text. PVOG sends ``communications[].code``; numeric codes (an XÖV code
#: list, not confirmed for PVOG) are shown as "Kanal <code>" rather than guessed.
COMMUNICATION_LABELS = {
    "tel": "Telefon", "telefon": "Telefon", "phone": "Telefon",
    "fax": "Fax", "email": "E-Mail", "e-mail": "E-Mail", "mail": "E-Mail",
    "www": "Internet", "url": "Internet", "mobil": "Mobiltelefon",
}


def field_label(kind: str, segments: list[tuple[str, bool]]) -> str:
    """The label of a field path; ``segments`` are (name, is_item_key) pairs."""
    if not segments:
        return ""
    top = segments[0][0]
    rest = segments[1:]
    parts = [FIELD_LABELS.get(kind, {}).get(top, top)]
    if kind == "leistung" and top == "texte" and rest:
        code = rest[0][0].split("#")[0]
        parts = [CODE_LABELS.get(code, f"Textmodul {code}")]
        rest = rest[1:]
    elif kind == "leistung" and top == "zustaendigkeiten" and rest and rest[0][1]:
        role = rest[0][0].split(":", 1)[0]
        parts = [ROLE_LABELS.get(role, f"Organisationseinheit (Rolle {role})")]
        rest = rest[1:]
    elif kind == "organisationseinheit" and top == "kommunikation" and rest and rest[0][1]:
        channel = rest[0][0].split(":", 1)[0]
        parts.append(COMMUNICATION_LABELS.get(channel.lower(), f"Kanal {channel}"))
        rest = rest[1:]
    for name, is_key in rest:
        if is_key:
            continue
        sub = SUB_LABELS.get(name, name)
        if sub and sub not in parts[-1]:
            parts.append(sub)
    return " › ".join(parts)
