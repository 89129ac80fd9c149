"""Cost follows change (issue 19, items 1 and 2): a detail whose content is unchanged (its
import times aside) is confirmed without parsing; the office titles are asked for only
where their names and roles are not known; each office is read once per crawl; the
environment's proxy settings are resolved once per origin."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

import zufiwatch.sources.pvog as pvog_package
from tests.conftest import Crawler, FakeClock, current_volatile
from zufiwatch import queries
from zufiwatch.archive import Archive
from zufiwatch.config import HttpSettings, SourceSettings
from zufiwatch.fetch import Fetcher
from zufiwatch.model import record_key
from zufiwatch.sim import JENA_ARS, Directory, SimulatedPVOG, build_directory
from zufiwatch.store import History
from zufiwatch.timeutil import stored

TITLES = "/v2/organisationunits/titles"
OFFICE = "/v5/organisationunits/detail"
PREFIX = "/suchdienst/api"  # of the simulator's paths


class NextDay:
    """Day 0 the base directory; day 1 every Leistung's import time moved, one name
    edited and one Leistung naming one more office."""

    def __init__(self, base: Directory) -> None:
        ids = sorted(base.leistungen)
        self.renamed, self.widened = ids[0], ids[1]
        named = set(base.leistungen[self.widened]["organisationIds"])
        self.added = next(o for o in sorted(base.offices) if o not in named)
        changed = base.copy()
        for detail in changed.leistungen.values():
            detail["lastUpdate"] = detail["timestamp"] = "2026-10-02T03:00:00.000Z"
        changed.leistungen[self.renamed]["name"] += " (neu)"
        widened = changed.leistungen[self.widened]
        widened["organisationIds"] = [*widened["organisationIds"], self.added]
        changed.titles[self.widened] = [*changed.titles[self.widened], {
            "id": self.added, "title": "Neue Stelle",
            "role": {"code": "03", "name": "Ansprechpunkt"}}]
        self.directories = {0: base, 1: changed}

    def effective_day(self, day: int) -> int:
        return min(day, 1)

    def directory_for(self, day: int) -> Directory:
        return self.directories[self.effective_day(day)]


@pytest.fixture
def next_day() -> NextDay:
    return NextDay(build_directory(30))


@pytest.fixture
def costly(next_day: NextDay, history: History, archive: Archive, fetcher: Fetcher,
           clock: FakeClock) -> Iterator[Crawler]:
    with SimulatedPVOG(next_day) as server:  # type: ignore[arg-type]
        source = SourceSettings(name="pvog-test", kind="pvog", base_url=server.base_url,
                                ars=JENA_ARS, page_size=25, max_concurrency=3, min_interval=0)
        yield Crawler(server, source, history, archive, fetcher, clock)


def _paths(crawler: Crawler, since: int) -> list[str]:
    """The request paths (with query) since the ``since``-th request."""
    return [p.removeprefix(PREFIX) for p in crawler.pvog.requests[since:]]


def _asked(crawler: Crawler, since: int) -> Counter[str]:
    """Requests per endpoint path (offices per id) since the ``since``-th request."""
    counted: Counter[str] = Counter()
    for path in _paths(crawler, since):
        endpoint = path.split("?", 1)[0]
        counted[path if endpoint == OFFICE else endpoint] += 1
    return counted


class _Parsed:
    """Counts calls of the package's parse_leistung (what the crawl calls)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ids: list[str] = []
        real = pvog_package.parse_leistung

        def parse(detail: Any, titles: Any = None, **known: Any) -> Any:
            self.ids.append(detail["id"])
            return real(detail, titles, **known)

        monkeypatch.setattr(pvog_package, "parse_leistung", parse)


