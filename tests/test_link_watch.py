"""The hourly link watch: the CSV listing reports a link or Leistung edit within the hour,
as the event the next full crawl joins (never a second notice).

Against the simulated PVOG over HTTP: scenario day 2 replaces the ThAVEL link of
*Geburtsurkunde beantragen* (Jena's ``go/a/1273`` by Gera's ``go/a/5741``), day 3 adds a
Leistung, day 4 removes one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.conftest import Crawler
from tests.test_tsa import GEBURTSURKUNDE
from tests.test_tsa import api_key as api_key
from tests.test_tsa import both as both
from tests.test_tsa import tsa as tsa
from zufiwatch.alerts import Alerts
from zufiwatch.config import NotifySettings, Settings, SourceSettings
from zufiwatch.errors import ConfigError
from zufiwatch.model import Change, Outcome, Record
from zufiwatch.normalize import canonical_url
from zufiwatch.queries import events
from zufiwatch.runner import CrawlResult, run_crawl
from zufiwatch.sim.scenario import (
    GERA_THAVEL_LINK,
    JENA_THAVEL_LINK,
    NEW_LEISTUNG_NAME,
    REMOVED_LEISTUNG,
)
from zufiwatch.sources.pvog import parse_csv_listing
from zufiwatch.sources.pvog.linkwatch import watch_name, watch_records, watched_source
from zufiwatch.watching import run_link_watches

CSV = "/v5/servicedescriptions/csv"
GERA = canonical_url(GERA_THAVEL_LINK)
JENA = canonical_url(JENA_THAVEL_LINK)


@dataclass
class Watching:
    """The full crawl (daily) and the link watch (hourly) of one simulated PVOG."""

    crawler: Crawler
    settings: Settings
    alerts: Alerts

    @property
    def history(self):
        return self.crawler.history

    def full(self) -> CrawlResult:
        return run_crawl(self.crawler.source, history=self.history,
                         archive=self.crawler.archive, fetcher=self.crawler.fetcher,
                         clock=self.crawler.clock, alerts=self.alerts)

    def watch(self) -> CrawlResult:
        (result,) = run_link_watches(self.settings, [self.crawler.source],
                                     history=self.history, archive=self.crawler.archive,
                                     clock=self.crawler.clock, fetcher=self.crawler.fetcher,
                                     alerts=self.alerts)
        return result

    def hour(self, hours: float = 1) -> None:
        self.crawler.clock.advance(hours=hours)

    def start(self) -> None:
        """Day 0: the full crawl's and the watch's baselines."""
        self.crawler.pvog.set_day(0)
        assert self.full().outcome is Outcome.COMPLETE
        self.hour()
        assert self.watch().outcome is Outcome.COMPLETE
        self.hour()

    def immediate(self) -> list[str]:
        rows = self.history.db.execute(
            "SELECT message FROM outbox WHERE kind = 'immediate' ORDER BY id").fetchall()
        return [message_from_bytes(row[0], policy=policy.default).get_body(("plain",))
                .get_content() for row in rows]

    def events_naming(self, text: str) -> list[dict]:
        return [e for e in events(self.history)
                if any(text in repr(c["old_value"]) + repr(c["new_value"])
                       for c in e["changes"])]


@pytest.fixture
def watching(crawler: Crawler) -> Watching:
    settings = Settings(sources=(crawler.source,), notify=NotifySettings(
        recipients=("ag-ozg@jena.de",), sender="zufiwatch@jena.de"))
    return Watching(crawler, settings, Alerts(settings))


# -- the pure part -----------------------------------------------------------------------------


def test_the_csv_rows_become_one_record_per_leistung_with_the_details_link_shape() -> None:
    listing = parse_csv_listing(
        "ID-LB|Leikaschlüssel|Name|Name2|Updatedatum|ID-OD|Bezeichnung OD|Links\n"
        f"S1.LB.1|99050012104000|Geburtsurkunde Ausstellung|Geburtsurkunde beantragen|"
        f"20.01.2025 00:48|S1.OD.7|Antrag|{JENA_THAVEL_LINK}\n"
        "S1.LB.1|99050012104000|Geburtsurkunde Ausstellung|Geburtsurkunde beantragen|"
        "20.01.2025 00:48|S1.OD.8|Auskunft|HTTPS://Example.org:443/a?_flowExecutionKey=e1s1\n"
        "S1.LB.2|99050012104001|Ohne||20.01.2025 00:48|||\n")
    first, second = watch_records(listing)
    assert first == Record("leistung", "S1.LB.1", {
        "name": "Geburtsurkunde beantragen",
        "onlinedienste": [
            {"id": "S1.OD.8", "url": "https://example.org/a"},
            {"id": "S1.OD.7", "url": JENA, "thavel": {
                "host": "thavelp.thueringen.de", "instanz": "thavelp.thueringen.de/thavelp",
                "form": "go", "antrag": "1273"}}]},
        {"leika": ["99050012104000"]})
    assert second.content == {"name": "Ohne", "onlinedienste": []}
    assert watch_name("jena") == "jena:links" and watched_source("jena:links") == "jena"
    assert watched_source("jena") == ""


def test_a_csv_without_the_links_column_is_refused_not_read_as_every_link_removed() -> None:
    listing = parse_csv_listing("ID-LB|Name|ID-OD\nS1.LB.1|A|S1.OD.7\n")
    with pytest.raises(Exception, match="Links"):
        watch_records(listing)


def test_a_pvog_change_joins_the_watchs_event_of_the_same_key_whatever_its_subject() -> None:
    from zufiwatch.events import Member, OpenEvent, assign

    link = Change("modified", f"onlinedienste[{JENA}]", "Online-Dienst › Link",
                  {"id": "S1.OD.7", "url": JENA}, {"id": "S1.OD.7", "url": GERA})
    # The watch saw a Leistung the ZuFi could not be paired with yet: its own key.
    opened = OpenEvent(3, "leistung:S1.LB.1", "2026-10-01T05:00:00+00:00",
                       frozenset({"pvog-test:links"}), (("leistung:S1.LB.1", link),))
    plan = assign("pvog-test", [Member(0, "leistung:S1.LB.1", link)],
                  {"leistung:S1.LB.1": "leistung:354790"}, [opened])
    assert plan.joins == {0: 3} and not plan.new
    other = assign("pvog-test", [Member(0, "leistung:S1.LB.2", link)],
                   {"leistung:S1.LB.2": "leistung:354791"}, [opened])
    assert not other.joins


# -- a replaced link ---------------------------------------------------------------------------


def test_a_replaced_link_is_reported_by_the_next_watch_and_once(watching: Watching) -> None:
    watching.start()
    assert watching.immediate() == []
    watching.crawler.pvog.set_day(2)  # Geburtsurkunde: go/a/1273 → go/a/5741
    result = watching.watch()
    assert result.outcome is Outcome.COMPLETE, result.reason
    assert result.stats["requests"] == 1
    (key, change), = result.changes
    assert change == Change("modified", f"onlinedienste[{JENA}]", "Online-Dienst › Link",
                            change.old, change.new)
    assert change.old["url"] == JENA and change.new["url"] == GERA
    (alert,) = watching.immediate()
    assert "Geburtsurkunde beantragen" in alert and "5741" in alert
    (event,) = watching.events_naming("go/a/5741")
    assert [w["source_kind"] for w in event["witnesses"]] == ["linkwatch"]
    assert event["severity"] in ("high", "critical")

    watching.hour()
    assert watching.watch().changes == []  # the next hour: nothing new

    watching.hour(20)  # the next morning's full crawl sees the same replacement
    full = watching.full()
    assert full.outcome is Outcome.COMPLETE, full.reason
    assert any(k == key and c.path == change.path for k, c in full.changes)
    assert len(watching.immediate()) == 1  # no second notice
    (joined,) = watching.events_naming("go/a/5741")
    assert joined["id"] == event["id"]
    assert [w["source_kind"] for w in joined["witnesses"]] == ["linkwatch", "pvog"]
    assert {c["source"] for c in joined["changes"]} == {"pvog-test:links", "pvog-test"}
    assert all(c["event_id"] is not None for c in watching.history.db.query(
        "SELECT event_id FROM changes"))


def test_without_the_watch_the_full_crawl_reports_the_link_itself(watching: Watching) -> None:
    watching.crawler.pvog.set_day(0)
    watching.full()
    watching.hour(24)
    watching.crawler.pvog.set_day(2)
    watching.full()
    (alert,) = watching.immediate()
    assert "Geburtsurkunde beantragen" in alert
    (event,) = watching.events_naming("go/a/5741")
    assert [w["source_kind"] for w in event["witnesses"]] == ["pvog"]


# -- added and removed Leistungen ----------------------------------------------------------------


def test_an_added_and_a_removed_leistung_are_reported_by_the_watch_and_joined_once(
        watching: Watching) -> None:
    watching.start()
    watching.crawler.pvog.set_day(2)
    watching.watch()
    watching.hour(20)
    watching.full()
    watching.hour(2)
    sent = len(watching.immediate())

    watching.crawler.pvog.set_day(3)  # a new Leistung
    added = watching.watch()
    assert [(c.change_type, c.label) for _k, c in added.changes] == [("added", "Leistung neu")]
    assert added.changes[0][1].new["name"] == NEW_LEISTUNG_NAME
    assert len(watching.immediate()) == sent + 1
    watching.hour(20)
    full = watching.full()
    assert ("added", "Leistung neu") in [(c.change_type, c.label) for _k, c in full.changes]
    assert len(watching.immediate()) == sent + 1
    (event,) = [e for e in events(watching.history) if e["changes"][0]["label"] ==
                "Leistung neu"]
    assert [w["source_kind"] for w in event["witnesses"]] == ["linkwatch", "pvog"]
    watching.hour(2)

    watching.crawler.pvog.set_day(4)  # a Leistung gone: its detail answers 404
    removed = watching.watch()
    assert removed.outcome is Outcome.COMPLETE, removed.reason
    assert [(k, c.label) for k, c in removed.changes] == [
        (f"leistung:{REMOVED_LEISTUNG}", "Leistung entfernt")]
    assert len(watching.immediate()) == sent + 2
    watching.hour(20)
    full = watching.full()
    assert (f"leistung:{REMOVED_LEISTUNG}", "Leistung entfernt") in [
        (k, c.label) for k, c in full.changes]
    assert len(watching.immediate()) == sent + 2
    (gone,) = [e for e in events(watching.history) if e["changes"][0]["label"] ==
               "Leistung entfernt"]
    assert [w["source_kind"] for w in gone["witnesses"]] == ["linkwatch", "pvog"]


def test_one_missing_csv_row_is_no_removal_while_the_detail_still_answers(
        watching: Watching) -> None:
    watching.start()
    watching.crawler.pvog.inject(CSV, f"omit:{REMOVED_LEISTUNG}", times=1)
    result = watching.watch()
    assert result.outcome is Outcome.COMPLETE and result.changes == []
    status, = watching.history.db.execute(
        "SELECT status FROM records WHERE source = 'pvog-test:links' AND key = ?",
        [f"leistung:{REMOVED_LEISTUNG}"]).fetchone()
    assert status == "missing"
    watching.hour()
    back = watching.watch()  # listed again: present, nothing reported
    assert back.changes == []
    assert watching.history.db.execute(
        "SELECT status FROM records WHERE source = 'pvog-test:links' AND key = ?",
        [f"leistung:{REMOVED_LEISTUNG}"]).fetchone() == ("present",)


def test_a_leistung_missing_from_many_csvs_is_no_removal_while_its_detail_answers(
        watching: Watching) -> None:
    """The watch runs hourly: removal_after (2) runs of a CSV blip are two hours, not the
    full crawl's two days. It concludes a removal only on the detail's 404/410."""
    watching.start()
    watching.crawler.pvog.inject(CSV, f"omit:{REMOVED_LEISTUNG}")
    for _ in range(4):  # twice removal_after
        result = watching.watch()
        assert result.outcome is Outcome.COMPLETE and result.changes == []
        watching.hour()
    status, = watching.history.db.execute(
        "SELECT status FROM records WHERE source = 'pvog-test:links' AND key = ?",
        [f"leistung:{REMOVED_LEISTUNG}"]).fetchone()
    assert status == "missing"
    assert watching.immediate() == []


# -- nothing changed, nothing read ----------------------------------------------------------------


def test_an_unchanged_csv_gives_no_change(watching: Watching) -> None:
    watching.start()
    watching.crawler.pvog.set_day(1)  # only the import times move
    result = watching.watch()
    assert result.outcome is Outcome.COMPLETE and result.changes == []
    assert result.stats["requests"] == 1
    assert watching.immediate() == []


@pytest.mark.parametrize("fault, reason", [
    ("drop:Links", "'Links'"),
    ("maintenance", "HTML page instead of CSV"),
    ("status", "500"),
])
def test_a_broken_csv_is_a_failed_run_with_the_reason_and_no_change(
        watching: Watching, fault: str, reason: str) -> None:
    watching.start()
    before = watching.history.db.execute(
        "SELECT count(*) FROM versions").fetchone()[0]
    watching.crawler.pvog.set_day(2)
    watching.crawler.pvog.inject(CSV, fault)
    result = watching.watch()
    assert result.outcome is Outcome.FAILED and result.changes == []
    assert "CSV listing /v5/servicedescriptions/csv not read" in result.reason
    assert reason in result.reason
    assert watching.history.db.execute("SELECT count(*) FROM versions").fetchone()[0] == before
    assert watching.immediate() == []


def test_a_cut_csv_fails_as_suspicious_and_removes_nothing(watching: Watching) -> None:
    watching.start()
    watching.crawler.pvog.inject(CSV, "empty")
    result = watching.watch()
    assert result.outcome is Outcome.FAILED and "suspicious" in result.reason
    assert watching.history.db.execute(
        "SELECT count(*) FROM records WHERE source = 'pvog-test:links' AND status != 'present'"
    ).fetchone() == (0,)


def test_the_link_checker_does_not_follow_the_watchs_copies(watching: Watching) -> None:
    from zufiwatch.runner import _directory

    watching.start()
    links = SourceSettings(name="links", kind="links")
    assert {row[0] for row in _directory(watching.history, links)} == {"pvog-test"}


def test_questions_about_the_directory_answer_from_the_full_crawl_not_the_watchs_copy(
        watching: Watching) -> None:
    from zufiwatch.queries import links
    from zufiwatch.timeutil import stored

    watching.start()
    key = f"leistung:{REMOVED_LEISTUNG}"
    assert watching.history.find_record(key)["source"] == "pvog-test"
    assert watching.history.find_record(key, "pvog-test:links")["source"] == "pvog-test:links"
    now = stored(watching.crawler.clock())
    assert {row["source"] for row in watching.history.state_at(now)} == {"pvog-test"}
    assert {r["source"] for r in watching.history.state_at(now, source="pvog-test:links")} \
        == {"pvog-test:links"}
    assert "pvog-test:links" not in repr(links(watching.history, at=now))


# -- configuration, command and schedule ---------------------------------------------------------


def test_the_schedule_is_validated_and_empty_turns_the_watch_off(tmp_path: Path,
                                                                 crawler: Crawler) -> None:
    from zufiwatch.config import load_settings
    from zufiwatch.watching import watched_sources

    default = load_settings(crawler.write_config(tmp_path / "a.toml"))
    assert default.sources[0].link_watch_schedule == "0 * * * *"
    assert watched_sources(default) == [default.sources[0]]
    off = load_settings(crawler.write_config(tmp_path / "b.toml",
                                             source_keys='link_watch_schedule = ""'))
    assert watched_sources(off) == []
    with pytest.raises(ConfigError, match=r"sources\[0\]\.link_watch_schedule"):
        load_settings(crawler.write_config(tmp_path / "c.toml",
                                           source_keys='link_watch_schedule = "hourly"'))


def test_the_daemon_schedules_the_watch_and_its_job_runs_it(tmp_path: Path,
                                                            crawler: Crawler) -> None:
    from zufiwatch.config import load_settings
    from zufiwatch.daemon import Daemon

    config = crawler.write_config(tmp_path / "z.toml", "[daemon]\njitter_seconds = 0",
                                  'link_watch_schedule = "15 * * * *"')
    settings = load_settings(config)
    daemon = Daemon(config, settings, clock=crawler.clock)
    daemon._schedule(settings)
    jobs = {job.id: job for job in daemon._scheduler.get_jobs()}
    assert set(jobs) == {"crawl:pvog-test", "watch:pvog-test", "notify"}
    assert str(jobs["watch:pvog-test"].trigger.fields[6]) == "15"  # minute
    assert str(jobs["watch:pvog-test"].trigger.fields[5]) == "*"  # every hour
    crawler.pvog.set_day(0)
    daemon._watch_job("pvog-test")
    assert crawler.history.db.execute(
        "SELECT source, outcome FROM crawls").fetchall() == [("pvog-test:links", "complete")]

    off = replace(settings, sources=(replace(settings.sources[0], link_watch_schedule=""),))
    quiet = Daemon(config, off, clock=crawler.clock)
    quiet._schedule(off)
    assert {job.id for job in quiet._scheduler.get_jobs()} == {"crawl:pvog-test", "notify"}


def test_zufiwatch_watch_runs_the_watch_by_hand(tmp_path: Path, crawler: Crawler) -> None:
    from click.testing import CliRunner

    from zufiwatch.cli import cli

    config = crawler.write_config(tmp_path / "z.toml")
    crawler.pvog.set_day(0)
    run = CliRunner().invoke(cli, ["--config", str(config), "watch"])
    assert run.exit_code == 0, run.output
    assert "pvog-test:links: run 1 complete" in run.output and "1 requests" in run.output
    wrong = CliRunner().invoke(cli, ["--config", str(config), "watch", "--source", "nope"])
    assert wrong.exit_code == 1 and "no source named 'nope'" in wrong.output


# -- with the ZuFi: one event from three witnesses ---------------------------------------------


def test_the_watch_joins_the_zufis_edit_and_the_full_crawl_joins_both(both) -> None:
    watch_settings = both.settings

    def watch() -> CrawlResult:
        (result,) = run_link_watches(watch_settings, [both.crawler.source],
                                     history=both.history, archive=both.crawler.archive,
                                     clock=both.crawler.clock, fetcher=both.crawler.fetcher,
                                     alerts=both.alerts)
        return result

    def mails() -> list[str]:
        return [message_from_bytes(row[0], policy=policy.default).get_body(("plain",))
                .get_content() for row in both.history.db.execute(
                    "SELECT message FROM outbox WHERE kind = 'immediate' ORDER BY id")]

    both.day(0)
    both.crawler.pvog.set_day(0)
    watch()  # the watch's baseline
    both.day(1)  # the ZuFi shows the new link (go/a/5741) a day before the PVOG
    assert sum("Geburtsurkunde" in m for m in mails()) == 1
    both.crawler.pvog.set_day(2)  # the PVOG imports it; the watch sees it first
    assert watch().changes
    both.day(2)  # the full crawl (and the ZuFi shows day 3's new Leistung)
    assert sum("Geburtsurkunde" in m for m in mails()) == 1
    (event,) = [e for e in events(both.history) if e["subject"] == f"leistung:{GEBURTSURKUNDE}"]
    assert [w["source_kind"] for w in event["witnesses"]] == ["tsa", "linkwatch", "pvog"]

    new = sum(NEW_LEISTUNG_NAME in m for m in mails())
    assert new == 1  # the ZuFi reported the new Leistung
    both.crawler.pvog.set_day(3)
    added = watch()
    assert [c.label for _k, c in added.changes] == ["Leistung neu"]
    both.day(3)
    assert sum(NEW_LEISTUNG_NAME in m for m in mails()) == 1
    (opened,) = [e for e in events(both.history) if e["changes"][0]["label"] == "Leistung neu"]
    assert [w["source_kind"] for w in opened["witnesses"]] == ["tsa", "linkwatch", "pvog"]
