"""The command line over a history built by crawling the simulated scenario."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from tests.conftest import FakeClock
from zufiwatch.archive import Archive
from zufiwatch.cli import cli
from zufiwatch.config import HttpSettings, SourceSettings
from zufiwatch.fetch import Fetcher
from zufiwatch.model import record_key
from zufiwatch.runner import run_crawl
from zufiwatch.sim import JENA_ARS, Scenario, SimulatedPVOG
from zufiwatch.store import History

START = datetime(2026, 10, 1, 4, 0, tzinfo=UTC)  # 06:00 in Berlin


@dataclass
class Built:
    database: Path
    scenario: Scenario

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--database", str(self.database), *args])

    def json(self, *args: str, now: datetime | None = None) -> object:
        result = self.run_at(now, *args, "--json") if now else self.run(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    def run_at(self, now: datetime, *args: str) -> Result:
        """The command with the clock standing at ``now``."""
        from zufiwatch.cli.root import App

        return CliRunner().invoke(cli, ["--database", str(self.database), *args],
                                  obj=App(None, None, clock=lambda: now))


@pytest.fixture(scope="module")
def built(tmp_path_factory, scenario: Scenario) -> Iterator[Built]:
    """Days 0..7 of the scenario, crawled once a day at 06:00 Berlin time from 2026-10-01."""
    workdir = tmp_path_factory.mktemp("cli")
    clock = FakeClock(START)
    with SimulatedPVOG(scenario) as pvog, History(workdir / "h.db") as history, \
            Fetcher(HttpSettings(), retries=0) as fetcher:
        source = SourceSettings(name="pvog-sim", kind="pvog", base_url=pvog.base_url,
                                ars=JENA_ARS, page_size=50, min_interval=0)
        for day in range(scenario.days + 1):
            pvog.set_day(day)
            run_crawl(source, history=history, archive=Archive(workdir / "snap"),
                      fetcher=fetcher, clock=clock)
            clock.advance(days=1)
    yield Built(workdir / "h.db", scenario)


def edit(built: Built, day: int, kind: str = "leistung") -> str:
    return next(record_key(e.kind, e.id) for e in built.scenario.edits(day) if e.kind == kind)


def test_changes_table_lists_the_scenario_edits(built: Built) -> None:
    result = built.run("changes")
    assert result.exit_code == 0, result.output
    assert "Online-Dienst › Link" in result.output
    assert "go/a/5741" in result.output
    assert "Leistung entfernt" in result.output


def test_changes_json_and_filters(built: Built) -> None:
    # One row per edit: a Leistung's link edited with its Onlinedienst's is one edit.
    rows = built.json("changes")
    days = range(1, built.scenario.days + 1)
    expected = sum(len([e for e in built.scenario.edits(d) if e.kind != "onlinedienst"]
                       or built.scenario.edits(d)) for d in days)
    assert len(rows) == expected
    assert set(rows[0]) == {"id", "subject", "kind", "key", "source", "title", "office",
                            "opened_at", "crawl_id", "cause", "severity", "status",
                            "notified", "reminded_at", "witnesses", "changes", "field",
                            "change_type", "path", "old_value", "new_value", "flap_sequence",
                            "fields", "change_ids"}
    offices = built.json("changes", "--kind", "organisationseinheit")
    assert [r["key"] for r in offices] == [edit(built, 5, "organisationseinheit")]
    # Day 6 was crawled on 2026-10-07 (06:00 Berlin): --since that day keeps days 6 and 7.
    recent = built.json("changes", "--since", "2026-10-07")
    assert {r["key"] for r in recent} == {edit(built, 6), edit(built, 7)}
    one = built.json("changes", "--record", edit(built, 2))
    assert [r["field"] for r in one] == ["Online-Dienst › Link"]
    assert one[0]["new_value"]["url"].endswith("/go/a/5741?c=bc")
    # Every source's own changes, one each.
    raw = built.json("changes", "--by-source")
    assert len(raw) == sum(len(built.scenario.edits(d)) for d in days)
    assert set(raw[0]) == {"id", "detected_at", "source", "key", "kind", "title",
                           "change_type", "path", "label", "old_value", "new_value",
                           "cause", "flap_of", "severity", "reasons", "status", "crawl_id",
                           "version_id", "event_id"}
    assert sorted(r["id"] for r in raw) == sorted(i for r in rows for i in r["change_ids"])
    one = built.json("changes", "--by-source", "--record", edit(built, 2))
    assert [r["label"] for r in one] == ["Online-Dienst › Link"]


def test_changes_since_gestern_and_until_a_german_date(built: Built) -> None:
    # 2026-10-08 12:00 in Berlin: gestern is 2026-10-07, the crawl of day 6.
    now = datetime(2026, 10, 8, 10, 0, tzinfo=UTC)
    recent = built.json("changes", "--since", "gestern", now=now)
    assert {r["key"] for r in recent} == {edit(built, 6), edit(built, 7)}
    # Day 2 was crawled on 2026-10-03 (06:00 Berlin); day 1 changed nothing.
    early = built.json("changes", "--until", "03.10.2026", now=now)
    assert early and {r["opened_at"][:10] for r in early} == {"2026-10-03"}
    assert edit(built, 2) in {r["key"] for r in early}
    today = built.json("changes", "--since", "heute", now=now)
    assert {r["key"] for r in today} == {edit(built, 7)}
    refused = built.run_at(now, "changes", "--since", "vorgestern")
    assert refused.exit_code == 2 and "15.12.2026" in refused.output


def test_changes_csv(built: Built) -> None:
    result = built.run("changes", "--csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert result.exit_code == 0
    assert rows and rows[0]["opened_at"].startswith("2026-10-")
    assert json.loads(rows[0]["new_value"])["url"].endswith("5741?c=bc")
    assert rows[0]["witnesses"].startswith("PVOG 2026-10-")
    raw = list(csv.DictReader(io.StringIO(built.run("changes", "--csv", "--by-source").output)))
    assert raw[0]["detected_at"].startswith("2026-10-") and len(raw) > len(rows)


def test_history_of_a_record(built: Built) -> None:
    key = edit(built, 6)
    result = built.run("history", key)
    assert result.exit_code == 0, result.output
    assert "Gebühren" in result.output and "55,00 EUR" in result.output
    data = built.json("history", key)
    assert len(data["versions"]) == 2
    assert data["versions"][1]["changes"][0]["label"] == "Gebühren"
    assert data["versions"][0]["valid_to"] == data["versions"][1]["valid_from"]


def test_show_at_a_date_before_and_after_the_edit(built: Built) -> None:
    key = edit(built, 2)
    before = built.json("show", key, "--at", "2026-10-02")
    after = built.json("show", key, "--at", "2026-10-03")
    assert before["content"]["onlinedienste"][0]["url"].endswith("/go/a/1273?c=bc")
    assert after["content"]["onlinedienste"][0]["url"].endswith("/go/a/5741?c=bc")
    table = built.run("show", key, "--at", "2026-10-02")
    assert "go/a/1273" in table.output and "valid from" in table.output


def test_show_speaks_local_time_to_people_and_utc_in_json(built: Built) -> None:
    key = edit(built, 2)
    table = built.run("show", key, "--at", "2026-10-02")
    assert table.exit_code == 0, table.output
    # Crawled at 06:00 Berlin (04:00 UTC); asked for the end of 2026-10-02, Berlin time.
    assert "at 2026-10-02 23:59:59: version valid from 2026-10-01 06:00:00" in table.output
    csv_rows = list(csv.DictReader(io.StringIO(built.run("show", key, "--at", "2026-10-02",
                                                         "--csv").output)))
    assert {row["valid_from"] for row in csv_rows} == {"2026-10-01 06:00:00"}
    assert built.json("show", key, "--at", "2026-10-02")["version"]["valid_from"] == \
        "2026-10-01T04:00:00.000000+00:00"
    early = built.run("show", key, "--at", "2026-09-30")
    assert early.exit_code == 1
    assert "no version valid at 2026-09-30 23:59:59; it was first seen 2026-10-01 06:00:00" \
        in early.output
    assert "+00:00" not in early.output


def test_show_prints_structured_values_as_words_and_full_values_with_full(
        built: Built) -> None:
    key = edit(built, 2)
    content = built.json("show", key)["content"]
    assert content["fachliche_freigabe"]["datum"]
    table = built.run("show", key)
    assert table.exit_code == 0, table.output
    assert "{" not in table.output and '"' not in table.output
    day, month, year = reversed(content["fachliche_freigabe"]["datum"].split("-"))
    assert re.search(rf"^Fachliche Freigabe +{day}\.{month}\.{year}, \w", table.output, re.M)
    assert "…" in table.output
    full = built.run("show", key, "--full")
    assert full.exit_code == 0, full.output
    assert "…" not in full.output and "{" not in full.output
    volltext = content["texte"]["06"]["text"]
    lines = [line.strip() for line in volltext.splitlines() if line.strip()]
    assert len(lines) > 1
    assert "Volltext:\n" + "\n".join(f"  {' '.join(line.split())}" for line in lines) \
        in full.output


def test_state_at_counts_the_directory_of_that_day(built: Built) -> None:
    day3 = built.json("state", "--at", "2026-10-04", "--kind", "leistung")
    day4 = built.json("state", "--at", "2026-10-05", "--kind", "leistung")
    assert len(day3) == len(built.scenario.directory_for(3).leistungen)
    assert len(day4) == len(built.scenario.directory_for(4).leistungen)
    result = built.run("state", "--at", "2026-10-05", "--csv")
    # Since issue 16 one column per field (the labels of show) instead of a JSON "content".
    header, *rows = list(csv.reader(io.StringIO(result.output)))
    assert header[:6] == ["source", "key", "kind", "title", "valid_from", "valid_to"]
    assert "content" not in header
    assert {"Name der Leistung", "Volltext", "Online-Dienst › Link", "Fachliche Freigabe",
            "Zuständige Stelle", "Anschrift", "Kommunikation"} <= set(header)
    assert len(rows) == len(built.json("state", "--at", "2026-10-05"))
    assert all(len(row) == len(header) for row in rows)
    assert not any(cell.startswith(("{", "[")) for row in rows for cell in row)
    key = edit(built, 2)
    row = dict(zip(header, next(r for r in rows if r[1] == key), strict=True))
    assert row["Online-Dienst › Link"].endswith("/go/a/5741?c=bc")
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}, .+", row["Fachliche Freigabe"])


def test_links_with_host_filter(built: Built) -> None:
    rows = built.json("links", "--host", "thavel")
    assert rows and all("thavel" in r["host"] for r in rows)
    assert {"key", "leistung", "zustaendige_stelle", "url", "host", "thavel_form",
            "thavel_id"} <= set(rows[0])
    everything = built.json("links")
    assert len(everything) > len(rows)
    old = built.json("links", "--at", "2026-10-02", "--host", "thavelp")
    assert any(r["url"].endswith("/go/a/1273?c=bc") for r in old)
    assert not any(r["url"].endswith("/go/a/1273?c=bc") for r in rows)


def test_crawls_listing(built: Built) -> None:
    rows = built.json("crawls")
    assert len(rows) == built.scenario.days + 1
    assert {r["outcome"] for r in rows} == {"complete"}


@pytest.mark.parametrize(("args", "message"), [
    (["show", "leistung:S1600001.LB.0"], "no record 'leistung:S1600001.LB.0'"),
    (["history", "leistung:nope"], "no record"),
    (["show", "leistung:S1600001.LB.0", "--at", "1990-01-01"], "no record"),
])
def test_errors_are_one_line_with_exit_status_1(built: Built, args: list[str],
                                                message: str) -> None:
    result = built.run(*args)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]


def test_usage_errors_exit_2(built: Built) -> None:
    assert built.run("state").exit_code == 2  # --at is required
    assert built.run("show", "x", "--at", "last tuesday").exit_code == 2
    assert built.run("changes", "--kind", "bogus").exit_code == 2
    assert built.run("nonsense").exit_code == 2


def test_missing_database_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--database", str(tmp_path / "none.db"), "changes"])
    assert result.exit_code == 1
    assert "no history database here yet" in result.output
    assert not (tmp_path / "none.db").exists()


def test_crawl_command_with_a_config_file(tmp_path: Path, pvog: SimulatedPVOG) -> None:
    config = tmp_path / "zufiwatch.toml"
    config.write_text(f"""
