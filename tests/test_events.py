"""One edit, one event: the ZuFi, the PVOG and the link check report an edit once.

Over HTTP against the simulated ZuFi (a day ahead) and PVOG, as the working group would
hear of them: `changes`, the immediate alert, the digest, acknowledgements, the feed.
"""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

from tests.test_tsa import GEBURTSURKUNDE, Both
from tests.test_tsa import api_key as api_key
from tests.test_tsa import both as both
from tests.test_tsa import tsa as tsa
from zufiwatch.alerts import event_notices, queue_digest, queue_reminder
from zufiwatch.events import Member, NewEvent, OpenEvent, assign, corresponds, refs_of
from zufiwatch.model import Change
from zufiwatch.notify import messages
from zufiwatch.queries import events
from zufiwatch.store.ledger import verify
from zufiwatch.triage import acknowledge

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
    from zufiwatch.store import History

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


def test_the_demo_reports_each_edit_of_its_story_once_in_changes_digest_and_feed(
        tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    from zufiwatch.config import Settings
    from zufiwatch.crosscheck import open_disagreements
    from zufiwatch.demo import ZUFI_ONLY_EDIT, run_demo
    from zufiwatch.report import build_overview
    from zufiwatch.store import History

    run_demo(days=7, size=150, keep=tmp_path / "demo", echo=lambda line: None)
    story = _demo_story(7, 150)
    assert len(story) == 11
    with History(tmp_path / "demo" / "zufiwatch.db") as history:
        rows = events(history)
        assert sorted(e["subject"] for e in rows) == story
        for row in rows:
            assert row["witnesses"], row["subject"]
        # Each directory edit the PVOG imported has both witnesses, the ZuFi first.
        imported = [e for e in rows if e["kind"] != "link"
                    and e["subject"] != f"leistung:{ZUFI_ONLY_EDIT[1]}"]
        for row in imported:
            assert [w["source_kind"] for w in row["witnesses"]][:2] == ["tsa", "pvog"], row
        # The ZuFi-only edit has no PVOG witness and is the reported disagreement.
        zufi_only = [e for e in rows if e["subject"] == f"leistung:{ZUFI_ONLY_EDIT[1]}"
                     and e["opened_at"] == min(r["opened_at"] for r in rows
                                               if r["subject"] == e["subject"])]
        assert zufi_only and "pvog" not in {w["source_kind"] for w in zufi_only[0]["witnesses"]}
        assert [d["zufi_id"] for d in open_disagreements(history, reported_only=True)] == [
            ZUFI_ONLY_EDIT[1]]
        notices = event_notices(history.db.conn, [e["id"] for e in rows])
        mail = messages.Mail(sender="zufiwatch@jena.de", recipients=("ag-ozg@jena.de",))
        first = min(r["opened_at"] for r in rows)
        last = max(w["at"] for r in rows for w in r["witnesses"])
        from datetime import datetime

        digest = _text(messages.digest(notices, mail, now=datetime.fromisoformat(last),
                                       period_start=first, period_end=last))
        for row in rows:
            assert digest.count(f"zufiwatch ack {row['id']} ") == 1
        index = build_overview(history, Settings(), tmp_path / "site",
                               now=datetime.fromisoformat(last))
        feed = ET.parse(index.parent / "feed.atom").getroot()
        entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
        assert len(entries) == len(story)
        html = index.read_text(encoding="utf-8")
        assert html.count('<tr class="change"') == len(story)
