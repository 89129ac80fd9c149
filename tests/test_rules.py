"""Severity rules: defaults, critical link checks, overrides from the configuration."""

from __future__ import annotations

from datetime import date

import pytest

from zufiwatch.config import RuleOverride, RulesSettings
from zufiwatch.differ import diff_records
from zufiwatch.labels import field_label
from zufiwatch.model import Change, ChangeType
from zufiwatch.normalize import link
from zufiwatch.rules import classify

RULES = RulesSettings(allowed_hosts=("thavelp.thueringen.de", "*.jena.de"),
                      own_thavel=("go/a/1273",))
JENA = link("https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc")
GERA = link("https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc")


def change(label: str, old=None, new=None, path: str = "x",
           kind: ChangeType = ChangeType.MODIFIED) -> Change:
    return Change(kind, path, label, old, new)


@pytest.mark.parametrize(("kind", "label", "severity"), [
    ("leistung", "Volltext", "low"),
    ("leistung", "Gebühren", "medium"),
    ("leistung", "Fachliche Freigabe › Datum", "medium"),
    ("leistung", "Zuständige Stelle", "high"),
    ("leistung", "Ansprechpunkt", "low"),
    ("organisationseinheit", "Kommunikation › Kanal 01", "medium"),
    ("organisationseinheit", "Öffnungszeiten", "medium"),
    ("organisationseinheit", "Anschrift", "medium"),
])
def test_defaults(kind: str, label: str, severity: str) -> None:
    assert classify(kind, change(label, "a", "b"), RULES).severity == severity


def test_a_link_change_within_the_city_is_high() -> None:
    own = link("https://ajproxy.jena.de/olav/olav.htm")
    result = classify("leistung", change("Online-Dienst › Link", JENA, own), RULES)
    assert result.severity == "high"


def test_another_authoritys_thavel_instance_is_critical() -> None:
    result = classify("leistung", change("Online-Dienst › Link", JENA, GERA), RULES)
    assert result.severity == "critical"
    assert "ThAVEL-Antrag einer anderen Stelle: go/a/5741" in result.reasons


def test_a_host_outside_the_allow_list_is_critical() -> None:
    evil = link("https://formulare.example.com/antrag")
    result = classify("onlinedienst", change("Online-Dienst › Link", None, evil,
                                             kind=ChangeType.ADDED), RULES)
    assert result.severity == "critical"
    assert result.reasons[0] == "Host nicht freigegeben: formulare.example.com"


def test_https_turned_into_http_is_critical() -> None:
    old = link("https://ajproxy.jena.de/a")
    new = link("http://ajproxy.jena.de/a")
    result = classify("leistung", change("Online-Dienst › Link", old, new), RULES)
    assert result.severity == "critical" and "https → http" in result.reasons


def test_a_removed_link_is_high_not_critical() -> None:
    result = classify("leistung", change("Online-Dienst › Link", GERA, None,
                                         kind=ChangeType.REMOVED), RULES)
    assert result.severity == "high"


def test_new_and_removed_records_are_high() -> None:
    added = Change(ChangeType.ADDED, "", "Leistung neu", None, "X")
    assert classify("leistung", added, RULES).severity == "high"


def test_overrides_per_kind_and_field_but_critical_checks_stay() -> None:
    rules = RulesSettings(allowed_hosts=RULES.allowed_hosts, own_thavel=RULES.own_thavel,
                          override=(RuleOverride("leistung", "Volltext", "high"),
                                    RuleOverride("*", "Online-Dienst", "medium")))
    assert classify("leistung", change("Volltext", "a", "b"), rules).severity == "high"
    assert classify("organisationseinheit", change("Volltext", "a", "b"),
                    rules).severity == "low"
    own = link("https://ajproxy.jena.de/olav/olav.htm")
    assert classify("leistung", change("Online-Dienst › Link", JENA, own),
                    rules).severity == "medium"
    assert classify("leistung", change("Online-Dienst › Link", JENA, GERA),
                    rules).severity == "critical"


# -- the audit facts of an online-service link (issue 13) ----------------------------------