database = "h.db"
snapshots = "snap"
[[sources]]
name = "sim"
kind = "pvog"
base_url = "{pvog.base_url}"
ars = "{JENA_ARS}"
min_interval = 0
[http]
retries = 0
""", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "crawl"])
    assert result.exit_code == 0, result.output
    assert "sim: crawl 1 complete" in result.output
    assert (tmp_path / "h.db").exists() and any((tmp_path / "snap" / "crawls").rglob("*.warc.gz"))
    pvog.inject("/v7/", "status", status=500)
    failed = CliRunner().invoke(cli, ["--config", str(config), "crawl", "--source", "sim"])
    assert failed.exit_code == 1
    assert "failed" in failed.output and "HTTP 500" in failed.output
    unknown = CliRunner().invoke(cli, ["--config", str(config), "crawl", "--source", "x"])
    assert unknown.exit_code == 1 and "no source named 'x'" in unknown.output


def test_demo_runs_without_configuration_or_network(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZUFIWATCH_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["demo", "--days", "5", "--size", "60",
                                      "--keep", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "Day 5" in result.output
    assert "ZuFi crawl complete" in result.output
    assert "! high: ZuFi und PVOG widersprechen sich: Gewerbe anmelden" in result.output
    assert "! critical: https://thavelp.thueringen.de/thavelp/go/a/5741" in result.output
    assert "looked like before" in result.output
    assert "go/a/1273" in result.output and "go/a/5741" in result.output
    assert (tmp_path / "demo" / "zufiwatch.db").exists()
    assert "zufiwatch --database" in result.output


def all_commands() -> dict[str, click.Command]:
    with click.Context(cli, info_name="zufiwatch") as ctx:
        return cli.all_commands(ctx)


def test_every_command_has_help_with_an_example() -> None:
    for name, command in all_commands().items():
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example:" in result.output, f"{name} --help has no example"
        assert command.help


def test_times_are_local_dates_meaning_the_end_of_that_day() -> None:
    from zufiwatch.timeutil import parse_when

    now = START + timedelta(days=30)
    end = parse_when("2026-10-02", tz="Europe/Berlin", now=now)
    assert end.isoformat().startswith("2026-10-02T21:59:59.999999")
    assert parse_when("7d", tz="Europe/Berlin", now=now) == now - timedelta(days=7)
    assert parse_when("2026-10-02 14:30", tz="Europe/Berlin", now=now).hour == 12


def test_every_json_field_is_documented_in_the_readme(built: Built) -> None:
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(\w+)`", readme.split("## JSON output", 1)[1]))
    key = edit(built, 2)
    history = built.json("history", key)
    show = built.json("show", key)
    fields = set(built.json("changes")[0]) | set(built.json("links")[0]) | set(show)
    fields |= set(show["version"]) | set(history) | set(history["versions"][0])
    fields |= set(built.json("state", "--at", "now")[0])
    for state in built.json("state", "--at", "now"):
        fields |= set(state["content"])
    missing = fields - documented
    assert not missing, f"undocumented JSON fields: {sorted(missing)}"


def test_expect_accepts_only_fields_the_record_has(built: Built, tmp_path: Path) -> None:
    import shutil

    database = tmp_path / "copy.db"
    shutil.copy(built.database, database)
    now = datetime(2026, 10, 8, 10, 0, tzinfo=UTC)
    key = edit(built, 2)

    def expect(field: str) -> Result:
        from zufiwatch.cli.root import App

        return CliRunner().invoke(cli, ["--database", str(database), "expect", key, "--field",
                                        field, "--value", "x", "--until", "31.12.2026", "--by",
                                        "M. Muster"], obj=App(None, None, clock=lambda: now))

    refused = expect("Gebuehren")
    assert refused.exit_code == 1
    assert "has no field 'Gebuehren'" in refused.output
    listed = refused.output.split("or its start:", 1)[1].split("\n")
    listed = [line.strip() for line in listed if line.strip()]
    assert listed == sorted(listed, key=str.casefold)
    for label in ("Online-Dienst › Link", "Volltext", "Name der Leistung", "Zuständige Stelle",
                  "Leistung entfernt"):
        assert label in listed
    assert "Kommunikation" not in listed  # an office's field, not a Leistung's
    for field in ("Online-Dienst › Link", "online-dienst", "Volltext", "onlinedienste[",
                  "Leistung entfernt"):
        accepted = expect(field)
        assert accepted.exit_code == 0, (field, accepted.output)
        assert "recorded" in accepted.output
    office = edit(built, 5, "organisationseinheit")
    from zufiwatch.cli.root import App

    phone = CliRunner().invoke(cli, ["--database", str(database), "expect", office, "--field",
                                     "Kommunikation › Telefon", "--until", "morgen", "--by",
                                     "M. Muster"], obj=App(None, None, clock=lambda: now))
    assert phone.exit_code == 0, phone.output


def test_expect_ack_expectations_verify_and_notify_test(tmp_path: Path, pvog) -> None:
    import re

    from tests.smtp_server import SmtpServer

    with SmtpServer() as server:
        config = tmp_path / "zufiwatch.toml"
        config.write_text(f"""