def test_only_details_whose_content_changed_are_parsed(costly: Crawler, next_day: NextDay,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    costly.day(0)
    parsed = _Parsed(monkeypatch)
    result = costly.day(1)
    # Every import time moved; only the renamed and the widened Leistung are parsed.
    assert sorted(parsed.ids) == sorted([next_day.renamed, next_day.widened])
    changed = {key for key, _ in result.changes}
    assert changed == {record_key("leistung", next_day.renamed),
                       record_key("leistung", next_day.widened)}
    # The moved import time is kept with the confirmed version, as before.
    stamp = current_volatile(
        costly.history, record_key("leistung", sorted(next_day.directories[1].leistungen)[5]))
    assert "2026-10-02T03:00:00.000Z" in stamp


def test_moved_import_times_leave_the_stored_versions_as_they_were(
        costly: Crawler, next_day: NextDay) -> None:
    # A versions row holds the content: rewriting it for a moved lastUpdate rewrote kilobytes
    # per record and day. The moved values are kept apart; every reader sees them.
    costly.day(0)
    columns = "id, record_id, crawl_id, content_hash, content, volatile, parser_version, " \
              "valid_from"
    before = costly.history.db.execute(f"SELECT {columns} FROM versions ORDER BY id").fetchall()
    costly.day(1)
    after = costly.history.db.execute(
        f"SELECT {columns} FROM versions WHERE id <= ? ORDER BY id", [before[-1][0]]).fetchall()
    assert after == before
    unchanged = record_key("leistung", sorted(next_day.directories[1].leistungen)[5])
    at = stored(costly.clock.now)
    moved = "2026-10-02T03:00:00.000Z"
    assert queries.show(costly.history, unchanged, at=at)["volatile"]["lastUpdate"] == moved
    record = costly.history.find_record(unchanged, None)
    assert json.loads(costly.history.versions(record["id"])[-1]["volatile"])["lastUpdate"] \
        == moved
    (state,) = [row for row in costly.history.state_at(at) if row["key"] == unchanged]
    assert json.loads(state["volatile"])["lastUpdate"] == moved
    assert moved in current_volatile(costly.history, unchanged)


def test_an_unchanged_detail_never_reaches_the_parser(costly: Crawler, next_day: NextDay,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    costly.day(0)
    real = pvog_package.parse_leistung

    def parse(detail: Any, titles: Any = None, **known: Any) -> Any:
        if detail["id"] not in (next_day.renamed, next_day.widened):
            raise AssertionError(f"{detail['id']} parsed although its content is unchanged")
        return real(detail, titles, **known)

    monkeypatch.setattr(pvog_package, "parse_leistung", parse)
    result = costly.day(1)
    assert result.outcome.value == "complete", result.reason
    assert result.stats["not_observed"] == 0


def test_titles_only_where_offices_are_new_or_in_a_full_crawl(costly: Crawler,
                                                              next_day: NextDay) -> None:
    first = costly.day(0)  # the baseline, a full crawl: every Leistung's titles
    assert _asked(costly, 0)[TITLES] == first.stats["listed"]
    before = len(costly.pvog.requests)
    costly.day(1)  # incremental: only the Leistung naming a new office
    asked = _asked(costly, before)
    assert asked[TITLES] == 1
    assert [p for p in _paths(costly, before) if p.startswith(TITLES)] == [
        f"{TITLES}?ars={JENA_ARS}&lbId={next_day.widened}"]
    assert costly.history.crawl(costly.history.crawls()[0]["id"])["mode"] == "incremental"
    # After verify_every_days, a full crawl asks for every Leistung's titles again.
    costly.clock.advance(days=costly.source.verify_every_days)
    before = len(costly.pvog.requests)
    verified = costly.day(1)
    assert _asked(costly, before)[TITLES] == verified.stats["listed"]
    assert costly.history.crawls()[0]["mode"] == "full"
    assert verified.changes == []


def test_a_detail_naming_no_offices_asks_for_its_titles(costly: Crawler,
                                                        next_day: NextDay) -> None:
    costly.day(0)
    bare = sorted(next_day.directories[1].leistungen)[3]
    next_day.directories[1].leistungen[bare]["organisationIds"] = []
    before = len(costly.pvog.requests)
    result = costly.day(1)
    titles = [p for p in _paths(costly, before) if p.startswith(TITLES)]
    assert sorted(titles) == sorted(f"{TITLES}?ars={JENA_ARS}&lbId={lb}"
                                    for lb in (bare, next_day.widened))
    # Its offices come from the titles as before: no change for it.
    assert record_key("leistung", bare) not in {key for key, _ in result.changes}


def test_an_added_office_is_reported_with_its_name_and_role(costly: Crawler,
                                                            next_day: NextDay) -> None:
    costly.day(0)
    result = costly.day(1)
    key = record_key("leistung", next_day.widened)
    added = [c for k, c in result.changes if k == key]
    assert added, result.changes
    stored = costly.history.content_of(costly.history.current("pvog-test")[key].version_id)
    office = next(o for o in stored["zustaendigkeiten"] if o["id"] == next_day.added)
    assert (office["name"], office["rolle"], office["rollenname"]) == (
        "Neue Stelle", "03", "Ansprechpunkt")
    # The other offices keep their names and roles.
    assert all(o["name"] for o in stored["zustaendigkeiten"])


def test_each_office_is_read_once_per_crawl(costly: Crawler) -> None:
    for day in (0, 1):
        before = len(costly.pvog.requests)
        costly.day(day)
        offices = {p: n for p, n in _asked(costly, before).items() if p.startswith(OFFICE)}
        assert offices and set(offices.values()) == {1}


def test_byte_fingerprints_of_an_earlier_version_give_no_changes(
        costly: Crawler, monkeypatch: pytest.MonkeyPatch) -> None:
    costly.day(0)
    # Histories made before issue 19 hold fingerprints of the raw bytes.
    costly.history.db.execute("UPDATE records SET fingerprint = ? WHERE fingerprint != ''",
                              ["0" * 64])
    parsed = _Parsed(monkeypatch)
    again = costly.day(0)
    assert again.changes == [] and again.stats["versions_added"] == 0
    assert len(parsed.ids) == again.stats["listed"]  # parsed once
    parsed.ids.clear()
    assert costly.day(0).changes == [] and parsed.ids == []


def test_a_new_parser_version_parses_every_detail(costly: Crawler,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    first = costly.day(0)
    parsed = _Parsed(monkeypatch)
    monkeypatch.setattr(pvog_package.PvogSource, "parser_version", "pvog-test-3")
    again = costly.day(0)
    # The re-derivation from the archive parses every Leistung; the live crawl then finds
    # the content the new parser read.
    assert sorted(parsed.ids) == sorted(set(parsed.ids))
    assert len(parsed.ids) == first.stats["listed"]
    assert again.changes == []


def test_proxy_settings_are_resolved_once_per_origin(costly: Crawler,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = requests.utils.get_environ_proxies

    def counting(url: str, no_proxy: Any = None) -> Any:
        calls.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.utils, "get_environ_proxies", counting)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # bypassed by NO_PROXY
    with Fetcher(HttpSettings(read_timeout=10), retries=0) as fetcher:
        costly.fetcher = fetcher
        result = costly.day(0)
    assert result.stats["requests"] > 100
    assert len(calls) == 1


def test_a_proxy_from_the_environment_is_used(costly: Crawler,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY names a port nobody listens on: every request fails there."""
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    with Fetcher(HttpSettings(read_timeout=10), retries=0) as fetcher:
        costly.fetcher = fetcher
        result = costly.day(0)
    assert result.outcome.value == "failed"
    assert costly.pvog.requests == []


class _ParsedServices:
    """Counts the online services the walk parses (its onlineservice_record)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import zufiwatch.sources.pvog.walk as walk

        self.ids: list[str] = []
        real = walk.onlineservice_record

        def parse(item: Any, ars: str) -> Any:
            self.ids.append(item["id"])
            return real(item, ars)

        monkeypatch.setattr(walk, "onlineservice_record", parse)


class ServiceEdit(NextDay):
    """Day 1 as :class:`NextDay`, and one online service's link replaced."""

    def __init__(self, base: Directory) -> None:
        super().__init__(base)
        changed = self.directories[1]
        self.service = next(s for s in changed.onlineservices if s.get("links"))
        self.service["links"] = [{**self.service["links"][0],
                                  "uri": "https://thavel.thueringen.de/go/a/999999"}]


def test_online_services_whose_item_is_unchanged_are_not_parsed(
        history: History, archive: Archive, fetcher: Fetcher, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    days = ServiceEdit(build_directory(30))
    with SimulatedPVOG(days) as server:  # type: ignore[arg-type]
        source = SourceSettings(name="pvog-test", kind="pvog", base_url=server.base_url,
                                ars=JENA_ARS, page_size=25, min_interval=0)
        crawler = Crawler(server, source, history, archive, fetcher, clock)
        first = crawler.day(0)
        services = len(days.directories[0].onlineservices)
        assert services > 5
        parsed = _ParsedServices(monkeypatch)
        again = crawler.day(0)
        assert parsed.ids == [] and again.changes == []
        edited = crawler.day(1)
    assert parsed.ids == [days.service["id"]]
    service_key = record_key("onlinedienst", days.service["id"])
    assert any(key == service_key and "999999" in str(change.new)
               for key, change in edited.changes)
    assert first.stats["observed"] == again.stats["observed"] == edited.stats["observed"]


def test_online_services_stored_without_fingerprint_upgrade_without_a_change(
        costly: Crawler, monkeypatch: pytest.MonkeyPatch) -> None:
    """A history whose online services were stored before they had fingerprints (as by
    the release before): the next crawl parses them once, reports nothing, then no
    more."""
    costly.day(0)
    costly.history.db.execute(
        "UPDATE records SET fingerprint = '' WHERE key LIKE 'onlinedienst:%'")
    parsed = _ParsedServices(monkeypatch)
    upgraded = costly.day(0)
    assert parsed.ids and upgraded.changes == []
    parsed.ids.clear()
    assert costly.day(0).changes == [] and parsed.ids == []
