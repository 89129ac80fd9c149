"""Shared fixtures: the simulated PVOG over HTTP on 127.0.0.1, a temporary history, a clock."""

from __future__ import annotations

import errno
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from zufiwatch.archive import Archive
from zufiwatch.config import HttpSettings, SourceSettings
from zufiwatch.fetch import Fetcher
from zufiwatch.runner import CrawlResult, run_crawl
from zufiwatch.sim import JENA_ARS, Scenario, SimulatedPVOG, build_directory
from zufiwatch.store import History
from zufiwatch.store.schema import VOLATILE
from zufiwatch.timeutil import stored

SIM_SIZE = 90


class FakeClock:
    """An injected clock: crawls happen exactly when the test says."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return Scenario(build_directory(SIM_SIZE))


@pytest.fixture
def pvog(scenario: Scenario) -> Iterator[SimulatedPVOG]:
    with SimulatedPVOG(scenario) as server:
        yield server


@pytest.fixture
def source(pvog: SimulatedPVOG) -> SourceSettings:
    return SourceSettings(name="pvog-test", kind="pvog", base_url=pvog.base_url, ars=JENA_ARS,
                          page_size=25, max_concurrency=3, min_interval=0)


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    with History(tmp_path / "history.db") as store:
        yield store


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive(tmp_path / "snapshots")


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(HttpSettings(read_timeout=10), retries=0) as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 10, 1, 4, 0, tzinfo=UTC))


@dataclass
class Crawler:
    """Crawls the simulated PVOG as it is on a given scenario day, one day apart."""

    pvog: SimulatedPVOG
    source: SourceSettings
    history: History
    archive: Archive
    fetcher: Fetcher
    clock: FakeClock
    #: When the last crawl ran (stored form); a version it wrote is valid from then.
    last_crawl_at: str = ""

    def write_config(self, path: Path, sections: str = "", source_keys: str = "") -> Path:
        """A configuration file for this crawler's history, archive and source, for the
        CLI or a subprocess; ``sections`` (TOML tables) and ``source_keys`` are added."""
        source = self.source
        path.write_text(f"""
database = "{self.history.path}"
snapshots = "{self.archive.root}"
[http]
retries = 0
{sections}
[[sources]]
name = "{source.name}"
kind = "pvog"
base_url = "{source.base_url}"
ars = "{source.ars}"
page_size = {source.page_size}
min_interval = 0
{source_keys}
""", encoding="utf-8")
        return path

    def day(self, day: int) -> CrawlResult:
        self.pvog.set_day(day)
        return self.crawl()

    def crawl(self) -> CrawlResult:
        self.last_crawl_at = stored(self.clock())
        result = run_crawl(self.source, history=self.history, archive=self.archive,
                           fetcher=self.fetcher, clock=self.clock)
        self.clock.advance(days=1)
        return result


@pytest.fixture
def crawler(pvog: SimulatedPVOG, source: SourceSettings, history: History, archive: Archive,
            fetcher: Fetcher, clock: FakeClock) -> Crawler:
    return Crawler(pvog, source, history, archive, fetcher, clock)


#: The environment variable the ZuFi test sources read their api_key from.
TSA_KEY_ENV = "ZUFIWATCH_TEST_TSA_KEY"


def zufi_source(base_url: str, monkeypatch: pytest.MonkeyPatch, *, api_key: str = "sim-api-key",
                **changes: Any) -> SourceSettings:
    """A ``tsa`` source for the simulated ZuFi at ``base_url``, its api_key in the
    environment; ``changes`` override the defaults (page_size 20, 3 parallel, no pacing)."""
    from zufiwatch.sim.tsa import AREA_ID, ROOT_OU

    monkeypatch.setenv(TSA_KEY_ENV, api_key)
    settings = SourceSettings(name="zufi-test", kind="tsa", base_url=base_url,
                              root_ou=str(ROOT_OU), area_id=AREA_ID, page_size=20,
                              api_key_env=TSA_KEY_ENV, max_concurrency=3, min_interval=0)
    return replace(settings, **changes)


def crawl_then_advance(settings: SourceSettings, history: History, archive: Archive,
                       fetcher: Fetcher, clock: FakeClock) -> CrawlResult:
    """One crawl of ``settings`` now, then the clock a day on."""
    result = run_crawl(settings, history=history, archive=archive, fetcher=fetcher,
                       clock=clock)
    clock.advance(days=1)
    return result


def shuffled_json(value: Any, rng: random.Random) -> Any:
    """A JSON value with every object's keys and every list in random order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled_json(v, rng) for k, v in items}
    if isinstance(value, list):
        items = [shuffled_json(v, rng) for v in value]
        rng.shuffle(items)
        return items
    return value


def table_count(history: History, table: str) -> int:
    return history.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def current_volatile(history: History, key: str, source: str | None = None) -> str:
    """The volatile fields of the record's current version, as readers see them (the
    latest observation's)."""
    where, params = ("AND r.source = ?", [key, source]) if source else ("", [key])
    (volatile,) = history.db.execute(
        f"SELECT {VOLATILE} FROM records r JOIN versions v ON v.id = r.current_version "
        f"WHERE r.key = ? {where}", params).fetchone()
    return str(volatile)


def snapshot_tables(history: History) -> dict[str, list[tuple]]:
    """Every row of the tables that hold conclusions (not the crawl log)."""
    return {table: history.db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("records", "versions", "changes")}


def run_until_closed(server: Any) -> None:
    """A waitress server's ``run()``; a test closes the server while its loop may be in
    select(), which then fails with EBADF: that is the end of the loop, not an error."""
    try:
        server.run()
    except OSError as exc:
        if exc.errno != errno.EBADF:
            raise
