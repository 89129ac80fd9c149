"""One edit, one event: the ZuFi, the PVOG and the link check report an edit once.

Over HTTP against the simulated ZuFi (a day ahead) and PVOG, as the working group would
hear of them: `changes`, the immediate alert, the digest, acknowledgements, the feed.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.test_tsa import GEBURTSURKUNDE, Both
from tests.test_tsa import api_key as api_key
from tests.test_tsa import both as both
from tests.test_tsa import tsa as tsa
from zufiwatch.alerts import event_notices, queue_digest, queue_reminder
from zufiwatch.config import Settings
from zufiwatch.events import Member, NewEvent, OpenEvent, assign, corresponds, refs_of
from zufiwatch.model import Change
from zufiwatch.notify import messages
from zufiwatch.queries import events
from zufiwatch.store import History
from zufiwatch.store.ledger import verify
from zufiwatch.triage import acknowledge

PAYLOADS = Path(__file__).parent / "payloads"
GERA = "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc"
JENA = "https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc"


def _outbox(both: Both, kind: str) -> list:
    rows = both.history.db.execute("SELECT message FROM outbox WHERE kind = ? ORDER BY id",
                                   [kind]).fetchall()
    return [message_from_bytes(row[0], policy=policy.default) for row in rows]


def _text(message) -> str:
    return message.get_body(("plain",)).get_content()


# -- the pure rules --------------------------------------------------------------------------


def test_the_zufi_and_the_pvog_report_the_same_fee_phone_and_link_edit_in_their_shapes() -> None:
    fee_zufi = Change("modified", "gebuehren[Gebühr 1:Jena].betrag", "Gebühren › Betrag",
                      "50,00 EUR", "55,00 EUR")
    fee_pvog = Change("modified", "texte.98.details[Gebühr 1:Gebühr: 50,00 EUR]", "Gebühren",
                      {"text": "Gebühr: 50,00 EUR", "titel": "Gebühr 1"},
                      {"text": "Gebühr: 55,00 EUR", "titel": "Gebühr 1"})
    assert corresponds(fee_pvog, fee_zufi) and corresponds(fee_zufi, fee_pvog)
    phone_zufi = Change("modified", "kommunikation[Telefon:+49 3641 49-2250]",
                        "Kommunikation › Telefon", {"kanal": "Telefon", "wert": "+49 3641 49-2250"},
                        {"hinweis": "Bitte nur zu den Sprechzeiten.", "kanal": "Telefon",
                         "titel": "Telefon", "wert": "+49 3641 49-2255"})
    phone_pvog = Change("modified", "kommunikation[Telefon:+49 3641 49-2250]",
                        "Kommunikation › Telefon", {"kanal": "Telefon", "wert": "+49 3641 49-2250"},
                        {"kanal": "Telefon", "wert": "+49 3641 49-2255"})
    assert corresponds(phone_pvog, phone_zufi)
    link_zufi = Change("modified", f"onlinedienste[{JENA}]", "Online-Dienst › Link",
                       {"id": "400122", "url": JENA}, {"id": "400122", "url": GERA})
    link_pvog = Change("modified", f"onlinedienste[{JENA}]", "Online-Dienst › Link",
                       {"id": "S1600001.OD.400122", "gueltig_bis": "2999-12-31", "url": JENA},
                       {"id": "S1600001.OD.400122", "gueltig_bis": "2999-12-31", "url": GERA})
    assert corresponds(link_pvog, link_zufi)
    # A different value, another field or another kind of change is another edit.
    assert not corresponds(Change("modified", "gebuehren", "Gebühren", "50,00 EUR", "60,00 EUR"),
                           fee_zufi)
    assert not corresponds(Change("modified", "texte.06.text", "Volltext", "a", "55,00 EUR"),
                           fee_zufi)
    assert not corresponds(Change("removed", f"onlinedienste[{JENA}]", "Online-Dienst › Link",
                                  {"url": JENA}, None), link_zufi)


def test_a_later_witness_joins_only_an_edit_it_reports_and_only_once_per_source() -> None:
    zufi = Change("modified", "gebuehren", "Gebühren › Betrag", "50,00 EUR", "55,00 EUR")
    opened = OpenEvent(7, "leistung:1", "2026-09-27T09:00:00.000000+00:00",
                       frozenset({"zufi"}), (("leistung:1", zufi),))
    pvog_fee = Member(0, "leistung:S.LB.1", Change("modified", "texte.98", "Gebühren", None,
                                                   {"text": "Gebühr: 55,00 EUR"}))
    pvog_text = Member(1, "leistung:S.LB.1", Change("modified", "texte.06.text", "Volltext",
                                                    "alt", "neu"))
    plan = assign("pvog", [pvog_fee, pvog_text], {"leistung:S.LB.1": "leistung:1"}, [opened])
    assert plan.joins == {0: 7}
    assert plan.new == [NewEvent("leistung:1", "leistung:S.LB.1", [1])]
    # The ZuFi itself reporting the fee again is a new edit, not a second witness.
    again = assign("zufi", [Member(0, "leistung:1", zufi)], {}, [opened])
    assert not again.joins and len(again.new) == 1


def test_an_onlinedienst_change_naming_the_leistungs_new_link_is_part_of_its_edit() -> None:
    leistung = Member(0, "leistung:354824", Change(
        "modified", "onlinedienste[https://thavel.example/portal?aid=1]", "Online-Dienst › Link",
        {"id": "400171", "url": "https://thavel.example/portal?aid=1"},
        {"id": "986220", "url": "https://ajproxy.jena.de/olav/olav.htm?x=1"}))
    service = Member(1, "onlinedienst:986220", Change(
        "added", "", "Onlinedienst neu", None,
        {"links": [{"url": "https://ajproxy.jena.de/olav/olav.htm?x=1"}], "name": "Antrag"}))
    other = Member(2, "onlinedienst:5", Change("added", "", "Onlinedienst neu", None,
                                              {"links": [{"url": "https://x.example/"}]}))
    plan = assign("zufi", [leistung, service, other], {}, [])
    assert sorted(e.members for e in plan.new) == [[0, 1], [2]]
    assert "od:986220" in refs_of("leistung:354824", leistung.change)


# -- ZuFi, PVOG and link check over HTTP ---------------------------------------------------


def test_the_pvog_importing_a_zufi_edit_joins_its_event_and_is_not_alerted_again(
        both: Both) -> None:
    both.day(0)
    both.day(1)  # the ZuFi shows the new link (go/a/5741) a day before the PVOG
    (alert,) = _outbox(both, "immediate")
    assert "Geburtsurkunde beantragen" in _text(alert)
    both.day(2)  # the PVOG imports it (and the ZuFi shows day 3's new Leistung)
    later = _outbox(both, "immediate")[1:]
    assert later and not any("Geburtsurkunde" in _text(m) for m in later)
    (event,) = [e for e in events(both.history) if e["subject"] == f"leistung:{GEBURTSURKUNDE}"]
    assert [w["source_kind"] for w in event["witnesses"]] == ["tsa", "pvog"]
    assert event["witnesses"][1]["at"] > event["witnesses"][0]["at"]
    # The ZuFi's and the PVOG's Leistung and Onlinedienst changes: four changes, one edit.
    assert {c["source"] for c in event["changes"]} == {"zufi-test", "pvog-test"}
    assert len(event["changes"]) == 4 and len(event["fields"]) == 1
    assert event["fields"][0]["label"] == "Online-Dienst › Link"
    notice, = event_notices(both.history.db.conn, [event["id"]])
    mail = both.alerts.mail(["ag-ozg@jena.de"])
    text = _text(messages.digest([notice], mail, now=both.crawler.clock(),
                                 period_start=event["opened_at"],
                                 period_end=event["witnesses"][-1]["at"]))
    assert "im PVOG angekommen" in " ".join(text.split())
    assert text.count(f"zufiwatch ack {event['id']} ") == 1


def test_acknowledging_an_event_acknowledges_what_every_witness_saw(both: Both) -> None:
    for day in range(3):
        both.day(day)
    (event,) = [e for e in events(both.history) if e["subject"] == f"leistung:{GEBURTSURKUNDE}"]
    assert acknowledge(both.history, [event["id"]], by="M. Muster",
                       now=both.crawler.clock()) == [event["id"]]
    statuses = {row[0] for row in both.history.db.execute(
        "SELECT status FROM changes WHERE event_id = ?", [event["id"]])}
    assert statuses == {"acknowledged"}
    acks = both.history.db.execute(
        "SELECT count(*) FROM acknowledgements a JOIN changes c ON c.id = a.change_id "
        "WHERE c.event_id = ?", [event["id"]]).fetchone()[0]
    assert acks == len(event["change_ids"]) == 4
    assert verify(both.history.db.conn).ok
    both.crawler.clock.advance(days=3)
    queue_reminder(both.history, both.alerts, both.crawler.clock(), force=True)
    for message in _outbox(both, "reminder"):
        assert f"zufiwatch ack {event['id']} " not in _text(message)


def test_the_digest_names_each_edit_once_with_its_period_and_german_headings(
        both: Both) -> None:
    for day in range(5):
        both.day(day)
    both.history.db.execute("UPDATE events SET notified = NULL")
    queue_digest(both.history, both.alerts, both.crawler.clock(), force=True)
    (digest,) = _outbox(both, "digest")
    text = " ".join(_text(digest).split())
    rows = events(both.history)
    for row in rows:
        if row["status"] == "untracked":
            assert text.count(f"zufiwatch ack {row['id']} ") == 1, row["subject"]
    first = min(r["opened_at"] for r in rows)
    start = messages._View(both.alerts.mail(["x@y"]), both.crawler.clock()).time(first)
    assert f"im Zeitraum {start} bis" in text
    assert "\nlink\n" not in _text(digest)


def test_upgrading_keeps_every_change_and_groups_it_into_exactly_one_event(
        both: Both, tmp_path: Path) -> None:
    for day in range(4):
        both.day(day)
    history = both.history
    before = history.db.execute("SELECT id, crawl_id, record_id, detected_at, change_type, "
                                "path, label, old_value, new_value, cause, status "
                                "FROM changes ORDER BY id").fetchall()
    grouped = {tuple(sorted(e["change_ids"])) for e in events(history)}
    _strip_events(history.db.conn)
    path = history.path
    history.close()
    with History(path) as upgraded:
        after = upgraded.db.execute("SELECT id, crawl_id, record_id, detected_at, change_type, "
                                    "path, label, old_value, new_value, cause, status "
                                    "FROM changes ORDER BY id").fetchall()
        assert after == before
        assert upgraded.db.execute(
            "SELECT count(*) FROM changes WHERE event_id IS NULL").fetchone()[0] == 0
        assert {tuple(sorted(e["change_ids"])) for e in events(upgraded)} == grouped
        assert verify(upgraded.db.conn).ok
    both.crawler.history = History(path)


def _strip_events(conn) -> None:
    """Make a history look as the version before events wrote it."""
    conn.execute("DROP INDEX changes_event")
    conn.execute("ALTER TABLE changes DROP COLUMN event_id")
    conn.execute("DROP TABLE witnesses")
    conn.execute("DROP TABLE events")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm011_events'")
    conn.commit()


def test_changes_lists_one_row_per_edit_with_its_witnesses_and_by_source_every_change(
        both: Both, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from zufiwatch.cli import cli

    for day in range(3):
        both.day(day)
    database = str(both.history.path)
    runner = CliRunner()
    grouped = json.loads(runner.invoke(cli, ["--database", database, "changes", "--json"]).output)
    raw = json.loads(runner.invoke(cli, ["--database", database, "changes", "--by-source",
                                         "--json"]).output)
    assert len(raw) > len(grouped)
    assert sorted(c for e in grouped for c in e["change_ids"]) == sorted(r["id"] for r in raw)
    table = runner.invoke(cli, ["--database", database, "changes"]).output
    row = next(line for line in table.splitlines() if "Geburtsurkunde" in line)
    assert "ZuFi" in row and "PVOG" in row


# -- the demo ---------------------------------------------------------------------------------


def _demo_story(days: int, size: int) -> list[str]:
    """The subjects of the edits the demo's story makes: each day's directory edit (an
    Onlinedienst edited with its Leistung is the same edit), the ZuFi-only edit, and what
    the link targets start doing (Gera's instance is part of day 2's edit)."""
    from zufiwatch.demo import ZUFI_ONLY_EDIT
    from zufiwatch.normalize import canonical_url
    from zufiwatch.sim import Scenario, build_directory
    from zufiwatch.sim.targets import LinkTargets

    scenario = Scenario(build_directory(size))
    subjects = []
    for day in range(1, days + 1):
        edits = scenario.edits(day)
        own = [e for e in edits if e.kind != "onlinedienst"] or edits
        subjects.extend(f"{e.kind}:{e.id.rsplit('.', 1)[-1]}" for e in own)
    subjects.append(f"leistung:{ZUFI_ONLY_EDIT[1]}")
    targets = LinkTargets(scenario.directory_for(0))
    subjects.extend(f"link:{canonical_url(event.url)}" for event in targets.events
                    if event.day <= days)
    return sorted(subjects)


@dataclass
class Demo:
    history: History
    rows: list[dict]
    digest: str
    site: Path
    database: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo's 7 days, kept; its events, their digest and the overview."""
    from zufiwatch.demo import run_demo
    from zufiwatch.report import build_overview

    root = tmp_path_factory.mktemp("demo")
    run_demo(days=7, size=150, keep=root / "demo", echo=lambda line: None)
    with History(root / "demo" / "zufiwatch.db") as history:
        rows = events(history)
        notices = event_notices(history.db.conn, [e["id"] for e in rows])
        mail = messages.Mail(sender="zufiwatch@jena.de", recipients=("ag-ozg@jena.de",))
        first = min(r["opened_at"] for r in rows)
        last = max(w["at"] for r in rows for w in r["witnesses"])
        digest = _text(messages.digest(notices, mail, now=datetime.fromisoformat(last),
                                       period_start=first, period_end=last))
        index = build_overview(history, Settings(), root / "site",
                               now=datetime.fromisoformat(last))
        yield Demo(history, rows, digest, index.parent, root / "demo" / "zufiwatch.db")


