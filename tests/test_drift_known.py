"""Shape checks only where content is new: an answer confirmed by its content fingerprint is
counted as checked without walking it, where the previous crawl vouches for it (complete
and full, same parser and shapes, no unknown key of that endpoint, the record read then);
see ``sources/drift.py``."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import zufiwatch.sources.drift as drift
from tests.conftest import Crawler, FakeClock, zufi_source
from zufiwatch.archive import Archive, read_manifest
from zufiwatch.errors import MissingField
from zufiwatch.fetch import Fetcher
from zufiwatch.model import Outcome, record_key
from zufiwatch.runner import replay_crawl, run_crawl
from zufiwatch.sim import Scenario
from zufiwatch.sim.tsa import SimulatedTSA
from zufiwatch.sources.drift import KnownShapes, ShapeLog, known_shapes, shape_digest
from zufiwatch.sources.pvog.shapes import EP_DETAIL, EP_OFFICE, SHAPES
from zufiwatch.sources.tsa.shapes import EP_OU, EP_PST
from zufiwatch.sources.tsa.shapes import SHAPES as TSA_SHAPES
from zufiwatch.store import History


class Walks:
    """Counts the shape walks (``unknown_keys``) per shape, and the payloads walked."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.by_shape: Counter[int] = Counter()
        self.ids: dict[int, list[Any]] = {}
        real = drift.unknown_keys

        def spy(payload: Any, shape: Any, *args: Any, **kwargs: Any) -> set[str]:
            self.by_shape[id(shape)] += 1
            self.ids.setdefault(id(shape), []).append(
                payload.get("id") if isinstance(payload, dict) else None)
            return real(payload, shape, *args, **kwargs)

        monkeypatch.setattr(drift, "unknown_keys", spy)

    def of(self, shape: Any) -> int:
        return self.by_shape[id(shape)]

    def ids_of(self, shape: Any) -> list[Any]:
        return self.ids.get(id(shape), [])

    def clear(self) -> None:
        self.by_shape.clear()
        self.ids.clear()


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> Walks:
    return Walks(monkeypatch)


def _shapes(history: History, crawl_id: int) -> dict[str, Any]:
    return json.loads(history.crawl(crawl_id)["shapes"])


def _leistungen(crawler: Crawler, day: int) -> int:
    return len(crawler.pvog.scenario.directory_for(day).leistungen)


# -- the PVOG walk --------------------------------------------------------------------------


def test_a_day_1_crawl_with_unchanged_content_walks_no_confirmed_answer(
        crawler: Crawler, walks: Walks) -> None:
    crawler.day(0)
    assert walks.of(SHAPES[EP_DETAIL]) == _leistungen(crawler, 0)  # the first walks all
    offices = walks.of(SHAPES[EP_OFFICE])
    assert offices > 0
    walks.clear()
    result = crawler.day(1)  # lastUpdate and timestamp move, nothing else
    assert result.outcome == "complete" and result.changes == []
    assert walks.of(SHAPES[EP_DETAIL]) == 0
    assert walks.of(SHAPES[EP_OFFICE]) == 0
    assert _shapes(crawler.history, result.crawl_id) == {}

    walks.clear()
    changed = crawler.day(2)  # one Leistung's link replaced: only its detail is walked
    assert changed.changes
    assert [record_key("leistung", i) for i in walks.ids_of(SHAPES[EP_DETAIL])] == \
        sorted({key for key, _ in changed.changes if key.startswith("leistung:")})


def test_an_unknown_key_is_reported_with_the_full_count_by_every_next_crawl(
        crawler: Crawler, walks: Walks, monkeypatch: pytest.MonkeyPatch) -> None:
    # The parser does not know "synonyms" (every detail carries it) from the first crawl on.
    known = {k: v for k, v in SHAPES[EP_DETAIL].items() if k != "synonyms"}
    monkeypatch.setitem(SHAPES, EP_DETAIL, known)
    for day in (0, 1, 1, 2):
        walks.clear()
        result = crawler.day(day)
        assert result.outcome == "complete"
        leistungen = _leistungen(crawler, day)
        assert _shapes(crawler.history, result.crawl_id) == {
            EP_DETAIL: {"answers": leistungen, "unknown": {"synonyms": leistungen}}}
        assert walks.of(known) == leistungen  # every detail walked, confirmed or not
        if day:
            assert walks.of(SHAPES[EP_OFFICE]) == 0  # other endpoints are not


