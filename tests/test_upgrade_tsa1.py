"""Upgrading the ZuFi source from the released parser (tsa-1, frozen in tests/legacy). On the
seen shapes tsa-1 could read the root office and nothing below it: every crawl was partial.
After the upgrade the history must fill without a flood: no office or Leistung reported as
added because it is read for the first time, and the root office's newly read fields are the
parser's doing. Real edits afterwards are reported."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import FakeClock, crawl_then_advance, zufi_source
from tests.legacy import tsa_1
from zufiwatch.archive import Archive
from zufiwatch.config import SourceSettings
from zufiwatch.fetch import Fetcher
from zufiwatch.model import Outcome
from zufiwatch.runner import CrawlResult
from zufiwatch.sim import Scenario
from zufiwatch.sim.tsa import SimulatedTSA
from zufiwatch.sources import SOURCE_TYPES, TsaSource
from zufiwatch.store import History

STANDESAMT = 20006


@pytest.fixture
def tsa(scenario: Scenario) -> Iterator[SimulatedTSA]:
    with SimulatedTSA(scenario, lead_days=0) as server:
        yield server


@pytest.fixture
def zufi(tsa: SimulatedTSA, monkeypatch: pytest.MonkeyPatch) -> SourceSettings:
    return zufi_source(tsa.base_url, monkeypatch)


def test_upgrading_from_tsa_1_fills_the_history_without_a_flood(
        tsa: SimulatedTSA, zufi: SourceSettings, history: History, archive: Archive,
        fetcher: Fetcher, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    def crawl() -> CrawlResult:
        return crawl_then_advance(zufi, history, archive, fetcher, clock)

    monkeypatch.setitem(SOURCE_TYPES, "tsa", tsa_1.TsaSource)  # as released
    for _ in range(2):
        old = crawl()
        assert old.outcome is Outcome.PARTIAL  # the released parser cannot read the tree
    stored = history.db.execute("SELECT count(*) FROM records").fetchone()[0]
    assert stored == 1  # the root office, nothing below it

    monkeypatch.setitem(SOURCE_TYPES, "tsa", TsaSource)  # the upgrade
    upgraded = crawl()
    assert upgraded.outcome is Outcome.COMPLETE, upgraded.reason
    assert upgraded.changes == []  # nothing reaches the working group
    assert upgraded.stats["observed"] > 60
    crawls = history.crawls()
    assert crawls[1]["mode"] == "reparse"  # the root office re-derived from the archive
    causes = {row[0] for row in history.db.execute("SELECT cause FROM changes")}
    assert causes <= {"parser"}

    tsa.set_address(STANDESAMT, street="Löbdergraben", houseNumber="12")
    edited = crawl()
    assert [(key, change.label) for key, change in edited.changes] == [
        (f"organisationseinheit:{STANDESAMT}", "Anschrift")]
