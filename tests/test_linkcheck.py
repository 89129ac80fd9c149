"""The link checker against the simulated PVOG and the simulated link targets over HTTP(S):
every finding of the scenario, broken links reported once, refusals without connections."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.conftest import Crawler, FakeClock
from zufiwatch.alerts import Alerts
from zufiwatch.archive import Archive
from zufiwatch.config import RulesSettings, Settings, SourceSettings
from zufiwatch.fetch import Fetcher
from zufiwatch.model import Outcome
from zufiwatch.runner import CrawlResult, replay_crawl, run_crawl
from zufiwatch.sim import Scenario
from zufiwatch.sim.targets import FOREIGN_HOST, OTHER_AUTHORITY, LinkTargets
from zufiwatch.sim.web import SimulatedWeb
from zufiwatch.store import History

GERA_LINK = "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc"


@pytest.fixture
def web() -> Iterator[SimulatedWeb]:
    with SimulatedWeb() as server:
        yield server


@pytest.fixture
def targets(scenario: Scenario) -> LinkTargets:
    return LinkTargets(scenario.directory_for(0))


def link_settings(web: SimulatedWeb, **changes) -> SourceSettings:
    settings = SourceSettings(
        name="links", kind="links", watch=("pvog-test",), max_concurrency=4, min_interval=0,
        timeout=10, allow_local=web.endpoints(),
        connect_to=tuple(f"{host}={address}" for host, address in web.connect_to()),
        ca_file=web.ca_file)
    return replace(settings, **changes)


@dataclass
class LinkCrawler:
    """Each simulated day: the PVOG crawl, then the link check, an hour later."""

    crawler: Crawler
    web: SimulatedWeb
    targets: LinkTargets
    links: SourceSettings
    alerts: Alerts

    @property
    def history(self) -> History:
        return self.crawler.history

    def day(self, day: int) -> CrawlResult:
        self.crawler.pvog.set_day(day)
        self.targets.apply(self.web, day)
        run_crawl(self.crawler.source, history=self.history, archive=self.crawler.archive,
                  fetcher=self.crawler.fetcher, clock=self.crawler.clock, alerts=self.alerts)
        return self.check()

    def check(self) -> CrawlResult:
        clock = self.crawler.clock
        clock.advance(hours=1)
        result = run_crawl(self.links, history=self.history, archive=self.crawler.archive,
                           fetcher=self.crawler.fetcher, clock=clock, alerts=self.alerts)
        clock.advance(hours=23)
        return result

    def changes(self, result: CrawlResult) -> list[dict]:
        return list(self.history.db.query(
            "SELECT r.key, c.label, c.change_type, c.old_value, c.new_value, c.severity, "
            "c.reasons FROM changes c JOIN records r ON r.id = c.record_id "
            "WHERE c.crawl_id = ? ORDER BY c.id", [result.crawl_id]))

    def content(self, url: str) -> dict:
        row = self.history.db.execute(
            "SELECT v.content FROM records r JOIN versions v ON v.id = r.current_version "
            "WHERE r.key = ?", [f"link:{url}"]).fetchone()
        return json.loads(row[0])


def rules(targets: LinkTargets) -> RulesSettings:
    return RulesSettings(own_thavel=targets.own_instances,
                         own_authorities=("Stadtverwaltung Jena",))


@pytest.fixture
def links(crawler: Crawler, web: SimulatedWeb, targets: LinkTargets) -> LinkCrawler:
    settings = Settings(rules=rules(targets))
    return LinkCrawler(crawler, web, targets, link_settings(web), Alerts(settings))


def by_finding(targets: LinkTargets) -> dict[str, str]:
    return {event.finding: event.url for event in targets.events}


def test_the_first_check_records_every_link_of_the_directory_as_a_baseline(
        links: LinkCrawler) -> None:
    result = links.day(0)
    assert result.outcome is Outcome.COMPLETE
    assert result.changes == []
    rows = links.history.db.execute(
        "SELECT key FROM records WHERE source = 'links'").fetchall()
    expected = links.history.db.execute(
        "SELECT count(DISTINCT json_extract(l.value, '$.url')) FROM records r "
        "JOIN versions v ON v.id = r.current_version, json_each(v.content, "
        "  CASE r.kind WHEN 'leistung' THEN '$.onlinedienste' ELSE '$.links' END) l "
        "WHERE r.source = 'pvog-test' AND r.kind IN ('leistung', 'onlinedienst')").fetchone()[0]
    assert len(rows) == expected > 30
    jena = links.content("https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc")
    assert jena["zustand"] == "erreichbar" and jena["status"] == 200
    assert jena["stelle"] == "Stadtverwaltung Jena" and jena["thavel"] == "go/a/1273"
    assert jena["ziel"] == ("https://thavelp.thueringen.de/thavelp/portal/antrag/go-a-1273/"
                            "start")
    assert jena["weiterleitungen"] == [
        {"url": "https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc", "status": 302}]
    assert jena["inhaltstyp"] == "text/html" and jena["seitentitel"].startswith("ThAVEL")
    # The checker never sent back the cookies the targets set.
    assert all("Cookie" not in links.web.headers_of(i)
               for i in range(links.web.request_count))


def test_each_finding_of_the_scenario_is_reported_with_its_severity(
        links: LinkCrawler, targets: LinkTargets) -> None:
    events = by_finding(targets)
    assert set(events) == {"dead", "foreign-host", "other-authority", "https-to-http"}
    found: dict[int, list[dict]] = {}
    for day in range(9):
        result = links.day(day)
        assert result.outcome is Outcome.COMPLETE, result.reason
        found[day] = links.changes(result)

    # Day 2: the PVOG entry now holds Gera's instance; the target names Gera.
    gera = [c for c in found[2] if c["key"] == f"link:{GERA_LINK}"]
    assert [(c["change_type"], c["severity"]) for c in gera] == [("added", "critical")]
    assert "Link-Ziel nennt eine andere Stelle: Stadtverwaltung Gera" in gera[0]["reasons"]
    assert "ThAVEL-Instanz einer anderen Stelle: go/a/5741" in gera[0]["reasons"]

    # Day 4: a link now redirects to a foreign host.
    foreign = [c for c in found[4] if c["key"] == f"link:{events['foreign-host']}"
               and c["label"] == "Link-Prüfung › Ziel-Host"]
    assert [(c["new_value"], c["severity"]) for c in foreign] == [
        (json.dumps(FOREIGN_HOST), "critical")]

    # Day 5: a start page names another authority; the dead link (404 since day 3) is
    # reported on its third failed check.
    other = [c for c in found[5] if c["key"] == f"link:{events['other-authority']}"]
    assert [(c["label"], c["severity"]) for c in other] == [
        ("Link-Prüfung › Genannte Stelle", "critical")]
    assert json.loads(other[0]["new_value"]) == OTHER_AUTHORITY
    dead = [c for c in found[5] if c["key"] == f"link:{events['dead']}"
            and c["label"] == "Link-Prüfung › Zustand"]
    assert [(json.loads(c["new_value"]), c["severity"]) for c in dead] == [
        ("nicht erreichbar", "high")]

    # Day 6: https → http.
    downgrade = [c for c in found[6] if c["key"] == f"link:{events['https-to-http']}"]
    assert any(c["severity"] == "critical" and
               "https → http: das Link-Ziel ist unverschlüsselt" in c["reasons"]
               for c in downgrade)

    # The dead link appears in no other day's changes: reported once, not on every check.
    for day, changes in found.items():
        if day != 5:
            assert not [c for c in changes if c["key"] == f"link:{events['dead']}"], day
    assert links.content(events["dead"])["fehler"] == "HTTP 404"


def test_a_dead_link_is_reported_once_per_break_after_n_failures(
        links: LinkCrawler, targets: LinkTargets) -> None:
    url = "https://thavelp.thueringen.de/thavelp/go/a/1274?c=bc"
    prefix = "https://thavelp.thueringen.de/thavelp/go/a/1274"
    links.day(0)
    reported = []
    links.web.break_link(prefix, 410)
    for _check in range(6):  # broken from the first check on
        result = links.check()
        reported.append([c["severity"] for c in links.changes(result) if c["key"] == f"link:{url}"])
    assert reported[:2] == [[], []]
    assert "high" in reported[2] and set(reported[2]) <= {"high", "low"}
    assert reported[3:] == [[], [], []]
    assert links.history.strikes("links").get(f"link:{url}", 0) < 3
    links.web.restore(prefix)
    result = links.check()
    back = [c for c in links.changes(result) if c["label"] == "Link-Prüfung › Zustand"]
    assert [(json.loads(c["new_value"]), c["severity"]) for c in back] == [
        ("erreichbar", "medium")]


def test_failures_short_of_n_leave_no_trace_in_the_history(links: LinkCrawler) -> None:
    prefix = "https://thavelp.thueringen.de/thavelp/go/a/1274"
    links.day(0)
    links.web.break_link(prefix, 503)
    assert links.changes(links.check()) == []
    assert links.changes(links.check()) == []
    links.web.restore(prefix)
    assert links.changes(links.check()) == []
    assert "link:https://thavelp.thueringen.de/thavelp/go/a/1274?c=bc" not in \
        links.history.strikes("links")


def test_when_every_link_fails_the_fault_is_on_this_side_and_nothing_is_counted(
        links: LinkCrawler) -> None:
    links.day(0)
    before = links.history.db.execute("SELECT count(*) FROM versions").fetchone()[0]
    links.web.stop()
    result = links.check()
    assert result.outcome is Outcome.FAILED
    assert "could not be reached: the fault is probably on this side" in result.reason
    assert links.history.strikes("links") == {}
    assert links.history.db.execute("SELECT count(*) FROM versions").fetchone()[0] == before


def test_a_link_check_is_replayed_from_its_archive_to_the_same_records(
        links: LinkCrawler) -> None:
    links.day(0)
    result = links.day(2)
    manifest = links.history.crawl(result.crawl_id)["manifest"]
    replayed = replay_crawl(links.links, Path(manifest), history=links.history,
                            archive=links.crawler.archive, clock=links.crawler.clock,
                            rebaseline=True)
    assert replayed.outcome is Outcome.COMPLETE
    assert replayed.stats["observed"] == result.stats["observed"] > 30
    assert replayed.changes == []


class Canary:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def canary() -> Iterator[Canary]:
    listener = Canary()
    yield listener
    listener.close()


def test_redirects_to_local_addresses_are_refused_without_a_connection(
        links: LinkCrawler, canary: Canary, monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib3.util.connection

    links.day(0)
    originals = urllib3.util.connection.create_connection
    attempts: list[tuple] = []

    def recording(address, *args, **kwargs):
        attempts.append(address)
        return originals(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", recording)
    monkeypatch.setattr("urllib3.connection.connection.create_connection", recording)
    go_links = [key.removeprefix("link:") for (key,) in links.history.db.execute(
        "SELECT key FROM records WHERE source = 'links' AND key LIKE '%/thavelp/go/a/%' "
        "ORDER BY key")]
    targets = [f"http://127.0.0.1:{canary.port}/admin", "http://169.254.169.254/latest/meta-data/",
               "http://10.0.0.1/", f"http://[::1]:{canary.port}/",
               f"http://localhost:{canary.port}/"]
    assert len(go_links) >= len(targets)
    hostile = dict(zip(go_links, targets, strict=False))
    for url, target in hostile.items():
        links.web.redirect(url.split("?")[0], target)
    result = links.check()
    assert result.outcome is Outcome.COMPLETE
    for url, target in hostile.items():
        content = links.content(url)
        assert content["zustand"] == "gesperrt", (target, content)
        assert content["fehler"].startswith("Nicht öffentliche Adresse")
        assert content["weiterleitungen"][0]["status"] == 302
        assert content["ziel"].startswith(target.split("/admin")[0].rstrip("/"))
        severities = [c["severity"] for c in links.changes(result) if c["key"] == f"link:{url}"]
        assert "critical" in severities
    assert canary.accepted == 0
    forbidden = {"127.0.0.1", "169.254.169.254", "10.0.0.1", "::1", "localhost"}
    assert not [a for a in attempts if a[0] in forbidden and a[1] != links.web.http_port
                and a[1] != links.web.https_port]


def test_without_the_local_switch_the_simulator_itself_is_refused(
        crawler: Crawler, web: SimulatedWeb, targets: LinkTargets) -> None:
    crawler.pvog.set_day(0)
    run_crawl(crawler.source, history=crawler.history, archive=crawler.archive,
              fetcher=crawler.fetcher, clock=crawler.clock)
    settings = link_settings(web, allow_local=())
    result = run_crawl(settings, history=crawler.history, archive=crawler.archive,
                       fetcher=crawler.fetcher, clock=crawler.clock)
    assert result.outcome is Outcome.COMPLETE
    assert web.request_count == 0
    states = {json.loads(c)["zustand"] for (c,) in crawler.history.db.execute(
        "SELECT v.content FROM records r JOIN versions v ON v.id = r.current_version "
        "WHERE r.source = 'links'")}
    assert states == {"gesperrt"}


def test_a_link_check_records_its_true_request_count(links: LinkCrawler) -> None:
    """Every hop the checker sent counts (redirects too); a refused hop sends none."""
    links.crawler.pvog.set_day(0)
    links.targets.apply(links.web, 0)
    run_crawl(links.crawler.source, history=links.history, archive=links.crawler.archive,
              fetcher=links.crawler.fetcher, clock=links.crawler.clock)
    before = links.web.request_count
    seen: list = []
    result = run_crawl(links.links, history=links.history, archive=links.crawler.archive,
                       fetcher=links.crawler.fetcher, clock=links.crawler.clock,
                       progress=seen.append)
    sent = links.web.request_count - before
    checked = result.stats["listed"] or result.stats["observed"]
    assert result.outcome is Outcome.COMPLETE
    # More requests than links: the ThAVEL links redirect before they answer.
    assert result.stats["requests"] == sent > checked > 0
    assert result.stats["bytes_received"] > 0
    row = links.history.crawl(result.crawl_id)
    assert (row["requests"], row["bytes_received"]) == (sent, result.stats["bytes_received"])
    # The progress heard each check as it was made, with the requests so far.
    counted = [p for p in seen if p.total is not None]
    assert counted[-1].done == counted[-1].total == result.stats["observed"]
    assert sorted({p.done for p in counted}) == list(range(counted[-1].total + 1))
    requests = [p.requests for p in seen]
    assert requests == sorted(requests) and counted[0].requests == 0
    assert requests[-1] == sent

    # Refused at the first hop: nothing sent, nothing counted.
    refused = run_crawl(replace(links.links, allow_local=()), history=links.history,
                        archive=links.crawler.archive, fetcher=links.crawler.fetcher,
                        clock=links.crawler.clock)
    assert links.web.request_count - before == sent
    assert refused.stats["requests"] == refused.stats["bytes_received"] == 0


def test_a_link_checker_with_no_directory_to_follow_fails_and_concludes_nothing(
        history: History, archive: Archive, fetcher: Fetcher, clock: FakeClock,
        web: SimulatedWeb) -> None:
    result = run_crawl(link_settings(web), history=history, archive=archive, fetcher=fetcher,
                       clock=clock)
    assert result.outcome is Outcome.FAILED
    assert "no links to check: the current records of pvog-test hold none" in result.reason
    assert web.request_count == 0


def test_links_leaving_the_directory_in_numbers_are_removed_not_suspicious(
        links: LinkCrawler, scenario: Scenario) -> None:
    """The link checker's listing is the gated history: a third of the links leaving the
    directory is no reason to distrust the check."""
    links.day(0)
    before = links.history.db.execute(
        "SELECT count(*) FROM records WHERE source = 'links' AND status = 'present'"
    ).fetchone()[0]
    # Take a third of the Leistungen with links out of the directory the checker follows.
    dropped = links.history.db.execute(
        "SELECT id FROM records WHERE source = 'pvog-test' AND kind IN ('leistung', "
        "'onlinedienst') ORDER BY key").fetchall()[::2]
    with links.history.db.conn:
        links.history.db.conn.executemany(
            "UPDATE records SET status = 'removed' WHERE id = ?", dropped)
    results = [links.check(), links.check()]
    assert [r.outcome for r in results] == [Outcome.COMPLETE, Outcome.COMPLETE]
    after = links.history.db.execute(
        "SELECT count(*) FROM records WHERE source = 'links' AND status = 'present'"
    ).fetchone()[0]
    assert after < 0.8 * before


def _plain(raw: bytes) -> str:
    from email import message_from_bytes, policy

    message = message_from_bytes(raw, policy=policy.default)
    return message.get_body(preferencelist=("plain",)).get_content()


def test_a_critical_link_finding_is_mailed_in_german_under_the_office_holding_it(
        crawler: Crawler, web: SimulatedWeb, targets: LinkTargets) -> None:
    from zufiwatch.alerts import queue_reminder
    from zufiwatch.config import NotifySettings

    settings = Settings(rules=rules(targets), notify=NotifySettings(
        recipients=("ag-ozg@jena.de",), sender="zufiwatch@jena.de"))
    alerts = Alerts(settings)
    links = LinkCrawler(crawler, web, targets, link_settings(web), alerts)
    links.day(0)
    links.day(1)
    result = links.day(2)
    started = links.history.crawl(result.crawl_id)["started_at"]
    # The edit that brought go/a/5741 in was reported by the directory's crawl; the link
    # check's finding on the new link is part of that edit, not a second message.
    (subject, raw), = links.history.db.execute(
        "SELECT subject, message FROM outbox WHERE kind = 'immediate' AND created_at < ? "
        "ORDER BY id DESC LIMIT 1", [started]).fetchall()
    assert not links.history.db.execute(
        "SELECT 1 FROM outbox WHERE kind = 'immediate' AND created_at = ?",
        [started]).fetchall()
    text = " ".join(_plain(raw).split())  # lines are wrapped
    assert "kritisch" in subject.lower()
    assert GERA_LINK in text
    assert "ThAVEL-Antrag einer anderen Stelle: go/a/5741" in text
    # Placed under the zuständige Stelle of the Leistung holding the link.
    assert "Zuständige Stelle: Standesamt Jena" in text
    # What the link check found is with the edit when it is reminded.
    links.crawler.clock.advance(days=1)
    queue_reminder(links.history, alerts, links.crawler.clock(), force=True)
    (reminder,) = links.history.db.execute(
        "SELECT message FROM outbox WHERE kind = 'reminder'").fetchall()
    text = " ".join(_plain(reminder[0]).split())
    assert GERA_LINK in text
    assert "Link-Ziel nennt eine andere Stelle: Stadtverwaltung Gera" in text
    assert "ThAVEL-Instanz einer anderen Stelle: go/a/5741" in text
    assert "Zuständige Stelle: Standesamt Jena" in text


def test_the_overview_shows_what_the_link_checker_found(links: LinkCrawler,
                                                        tmp_path: Path) -> None:
    from zufiwatch.report import build_overview

    for day in range(3):
        links.day(day)
    index = build_overview(links.history, Settings(), tmp_path / "site",
                           now=links.crawler.clock()).read_text(encoding="utf-8")
    assert "<th>Link-Prüfung</th>" in index
    row = next(r for r in index.split('<tr class="link">') if GERA_LINK.replace("&", "&amp;")
               in r)
    assert "nennt: Stadtverwaltung Gera" in row and "erreichbar" in row
    assert 'href="records/link_' in row


def test_crawl_and_links_commands_run_the_link_checker_from_the_configuration(
        crawler: Crawler, web: SimulatedWeb, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from zufiwatch.cli import cli

    mapping = ", ".join(f'"{host}={address}"' for host, address in web.connect_to())
    allowed = ", ".join(f'"{endpoint}"' for endpoint in web.endpoints())
    config = crawler.write_config(tmp_path / "zufiwatch.toml")
    config.write_text(config.read_text(encoding="utf-8") + f"""
