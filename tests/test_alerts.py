"""Alerts end to end: crawls of the simulator, the outbox, a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import Crawler
from tests.smtp_server import SmtpServer
from zufiwatch.alerts import Alerts, run_notify
from zufiwatch.config import Settings, settings_from_mapping
from zufiwatch.notify.smtp import SmtpTransport
from zufiwatch.runner import CrawlResult, run_crawl
from zufiwatch.store.ledger import verify
from zufiwatch.triage import acknowledge, expect

PASSWORD = "geheim-und-lang"


@dataclasses.dataclass
class Mailbox:
    crawler: Crawler
    server: SmtpServer
    settings: Settings
    alerts: Alerts

    def crawl(self, day: int) -> CrawlResult:
        self.crawler.pvog.set_day(day)
        self.crawler.last_crawl_at = ""
        result = run_crawl(self.crawler.source, history=self.crawler.history,
                           archive=self.crawler.archive, fetcher=self.crawler.fetcher,
                           clock=self.crawler.clock, alerts=self.alerts)
        self.crawler.clock.advance(days=1)
        return result

    def notify(self, **force: bool):
        transport = SmtpTransport(self.settings.smtp, PASSWORD,
                                  ssl_context=self.server.client_context)
        return run_notify(self.crawler.history, self.alerts, transport.send,
                          self.crawler.clock, **force)

    def received(self, kind: str | None = None) -> list[EmailMessage]:
        return [m for m in self.server.messages
                if kind is None or m["X-Zufiwatch-Kind"] == kind]


def _settings(crawler: Crawler, server: SmtpServer, **rules) -> Settings:
    settings = settings_from_mapping({
        "notify": {"recipients": ["ag-ozg@jena.de", "vertretung@jena.de"],
                   "operators": ["it-betrieb@jena.de"], "sender": "zufiwatch@jena.de"},
        "rules": rules or {},
    }, base_dir=crawler.history.path.parent)
    return dataclasses.replace(settings, sources=(crawler.source,), smtp=server.settings())


@pytest.fixture
def mailbox(crawler: Crawler) -> Iterator[Mailbox]:
    with SmtpServer(starttls=True, auth=("zufiwatch", PASSWORD)) as server:
        settings = _settings(crawler, server)
        yield Mailbox(crawler, server, settings, Alerts(settings))


def _text(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return part.get_content()


def test_a_replaced_thavel_link_reaches_the_group_in_german(mailbox: Mailbox) -> None:
    mailbox.crawl(1)
    mailbox.crawl(2)
    report = mailbox.notify()
    assert report.sent == 1 and report.failed == 0
    (message,) = mailbox.received("immediate")
    envelope = mailbox.server.envelopes[0]
    assert set(envelope.rcpt_tos) == {"ag-ozg@jena.de", "vertretung@jena.de"}
    assert envelope.tls and envelope.login == "zufiwatch"
    assert message["From"] == "zufiwatch@jena.de"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] and message["Date"]
    assert message["Subject"].startswith("[zufiwatch] ")
    assert "ungeklärt" in message["Subject"]
    for subtype in ("plain", "html"):
        body = _text(message, subtype)
        assert "Geburtsurkunde beantragen" in body
        assert "go/a/1273" in body and "go/a/5741" in body
        assert "zufiwatch ack " in body
        assert "Online-Dienst" in body


def test_each_message_arrives_once_after_an_smtp_outage(mailbox: Mailbox) -> None:
    mailbox.crawl(1)
    mailbox.server.stop()
    mailbox.crawl(2)
    mailbox.crawl(3)
    down = mailbox.notify()
    assert down.sent == 0 and down.failed == 2
    assert all("cannot connect" in e for e in down.errors)
    mailbox.server.start()
    mailbox.crawler.clock.advance(hours=3)  # past the backoff
    up = mailbox.notify()
    assert up.sent == 2
    again = mailbox.notify()
    assert again.sent == 0
    ids = [m["Message-ID"] for m in mailbox.received()]
    assert len(ids) == len(set(ids)) == 2


def test_an_expected_change_produces_no_alert(mailbox: Mailbox, scenario) -> None:
    mailbox.crawl(1)
    (edit,) = [e for e in scenario.edits(2) if e.kind == "leistung"]
    service = next(e for e in scenario.edits(2) if e.kind == "onlinedienst")
    history = mailbox.crawler.history
    now = mailbox.crawler.clock()
    for key in (f"leistung:{edit.id}", f"onlinedienst:{service.id}"):
        expect(history, key=key, field="Online-Dienst › Link", value="go/a/5741",
               until=now + timedelta(days=30), by="M. Muster", note="Ticket 4711", now=now)
    result = mailbox.crawl(2)
    statuses = {r["status"] for r in history.db.query(
        "SELECT status FROM changes WHERE crawl_id = ?", [result.crawl_id])}
    assert statuses == {"expected"}
    assert mailbox.notify().sent == 0
    met = [e["status"] for e in history.db.query("SELECT status FROM expectations")]
    assert met == ["met", "met"]


def test_an_acknowledged_change_is_not_reminded_and_overdue_is_reported(
        mailbox: Mailbox, scenario) -> None:
    history = mailbox.crawler.history
    clock = mailbox.crawler.clock
    mailbox.crawl(4)
    mailbox.notify(digest=True)  # starts the digest period
    mailbox.crawl(5)  # phone number: medium, goes into the digest
    mailbox.crawl(6)  # fee: medium
    (phone,) = [r["id"] for r in history.db.query(
        "SELECT id FROM changes WHERE label LIKE 'Kommunikation%'")]
    (fee,) = [r["id"] for r in history.db.query(
        "SELECT id FROM changes WHERE label = 'Gebühren'")]
    mailbox.notify(digest=True)
    (digest,) = mailbox.received("digest")
    assert "Standesamt" in _text(digest, "plain")
    acknowledge(history, [phone], by="M. Muster", note="geprüft", now=clock())
    key = f"leistung:{next(iter(scenario.directory_for(6).leistungen))}"
    expect(history, key=key, field="Gebühren", value="99,00 EUR",
           until=clock().replace(hour=23), by="K. Beispiel", now=clock())
    clock.advance(days=8)
    mailbox.notify(reminder=True)
    (reminder,) = mailbox.received("reminder")
    text = _text(reminder, "plain")
    assert f"zufiwatch ack {fee}" in text
    assert f"zufiwatch ack {phone}" not in text
    assert "99,00 EUR" in text and "K. Beispiel" in text


def test_a_link_to_a_host_not_allowed_is_critical_in_the_crawl_that_saw_it(
        crawler: Crawler) -> None:
    with SmtpServer(starttls=True, auth=("zufiwatch", PASSWORD)) as server:
        settings = _settings(crawler, server, allowed_hosts=["*.jena.de"])
        box = Mailbox(crawler, server, settings, Alerts(settings))
        box.crawl(1)
        result = box.crawl(2)
        queued = crawler.history.db.execute(
            "SELECT kind, subject FROM outbox WHERE created_at = ?",
            [crawler.history.crawl(result.crawl_id)["started_at"]]).fetchall()
        assert [k for k, _ in queued] == ["immediate"]
        assert "kritisch" in queued[0][1]
        severities = {r["severity"] for r in crawler.history.db.query(
            "SELECT severity FROM changes WHERE crawl_id = ?", [result.crawl_id])}
        assert severities == {"critical"}
        box.notify()
        body = _text(box.received("immediate")[0], "plain")
        assert "thavelp.thueringen.de" in body and "kritisch" in body.lower()


def test_a_failed_crawl_tells_the_operators(mailbox: Mailbox) -> None:
    mailbox.crawl(1)
    mailbox.crawler.pvog.inject("/v7/", "status", status=500)
    mailbox.crawl(2)
    mailbox.notify()
    # The failed crawl, and (a day later, 48 h after the last complete crawl) the stale source.
    operator = mailbox.received("operator")
    assert {e.rcpt_tos for e in mailbox.server.envelopes} == {("it-betrieb@jena.de",)}
    (failed,) = [m for m in operator if "HTTP 500" in _text(m, "plain")]
    assert "pvog-test" in failed["Subject"] or "pvog-test" in _text(failed, "plain")
    assert len(operator) == 2


def test_changes_expectations_and_acks_are_chained(mailbox: Mailbox) -> None:
    history = mailbox.crawler.history
    mailbox.crawl(1)
    mailbox.crawl(2)
    ids = [r["id"] for r in history.db.query("SELECT id FROM changes")]
    event = history.db.execute("SELECT min(id) FROM events").fetchone()[0]
    covered = [r[0] for r in history.db.execute("SELECT id FROM changes WHERE event_id = ?",
                                                [event])]
    acknowledge(history, [event], by="M. Muster", now=mailbox.crawler.clock())
    result = verify(history.db.conn)
    # Every change and one acknowledgement for each change of the event.
    assert result.ok and covered
    assert result.kinds["change"] == len(ids)
    assert result.kinds["acknowledgement"] == len(covered)
    history.db.execute("UPDATE changes SET new_value = '\"https://evil.example/\"' "
                       "WHERE id = ?", [ids[0]])
    broken = verify(history.db.conn)
    assert not broken.ok and f"changes row {ids[0]} " in broken.problem
    assert "altered" in broken.problem


def test_the_ledger_notices_a_deleted_acknowledgement(mailbox: Mailbox, tmp_path: Path) -> None:
    history = mailbox.crawler.history
    mailbox.crawl(1)
    mailbox.crawl(2)
    ids = [r["id"] for r in history.db.query("SELECT id FROM changes")]
    events = [r["id"] for r in history.db.query("SELECT id FROM events")]
    acknowledge(history, events, by="M. Muster", now=mailbox.crawler.clock())
    history.db.execute("DELETE FROM acknowledgements WHERE change_id = ?", [ids[0]])
    result = verify(history.db.conn)
    assert not result.ok and "acknowledgement" in result.problem and "deleted" in result.problem


@pytest.mark.parametrize("share", [0.5, 1.0])
def test_a_sigkill_between_storing_and_sending_still_delivers_once(
        mailbox: Mailbox, tmp_path: Path, share: float) -> None:
    import os
    import signal
    import subprocess
    import sys

    crawler = mailbox.crawler
    baseline = mailbox.crawl(1)
    crawler.pvog.set_day(2)
    config = crawler.write_config(tmp_path / "zufiwatch.toml", """
