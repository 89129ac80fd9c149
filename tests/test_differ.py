"""The differ: keyed by identity, never by position; labels a person understands."""

from __future__ import annotations

import copy

from zufiwatch.differ import diff_content, diff_records, reappeared
from zufiwatch.model import ChangeType
from zufiwatch.normalize import link
from zufiwatch.render import short_value

LEISTUNG = {
    "name": "Gewerbe anmelden",
    "leika": ["99050012104000"],
    "texte": {
        "06": {"titel": "Volltext", "text": "Sie müssen Ihr Gewerbe anmelden."},
        "98": {"titel": "Kosten", "text": "",
               "details": [{"titel": "Gebühr", "text": "25,00 EUR"}]},
    },
    "fachliche_freigabe": {"stelle": "TMWWDG", "datum": "2021-09-08"},
    "onlinedienste": [
        {"url": "https://thavel.thueringen.de/thavel/portal?aid=354824&f=leistung", "titel": "A"},
        {"url": "https://www.elster.de/eportal/start", "titel": "ELSTER"},
    ],
    "zustaendigkeiten": [
        {"id": "S1.OE.1", "name": "Gewerbeamt", "rolle": "01", "rollenname": "Zuständige Stelle"},
        {"id": "S1.OE.2", "name": "Bürgerservice", "rolle": "03", "rollenname": "Ansprechpunkt"},
    ],
}


def edited(**changes) -> dict:
    content = copy.deepcopy(LEISTUNG)
    content.update(changes)
    return content


def test_identical_content_has_no_changes() -> None:
    assert diff_content("leistung", LEISTUNG, copy.deepcopy(LEISTUNG)) == []


def test_list_order_is_not_a_change() -> None:
    reordered = edited(onlinedienste=list(reversed(LEISTUNG["onlinedienste"])),
                       zustaendigkeiten=list(reversed(LEISTUNG["zustaendigkeiten"])))
    assert diff_content("leistung", LEISTUNG, reordered) == []


def test_replaced_link_is_one_modification_with_old_and_new() -> None:
    new_link = {"url": "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc", "titel": "A"}
    (change,) = diff_content("leistung", LEISTUNG, edited(
        onlinedienste=[LEISTUNG["onlinedienste"][1], new_link]))
    assert change.change_type is ChangeType.MODIFIED
    assert change.label == "Online-Dienst › Link"
    assert change.old == LEISTUNG["onlinedienste"][0]
    assert change.new == new_link
    assert change.path == ("onlinedienste[https://thavel.thueringen.de/thavel/portal"
                           "?aid=354824&f=leistung]")


def test_link_title_edit_is_a_field_change_of_that_link() -> None:
    links = copy.deepcopy(LEISTUNG["onlinedienste"])
    links[1]["titel"] = "ELSTER Online"
    (change,) = diff_content("leistung", LEISTUNG, edited(onlinedienste=links))
    assert change.path == "onlinedienste[https://www.elster.de/eportal/start].titel"
    assert change.label == "Online-Dienst › Link › Titel"
    assert (change.old, change.new) == ("ELSTER", "ELSTER Online")


def test_added_and_removed_links_are_separate_when_not_one_for_one() -> None:
    extra = [{"url": "https://a.de/1", "titel": ""}, {"url": "https://a.de/2", "titel": ""}]
    changes = diff_content("leistung", LEISTUNG,
                           edited(onlinedienste=LEISTUNG["onlinedienste"][1:] + extra))
    assert sorted(c.change_type.value for c in changes) == ["added", "added", "removed"]
    assert {c.label for c in changes} == {"Online-Dienst › Link"}


def test_responsible_office_change_is_labelled_by_role() -> None:
    offices = copy.deepcopy(LEISTUNG["zustaendigkeiten"])
    offices[0] = {"id": "S1.OE.9", "name": "Ordnungsamt", "rolle": "01",
                  "rollenname": "Zuständige Stelle"}
    (change,) = diff_content("leistung", LEISTUNG, edited(zustaendigkeiten=offices))
    assert change.label == "Zuständige Stelle"
    assert (change.old["name"], change.new["name"]) == ("Gewerbeamt", "Ordnungsamt")


