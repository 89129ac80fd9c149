"""Paging through the ZuFi's search answers by totalCount: under a server's page cap every
office and Leistung is read; overlapping pages, gaps and a moving total make the crawl
partial, never a removal; a server that never stops cannot keep the crawl going."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import FakeClock, crawl_then_advance, zufi_source
from zufiwatch import sources
from zufiwatch.archive import Archive
from zufiwatch.config import SourceSettings
from zufiwatch.errors import FetchError
from zufiwatch.fetch import Fetcher
from zufiwatch.model import Outcome
from zufiwatch.runner import replay_crawl
from zufiwatch.sim import Scenario
from zufiwatch.sim.tsa import AREA_ID, EXTRA_OFFICE_BASE, ROOT_OU, SimulatedTSA
from zufiwatch.sources.tsa import Listed, Page, RejectedKey, read_pages
from zufiwatch.sources.tsa.pages import PAGE_MARGIN
from zufiwatch.store import History

API_KEY = "sim-api-key"
PAGE_CAP = 25
EXTRA = 57  # ZuFi-only offices below the root: with the 3 departments, 60 children
ROOT_FIND = f"/ou/find?parentId={ROOT_OU}"
GEBURTSURKUNDE = "354790"


# -- read_pages, with a scripted server ------------------------------------------------------


def server(total: int | None, cap: int, *, shift: int = 0, growth: int = 0,
           endless: bool = False) -> tuple[Callable[[int | None], tuple[Page, bytes]],
                                           list[int | None]]:
    """A fake search endpoint over ``total`` results with ids 0.. and its request log:
    pages after the first start ``shift`` results off, announce ``growth`` more each,
    or (``endless``) bring new ids for ever."""
    asked: list[int | None] = []

    def fetch(offset: int | None) -> tuple[Page, bytes]:
        asked.append(offset)
        start = 0 if offset is None else offset + shift
        if endless:
            ids = list(range(start, start + cap))
        else:
            ids = list(range(start, min(start + cap, total or 0)))
        announced = None if total is None else total + growth * len(asked[1:])
        return Page([{"id": i} for i in ids], announced, len(ids)), b"page"

    return fetch, asked


def test_pages_are_read_by_total_count_under_a_page_cap() -> None:
    fetch, asked = server(60, PAGE_CAP)
    listed = read_pages(fetch, "/ou/find")
    assert [item["id"] for item in listed.items] == list(range(60))
    assert listed.problem == "" and len(listed.bodies) == 3
    assert asked == [None, 25, 50]  # the first page without offset, never offset=0


def test_overlapping_pages_are_a_problem() -> None:
    fetch, _ = server(60, PAGE_CAP, shift=-1)
    listed = read_pages(fetch, "/ou/find")
    assert listed.problem == "/ou/find: the pages overlap: result 24 came again at offset 25"
    assert len({item["id"] for item in listed.items}) == len(listed.items)


def test_a_gap_is_a_problem() -> None:
    fetch, asked = server(60, PAGE_CAP, shift=1)
    listed = read_pages(fetch, "/ou/find")
    assert listed.problem == ("/ou/find: 59 of 60 results delivered (the pages leave a gap "
                              "or end early)")
    assert asked == [None, 25, 50, 59]  # the server starts each later page one late


def test_a_total_that_moves_while_paging_is_a_problem() -> None:
    fetch, _ = server(60, PAGE_CAP, growth=1)
    assert read_pages(fetch, "/x").problem == "/x: totalCount changed from 60 to 61 while paging"


def test_more_results_than_announced_are_a_problem() -> None:
    fetch, _ = server(60, 100)
    page, body = fetch(None)
    listed = read_pages(lambda offset: (Page(page.items, 59, 60), body), "/x")
    assert listed.problem == "/x: 60 results delivered where totalCount says 59"


@pytest.mark.parametrize("total", [None, 10**9])
def test_a_server_sending_full_pages_for_ever_is_stopped(total: int | None) -> None:
    fetch, asked = server(total, PAGE_CAP, endless=True)
    listed = read_pages(fetch, "/x")
    assert "did not end after" in listed.problem
    assert len(asked) <= 1000


def test_the_page_bound_follows_total_count_and_the_first_page() -> None:
    """Pages shorter than the first one are read up to a margin; then the listing ends."""
    calls: list[int | None] = []

    def fetch(offset: int | None) -> tuple[Page, bytes]:
        calls.append(offset)
        start = offset or 0
        size = 10 if offset is None else 1  # then one result per page
        return Page([{"id": i} for i in range(start, start + size)], 20, size), b""

    listed = read_pages(fetch, "/x")
    assert len(calls) == 2 * 2 + PAGE_MARGIN
    assert listed.problem == f"/x: the listing did not end after {len(calls)} pages"


def test_a_server_ignoring_the_offset_is_an_overlap() -> None:
    listed = read_pages(lambda offset: (Page([{"id": 1}, {"id": 2}], 4, 2), b""), "/x")
    assert listed.problem == "/x: the pages overlap: result 1 came again at offset 2"


def test_a_failing_page_after_the_first_is_a_problem_and_the_first_one_raises() -> None:
    def failing_later(offset: int | None) -> tuple[Page, bytes]:
        if offset:
            raise FetchError("connection reset")
        return Page([{"id": 1}], 2, 1), b""

    listed = read_pages(failing_later, "/x")
    assert (listed.items, listed.problem) == (
        [{"id": 1}], "/x: the page at offset 1 failed: connection reset")

    def rejected(offset: int | None) -> tuple[Page, bytes]:
        if offset:
            raise RejectedKey("401")
        return Page([{"id": 1}], 2, 1), b""

    with pytest.raises(RejectedKey):
        read_pages(rejected, "/x")
    with pytest.raises(FetchError):
        read_pages(lambda offset: (_ for _ in ()).throw(FetchError("down")), "/x")


def test_an_empty_listing_and_results_without_ids() -> None:
    assert read_pages(lambda offset: (Page([], 0, 0), b"{}"), "/x") == Listed([], [b"{}"], "")
    same = {"areas": [], "publicServiceTypes": [{"id": 1}]}
    listed = read_pages(lambda offset: (Page([same, dict(same)], 2, 2), b""), "/x")
    assert listed.problem == "/x: the pages overlap: a result came again at offset 1"


# -- a crawl under a page cap, over HTTP -----------------------------------------------------


@pytest.fixture
def wide(scenario: Scenario) -> Iterator[SimulatedTSA]:
    """The simulated ZuFi with 60 children below the root, a page cap of 25, and two
    Leistungen moved to offices on the second and third page; the last office is
    responsible for 30 more (two pages of competences)."""
    with SimulatedTSA(scenario, lead_days=0, page_cap=PAGE_CAP, extra_offices=EXTRA) as tsa:
        tsa.set_responsible(GEBURTSURKUNDE, EXTRA_OFFICE_BASE + 30)
        last = EXTRA_OFFICE_BASE + EXTRA
        for pst in sorted(tsa.data().psts)[:30]:
            if str(pst) != GEBURTSURKUNDE:
                tsa.set_responsible(pst, last)
        yield tsa


@pytest.fixture
def zufi(wide: SimulatedTSA, monkeypatch: pytest.MonkeyPatch) -> SourceSettings:
    return zufi_source(wide.base_url, monkeypatch, api_key=API_KEY, page_size=100)


crawl = crawl_then_advance


def stored(history: History) -> dict[str, int]:
    return dict(history.db.execute(
        "SELECT kind, count(*) FROM records WHERE source = 'zufi-test' AND status = 'present' "
        "GROUP BY kind"))


def test_a_tree_with_60_children_under_a_page_cap_of_25_is_read_completely(
        wide: SimulatedTSA, zufi: SourceSettings, history: History, archive: Archive,
        fetcher: Fetcher, clock: FakeClock) -> None:
    result = crawl(zufi, history, archive, fetcher, clock)
    assert result.outcome is Outcome.COMPLETE, result.reason
    data = wide.data()
    assert len(data.children[ROOT_OU]) == 60
    assert stored(history)["organisationseinheit"] == len(data.ous)
    assert stored(history)["leistung"] == len(data.psts)  # every one has a responsible office
    moved = json.loads(history.db.execute(
        "SELECT v.content FROM records r JOIN versions v ON v.id = r.current_version "
        "WHERE r.key = ?", [f"leistung:{GEBURTSURKUNDE}"]).fetchone()[0])
    assert [o["id"] for o in moved["zustaendigkeiten"]] == [str(EXTRA_OFFICE_BASE + 30)]
    asked = [r for r in wide.requests if r.startswith(f"/rest/v4{ROOT_FIND}")]
    assert asked == [f"/rest/v4{ROOT_FIND}&limit=100", f"/rest/v4{ROOT_FIND}&offset=25&limit=100",
                     f"/rest/v4{ROOT_FIND}&offset=50&limit=100"]
    last = f"/rest/v4/ouCompetence/{EXTRA_OFFICE_BASE + EXTRA}?areaId={AREA_ID}"
    assert [r for r in wide.requests if r.startswith(last)] == [
        f"{last}&limit=100", f"{last}&offset=25&limit=100"]
    assert not [r for r in wide.requests if "offset=0" in r]


@pytest.mark.parametrize(("fault", "where", "reason"), [
    ("overlap", ROOT_FIND, "the pages overlap: result 19122 came again at offset 25"),
    ("gap", ROOT_FIND, "59 of 60 results delivered"),
    ("short", ROOT_FIND, "60 of 61 results delivered"),
    ("drift", ROOT_FIND, "totalCount changed from 60 to 61 while paging"),
    ("overlap", f"/ouCompetence/{EXTRA_OFFICE_BASE + EXTRA}?",
     "competences incomplete: office 19157: /ouCompetence: the pages overlap"),
])
def test_pages_that_overlap_leave_a_gap_or_disagree_make_the_crawl_partial_not_a_removal(
        wide: SimulatedTSA, zufi: SourceSettings, history: History, archive: Archive,
        fetcher: Fetcher, clock: FakeClock, fault: str, where: str, reason: str) -> None:
    assert crawl(zufi, history, archive, fetcher, clock).outcome is Outcome.COMPLETE
    before = stored(history)
    wide.inject(where, fault)
    wide.reset_requests()
    result = crawl(zufi, history, archive, fetcher, clock)
    assert result.outcome is Outcome.PARTIAL
    assert reason in result.reason
    # The Leistungen hang on offices not all known: not read, nothing concluded.
    assert "Leistungen not read, as the offices responsible are not all known" \
        in result.reason
    assert not [r for r in wide.requests if "/pst/" in r or "/os/" in r]
    assert stored(history) == before  # nothing missing, nothing removed
    assert history.db.execute("SELECT count(*) FROM records WHERE status != 'present'"
                              ).fetchone()[0] == 0
    assert result.changes == []
    # The next clean crawl is complete again, and still nothing was lost.
    wide.clear_faults()
    again = crawl(zufi, history, archive, fetcher, clock)
    assert again.outcome is Outcome.COMPLETE and again.changes == []
    assert stored(history) == before


def test_a_missing_competence_list_is_no_competence(
        wide: SimulatedTSA, zufi: SourceSettings, history: History, archive: Archive,
        fetcher: Fetcher, clock: FakeClock) -> None:
    """404 or a null answer for an office's competences: it is responsible for nothing."""
    wide.inject(f"/ouCompetence/{ROOT_OU}?", "status", status=404)
    result = crawl(zufi, history, archive, fetcher, clock)
    assert result.outcome is Outcome.COMPLETE, result.reason


