"""Severity of the link checker's findings: broken, refused, foreign host, authority,
ThAVEL instance, https → http."""

from __future__ import annotations

import pytest

from zufiwatch.config import RuleOverride, RulesSettings
from zufiwatch.differ import diff_records
from zufiwatch.model import ChangeType
from zufiwatch.rules import classify

RULES = RulesSettings(allowed_hosts=("thavelp.thueringen.de", "*.jena.de"),
                      own_thavel=("go/a/1273",), own_authorities=("Stadtverwaltung Jena",))
URL = "https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc"
START = "https://thavelp.thueringen.de/thavelp/portal/antrag/go-a-1273/start"
OK = {"url": URL, "zustand": "erreichbar", "status": 200, "fehler": "",
      "weiterleitungen": [{"url": URL, "status": 302}], "ziel": START,
      "zielhost": "thavelp.thueringen.de", "inhaltstyp": "text/html",
      "seitentitel": "ThAVEL – Antrag", "stelle": "Stadtverwaltung Jena", "thavel": "go/a/1273"}


def judge(old, new, rules: RulesSettings = RULES):
    """Severity and reasons of each change from old to new link content."""
    changes = diff_records("link", old, new)
    return [(c.label, *(lambda r: (r.severity, r.reasons))(classify("link", c, rules, new)))
            for c in changes]


def only(results):
    assert len(results) == 1, results
    return results[0]


def test_a_new_link_that_works_and_names_the_city_is_low() -> None:
    label, severity, reasons = only(judge(None, OK))
    assert (label, severity, reasons) == ("Link neu", "low", ())


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("stelle", "Stadtverwaltung Gera", "Link-Ziel nennt eine andere Stelle: Stadtverwaltung Gera"),
    ("thavel", "go/a/5741", "ThAVEL-Instanz einer anderen Stelle: go/a/5741"),
    ("zielhost", "antrag.example.net",
     "Link-Ziel auf nicht freigegebenem Host: antrag.example.net"),
    ("ziel", "http://thavelp.thueringen.de/x", "https → http: das Link-Ziel ist unverschlüsselt"),
])
def test_findings_are_critical_on_a_new_link_and_when_they_appear(field, value, reason) -> None:
    bad = {**OK, field: value}
    _label, severity, reasons = only(judge(None, bad))
    assert severity == "critical" and reason in reasons
    _label, severity, reasons = only(judge(OK, bad))
    assert severity == "critical" and reason in reasons


def test_a_target_now_on_another_allowed_host_is_critical() -> None:
    moved = {**OK, "zielhost": "ajproxy.jena.de", "ziel": "https://ajproxy.jena.de/x"}
    results = dict((label, (sev, why)) for label, sev, why in judge(OK, moved))
    severity, reasons = results["Link-Prüfung › Ziel-Host"]
    assert severity == "critical"
    assert reasons[0] == ("Link leitet jetzt auf einen anderen Host um: thavelp.thueringen.de "
                          "→ ajproxy.jena.de")
    assert results["Link-Prüfung › Ziel-URL"][0] == "low"


def test_own_authorities_match_case_insensitively_with_wildcards() -> None:
    rules = RulesSettings(own_authorities=("stadt jena*",))
    assert only(judge(None, {**OK, "stelle": "Stadt Jena, Bürgerservice"}, rules))[1] == "low"
    assert only(judge(None, {**OK, "stelle": "Stadt Gera"}, rules))[1] == "critical"


def test_without_own_lists_an_authority_change_is_high_not_critical() -> None:
    rules = RulesSettings(allowed_hosts=("thavelp.thueringen.de",))
    label, severity, _ = only(judge(OK, {**OK, "stelle": "Stadtverwaltung Gera"}, rules))
    assert (label, severity) == ("Link-Prüfung › Genannte Stelle", "high")
    assert only(judge(OK, {**OK, "stelle": ""}, rules))[1] == "low"


def test_broken_is_high_refused_is_critical_recovered_is_medium() -> None:
    broken = {"url": URL, "zustand": "nicht erreichbar", "fehler": "HTTP 404", "status": 404}
    results = {label: sev for label, sev, _ in judge(OK, broken)}
    assert results["Link-Prüfung › Zustand"] == "high"
    assert only(judge(None, broken))[1:] == ("high", ("Link nicht erreichbar: HTTP 404",))
    refused = {"url": URL, "zustand": "gesperrt", "fehler": "Nicht öffentliche Adresse: x"}
    assert {label: sev for label, sev, _ in judge(OK, refused)}["Link-Prüfung › Zustand"] \
        == "critical"
    assert only(judge(None, refused))[1] == "critical"
    back = {label: sev for label, sev, _ in judge(broken, OK)}
    assert back["Link-Prüfung › Zustand"] == "medium"


def test_title_and_status_changes_are_low_and_a_dropped_link_is_low() -> None:
    assert only(judge(OK, {**OK, "seitentitel": "Neu"}))[1] == "low"
    removed = diff_records("link", OK, None)
    assert removed[0].change_type is ChangeType.REMOVED
    assert classify("link", removed[0], RULES, OK).severity == "low"


def test_overrides_apply_to_links_and_critical_findings_stay_on_top() -> None:
    rules = RulesSettings(own_authorities=("Stadtverwaltung Jena",), override=(
        RuleOverride(kind="link", field="Link-Prüfung › Seitentitel", severity="medium"),
        RuleOverride(kind="link", field="Link-Prüfung › Genannte Stelle", severity="low")))
    assert only(judge(OK, {**OK, "seitentitel": "Neu"}, rules))[1] == "medium"
    assert only(judge(OK, {**OK, "stelle": "Stadt Gera"}, rules))[1] == "critical"


def test_a_new_link_record_whose_address_hides_its_host_is_critical() -> None:
    """Issue 18: the checker reached the host a browser opens; the link's own address
    still hides it, and that alone is critical on the link's first check."""
    url = "https://x@thavelp.thueringen.de/thavelp/go/a/1273?c=bc"
    label, severity, reasons = only(judge(None, {**OK, "url": url}))
    assert (label, severity) == ("Link neu", "critical")
    assert reasons == ("verschleierte Adresse: öffnet thavelp.thueringen.de "
                       "(Anmeldedaten vor dem Host)",)
    assert only(judge(None, OK))[1] == "low"  # the same link, written plainly