[[sources]]
name = "links"
kind = "links"
watch = ["pvog-test"]
min_interval = 0
connect_to = [{mapping}]
allow_local = [{allowed}]
ca_file = "{web.ca_file}"
""", encoding="utf-8")
    runner = CliRunner()
    crawled = runner.invoke(cli, ["--config", str(config), "crawl"])
    assert crawled.exit_code == 0, crawled.output
    assert "links" in crawled.output
    listed = runner.invoke(cli, ["--config", str(config), "links", "--host", "thavelp",
                                 "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert rows and {row["check"] for row in rows} == {"erreichbar"}
    assert {row["check_authority"] for row in rows} == {"Stadtverwaltung Jena"}
    assert all(row["check_target"].startswith("https://thavelp.thueringen.de/") for row in rows)


def test_links_stored_in_the_directory_to_local_addresses_are_refused_without_a_connection(
        crawler: Crawler, web: SimulatedWeb, scenario: Scenario, canary: Canary,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Anyone can store a link: here the (simulated) ZuFi holds links straight to local
    and metadata addresses, and the link checker follows that source."""
    import urllib3.util.connection

    from zufiwatch.sim.tsa import AREA_ID, ROOT_OU, SimulatedTSA

    hostile = [f"http://127.0.0.1:{canary.port}/admin", "http://10.0.0.1/",
               "http://169.254.169.254/latest/meta-data/", f"http://[::1]:{canary.port}/",
               f"http://localhost:{canary.port}/"]
    monkeypatch.setenv("ZUFIWATCH_TEST_TSA_KEY", "sim-api-key")
    with SimulatedTSA(scenario) as tsa:
        tsa.set_links("354790", hostile)
        zufi = SourceSettings(name="zufi-test", kind="tsa", base_url=tsa.base_url,
                              root_ou=str(ROOT_OU), area_id=AREA_ID, min_interval=0,
                              api_key_env="ZUFIWATCH_TEST_TSA_KEY")
        assert run_crawl(zufi, history=crawler.history, archive=crawler.archive,
                         fetcher=crawler.fetcher, clock=crawler.clock).outcome \
            is Outcome.COMPLETE
    attempts: list[tuple] = []
    original = urllib3.util.connection.create_connection

    def recording(address, *args, **kwargs):
        attempts.append(address)
        return original(address, *args, **kwargs)

    monkeypatch.setattr("urllib3.connection.connection.create_connection", recording)
    result = run_crawl(link_settings(web, watch=("zufi-test",)), history=crawler.history,
                       archive=crawler.archive, fetcher=crawler.fetcher, clock=crawler.clock)
    assert result.outcome is Outcome.COMPLETE
    contents = {json.loads(c)["url"]: json.loads(c) for (c,) in crawler.history.db.execute(
        "SELECT v.content FROM records r JOIN versions v ON v.id = r.current_version "
        "WHERE r.source = 'links'")}
    for url in hostile:
        found = next(c for u, c in contents.items() if u.startswith(url.rstrip("/")))
        assert found["zustand"] == "gesperrt", found
        assert found["fehler"].startswith("Nicht öffentliche Adresse")
        assert "weiterleitungen" not in found  # refused at the first hop
    assert canary.accepted == 0
    assert attempts  # the recorder saw the connections to the simulated targets
    forbidden = {"127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "localhost"}
    assert not [a for a in attempts if a[0] in forbidden
                and a[1] not in (web.http_port, web.https_port)]
