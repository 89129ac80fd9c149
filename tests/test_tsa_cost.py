"""Cost follows change on the ZuFi walk (issue 19, items 1 and 2): a record whose answers
carry the content its stored version was parsed from (key order aside) is confirmed without
parsing; histories with the byte fingerprints of an earlier version upgrade without a
change; each office is read once per crawl, from the /ou/find page that lists it, over
one HTTP session."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import zufiwatch.sources.tsa.walk as walk
from tests.conftest import FakeClock, current_volatile, zufi_source
from tests.legacy import tsa_2_walk
from zufiwatch.archive import Archive
from zufiwatch.config import SourceSettings
from zufiwatch.fetch import Fetcher
from zufiwatch.model import Outcome, record_key
from zufiwatch.runner import CrawlResult, run_crawl
from zufiwatch.sim import Scenario
from zufiwatch.sim.tsa import ROOT_OU, SimulatedTSA
from zufiwatch.sources import SOURCE_TYPES, TsaSource
from zufiwatch.store import History

PREFIX = "/rest/v4"  # of the simulator's paths


@pytest.fixture
def tsa(scenario: Scenario) -> Iterator[SimulatedTSA]:
    with SimulatedTSA(scenario, lead_days=0) as server:
        yield server


@pytest.fixture
def zufi(tsa: SimulatedTSA, monkeypatch: pytest.MonkeyPatch) -> SourceSettings:
    return zufi_source(tsa.base_url, monkeypatch)


class Parsed:
    """Counts what the walk hands to the parsers: Leistungen and offices by id."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.leistungen: list[str] = []
        self.offices: list[str] = []
        parse_pst, parse_ou = walk.parse_pst, walk.parse_ou

        def pst(payload: Any, *args: Any, **kwargs: Any) -> Any:
            self.leistungen.append(str(payload["id"]))
            return parse_pst(payload, *args, **kwargs)

        def ou(payload: Any, *args: Any, **kwargs: Any) -> Any:
            self.offices.append(str(payload["id"]))
            return parse_ou(payload, *args, **kwargs)

        monkeypatch.setattr(walk, "parse_pst", pst)
        monkeypatch.setattr(walk, "parse_ou", ou)

    def clear(self) -> None:
        self.leistungen.clear()
        self.offices.clear()


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> Parsed:
    return Parsed(monkeypatch)


@pytest.fixture
def crawl(zufi: SourceSettings, history: History, archive: Archive, fetcher: Fetcher,
          clock: FakeClock):
    def run() -> CrawlResult:
        result = run_crawl(zufi, history=history, archive=archive, fetcher=fetcher,
                           clock=clock)
        clock.advance(days=1)
        assert result.outcome is Outcome.COMPLETE, result.reason
        return result
    return run


def _reordered(value: Any) -> Any:
    """``value`` with every object's keys in reverse order (lists as they are)."""
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(item) for item in value]
    return value


def _reorder_in_place(obj: dict) -> None:
    reordered = _reordered(obj)
    obj.clear()
    obj.update(reordered)


def _fingerprints(history: History) -> dict[str, str]:
    return dict(history.db.execute(
        "SELECT key, fingerprint FROM records WHERE source = 'zufi-test'"))


def _records(history: History) -> Counter[str]:
    return Counter(dict(history.db.execute(
        "SELECT kind, count(*) FROM records WHERE source = 'zufi-test' GROUP BY kind")))


# -- item 1: parse only what changed ------------------------------------------------------------


def test_an_unchanged_crawl_parses_nothing(crawl, parsed: Parsed) -> None:
    first = crawl()
    assert parsed.leistungen and parsed.offices
    parsed.clear()
    again = crawl()
    assert again.changes == [] and again.stats["versions_added"] == 0
    # Not one office either: the root's /ou/{id} and the /ou/find results are confirmed.
    assert parsed.leistungen == [] and parsed.offices == []
    assert again.stats["observed"] == first.stats["observed"]


def test_keys_in_another_order_are_confirmed_without_parsing(
        crawl, parsed: Parsed, tsa: SimulatedTSA, history: History) -> None:
    crawl()
    data = tsa.data()
    for pst_id in data.psts:
        tsa.edit_pst(pst_id, _reorder_in_place)
    for ou_id in data.ous:
        tsa.edit_ou(ou_id, _reorder_in_place)
    requests, not_modified = tsa.request_count, tsa.not_modified
    parsed.clear()
    result = crawl()
    # The bytes differ: no 304 spares the bodies of the Leistungen and the root office.
    assert tsa.not_modified - not_modified <= tsa.request_count - requests - len(data.psts) - 1
    assert result.changes == [] and result.stats["versions_added"] == 0
    assert parsed.leistungen == [] and parsed.offices == []


def test_a_real_edit_is_parsed_and_reported(crawl, parsed: Parsed, tsa: SimulatedTSA,
                                            history: History) -> None:
    crawl()
    data = tsa.data()
    ou_id = next(o for o in sorted(data.competences) if data.competences[o])
    named = {str(p) for p in data.competences[ou_id]}
    pst_id = next(p for p in sorted(data.psts) if str(p) not in named)

    def rename(obj: dict) -> None:
        obj["name"] += " (neu)"

    tsa.edit_pst(pst_id, rename)
    tsa.edit_ou(ou_id, rename)
    parsed.clear()
    result = crawl()
    changed = {key for key, _ in result.changes}
    assert record_key("leistung", str(pst_id)) in changed
    assert record_key("organisationseinheit", str(ou_id)) in changed
    # The renamed office is named by the Leistungen it is responsible for: those are
    # parsed anew too (their offices' names are part of their content), no other.
    assert sorted(parsed.leistungen) == sorted(named | {str(pst_id)})
    assert parsed.offices == [str(ou_id)]