def test_a_key_only_some_answers_carry_keeps_its_count_and_the_answers_count(
        crawler: Crawler, monkeypatch: pytest.MonkeyPatch) -> None:
    crawler.pvog.set_day(0)
    carrying = sum(1 for lb in crawler.pvog.scenario.directory_for(0).leistungen.values()
                   if "onlineServiceLinks" in lb)
    known = {k: v for k, v in SHAPES[EP_DETAIL].items() if k != "onlineServiceLinks"}
    monkeypatch.setitem(SHAPES, EP_DETAIL, known)
    summaries = []
    for day in (0, 1, 1):
        result = crawler.day(day)
        summaries.append(_shapes(crawler.history, result.crawl_id)[EP_DETAIL])
    leistungen = _leistungen(crawler, 0)
    assert summaries[0]["answers"] == leistungen
    assert summaries[0]["unknown"]["onlineServiceLinks"] == carrying
    assert summaries[1] == summaries[0] and summaries[2] == summaries[0]


def test_a_record_struck_in_the_last_crawl_is_walked(crawler: Crawler, walks: Walks) -> None:
    crawler.day(0)
    lb_id = sorted(crawler.pvog.scenario.directory_for(1).leistungen)[0]
    key = record_key("leistung", lb_id)
    with crawler.history.db.atomic():  # the last crawl's check of it failed
        crawler.history.db.execute(
            "INSERT INTO strikes (source, key, count, first_at, last_at, reason) "
            "VALUES (?, ?, 1, ?, ?, 'timeout')",
            [crawler.source.name, key, crawler.last_crawl_at, crawler.last_crawl_at])
    walks.clear()
    crawler.day(1)
    assert walks.ids_of(SHAPES[EP_DETAIL]) == [lb_id]
    walks.clear()
    crawler.day(1)  # read (and unstruck) in the crawl before: known again
    assert walks.of(SHAPES[EP_DETAIL]) == 0


def test_after_a_partial_crawl_everything_is_walked(crawler: Crawler, walks: Walks) -> None:
    crawler.day(0)
    lb_id = sorted(crawler.pvog.scenario.directory_for(1).leistungen)[0]
    crawler.pvog.inject(f"/{lb_id}/detail", "malformed", times=1)
    partial = crawler.day(1)
    assert partial.outcome == "partial"
    walks.clear()
    crawler.day(1)
    assert walks.of(SHAPES[EP_DETAIL]) == _leistungen(crawler, 1)


def test_a_replayed_crawl_walks_everything(crawler: Crawler, walks: Walks) -> None:
    crawler.day(0)
    day1 = crawler.day(1)
    walks.clear()
    manifest = crawler.history.crawl(day1.crawl_id)["manifest"]
    result = replay_crawl(crawler.source, Path(manifest), history=crawler.history,
                          archive=crawler.archive, clock=crawler.clock, rebaseline=True)
    assert result.outcome != "failed"
    assert walks.of(SHAPES[EP_DETAIL]) == _leistungen(crawler, 1)
    walks.clear()
    crawler.day(1)  # the crawl before was a reparse: walks everything
    assert walks.of(SHAPES[EP_DETAIL]) == _leistungen(crawler, 1)


def test_a_needed_field_missing_everywhere_is_still_found_after_confirmed_crawls(
        crawler: Crawler) -> None:
    crawler.day(0)
    crawler.day(1)  # nothing walked: all confirmed
    crawler.pvog.inject("/detail", "drop:name")
    result = crawler.day(1)
    assert result.outcome == "partial"
    assert (f"required field 'name' missing in all {_leistungen(crawler, 1)} answers of "
            f"{EP_DETAIL}") in result.reason


# -- the ZuFi walk --------------------------------------------------------------------------


@pytest.fixture
def tsa(scenario: Scenario) -> Iterator[SimulatedTSA]:
    with SimulatedTSA(scenario, lead_days=0) as server:
        yield server


def test_the_zufi_walk_does_not_walk_confirmed_leistungen_and_root(
        tsa: SimulatedTSA, monkeypatch: pytest.MonkeyPatch, history: History,
        archive: Archive, fetcher: Fetcher, clock: FakeClock, walks: Walks) -> None:
    settings = zufi_source(tsa.base_url, monkeypatch)

    def crawl() -> None:
        result = run_crawl(settings, history=history, archive=archive, fetcher=fetcher,
                           clock=clock)
        clock.advance(days=1)
        assert result.outcome is Outcome.COMPLETE, result.reason

    crawl()
    leistungen = walks.of(TSA_SHAPES[EP_PST])
    assert leistungen > 0 and walks.of(TSA_SHAPES[EP_OU]) == 1
    walks.clear()
    crawl()
    assert walks.of(TSA_SHAPES[EP_PST]) == 0 and walks.of(TSA_SHAPES[EP_OU]) == 0
    # The parser forgets a key: its shapes changed, so every answer is walked once more.
    forgetful = {k: v for k, v in TSA_SHAPES[EP_PST].items() if k != "name"}
    monkeypatch.setitem(TSA_SHAPES, EP_PST, forgetful)
    walks.clear()
    crawl()
    assert walks.of(forgetful) == leistungen
    row = history.crawls(source=settings.name, limit=1)[0]
    assert json.loads(row["shapes"])[EP_PST]["unknown"] == {"name": leistungen}


