"""Severity rules: defaults, critical link checks, overrides from the configuration."""

from __future__ import annotations

import pytest

from zufiwatch.config import RuleOverride, RulesSettings
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
