"""A parser change is not a source change: re-derive, record as such, then compare."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import zufiwatch.sources.pvog as pvog
from tests.conftest import Crawler
from zufiwatch.cli import cli
from zufiwatch.model import record_key


@pytest.fixture
def new_parser(monkeypatch):
    """Parser version 2 reads every Leistung name in upper case."""
    original = pvog.parse_leistung

    def upgraded(detail, titles=None, **known):
        record = original(detail, titles, **known)
        record.content["name"] = record.content["name"].upper()
        return record

    def install() -> None:
        monkeypatch.setattr(pvog, "parse_leistung", upgraded)
        monkeypatch.setattr(pvog.PvogSource, "parser_version", "pvog-test-2")

    return install


def test_first_crawl_after_an_upgrade_rebaselines_then_reports_only_real_edits(
        crawler: Crawler, scenario, new_parser) -> None:
    crawler.day(1)
    new_parser()
    result = crawler.day(2)
    crawls = crawler.history.crawls()
    reparse, live = crawls[1], crawls[0]
    assert reparse["mode"] == "reparse" and reparse["outcome"] == "complete"
    # The live crawl reads every detail but takes the offices of Leistungen whose detail
    # names the same ones from their stored versions (issue 19): not a verification crawl.
    assert live["id"] == result.crawl_id and live["mode"] == "incremental"
    leistungen = len(scenario.directory_for(1).leistungen)
    by_parser = crawler.history.db.execute(
        "SELECT count(*) FROM changes WHERE cause = 'parser' AND label = 'Name der Leistung'"
    ).fetchone()[0]
    assert by_parser == leistungen
    source_changes = {(k, c.change_type.value) for k, c in result.changes}
    assert source_changes == {(record_key(e.kind, e.id), e.change) for e in scenario.edits(2)}
    causes = {r["cause"] for r in crawler.history.db.query(
        "SELECT cause FROM changes WHERE crawl_id = ?", [result.crawl_id])}
    assert causes == {"source"}


def test_the_rebaseline_happens_once(crawler: Crawler, new_parser) -> None:
    crawler.day(1)
    new_parser()
    crawler.day(1)
    crawler.day(1)
    modes = [c["mode"] for c in reversed(crawler.history.crawls())]
    assert modes == ["full", "reparse", "incremental", "incremental"]  # see above


def test_reparse_command(crawler: Crawler, tmp_path: Path, new_parser) -> None:
    crawler.day(1)
    config = crawler.write_config(tmp_path / "zufiwatch.toml")
    new_parser()
    seen = crawler.history.db.execute("SELECT key, last_seen_at, status FROM records").fetchall()
    result = CliRunner().invoke(cli, ["--config", str(config), "reparse"])
    assert result.exit_code == 0, result.output
    # Old payloads confirm nothing about the present (the command ran on the real clock).
    assert crawler.history.db.execute(
        "SELECT key, last_seen_at, status FROM records").fetchall() == seen
    assert "records parsed again" in result.output
    assert "changes by the parser" in result.output
    again = CliRunner().invoke(cli, ["--config", str(config), "reparse"])
    assert ", 0 changes by the parser" in again.output
    table = CliRunner().invoke(cli, ["--config", str(config), "changes"])
    assert "modified (parser)" in table.output
