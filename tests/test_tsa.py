"""The ZuFi's own API (TSA Infodienste REST API v4) as a second source, over HTTP against
the simulated TSA, and its cross-check with the simulated PVOG."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.conftest import Crawler
from zufiwatch.alerts import Alerts
from zufiwatch.config import NotifySettings, Settings, SourceSettings
from zufiwatch.crosscheck import compare, match, open_disagreements, zufi_id_of
from zufiwatch.model import Outcome
from zufiwatch.runner import CrawlResult, crosscheck_after, replay_crawl, run_crawl
from zufiwatch.sim import Scenario
from zufiwatch.sim.tsa import AREA_ID, ROOT_OU, SimulatedTSA
from zufiwatch.sources.tsa import parse_page, parse_pst, parse_services

API_KEY = "sim-api-key"
GEBURTSURKUNDE = "354790"  # pst id of 'Geburtsurkunde beantragen'
JENA_LINK = "https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc"
GERA_LINK = "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc"


@pytest.fixture
def tsa(scenario: Scenario) -> Iterator[SimulatedTSA]:
    with SimulatedTSA(scenario, api_key=API_KEY) as server:
        yield server


def tsa_settings(server: SimulatedTSA, **changes) -> SourceSettings:
    settings = SourceSettings(name="zufi-test", kind="tsa", base_url=server.base_url,
                              root_ou=str(ROOT_OU), area_id=AREA_ID,
                              api_key_env="ZUFIWATCH_TEST_TSA_KEY", page_size=10,
                              max_concurrency=3, min_interval=0, crosscheck="pvog-test")
    return replace(settings, **changes)


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ZUFIWATCH_TEST_TSA_KEY", API_KEY)
    return API_KEY


@dataclass
class Both:
    """Each simulated day: the PVOG crawl, the ZuFi crawl an hour later, the cross-check."""

    crawler: Crawler
    tsa: SimulatedTSA
    zufi: SourceSettings
    settings: Settings
    alerts: Alerts

    @property
    def history(self):
        return self.crawler.history

    def crawl_zufi(self) -> CrawlResult:
        return run_crawl(self.zufi, history=self.history, archive=self.crawler.archive,
                         fetcher=self.crawler.fetcher, clock=self.crawler.clock,
                         alerts=self.alerts)

    def day(self, day: int) -> tuple[CrawlResult, CrawlResult]:
        clock = self.crawler.clock
        self.crawler.pvog.set_day(day)
        self.tsa.set_day(day)
        pvog = run_crawl(self.crawler.source, history=self.history,
                         archive=self.crawler.archive, fetcher=self.crawler.fetcher,
                         clock=clock, alerts=self.alerts)
        crosscheck_after(self.settings, self.crawler.source, history=self.history,
                         clock=clock, alerts=self.alerts)
        clock.advance(hours=1)
        zufi = self.crawl_zufi()
        crosscheck_after(self.settings, self.zufi, history=self.history, clock=clock,
                         alerts=self.alerts)
        clock.advance(hours=23)
        return pvog, zufi

    def content(self, key: str, source: str = "zufi-test") -> dict:
        row = self.history.db.execute(
            "SELECT v.content FROM records r JOIN versions v ON v.id = r.current_version "
            "WHERE r.source = ? AND r.key = ?", [source, key]).fetchone()
        return json.loads(row[0])


@pytest.fixture
def both(crawler: Crawler, tsa: SimulatedTSA, api_key: str) -> Both:
    zufi = tsa_settings(tsa)
    settings = Settings(sources=(crawler.source, zufi), notify=NotifySettings(
        recipients=("ag-ozg@jena.de",), sender="zufiwatch@jena.de"))
    return Both(crawler, tsa, zufi, settings, Alerts(settings))


# -- the source -----------------------------------------------------------------------------


def test_the_zufi_is_crawled_with_offices_leistungen_and_online_services(both: Both) -> None:
    _pvog, zufi = both.day(0)
    assert zufi.outcome is Outcome.COMPLETE, zufi.reason
    kinds = dict(both.history.db.execute(
        "SELECT kind, count(*) FROM records WHERE source = 'zufi-test' GROUP BY kind"))
    directory = both.crawler.pvog.scenario.directory_for(1)  # the ZuFi is a day ahead
    assert kinds["organisationseinheit"] == len(directory.offices) + 4  # root, 3 Dezernate
    responsible = {lb.rsplit(".", 1)[-1] for lb, titles in directory.titles.items()
                   if any(o["role"]["code"] == "01" for o in titles)}
    assert kinds["leistung"] == len(responsible)
    assert kinds["onlinedienst"] > 10
    leistung = both.content(f"leistung:{GEBURTSURKUNDE}")
    assert leistung["zufi_id"] == GEBURTSURKUNDE and leistung["leika"]
    assert [o["rolle"] for o in leistung["zustaendigkeiten"]] == ["01"]
    assert leistung["zustaendigkeiten"][0]["name"] == "Standesamt Jena"
    assert leistung["typ"] and leistung["vertrauensniveau"] and leistung["fachbereich"]
    assert leistung["texte"]["24"]["titel"] == "Kurztext"
    office = both.content(f"organisationseinheit:{leistung['zustaendigkeiten'][0]['id']}")
    assert office["anschriften"] and office["kommunikation"] and office["oeffnungszeiten"]
    assert office["uebergeordnet"] in {"19001", "19002", "19003"}
    assert office["zahlungsarten"] and {a["typ"] for a in office["anschriften"]} == {
        "Hausanschrift", "Postanschrift"}
    assert {k["kanal"] for k in office["kommunikation"]} == {"Telefon", "Fax", "E-Mail"}
    fees = both.content("leistung:354614")["gebuehren"]  # Ehefähigkeitszeugnis, "50 / 100"
    assert sorted(f["betrag"] for f in fees if f["art"] == "fest") == ["100,00 EUR",
                                                                      "50,00 EUR"]
    # Every request carried the key and the language; the manifest holds no key.
    assert all(both.tsa.headers_of(i).get("Api_key", both.tsa.headers_of(i).get("api_key"))
               == API_KEY for i in range(both.tsa.request_count))
    manifest = Path(both.history.crawl(zufi.crawl_id)["manifest"])
    with gzip.open(manifest, "rt") as fh:
        assert API_KEY not in fh.read()


def test_the_zufi_shows_a_change_a_day_before_the_pvog(both: Both) -> None:
    both.day(0)
    pvog, zufi = both.day(1)
    # Scenario day 2 (go/a/1273 → go/a/5741) is in the ZuFi on day 1, in the PVOG on day 2.
    assert [c.label for k, c in zufi.changes if k == f"leistung:{GEBURTSURKUNDE}"] == [
        "Online-Dienst › Link"]
    assert not [k for k, _ in pvog.changes if k.endswith(f".LB.{GEBURTSURKUNDE}")]
    pvog, _ = both.day(2)
    assert [c.label for k, c in pvog.changes if k.endswith(f".LB.{GEBURTSURKUNDE}")] == [
        "Online-Dienst › Link"]


def test_an_invalid_api_key_is_a_configuration_error_not_an_empty_directory(
        both: Both, monkeypatch: pytest.MonkeyPatch) -> None:
    both.day(0)
    before = both.history.db.execute(
        "SELECT status, count(*) FROM records WHERE source = 'zufi-test' GROUP BY status"
    ).fetchall()
    monkeypatch.setenv("ZUFIWATCH_TEST_TSA_KEY", "wrong-key")
    result = both.crawl_zufi()
    assert result.outcome is Outcome.FAILED
    assert "rejected the api_key (HTTP 401): a configuration error, not an empty directory" \
        in result.reason
    assert "ZUFIWATCH_TEST_TSA_KEY" in result.reason and "wrong-key" not in result.reason
    after = both.history.db.execute(
        "SELECT status, count(*) FROM records WHERE source = 'zufi-test' GROUP BY status"
    ).fetchall()
    assert after == before  # nothing concluded missing or removed


def test_a_missing_api_key_stops_the_crawl_naming_the_setting(both: Both,
                                                             monkeypatch) -> None:
    monkeypatch.delenv("ZUFIWATCH_TEST_TSA_KEY")
    result = both.crawl_zufi()
    assert result.outcome is Outcome.FAILED
    assert "api_key_env: environment variable ZUFIWATCH_TEST_TSA_KEY is not set" in result.reason
    assert both.tsa.request_count == 0


def _config_with_zufi(crawler: Crawler, tsa: SimulatedTSA, tmp_path: Path,
                      key: str = 'api_key_env = "ZUFIWATCH_TEST_TSA_KEY"') -> Path:
    """A configuration file with the crawler's PVOG source and the simulated ZuFi."""
    config = crawler.write_config(tmp_path / "zufiwatch.toml")
    config.write_text(config.read_text(encoding="utf-8") + f"""
[[sources]]
name = "zufi-test"
kind = "tsa"
base_url = "{tsa.base_url}"
root_ou = "{ROOT_OU}"
area_id = "{AREA_ID}"
{key}
crosscheck = "pvog-test"
min_interval = 0
""", encoding="utf-8")
    return config