def test_the_demo_reports_each_edit_of_its_story_once_in_changes_digest_and_feed(
        demo: Demo) -> None:
    import xml.etree.ElementTree as ET

    from zufiwatch.crosscheck import open_disagreements
    from zufiwatch.demo import ZUFI_ONLY_EDIT

    story = _demo_story(7, 150)
    assert len(story) == 11
    rows = demo.rows
    assert sorted(e["subject"] for e in rows) == story
    # Each directory edit the PVOG imported has both witnesses, the ZuFi first.
    imported = [e for e in rows if e["kind"] != "link"
                and e["subject"] != f"leistung:{ZUFI_ONLY_EDIT[1]}"]
    for row in imported:
        assert [w["source_kind"] for w in row["witnesses"]][:2] == ["tsa", "pvog"], row
    # The ZuFi-only edit has no PVOG witness and is the reported disagreement.
    zufi_only = min((e for e in rows if e["subject"] == f"leistung:{ZUFI_ONLY_EDIT[1]}"),
                    key=lambda e: e["opened_at"])
    assert "pvog" not in {w["source_kind"] for w in zufi_only["witnesses"]}
    assert [d["zufi_id"] for d in open_disagreements(demo.history, reported_only=True)] == [
        ZUFI_ONLY_EDIT[1]]
    for row in rows:
        assert demo.digest.count(f"zufiwatch ack {row['id']} ") == 1
    feed = ET.parse(demo.site / "feed.atom").getroot()
    entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == len(story)
    html = (demo.site / "index.html").read_text(encoding="utf-8")
    assert html.count('<tr class="change">') == len(story)
    # The edit that brought Gera's go/a/5741 in: the ZuFi, the PVOG, the link check.
    gera = next(e for e in rows if e["subject"] == f"leistung:{GEBURTSURKUNDE}")
    assert [w["source_kind"] for w in gera["witnesses"]][:3] == ["tsa", "pvog", "links"]
    assert gera["severity"] == "critical"