TODAY = date(2026, 12, 6)
LINK_PATH = "onlinedienste[https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc]"


def fact(name: str, old, new) -> Change:
    return Change(ChangeType.MODIFIED, f"{LINK_PATH}.{name}", field_label(
        "leistung", [("onlinedienste", False), (JENA["url"], True), (name, False)]), old, new)


@pytest.mark.parametrize(("old", "new", "severity", "reason"), [
    ("2999-12-31", "2027-01-31", "high", "Online-Dienst endet am 31.01.2027"),
    ("2999-12-31", "2027-02-04", "high", "Online-Dienst endet am 04.02.2027"),  # day 60
    ("2999-12-31", "2027-06-30", "high", "Ende des Online-Dienstes vorgezogen: 31.12.2999 → "
                                         "30.06.2027"),
    ("2027-06-30", "2999-12-31", "medium", "Gültigkeit des Online-Dienstes geändert"),
    ("2027-06-30", "2027-06-30T00:00:00Z", "medium", "Gültigkeit des Online-Dienstes geändert"),
    ("", "2027-01-10", "high", "Online-Dienst endet am 10.01.2027"),
    ("2999-12-31", "", "medium", "Gültigkeit des Online-Dienstes geändert"),
])
def test_a_link_that_ends_soon_or_earlier_is_high(old, new, severity, reason) -> None:
    result = classify("leistung", fact("gueltig_bis", old, new), RULES, today=TODAY)
    assert (result.severity, result.reasons) == (severity, (reason,))


def test_without_a_day_no_link_counts_as_ending_soon() -> None:
    result = classify("leistung", fact("gueltig_bis", "", "2027-01-10"), RULES)
    assert result.severity == "medium"


@pytest.mark.parametrize(("old", "new", "severity"), [
    ("15", "10", "high"), ("3", "2", "high"), ("hoch", "substanziell", "high"),
    ("SUBSTANTIELL", "NIEDRIG", "high"), ("15", "", "high"),
    ("10", "15", "medium"), ("", "15", "medium"), ("unbekannt", "10", "medium"),
])
def test_a_link_that_loses_level_of_confidence_is_high(old, new, severity) -> None:
    result = classify("leistung", fact("vertrauensniveau", old, new), RULES, today=TODAY)
    assert result.severity == severity
    if severity == "high":
        assert result.reasons == (f"Vertrauensniveau gesenkt: {old} → {new}",)
    onlinedienst = classify("onlinedienst", Change(ChangeType.MODIFIED, "vertrauensniveau",
                                                   "Vertrauensniveau", old, new), RULES)
    assert onlinedienst.severity == severity


def test_other_facts_of_a_link_are_medium_and_the_link_itself_stays_high() -> None:
    for name, old, new in (("identifizierung", ["eID"], []), ("id", "B.OD.1", "B.OD.2")):
        assert classify("leistung", fact(name, old, new), RULES).severity == "medium"
    title = classify("leistung", fact("titel", "Antrag", "Neuer Antrag"), RULES)
    assert title.severity == "high"


def test_an_added_leistung_with_a_foreign_thavel_link_is_critical() -> None:
    (added,) = diff_records("leistung", None, {"name": "Neu", "onlinedienste": [GERA],
                                               "zustaendigkeiten": []})
    result = classify("leistung", added, RULES)
    assert result.severity == "critical"
    assert "ThAVEL-Antrag einer anderen Stelle: go/a/5741" in result.reasons


def test_a_link_that_only_looks_like_an_allowed_host_is_critical() -> None:
    """Issue 18: ``urlsplit`` reads thavelp.thueringen.de here, a browser opens evil.example
    port 1; the allow-list judges the host the browser opens."""
    lookalike = link("https://evil.example:1\\@thavelp.thueringen.de/thavelp/go/a/1273?c=bc")
    assert "thavel" not in lookalike
    result = classify("leistung", change("Online-Dienst › Link", JENA, lookalike), RULES)
    assert result.severity == "critical"
    assert result.reasons[:2] == (
        "verschleierte Adresse: öffnet evil.example:1, nicht thavelp.thueringen.de",
        "Host nicht freigegeben: evil.example")
