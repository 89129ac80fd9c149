"""A value that flips back and forth is one back-and-forth, not a stream of changes."""

from __future__ import annotations

import dataclasses

from tests.conftest import Crawler
from zufiwatch import queries
from zufiwatch.differ import diff_content
from zufiwatch.runner import find_flaps

OLD = "https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc"
NEW = "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc"


def test_a_link_flipping_back_and_forth_is_linked_to_its_first_change(crawler: Crawler,
                                                                      scenario) -> None:
    (edit,) = [e for e in scenario.edits(2) if e.kind == "leistung"]
    key = f"leistung:{edit.id}"
    for day in (1, 2, 1, 2):
        crawler.day(day)
    rows = queries.changes(crawler.history, key=key)
    assert [r["flap_of"] for r in rows] == [None, rows[0]["id"], rows[0]["id"]]
    sequence = crawler.history.flap_sequence(rows[0]["id"])
    assert [v["url"] for v in sequence] == [OLD, NEW, OLD, NEW]


def test_changes_outside_the_window_are_not_flapping(crawler: Crawler, scenario) -> None:
    crawler.source = dataclasses.replace(crawler.source, flap_window_days=0.5)
    for day in (1, 2, 1):  # the crawler's days are one day apart
        crawler.day(day)
    assert all(r["flap_of"] is None for r in queries.changes(crawler.history))


def test_flap_detection_is_per_record_and_field() -> None:
    old = {"name": "A", "texte": {"06": {"titel": "", "text": "x"}}}
    new = {"name": "A", "texte": {"06": {"titel": "", "text": "y"}}}
    (back,) = diff_content("leistung", new, old)  # y → x
    recent = [
        {"id": 7, "key": "leistung:1", "label": "Volltext", "old_value": '"x"',
         "new_value": '"y"', "flap_of": None},
        {"id": 8, "key": "leistung:2", "label": "Volltext", "old_value": '"x"',
         "new_value": '"y"', "flap_of": None},
    ]
    assert find_flaps([("leistung:1", back)], recent) == {0: 7}
    assert find_flaps([("leistung:3", back)], recent) == {}
    other_field = dataclasses.replace(back, label="Kurztext")
    assert find_flaps([("leistung:1", other_field)], recent) == {}


def test_the_changes_table_shows_a_back_and_forth_once_with_its_sequence(
        crawler: Crawler, scenario) -> None:
    from click.testing import CliRunner

    from zufiwatch.cli import cli

    for day in (1, 2, 1, 2):
        crawler.day(day)
    run = ["--database", str(crawler.history.path), "changes"]
    # One edit (the Leistung's link and its Onlinedienst's) going back and forth: one row.
    table = CliRunner().invoke(cli, run).output
    assert table.count("flapping: 3 changes") == 1
    assert "/go/a/1273?c…  https://thavelp.thueringen.de/thavelp/g… → https://" in table
    assert "flapping, see" not in table
    # Each source's own changes: the Leistung and its Onlinedienst.
    raw = [*run, "--by-source"]
    table = CliRunner().invoke(cli, raw).output
    assert table.count("flapping: 3 changes") == 2
    assert "/go/a/1273?c…  https://thavelp.thueringen.de/thavelp/g… → https://" in table
    assert "flapping, see" not in table
    every = CliRunner().invoke(cli, [*raw, "--each-flap"]).output
    assert every.count("flapping, see") == 4