def test_the_cli_reports_a_rejected_key_as_a_configuration_problem(
        crawler: Crawler, tsa: SimulatedTSA, tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from zufiwatch.cli import cli

    key_file = tmp_path / "tsa-key"
    key_file.write_text("not-the-key\n", encoding="utf-8")
    config = _config_with_zufi(crawler, tsa, tmp_path, key=f'api_key_file = "{key_file}"')
    result = CliRunner().invoke(cli, ["--config", str(config), "crawl", "--source",
                                      "zufi-test"])
    assert result.exit_code == 1
    assert "rejected the api_key (HTTP 401)" in result.output
    assert "not-the-key" not in result.output


def test_an_empty_answer_from_the_zufi_is_never_mass_removal(both: Both) -> None:
    both.day(0)
    both.tsa.inject("/ou/find", "empty")
    result = both.crawl_zufi()
    assert result.outcome is Outcome.FAILED and result.reason.startswith("suspicious")
    assert both.history.db.execute(
        "SELECT count(*) FROM records WHERE source = 'zufi-test' AND status != 'present'"
    ).fetchone()[0] == 0


def test_unreadable_leistungen_make_a_partial_crawl_and_nothing_is_removed(
        both: Both) -> None:
    both.day(0)
    both.tsa.inject(f"/pst/{GEBURTSURKUNDE}", "status", status=500)
    result = both.crawl_zufi()
    assert result.outcome is Outcome.PARTIAL
    assert f"leistung:{GEBURTSURKUNDE}" in result.reason
    statuses = dict(both.history.db.execute(
        "SELECT status, count(*) FROM records WHERE source = 'zufi-test' GROUP BY status"))
    assert set(statuses) == {"present"}


def test_a_leistung_gone_from_the_zufi_is_removed_after_a_recheck(both: Both) -> None:
    both.day(0)
    both.day(1)
    both.day(2)
    both.day(3)  # the ZuFi shows the scenario's day 4: a Leistung removed
    removed = both.history.db.execute(
        "SELECT key FROM records WHERE source = 'zufi-test' AND status = 'removed'"
    ).fetchall()
    assert removed == [("leistung:213716060",)]


def test_malformed_and_maintenance_answers_are_clear_errors(both: Both) -> None:
    both.day(0)
    both.tsa.inject(f"/ou/{ROOT_OU}", "maintenance")
    result = both.crawl_zufi()
    assert result.outcome is Outcome.FAILED
    assert "HTML page instead of JSON" in result.reason
    both.tsa.clear_faults()
    both.tsa.inject("/ouCompetence/", "truncated", times=1)
    result = both.crawl_zufi()
    assert result.outcome is Outcome.PARTIAL
    assert "truncated JSON" in result.reason


def test_a_zufi_crawl_is_replayed_from_its_archive(both: Both) -> None:
    _, zufi = both.day(0)
    manifest = Path(both.history.crawl(zufi.crawl_id)["manifest"])
    replayed = replay_crawl(both.zufi, manifest, history=both.history,
                            archive=both.crawler.archive, clock=both.crawler.clock,
                            rebaseline=True)
    assert replayed.outcome is Outcome.COMPLETE, replayed.reason
    assert replayed.changes == []
    assert replayed.stats["observed"] == zufi.stats["observed"]


def test_an_unchanged_zufi_is_confirmed_without_parsing_and_conditional_requests_spare_bodies(
        both: Both) -> None:
    both.day(0)
    first = both.crawl_zufi()
    assert first.outcome is Outcome.COMPLETE and first.changes == []
    assert both.tsa.not_modified > 0


# -- the cross-check -----------------------------------------------------------------------


def test_matched_leistungen_pair_by_zufi_id_from_the_deep_link(both: Both) -> None:
    both.day(0)
    tsa = {k: both.content(k) for (k,) in both.history.db.execute(
        "SELECT key FROM records WHERE source = 'zufi-test' AND kind = 'leistung'")}
    pvog = {k: both.content(k, "pvog-test") for (k,) in both.history.db.execute(
        "SELECT key FROM records WHERE source = 'pvog-test' AND kind = 'leistung' "
        "AND status = 'present'")}
    pairs = match(tsa, pvog)
    assert len(pairs) >= len(tsa) - 1  # the ZuFi is a day ahead: one Leistung is new there
    # Federal Leistungen come from the FIM portal, without a ZuFi deep link: their LeiKa
    # key pairs them.
    by_leika = [p for p in pairs if p.by == "leika"]
    assert all(zufi_id_of(pvog[p.pvog_key]) == "" for p in by_leika)
    assert len(by_leika) < len(pairs) / 4
    pair = next(p for p in pairs if p.zufi_id == GEBURTSURKUNDE)
    assert pair.pvog_key.endswith(f".LB.{GEBURTSURKUNDE}")
    assert zufi_id_of(pvog[pair.pvog_key]) == GEBURTSURKUNDE


def test_compare_finds_differing_links_and_offices_but_not_case_or_order() -> None:
    pvog = {"onlinedienste": [{"url": JENA_LINK}],
            "zustaendigkeiten": [{"id": "S1.OE.1", "name": "Standesamt  Jena", "rolle": "01"},
                                 {"id": "S1.OE.2", "name": "Bürgerservice", "rolle": "03"}]}
    tsa = {"onlinedienste": [{"url": JENA_LINK}],
           "zustaendigkeiten": [{"id": "20006", "name": "standesamt jena", "rolle": "01"}]}
    assert compare(tsa, pvog) == {}
    moved = {**tsa, "onlinedienste": [{"url": GERA_LINK}],
             "zustaendigkeiten": [{"id": "20001", "name": "Bürgerservice", "rolle": "01"}]}
    assert compare(moved, pvog) == {
        "onlinedienste": ((GERA_LINK,), (JENA_LINK,)),
        "zustaendige_stelle": (("Bürgerservice",), ("Standesamt Jena",))}


def test_the_daily_lead_of_the_zufi_is_never_reported(both: Both) -> None:
    for day in range(8):
        both.day(day)
    assert open_disagreements(both.history, include_resolved=True, reported_only=True) == []
    seen = open_disagreements(both.history, include_resolved=True)
    assert seen  # the ZuFi's lead was seen as differences, each resolved within a day
    assert all(row["resolved_at"] for row in seen)
    assert both.history.db.execute(
        "SELECT count(*) FROM outbox WHERE kind = 'disagreement'").fetchone()[0] == 0


def test_a_lasting_disagreement_is_reported_once_after_the_sync_window(both: Both) -> None:
    both.day(0)
    both.tsa.set_links(GEBURTSURKUNDE, ["https://ajproxy.jena.de/olav/geburtsurkunde"])
    reported = []
    for day in range(1, 5):  # checks 23 h, 47 h, 71 h and 95 h after the edit
        both.day(day)
        reported.append([(row["zufi_id"], row["aspect"]) for row in open_disagreements(
            both.history, reported_only=True)])
    assert reported[0] == [] and reported[1] == []
    assert (GEBURTSURKUNDE, "onlinedienste") in reported[2]
    (row,) = [r for r in open_disagreements(both.history, reported_only=True)
              if r["zufi_id"] == GEBURTSURKUNDE]
    assert row["zufi_value"] == ["https://ajproxy.jena.de/olav/geburtsurkunde"]
    assert row["severity"] == "high" and row["title"] == "Geburtsurkunde beantragen"
    messages = both.history.db.execute(
        "SELECT subject, message FROM outbox WHERE kind = 'disagreement'").fetchall()
    assert len(messages) == 1  # once, not again on day 4
    subject, raw = messages[0]
    text = " ".join(message_from_bytes(raw, policy=policy.default)
                    .get_body(preferencelist=("plain",)).get_content().split())
    assert "ZuFi und PVOG widersprechen sich" in subject
    assert "Geburtsurkunde beantragen" in text and "Online-Dienst-Links" in text
    assert "Im ZuFi: https://ajproxy.jena.de/olav/geburtsurkunde" in text
    assert "länger als 48 Stunden" in text
    # The ZuFi edit is taken back: the disagreement ends.
    both.tsa.set_links(GEBURTSURKUNDE, None)
    both.day(5)
    assert [r for r in open_disagreements(both.history) if r["zufi_id"] == GEBURTSURKUNDE] \
        == []


def test_a_responsible_office_moved_in_the_zufi_only_is_a_disagreement(both: Both) -> None:
    both.day(0)
    both.tsa.set_responsible(GEBURTSURKUNDE, 20001)  # Bürgerservice instead of Standesamt
    for day in range(1, 4):
        both.day(day)
    (row,) = [r for r in open_disagreements(both.history, reported_only=True)
              if r["zufi_id"] == GEBURTSURKUNDE]
    assert row["aspect"] == "zustaendige_stelle"
    assert row["zufi_value"] == ["Bürgerservice Jena"]
    assert row["pvog_value"] == ["Standesamt Jena"]


def test_no_cross_check_before_both_sources_had_a_complete_crawl(both: Both) -> None:
    both.crawler.pvog.set_day(0)
    run_crawl(both.crawler.source, history=both.history, archive=both.crawler.archive,
              fetcher=both.crawler.fetcher, clock=both.crawler.clock)
    (result,) = crosscheck_after(both.settings, both.crawler.source, history=both.history,
                                 clock=both.crawler.clock)
    assert not result.ran and result.reason == "no complete crawl of zufi-test yet"


def test_pure_parsers_read_the_seen_shapes_and_ignore_unknown_fields() -> None:
    page = parse_page({"count": 1, "totalCount": 3, "new": 1,
                       "results": [{"score": 2.5, "object": {"id": 1}, "extra": True}]}, "x")
    assert (page.items, page.count, page.total) == ([{"id": 1}], 1, 3)
    assert parse_page({"content": [], "totalElements": 0, "new": 1}, "x").total == 0
    services = parse_services({"count": 2, "totalCount": 2, "results": [
        {"score": 1.0, "object": {"id": 7, "link": "https://a.de/x", "name": "A",
                                  "trustLevel": {"id": 2, "name": "substanziell",
                                                 "key": "SUBSTANTIAL"}, "extra": True}},
        {"score": 1.0, "object": {"id": 8, "name": "no link"}}]})
    assert [(s.id, s.trust_level) for s in services] == [("7", "substanziell")]
    record = parse_pst({"id": 42, "name": "Test", "unknown": {"x": 1},
                        "textBlocks": [{"type": {"id": 6, "name": "Volltext", "key": "06"},
                                        "text": "<p>Hallo</p>"}],
                        "charges": [{"type": "FIX", "name": "Gebühr", "amount": 5}]},
                       services, [("20006", "Standesamt Jena")])
    assert record.key == "leistung:42"
    assert record.content["texte"]["06"] == {"titel": "Volltext", "text": "Hallo"}
    assert [(c["bezeichnung"], c["betrag"]) for c in record.content["gebuehren"]] == [
        ("Gebühr", "5,00 EUR")]
    assert record.content["onlinedienste"] == [{"url": "https://a.de/x", "titel": "A",
                                                "id": "7", "vertrauensniveau": "substanziell"}]
    with pytest.raises(Exception, match="required field 'name'"):
        parse_pst({"id": 1}, [], [])


def test_the_cli_lists_disagreements_with_documented_json_fields(
        both: Both, tmp_path: Path) -> None:
    import re

    from click.testing import CliRunner

    from zufiwatch.cli import cli

    both.day(0)
    both.tsa.set_links(GEBURTSURKUNDE, ["https://ajproxy.jena.de/olav/geburtsurkunde"])
    for day in range(1, 4):
        both.day(day)
    config = _config_with_zufi(both.crawler, both.tsa, tmp_path)
    runner = CliRunner()
    table = runner.invoke(cli, ["--config", str(config), "disagreements"])
    assert table.exit_code == 0, table.output
    assert "Geburtsurkunde beantragen" in table.output and "ajproxy.jena.de" in table.output
    rows = json.loads(runner.invoke(cli, ["--config", str(config), "disagreements",
                                          "--all", "--json"]).output)
    assert any(r["zufi_id"] == GEBURTSURKUNDE and r["reported_at"] for r in rows)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(\w+)`", readme.split("## JSON output", 1)[1]))
    assert set(rows[0]) - documented == set()


def test_check_config_finds_the_api_key_or_names_what_is_missing(
        crawler: Crawler, tsa: SimulatedTSA, tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from zufiwatch.cli import cli

    config = _config_with_zufi(crawler, tsa, tmp_path)
    monkeypatch.delenv("ZUFIWATCH_TEST_TSA_KEY", raising=False)
    missing = CliRunner().invoke(cli, ["--config", str(config), "check-config"])
    assert missing.exit_code == 1
    assert "sources[zufi-test].api_key_env: environment variable ZUFIWATCH_TEST_TSA_KEY is " \
           "not set" in missing.output
    monkeypatch.setenv("ZUFIWATCH_TEST_TSA_KEY", "secret-value")
    found = CliRunner().invoke(cli, ["--config", str(config), "check-config"])
    assert found.exit_code == 0 and "zufi-test: api_key found (not shown)" in found.output
    assert "secret-value" not in found.output


def test_the_overview_shows_open_disagreements(both: Both, tmp_path: Path) -> None:
    from zufiwatch.report import build_overview

    both.day(0)
    both.tsa.set_responsible(GEBURTSURKUNDE, 20001)
    for day in range(1, 4):
        both.day(day)
    index = build_overview(both.history, both.settings, tmp_path / "site",
                           now=both.crawler.clock()).read_text(encoding="utf-8")
    assert '<h2 id="disagreements">ZuFi und PVOG widersprechen sich (' in index
    row = next(r for r in index.split('<tr class="disagreement">')[1:]
               if "Geburtsurkunde beantragen" in r)
    assert "Zuständige Stelle" in row and "Bürgerservice Jena" in row
    assert "Standesamt Jena" in row and "hoch" in row


def test_no_cross_check_against_a_side_not_read_completely_within_the_window(
        both: Both) -> None:
    both.day(0)
    # The ZuFi fails from now on; the PVOG takes over the scenario's day-2 link edit, which
    # the ZuFi's last complete crawl (day 0, showing day 1) does not have.
    both.tsa.inject(f"/ou/{ROOT_OU}", "status", status=500)
    for day in range(1, 5):
        both.day(day)
    (result,) = crosscheck_after(both.settings, both.crawler.source, history=both.history,
                                 clock=both.crawler.clock, alerts=both.alerts)
    assert not result.ran
    assert result.reason == ("the last complete crawl of zufi-test is older than the sync "
                             "window of 48 h")
    assert open_disagreements(both.history, reported_only=True) == []


def test_links_are_one_row_per_url_naming_both_sources(both: Both, tmp_path: Path) -> None:
    from zufiwatch import queries
    from zufiwatch.report import build_overview
    from zufiwatch.timeutil import stored

    both.day(0)
    at = stored(both.crawler.clock())
    urls = set()
    for state in queries.directory_state(both.history, at=at):
        content = state["content"]
        if state["kind"] == "leistung":
            urls |= {link["url"] for link in content.get("onlinedienste", [])}
        elif state["kind"] == "onlinedienst" and not content.get("geerbt"):
            urls |= {link["url"] for link in content.get("links", [])}
    rows = queries.links(both.history, at=at)
    assert len(rows) == len(urls) == len({row["url"] for row in rows})
    geburt = next(row for row in rows if any(
        r["key"] == f"leistung:{GEBURTSURKUNDE}" for r in row["records"]))
    assert geburt["sources"] == "ZuFi, PVOG"
    assert geburt["leistung"] == "Geburtsurkunde beantragen"  # once, not once per source
    assert geburt["zustaendige_stelle"] == "Standesamt Jena"
    held = {(r["source"], r["kind"]) for r in geburt["records"]}
    assert {(both.zufi.name, "leistung"), (both.crawler.source.name, "leistung"),
            (both.zufi.name, "onlinedienst")} <= held
    index = build_overview(both.history, both.settings, tmp_path / "site",
                           now=both.crawler.clock())
    html = index.read_text(encoding="utf-8")
    assert html.count('<tr class="link">') == len(urls)
    assert html.count(geburt["url"].replace("&", "&amp;") + "</a>") == 1