def test_one_office_for_an_edit_in_changes_digest_overview_and_export(demo: Demo,
                                                                      tmp_path: Path) -> None:
    from click.testing import CliRunner

    from zufiwatch.cli import cli

    database = str(demo.database)
    runner = CliRunner()
    soziales = json.loads(runner.invoke(cli, ["--database", database, "changes", "--office",
                                              "Soziales", "--json"]).output)
    assert soziales, "the zs link naming another authority belongs to Fachdienst Soziales"
    assert all("Soziales" in e["office"] for e in soziales)
    target = tmp_path / "changes.csv"
    assert runner.invoke(cli, ["--database", database, "export", "--changes", "--format",
                               "csv-de", "--output", str(target)]).exit_code == 0
    exported = list(csv.DictReader(io.StringIO(target.read_bytes().decode("utf-8-sig")),
                                   delimiter=";"))
    offices = {int(r["Nr."]): r["Zuständige Stelle"] for r in exported}
    html = (demo.site / "index.html").read_text(encoding="utf-8")
    sections = re.split(r"\n#{78}\n# ", demo.digest)[1:]
    for event in demo.rows:
        assert offices[event["id"]] == event["office"]
        under = [s.split("\n", 1)[0].strip() for s in sections
                 if f"zufiwatch ack {event['id']} " in s]
        assert under == [event["office"] or "(ohne zuständige Stelle)"], event["subject"]
        assert event["office"] in html
        if "Soziales" in event["office"]:
            assert event["id"] in {e["id"] for e in soziales}