[notify]
recipients = ["ag-ozg@jena.de"]
sender = "zufiwatch@jena.de"
""")
    start = crawler.pvog.request_count
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        [sys.executable, "-m", "zufiwatch.cli", "--config", str(config), "crawl"], cwd=root,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)})
    try:
        target = start + int(baseline.stats["requests"] * share)
        assert crawler.pvog.wait_for_requests(target, timeout=60)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    mailbox.crawl(2)  # completes what the killed crawl did not store
    mailbox.notify()
    mailbox.notify()
    alerts = mailbox.received("immediate")
    assert len(alerts) == 1
    assert "go/a/5741" in _text(alerts[0], "plain")
    assert crawler.history.db.execute(
        "SELECT count(*) FROM outbox WHERE status = 'sent'").fetchone()[0] == 1


def test_an_undeliverable_message_is_reported_to_the_operators(crawler: Crawler) -> None:
    with SmtpServer(starttls=True, auth=("zufiwatch", PASSWORD),
                    refuse={"ag-ozg@jena.de", "vertretung@jena.de"}) as server:
        settings = _settings(crawler, server)
        box = Mailbox(crawler, server, settings, Alerts(settings))
        box.crawl(1)
        box.crawl(2)
        first = box.notify()
        assert first.failed == 1 and "recipients refused" in first.errors[0]
        status = crawler.history.db.execute(
            "SELECT status, attempts FROM outbox WHERE kind = 'immediate'").fetchone()
        assert status == ("failed", 1)  # refused for good: no retry
        box.notify()
        (notice,) = box.received("operator")
        assert box.server.envelopes[-1].rcpt_tos == ("it-betrieb@jena.de",)
        assert "recipients refused" in _text(notice, "plain")
