"""`zufiwatch health`: real histories built by crawling the simulator, judged at chosen times."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Crawler
from tests.smtp_server import SmtpServer
from zufiwatch.alerts import Alerts, run_notify
from zufiwatch.config import Settings, settings_from_mapping
from zufiwatch.health import (
    CRITICAL,
    OK,
    UNKNOWN,
    WARNING,
    HealthReport,
    evaluate,
    unknown,
)
from zufiwatch.notify.smtp import SmtpTransport
from zufiwatch.runner import CrawlResult, run_crawl
from zufiwatch.store import History
from zufiwatch.triage import acknowledge

PASSWORD = "geheim-und-lang"
STALE_S = 36 * 3600  # the default stale_after_hours, in seconds

LINE = re.compile(r"ZUFIWATCH (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+?)(?: \| ([^|\n]+))?")
NUMBER = r"-?\d+(?:\.\d+)?"
PERF = re.compile(rf"'((?:[^'=]|'')+)'=({NUMBER}|U)(s|%|B|KB|MB|TB|c)?"
                  rf";({NUMBER})?;({NUMBER})?;({NUMBER})?(?:;({NUMBER})?)?")


@dataclasses.dataclass(frozen=True)
class Perf:
    value: str
    uom: str
    warn: str
    crit: str
    min: str


def parse(report: HealthReport) -> tuple[str, str, dict[str, Perf]]:
    """The state word, summary and perfdata of a report's line; asserts the plugin format."""
    match = LINE.fullmatch(report.line)
    assert match, f"not a plugin status line: {report.line!r}"
    word, summary, perfdata = match.groups()
    assert word == {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL",
                    UNKNOWN: "UNKNOWN"}[report.state]
    assert report.state == max((c.state for c in report.checks),
                               key=[OK, UNKNOWN, WARNING, CRITICAL].index)
    perf: dict[str, Perf] = {}
    if perfdata:
        items = perfdata.split(" ")
        for item in items:
            parsed = PERF.fullmatch(item)
            assert parsed, f"not perfdata: {item!r} in {report.line!r}"
            label, value, uom, warn, crit, minimum, _max = parsed.groups()
            perf[label.replace("''", "'")] = Perf(value, uom or "", warn or "", crit or "",
                                                  minimum or "")
    return word, summary, perf


def states(report: HealthReport) -> dict[str, int]:
    return {c.name: c.state for c in report.checks}


def make_settings(crawler: Crawler, **notify: Any) -> Settings:
    settings = settings_from_mapping({
        "notify": {"recipients": ["ag-ozg@jena.de"], "operators": ["it-betrieb@jena.de"],
                   "sender": "zufiwatch@jena.de", **notify},
    }, base_dir=crawler.history.path.parent)
    return dataclasses.replace(settings, sources=(crawler.source,))


def started(crawler: Crawler, result: CrawlResult) -> datetime:
    return datetime.fromisoformat(crawler.history.crawl(result.crawl_id)["started_at"])


def crawl_with_alerts(crawler: Crawler, alerts: Alerts, day: int) -> CrawlResult:
    crawler.pvog.set_day(day)
    result = run_crawl(crawler.source, history=crawler.history, archive=crawler.archive,
                       fetcher=crawler.fetcher, clock=crawler.clock, alerts=alerts)
    crawler.clock.advance(days=1)
    return result


# -- OK and the age of the last complete crawl ---------------------------------------------


def test_a_fresh_complete_crawl_is_ok(crawler: Crawler) -> None:
    settings = make_settings(crawler)
    at = started(crawler, crawler.day(1))
    report = evaluate(settings, crawler.history, at + timedelta(minutes=90))
    word, summary, perf = parse(report)
    assert report.state == OK and word == "OK"
    assert summary == "pvog-test: last complete crawl 1.5 h ago"
    assert perf["age_pvog-test"] == Perf("5400", "s", str(STALE_S), str(2 * STALE_S), "0")
    assert perf["failed_in_row_pvog-test"] == Perf("0", "", "0", "2", "0")
    assert perf["undeliverable"] == Perf("0", "", "", "0", "0")
    assert perf["pending_overdue"] == Perf("0", "", "0", "", "0")
    assert perf["untracked"] == Perf("0", "", "", "", "0")
    assert perf["untracked_overdue"] == Perf("0", "", "0", "", "0")
    assert list(perf)[:2] == ["age_pvog-test", "failed_in_row_pvog-test"]
    assert set(states(report).values()) == {OK}