def test_the_digest_speaks_german_headings_for_every_kind(demo: Demo) -> None:
    headings = set(re.findall(r"\n\n([^\n]+)\n-+\n", demo.digest))
    assert "Online-Dienst-Links" in headings and "Leistungen" in headings
    assert not headings & {"link", "leistung", "organisationseinheit", "onlinedienst"}


def test_a_history_written_before_events_is_grouped_without_loss(tmp_path: Path) -> None:
    """A history the version before events wrote (the demo, 7 days, 60 Leistungen, with
    two acknowledgements, an expectation and a digest), opened by this version."""
    import gzip
    import sqlite3

    path = tmp_path / "old.db"
    path.write_bytes(gzip.decompress((PAYLOADS / "history-before-events.db.gz").read_bytes()))
    columns = ("id, crawl_id, record_id, version_id, detected_at, change_type, path, label, "
               "old_value, new_value, cause, flap_of, severity, reasons, status, "
               "expectation_id, notified, reminded_at")
    with sqlite3.connect(path) as old:
        before = old.execute(f"SELECT {columns} FROM changes ORDER BY id").fetchall()
        acked = {row[0] for row in old.execute(
            "SELECT id FROM changes WHERE status = 'acknowledged'")}
        # Every column the old history had (an upgrade may add columns after them).
        kept = {t: ", ".join(row[1] for row in old.execute(f"PRAGMA table_info({t})"))
                for t in ("records", "versions", "acknowledgements", "expectations",
                          "ledger", "crawls")}
        tables = {t: old.execute(f"SELECT {kept[t]} FROM {t} ORDER BY 1").fetchall()
                  for t in kept}
    assert acked and "events" not in {r[0] for r in sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master")}
    with History(path) as history:
        assert history.db.execute(f"SELECT {columns} FROM changes ORDER BY id").fetchall() \
            == before
        for table, rows in tables.items():
            now = history.db.execute(f"SELECT {kept[table]} FROM {table} ORDER BY 1").fetchall()
            if table == "ledger":  # kept as it was; the upgrade chains more after it
                now = now[:len(rows)]
            assert now == rows
        assert history.db.execute(
            "SELECT count(*) FROM changes WHERE event_id IS NULL").fetchone()[0] == 0
        rows = events(history)
        assert sorted(i for e in rows for i in e["change_ids"]) == [r[0] for r in before]
        assert sorted(e["subject"] for e in rows) == _demo_story(7, 60)
        gera = next(e for e in rows if e["subject"] == f"leistung:{GEBURTSURKUNDE}")
        assert gera["status"] == "acknowledged"  # the ZuFi's changes were acknowledged
        broken = next(e for e in rows if e["field"] == "Link defekt")
        assert broken["status"] == "acknowledged" and set(broken["change_ids"]) <= acked
        reported = {e["subject"] for e in rows if e["notified"] == "digest"}
        assert reported == {e["subject"] for e in rows
                            if {5, 7, 13, 19} & set(e["change_ids"])}
        assert verify(history.db.conn).ok
    with History(path) as again:  # grouped once
        assert len(events(again)) == len(rows)


def test_a_later_finding_that_makes_a_reviewed_edit_worse_reopens_it_and_is_alerted(
        tmp_path: Path) -> None:
    from zufiwatch.alerts import _alert_now
    from zufiwatch.model import canonical_json, text_hash
    from zufiwatch.store import CommitPlan, NewVersion
    from zufiwatch.store.events import EventInputs

    new = "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc"
    touched: list = []

    def crawl(history: History, source: str, kind: str, key: str, change: Change,
              severity: str, at: str) -> None:
        crawl_id = history.begin_crawl(source, at, f"{kind}-1")
        content = canonical_json({"name": key})
        plan = CommitPlan(
            new_versions=[NewVersion(key, key.split(":")[0], key, text_hash(content + at),
                                     content, "{}")],
            changes=[(key, change)],
            annotations=[{"severity": severity, "status": "untracked", "reasons": []}],
            events=EventInputs(kind))
        plan.compose = lambda conn, items: touched.extend(items) or []
        history.commit_crawl(crawl_id, source, at, f"{kind}-1", plan, outcome="complete",
                             finished_at=at, reason="", stats={})

    with History(tmp_path / "h.db") as history:
        crawl(history, "zufi", "tsa", "leistung:1", Change(
            "modified", f"onlinedienste[{JENA}]", "Online-Dienst › Link", {"url": JENA},
            {"url": new}), "medium", "2026-09-23T09:00:00.000000+00:00")
        (event,) = events(history)
        acknowledge(history, [event["id"]], by="M. Muster",
                    now=datetime.fromisoformat("2026-09-23T10:00:00+00:00"))
        crawl(history, "links", "links", f"link:{new}", Change(
            "modified", "stelle", "Link-Prüfung › Genannte Stelle", "Stadtverwaltung Jena",
            "Stadtverwaltung Gera"), "critical", "2026-09-23T09:30:00.000000+00:00")
        (event,) = events(history)
        assert len(event["change_ids"]) == 2 and event["severity"] == "critical"
        assert event["status"] == "untracked"  # reopened: the finding is news
        assert [_alert_now(t) for t in touched] == [False, True]
        # A finding that adds nothing worse to a reviewed edit joins it quietly.
        acknowledge(history, [event["id"]], by="M. Muster",
                    now=datetime.fromisoformat("2026-09-23T10:00:00+00:00"))
        crawl(history, "links", "links", f"link:{new}", Change(
            "modified", "seitentitel", "Link-Prüfung › Seitentitel", "a", "b"), "low",
            "2026-09-23T09:40:00.000000+00:00")
        (event,) = events(history)
        assert event["status"] == "acknowledged" and len(event["change_ids"]) == 3
        assert not _alert_now(touched[-1])


def test_a_page_of_events_is_the_slice_of_all_that_the_filters_keep(demo: Demo) -> None:
    from zufiwatch.queries import events_page

    everything = events(demo.history, newest_first=True)
    cases = [({}, lambda e: True),
             ({"severities": ["high", "critical"]}, lambda e: e["severity"] in ("high",
                                                                               "critical")),
             ({"status": "untracked", "office": "standesamt"},
              lambda e: e["status"] == "untracked" and "standesamt" in e["office"].lower()),
             ({"severities": []}, lambda e: False)]
    for filters, keep in cases:
        kept = [e["id"] for e in everything if keep(e)]
        for offset in (0, 3, len(kept)):
            page, total = events_page(demo.history, offset=offset, limit=3, **filters)
            assert total == len(kept), filters
            assert [e["id"] for e in page] == kept[offset:offset + 3], (filters, offset)
    page, _ = events_page(demo.history, offset=0, limit=2)
    assert page[0]["fields"] and page[0]["witnesses"]  # presented like events()