def test_a_moved_edit_stamp_is_parsed_and_kept_without_a_change(
        crawl, parsed: Parsed, tsa: SimulatedTSA, history: History) -> None:
    """sources.md marks nothing of the ZuFi's answers volatile: ``lastUpdated`` is the
    ZuFi's own edit stamp, so a moved one is read (and kept with the version, as before),
    though it is no change of content."""
    crawl()
    pst_id = sorted(tsa.data().psts)[0]

    def touch(obj: dict) -> None:
        obj["lastUpdated"] = "2026-10-05T08:00:00.000+0200"

    tsa.edit_pst(pst_id, touch)
    parsed.clear()
    result = crawl()
    assert parsed.leistungen == [str(pst_id)] and parsed.offices == []
    assert result.changes == []
    stamp = current_volatile(history, record_key("leistung", str(pst_id)))
    assert "2026-10-05T08:00:00.000+0200" in stamp


def test_a_new_parser_version_parses_everything(crawl, parsed: Parsed,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    first = crawl()
    leistungen, offices = len(set(parsed.leistungen)), len(set(parsed.offices))
    monkeypatch.setattr(TsaSource, "parser_version", "tsa-test-3")
    parsed.clear()
    again = crawl()
    assert again.changes == []
    # The re-derivation from the archive parses everything once; the live crawl then
    # finds the content the new parser read.
    assert sorted(parsed.leistungen) == sorted(set(parsed.leistungen))
    assert sorted(parsed.offices) == sorted(set(parsed.offices))
    assert len(parsed.leistungen) == leistungen and len(parsed.offices) == offices
    assert first.stats["observed"] == again.stats["observed"]


def test_byte_fingerprints_of_the_earlier_walk_upgrade_without_a_change(
        crawl, parsed: Parsed, history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SOURCE_TYPES, "tsa", tsa_2_walk.TsaSource)  # as released
    crawl()
    assert crawl().changes == []  # the old walk's own unchanged crawl
    old = _fingerprints(history)
    kinds = _records(history)

    monkeypatch.setitem(SOURCE_TYPES, "tsa", TsaSource)  # the upgrade
    parsed.clear()
    upgraded = crawl()
    # Every fingerprint differs from the bytes' one: everything is parsed once, with the
    # content it had; nothing reaches the working group.
    assert upgraded.changes == [] and upgraded.stats["versions_added"] == 0
    assert len(parsed.leistungen) == kinds["leistung"]
    assert len(parsed.offices) == kinds["organisationseinheit"]
    new = _fingerprints(history)
    assert set(new) == set(old) and _records(history) == kinds
    assert all(new[key] != old[key] for key in new if not key.startswith("onlinedienst:"))
    parsed.clear()
    settled = crawl()
    assert settled.changes == [] and parsed.leistungen == [] and parsed.offices == []


# -- item 2: no redundant requests ------------------------------------------------------------


def _asked(tsa: SimulatedTSA, since: int) -> list[str]:
    return [path.removeprefix(PREFIX) for path in tsa.requests[since:]]


def test_each_office_is_read_once_from_the_listing_that_carries_it(
        crawl, tsa: SimulatedTSA, zufi: SourceSettings, history: History) -> None:
    for _ in range(2):
        before = tsa.request_count
        result = crawl()
        asked = _asked(tsa, before)
        assert len(asked) == result.stats["requests"]  # every request the crawl's own
        assert [p for p, n in Counter(asked).items() if n > 1] == []  # none twice
        data = tsa.data()
        ous = {str(o) for o in data.ous}
        # The root from /ou/{id}, no other office: /ou/find carries the whole office.
        assert [p for p in asked if p.startswith("/ou/") and p.split("?")[0][4:].isdigit()] \
            == [f"/ou/{ROOT_OU}"]
        # Every office's children asked once (a first page per office; none had more).
        finds = [p for p in asked if p.startswith("/ou/find?")]
        assert sorted(p.split("parentId=")[1].split("&")[0] for p in finds) == sorted(ous)
        competences = [p.split("?")[0].rsplit("/", 1)[1] for p in asked
                       if p.startswith("/ouCompetence/")]
        assert sorted(competences) == sorted(ous)
        leistungen = {key.split(":", 1)[1] for key, in history.db.execute(
            "SELECT key FROM records WHERE source = 'zufi-test' AND kind = 'leistung'")}
        assert sorted(p.split("?")[0].rsplit("/", 1)[1] for p in asked
                      if p.startswith("/pst/")) == sorted(leistungen)
        assert sorted(p.split("pstId=")[1].split("&")[0] for p in asked
                      if p.startswith("/os/findByCompetence?")) == sorted(leistungen)
        assert len(asked) == 1 + 2 * len(ous) + 2 * len(leistungen)
        assert _records(history)["organisationseinheit"] == len(ous)


def test_one_http_session_for_the_whole_walk(crawl, tsa: SimulatedTSA,
                                             zufi: SourceSettings) -> None:
    """The walk's requests go over the crawl's one session: a few kept-alive connections
    (one per parallel request), not one per request or per step."""
    for _ in range(2):
        before = tsa.request_count
        crawl()
        connections = set(tsa.peers[before:])
        assert tsa.request_count - before > 100
        assert len(connections) <= zufi.max_concurrency + 1