def test_the_check_only_reads_and_works_on_a_read_only_database(crawler: Crawler) -> None:
    settings = make_settings(crawler)
    at = started(crawler, crawler.day(1))
    before = crawler.history.db.conn.total_changes
    evaluate(settings, crawler.history, at + timedelta(hours=1))
    assert crawler.history.db.conn.total_changes == before
    with History(crawler.history.path, readonly=True) as readonly:
        report = evaluate(settings, readonly, at + timedelta(hours=1))
    assert report.state == OK


@pytest.mark.parametrize(("hours", "state", "text"), [
    (35.9, OK, "last complete crawl 35.9 h ago"),
    (36.5, WARNING, "last complete crawl 36.5 h ago"),
    (71.9, WARNING, "last complete crawl 2.9 d ago"),
    (72.5, CRITICAL, "last complete crawl 3 d ago"),
])
def test_an_old_complete_crawl_warns_and_then_is_critical(
        crawler: Crawler, hours: float, state: int, text: str) -> None:
    settings = make_settings(crawler)
    at = started(crawler, crawler.day(1))
    report = evaluate(settings, crawler.history, at + timedelta(hours=hours))
    _, summary, perf = parse(report)
    assert report.state == state
    assert states(report)["age:pvog-test"] == state
    assert summary.startswith(f"pvog-test: {text}")
    assert perf["age_pvog-test"].value == str(int(hours * 3600))


def test_thresholds_follow_stale_after_hours(crawler: Crawler) -> None:
    settings = make_settings(crawler, stale_after_hours=6)
    at = started(crawler, crawler.day(1))
    report = evaluate(settings, crawler.history, at + timedelta(hours=7))
    _, _, perf = parse(report)
    assert report.state == WARNING
    assert (perf["age_pvog-test"].warn, perf["age_pvog-test"].crit) == ("21600", "43200")
    assert evaluate(settings, crawler.history, at + timedelta(hours=13)).state == CRITICAL


def test_no_complete_crawl_yet_warns_until_the_first_crawl_is_stale(crawler: Crawler) -> None:
    settings = make_settings(crawler)
    never = evaluate(settings, crawler.history, crawler.clock())
    assert never.state == WARNING and "pvog-test: no crawl yet" in never.line
    crawler.pvog.inject("/v7/", "status", status=500)
    at = started(crawler, crawler.day(1))
    soon = evaluate(settings, crawler.history, at + timedelta(hours=1))
    _, summary, perf = parse(soon)
    assert soon.state == WARNING
    assert "pvog-test: no complete crawl yet" in summary
    assert perf["age_pvog-test"] == Perf("U", "", str(STALE_S), str(2 * STALE_S), "0")
    late = evaluate(settings, crawler.history, at + timedelta(hours=37))
    assert late.state == CRITICAL
    assert states(late)["age:pvog-test"] == CRITICAL
    assert parse(late)[1].startswith("pvog-test: no complete crawl in 37 h")


# -- failed crawls in a row ----------------------------------------------------------------


def test_one_failed_crawl_after_a_complete_one_warns(crawler: Crawler) -> None:
    settings = make_settings(crawler)
    crawler.day(1)
    crawler.pvog.inject("/v7/", "status", status=500)
    at = started(crawler, crawler.day(2))
    report = evaluate(settings, crawler.history, at + timedelta(hours=1))
    word, summary, perf = parse(report)
    assert report.state == WARNING and word == "WARNING"
    assert states(report) == {"age:pvog-test": OK, "failed:pvog-test": WARNING,
                              "outbox:failed": OK, "outbox:pending": OK, "untracked": OK,
                              "drift:pvog-test": OK}
    assert summary.startswith("pvog-test: last crawl failed (")
    assert "500" in summary
    assert perf["failed_in_row_pvog-test"] == Perf("1", "", "0", "2", "0")
    assert perf["age_pvog-test"].value == str(25 * 3600)


def test_three_failed_crawls_in_a_row_are_critical(crawler: Crawler) -> None:
    settings = make_settings(crawler, stale_after_hours=240)  # the age stays OK throughout
    crawler.day(1)
    crawler.pvog.inject("/v7/", "status", status=500)
    seen = []
    for day in (2, 3, 4):
        at = started(crawler, crawler.day(day))
        report = evaluate(settings, crawler.history, at + timedelta(hours=1))
        seen.append((report.state, parse(report)[2]["failed_in_row_pvog-test"].value))
    assert seen == [(WARNING, "1"), (WARNING, "2"), (CRITICAL, "3")]
    assert "pvog-test: 3 crawls failed in a row (" in report.line
    assert states(report)["age:pvog-test"] == OK

    # A crawl still running is neither a failure nor a success.
    crawler.history.begin_crawl("pvog-test", crawler.last_crawl_at, "test")
    assert evaluate(settings, crawler.history, crawler.clock()).state == CRITICAL

    # The next complete crawl ends the series (the running one is closed as interrupted).
    crawler.pvog.clear_faults()
    at = started(crawler, crawler.day(5))
    report = evaluate(settings, crawler.history, at + timedelta(hours=1))
    assert report.state == OK
    assert parse(report)[2]["failed_in_row_pvog-test"].value == "0"