def test_fee_and_text_and_approval_labels() -> None:
    content = copy.deepcopy(LEISTUNG)
    content["texte"]["98"]["details"][0]["text"] = "30,00 EUR"
    content["texte"]["06"]["text"] += " Neu."
    content["fachliche_freigabe"]["datum"] = "2026-01-01"
    labels = {c.label: c for c in diff_content("leistung", LEISTUNG, content)}
    assert set(labels) == {"Gebühren", "Volltext", "Fachliche Freigabe › Datum"}
    assert labels["Gebühren"].new == {"titel": "Gebühr", "text": "30,00 EUR"}
    assert labels["Volltext"].path == "texte.06.text"


def test_scalar_lists_are_sets() -> None:
    more = edited(leika=["99050012104000", "99000000000000"])
    (change,) = diff_content("leistung", LEISTUNG, more)
    assert change.change_type is ChangeType.ADDED
    assert (change.label, change.new) == ("LeiKa-Schlüssel", "99000000000000")


def test_new_text_module_is_added() -> None:
    content = copy.deepcopy(LEISTUNG)
    content["texte"]["09"] = {"titel": "Voraussetzungen", "text": "Volljährig"}
    (change,) = diff_content("leistung", LEISTUNG, content)
    assert (change.change_type, change.label) == (ChangeType.ADDED, "Voraussetzungen")


def test_record_added_and_removed() -> None:
    (added,) = diff_records("leistung", None, LEISTUNG)
    (removed,) = diff_records("organisationseinheit", {"name": "Gewerbeamt"}, None)
    assert (added.change_type, added.label) == (ChangeType.ADDED, "Leistung neu")
    # An added record shows what is needed to judge it, not its name alone.
    assert added.new == {
        "name": "Gewerbe anmelden", "zustaendige_stelle": "Gewerbeamt",
        "onlinedienste": [{"url": "https://thavel.thueringen.de/thavel/portal?aid=354824"
                                  "&f=leistung", "titel": "A"},
                          {"url": "https://www.elster.de/eportal/start", "titel": "ELSTER"}]}
    assert (removed.change_type, removed.label, removed.old) == (
        ChangeType.REMOVED, "Organisationseinheit entfernt", "Gewerbeamt")


def test_an_added_onlinedienst_shows_its_links_with_the_thavel_identity() -> None:
    content = {"name": "Geburtsurkunde online", "leistungen": [{"id": "1"}],
               "links": [link("https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc", "Antrag")]}
    (added,) = diff_records("onlinedienst", None, content)
    assert added.new == {"name": "Geburtsurkunde online", "links": [content["links"][0]]}
    assert short_value(added.new) == (
        "Geburtsurkunde online — Links: https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc "
        "(ThAVEL go/a/5741)")
    office = {"name": "Ordnungsamt", "kommunikation": [{"kanal": "Telefon", "wert": "+49 1"}],
              "anschriften": [{"typ": "Hausanschrift", "strasse": "Markt", "hausnummer": "1",
                               "plz": "07743", "ort": "Jena"}], "oeffnungszeiten": "Mo"}
    (back,) = reappeared("organisationseinheit", None, office)
    assert short_value(back.new) == "Ordnungsamt — Markt 1, 07743 Jena — Telefon: +49 1"
    (link_record,) = diff_records("link", None, {"url": "https://a.example/", "zustand": "x"})
    assert link_record.new == "https://a.example/"


def test_phone_change_is_labelled_by_channel() -> None:
    old = {"kommunikation": [{"kanal": "Telefon", "wert": "+49 3641 49-1"},
                             {"kanal": "E-Mail", "wert": "a@jena.de"}]}
    new = {"kommunikation": [{"kanal": "Telefon", "wert": "+49 3641 49-2"},
                             {"kanal": "E-Mail", "wert": "a@jena.de"}]}
    (change,) = diff_content("organisationseinheit", old, new)
    assert change.label == "Kommunikation › Telefon"
    assert change.new == {"kanal": "Telefon", "wert": "+49 3641 49-2"}


def test_only_the_differ_imports_deepdiff() -> None:
    import re
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "zufiwatch"
    users = {p.relative_to(package).as_posix() for p in package.rglob("*.py")
             if re.search(r"^\s*(from|import)\s+deepdiff", p.read_text(encoding="utf-8"),
                          flags=re.MULTILINE)}
    assert users == {"differ.py"}