# -- the pure parts -------------------------------------------------------------------------


def test_a_shape_digest_follows_recursive_shapes_and_changes_with_a_key() -> None:
    module: dict[str, Any] = {"code": None}
    module["details"] = module
    same: dict[str, Any] = {"code": None}
    same["details"] = same
    assert shape_digest({"/d": module}) == shape_digest({"/d": same})
    assert shape_digest({"/d": module}) != shape_digest({"/d": {"code": None}})
    assert shape_digest(SHAPES) != shape_digest({**SHAPES, EP_DETAIL: {}})


def test_only_a_complete_crawl_that_read_all_with_the_same_parser_and_shapes_vouches() -> None:
    row = {"outcome": "complete", "mode": "full", "parser_version": "p", "shapes_basis": "d",
           "started_at": "T", "shapes": json.dumps({"/a": {"answers": 2, "unknown": {"x": 1}},
                                                    "/b": {"answers": 2, "unknown": {},
                                                           "missing": {"y": 1}}})}

    def read(at: str) -> list[str]:
        return ["k"] if at == "T" else []

    known = known_shapes(row, parser_version="p", digest="d", read=read)
    assert known == KnownShapes(frozenset({"/a"}), frozenset({"k"}))
    assert known.vouches("/b", "k") and not known.vouches("/a", "k")
    assert not known.vouches("/b", "other")
    incremental = {**row, "mode": "incremental"}  # that read every listed entry
    assert known_shapes(incremental, parser_version="p", digest="d", read=read) == known
    for change in ({"outcome": "partial"}, {"outcome": "failed"}, {"mode": "reparse"},
                   {"parser_version": "q"}, {"shapes_basis": ""}, {"shapes": "not json"},
                   {"shapes": "[]"}):
        assert known_shapes({**row, **change}, parser_version="p", digest="d",
                            read=read) is None
    assert known_shapes(None, parser_version="p", digest="d", read=read) is None


def test_known_answers_count_as_answers_so_missing_everywhere_still_counts_them() -> None:
    log = ShapeLog(KnownShapes(frozenset(), frozenset({"a", "b"})))
    for key in ("a", "b"):
        log.confirmed("/d", key, {"id": 1, "extra": 1}, {"id": None})
    log.confirmed("/d", "c", {"id": 1, "extra": 1}, {"id": None})  # not read last time
    with log.answer("/d", "e", {"id": 2}, {"id": None}):
        log.missing(MissingField("/d", "name"))  # failed before it knew: walked
    assert log.summary() == {"/d": {"answers": 4, "unknown": {"extra": 1},
                                    "missing": {"name": 1}}}
    assert log.missing_everywhere() == []
    every = ShapeLog(KnownShapes(frozenset(), frozenset({"a"})))
    for key in ("x", "y"):
        with every.answer("/d", key, {}, {}) as answer:
            answer.read()
            every.missing(MissingField("/d", "name"))
    assert every.missing_everywhere() == [("/d", "name", 2)]


def test_after_a_crawl_that_vouched_for_entries_by_their_listing_everything_is_walked(
        crawler: Crawler, walks: Walks) -> None:
    crawler.pvog.listing_last_update = True  # listing items carry lastUpdate
    crawler.day(0)
    again = crawler.day(0)  # the listing's lastUpdate unchanged: entries vouched, not read
    assert crawler.history.crawl(again.crawl_id)["shapes_basis"] == ""
    walks.clear()
    result = crawler.day(1)  # some lastUpdate moved, content unchanged: fetched, confirmed
    assert result.changes == [] and result.stats["versions_added"] == 0
    manifest = Path(crawler.history.crawl(result.crawl_id)["manifest"])
    fetched = sum(1 for entry in read_manifest(manifest) if entry["endpoint"] == EP_DETAIL)
    assert fetched > 1
    assert walks.of(SHAPES[EP_DETAIL]) == fetched