# -- the outbox ----------------------------------------------------------------------------


def test_an_undeliverable_message_is_critical_for_seven_days(crawler: Crawler) -> None:
    with SmtpServer(starttls=True, auth=("zufiwatch", PASSWORD),
                    refuse={"ag-ozg@jena.de"}) as server:
        settings = dataclasses.replace(make_settings(crawler), smtp=server.settings())
        alerts = Alerts(settings)
        crawl_with_alerts(crawler, alerts, 1)
        crawl_with_alerts(crawler, alerts, 2)  # ThAVEL link replaced: an immediate alert
        transport = SmtpTransport(settings.smtp, PASSWORD, ssl_context=server.client_context)
        assert run_notify(crawler.history, alerts, transport.send, crawler.clock).failed == 1
        run_notify(crawler.history, alerts, transport.send, crawler.clock)  # operator notice
    failed_at = crawler.clock()
    report = evaluate(settings, crawler.history, failed_at)
    word, summary, perf = parse(report)
    assert report.state == CRITICAL and word == "CRITICAL"
    assert summary.startswith("1 message undeliverable")
    assert perf["undeliverable"] == Perf("1", "", "", "0", "0")
    assert perf["pending_overdue"].value == "0"  # the operator notice went out

    later = evaluate(settings, crawler.history, failed_at + timedelta(days=8))
    assert states(later)["outbox:failed"] == OK
    assert parse(later)[2]["undeliverable"].value == "0"


def test_a_message_pending_for_over_an_hour_warns(crawler: Crawler) -> None:
    settings = make_settings(crawler)
    alerts = Alerts(settings)
    crawl_with_alerts(crawler, alerts, 1)
    at = started(crawler, crawl_with_alerts(crawler, alerts, 2))  # queues, nobody sends
    assert evaluate(settings, crawler.history, at + timedelta(minutes=50)).state == OK
    report = evaluate(settings, crawler.history, at + timedelta(hours=2))
    _, summary, perf = parse(report)
    assert report.state == WARNING
    assert states(report)["outbox:pending"] == WARNING
    assert summary.startswith("1 message pending > 1 h (oldest 2 h)")
    assert perf["pending_overdue"] == Perf("1", "", "0", "", "0")


# -- untracked changes ---------------------------------------------------------------------


def test_untracked_changes_are_counted_and_high_ones_warn_after_a_day(
        crawler: Crawler) -> None:
    settings = make_settings(crawler)
    alerts = Alerts(settings)
    crawl_with_alerts(crawler, alerts, 1)
    at = started(crawler, crawl_with_alerts(crawler, alerts, 2))
    history = crawler.history
    # Counted by edit (event): the Leistung and its Onlinedienst changed together are one.
    open_ids = [r["id"] for r in history.db.query(
        "SELECT id FROM events WHERE status = 'untracked' AND cause = 'source'")]
    high = [r["id"] for r in history.db.query(
        "SELECT id FROM events WHERE status = 'untracked' "
        "AND severity IN ('high', 'critical')")]
    assert open_ids and high

    # Sent at once, seen a moment ago: informational.
    history.db.execute("UPDATE outbox SET status = 'sent', sent_at = created_at")
    fresh = evaluate(settings, history, at + timedelta(hours=2))
    _, summary, perf = parse(fresh)
    assert fresh.state == OK
    assert summary == (f"pvog-test: last complete crawl 2 h ago; "
                       f"{len(open_ids)} untracked change{'s' * (len(open_ids) > 1)} open")
    assert perf["untracked"].value == str(len(open_ids))
    assert perf["untracked_overdue"].value == "0"

    # Nobody looked at them for a day.
    stale = evaluate(settings, history, at + timedelta(hours=25))
    _, summary, perf = parse(stale)
    assert stale.state == WARNING
    assert states(stale)["untracked"] == WARNING
    assert "untracked > 24 h" in summary
    assert perf["untracked_overdue"] == Perf(str(len(high)), "", "0", "", "0")

    acknowledge(history, high, by="M. Muster", now=at + timedelta(hours=25))
    reviewed = evaluate(settings, history, at + timedelta(hours=25))
    assert reviewed.state == OK
    assert parse(reviewed)[2]["untracked"].value == str(len(open_ids) - len(high))