database = "h.db"
snapshots = "snap"
[smtp]
host = "127.0.0.1"
port = {server.port}
security = "plain"
[notify]
recipients = ["ag-ozg@jena.de"]
operators = ["it-betrieb@jena.de"]
sender = "zufiwatch@jena.de"
[http]
retries = 0
[[sources]]
name = "sim"
kind = "pvog"
base_url = "{pvog.base_url}"
ars = "{JENA_ARS}"
min_interval = 0
""", encoding="utf-8")

        def run(*args: str) -> Result:
            return CliRunner().invoke(cli, ["--config", str(config), *args])

        pvog.set_day(1)
        assert run("crawl").exit_code == 0
        key = run("state", "--at", "now", "--kind", "leistung", "--json")
        first = json.loads(key.output)[0]["key"]
        made = run("expect", first, "--field", "Volltext", "--value", "neu",
                   "--until", "2099-01-01", "--by", "M. Muster", "--note", "Ticket 1")
        assert made.exit_code == 0, made.output
        assert "expectation 1 recorded" in made.output
        listed = json.loads(run("expectations", "--json").output)
        assert [(e["key"], e["status"], e["by"]) for e in listed] == [(first, "open",
                                                                       "M. Muster")]
        pvog.set_day(2)
        assert run("crawl").exit_code == 0
        changes = json.loads(run("changes", "--json").output)
        assert {c["severity"] for c in changes} == {"high"}
        untracked = json.loads(run("changes", "--status", "untracked", "--json").output)
        assert len(untracked) == len(changes)
        acked = run("ack", *(str(c["id"]) for c in changes), "--by", "M. Muster")
        assert acked.exit_code == 0 and f"{len(changes)} change(s) acknowledged" in acked.output
        assert json.loads(run("changes", "--status", "untracked", "--json").output) == []
        assert run("ack", "99999", "--by", "x").exit_code == 1
        verified = run("verify")
        assert verified.exit_code == 0, verified.output
        assert re.search(r"evidence chain intact: \d+ entries", verified.output)
        tested = run("notify", "--test")
        assert tested.exit_code == 0, tested.output
        assert "connected to 127.0.0.1" in tested.output
        assert server.wait_for(1)
        assert server.messages[-1]["X-Zufiwatch-Kind"] == "test"
        sent = run("notify")
        assert sent.exit_code == 0, sent.output
        assert "sent 1" in sent.output  # the immediate alert of the link change
        server.stop()
        pvog.set_day(3)
        run("crawl")
        failed = run("notify")
        assert failed.exit_code == 1 and "not delivered 1" in failed.output