def test_replaying_a_crawl_of_the_old_parser_ends_with_a_reason_not_a_crash(
        wide: SimulatedTSA, zufi: SourceSettings, history: History, archive: Archive,
        fetcher: Fetcher, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """tsa-1 asked for the first page with ``offset=0`` (refused on the seen API) and read
    unwrapped items. Its archive replayed with tsa-2 reads what it can (a first page is
    looked up under tsa-1's URL too) and says what is missing."""
    from tests.legacy import tsa_1

    monkeypatch.setitem(sources.SOURCE_TYPES, "tsa", tsa_1.TsaSource)
    old = crawl(replace(zufi, page_size=10), history, archive, fetcher, clock)
    assert old.outcome is Outcome.PARTIAL
    assert "HTTP 400" in old.reason and "offset=0" in old.reason
    monkeypatch.undo()
    monkeypatch.setenv("ZUFIWATCH_TEST_TSA_KEY", API_KEY)
    manifest = Path(history.crawl(old.crawl_id)["manifest"])
    replayed = replay_crawl(replace(zufi, page_size=10), manifest, history=history,
                            archive=archive, clock=clock, rebaseline=True)
    assert replayed.outcome is Outcome.PARTIAL
    assert f"office tree incomplete: children of office {ROOT_OU}: archived: HTTP 400" \
        in replayed.reason
    assert stored(history) == {"organisationseinheit": 1}
    # A manifest with nothing usable in it fails with the reason.
    empty = manifest.with_name("empty.jsonl.gz")
    with gzip.open(empty, "wt") as fh:
        fh.write("")
    failed = replay_crawl(zufi, empty, history=history, archive=archive, clock=clock)
    assert failed.outcome is Outcome.FAILED
    assert "the archived crawl has no payload for" in failed.reason