# -- UNKNOWN and the line ------------------------------------------------------------------


def test_without_a_history_the_state_is_unknown(crawler: Crawler) -> None:
    settings = make_settings(crawler)
    report = evaluate(settings, None, crawler.clock())
    word, summary, perf = parse(report)
    assert report.state == UNKNOWN == 3 and word == "UNKNOWN"
    assert summary == f"no history database at {settings.database}"
    assert perf == {} and " | " not in report.line


def test_unknown_keeps_the_line_one_line_without_perfdata() -> None:
    report = unknown("zufiwatch.toml: key 'notify.max_attempts': expected an integer\n| x")
    assert report.state == UNKNOWN
    assert report.line == ("ZUFIWATCH UNKNOWN - zufiwatch.toml: key 'notify.max_attempts': "
                           "expected an integer / x")
    parse(report)
    assert [c.state for c in report.checks] == [UNKNOWN]


def test_an_unreadable_database_or_no_sources_is_unknown(crawler: Crawler) -> None:
    settings = make_settings(crawler)
    at = started(crawler, crawler.day(1))
    nothing = evaluate(dataclasses.replace(settings, sources=()), crawler.history, at)
    assert nothing.state == UNKNOWN and "no sources configured" in nothing.line
    parse(nothing)
    crawler.history.close()
    broken = evaluate(settings, crawler.history, at)
    assert broken.state == UNKNOWN
    assert parse(broken)[1].startswith("cannot read the history database")


def test_the_worst_findings_come_first(crawler: Crawler) -> None:
    settings = make_settings(crawler, stale_after_hours=240)
    alerts = Alerts(settings)
    crawl_with_alerts(crawler, alerts, 1)
    crawl_with_alerts(crawler, alerts, 2)  # an immediate alert waits in the outbox
    crawler.pvog.inject("/v7/", "status", status=500)
    for day in (3, 4, 5):
        at = started(crawler, crawl_with_alerts(crawler, alerts, day))
    report = evaluate(settings, crawler.history, at + timedelta(hours=1))
    _, summary, _ = parse(report)
    assert report.state == CRITICAL
    findings = summary.split("; ")
    assert findings[0].startswith("pvog-test: 3 crawls failed in a row")
    assert any(re.match(r"\d+ messages? pending > 1 h", f) for f in findings[1:])
    assert any("untracked > 24 h" in f for f in findings[1:])


def test_naive_times_are_refused(crawler: Crawler) -> None:
    with pytest.raises(ValueError, match="naive"):
        evaluate(make_settings(crawler), crawler.history, datetime(2026, 10, 1, 4, 0))


def test_the_health_command_prints_one_line_and_exits_with_the_state(
        crawler: Crawler, tmp_path) -> None:
    from click.testing import CliRunner

    from zufiwatch.cli import cli

    config = crawler.write_config(tmp_path / "zufiwatch.toml")
    missing = CliRunner().invoke(cli, ["--database", str(tmp_path / "none.db"), "--config",
                                       str(config), "health"])
    assert missing.exit_code == 3 and missing.output.startswith("ZUFIWATCH UNKNOWN - ")
    crawler.day(0)
    fresh = CliRunner().invoke(cli, ["--config", str(config), "health"])
    # The crawl ran on the test clock (2026-10-01), the command on the real one: stale.
    assert fresh.exit_code == 2, fresh.output
    assert fresh.output.startswith("ZUFIWATCH CRITICAL - ") and " | " in fresh.output
    assert len(fresh.output.strip().splitlines()) == 1
    # A crawl now (the clock set to the real time): OK, exit 0.
    from datetime import UTC, datetime

    crawler.clock.now = datetime.now(UTC)
    crawler.crawl()
    ok = CliRunner().invoke(cli, ["--config", str(config), "health"])
    assert ok.exit_code == 0 and ok.output.startswith("ZUFIWATCH OK - "), ok.output
    crawler.pvog.inject("/v7/", "status", status=500)
    crawler.clock.now = datetime.now(UTC)
    crawler.crawl()
    warn = CliRunner().invoke(cli, ["--config", str(config), "health"])
    assert warn.exit_code == 1 and warn.output.startswith("ZUFIWATCH WARNING - "), warn.output
