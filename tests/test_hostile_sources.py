"""Hostile and broken directory servers (issue 18, items 1 and 2): a redirect to another
host, a drip, pages for ever, a crawl that outlasts its deadline, a body cut short. Each
ends the crawl as failed or partial with the reason; the stored history is unchanged, no
credential reaches another host, and the next crawl runs."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import urllib3.util.connection

from tests.conftest import FakeClock, snapshot_tables, zufi_source
from zufiwatch.archive import Archive
from zufiwatch.config import HttpSettings, SourceSettings
from zufiwatch.errors import HTTPStatusError
from zufiwatch.fetch import Fetcher
from zufiwatch.model import Outcome
from zufiwatch.runner import CrawlResult, run_crawl
from zufiwatch.sim import JENA_ARS, Scenario, SimulatedPVOG
from zufiwatch.sim.hostile import HostileFront
from zufiwatch.sim.tsa import SimulatedTSA
from zufiwatch.store import History

API_KEY = "sim-api-key"
CLIENT_ID = "jena-client-42"


@pytest.fixture
def pvog_front(pvog: SimulatedPVOG) -> Iterator[HostileFront]:
    with HostileFront(pvog.base_url) as front:
        yield front


@pytest.fixture
def tsa_front(scenario: Scenario) -> Iterator[HostileFront]:
    with SimulatedTSA(scenario, lead_days=0, api_key=API_KEY) as tsa, \
            HostileFront(tsa.base_url) as front:
        yield front


@pytest.fixture
def elsewhere() -> Iterator[HostileFront]:
    """Another host (another port on 127.0.0.1): what reaches it, reached another host."""
    with HostileFront() as other:
        yield other


@pytest.fixture
def pvog_source(pvog_front: HostileFront) -> SourceSettings:
    return SourceSettings(name="pvog-test", kind="pvog", base_url=pvog_front.base_url,
                          ars=JENA_ARS, client_id=CLIENT_ID, page_size=25, max_concurrency=3,
                          min_interval=0)


@pytest.fixture
def zufi(tsa_front: HostileFront, monkeypatch: pytest.MonkeyPatch) -> SourceSettings:
    return zufi_source(tsa_front.base_url, monkeypatch, api_key=API_KEY, page_size=100)


Crawl = Callable[..., CrawlResult]


@pytest.fixture
def crawl(history: History, archive: Archive, fetcher: Fetcher, clock: FakeClock) -> Crawl:
    def run(settings: SourceSettings, client: Fetcher | None = None) -> CrawlResult:
        result = run_crawl(settings, history=history, archive=archive,
                           fetcher=client or fetcher, clock=clock)
        clock.advance(days=1)
        return result

    return run


def _baseline(crawl: Crawl, settings: SourceSettings) -> None:
    first = crawl(settings)
    assert first.outcome is Outcome.COMPLETE, first.reason


def _next_crawl_is_complete(crawl: Crawl, settings: SourceSettings, front: HostileFront,
                            history: History, before: dict[str, Any]) -> None:
    """The lock was released: the next crawl of a well-behaved source runs, changes
    nothing."""
    front.clear()
    again = crawl(settings)
    assert again.outcome is Outcome.COMPLETE, again.reason
    assert again.changes == []
    assert snapshot_tables(history)["changes"] == before["changes"]


# -- 1. redirects only within the source host ---------------------------------------------


def test_a_zufi_redirect_to_another_host_reaches_nobody_there_and_fails_the_crawl(
        tsa_front: HostileFront, elsewhere: HostileFront, zufi: SourceSettings,
        crawl: Crawl, history: History) -> None:
    _baseline(crawl, zufi)
    before = snapshot_tables(history)
    target = f"{elsewhere.origin}/steal"
    tsa_front.redirect("/rest/v4/", target)
    result = crawl(zufi)
    assert result.outcome is Outcome.FAILED
    assert f"to {target} refused: zufiwatch follows redirects only within 127.0.0.1" \
        in result.reason
    assert elsewhere.requests == []  # no api_key, no request at all
    assert snapshot_tables(history) == before
    _next_crawl_is_complete(crawl, zufi, tsa_front, history, before)


def test_a_redirect_to_the_metadata_address_is_refused_without_connecting(
        pvog_front: HostileFront, monkeypatch: pytest.MonkeyPatch) -> None:
    connected: list[tuple[str, int]] = []

    def recorder(real: Any) -> Any:
        def recording(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
            connected.append(address)
            return real(address, *args, **kwargs)
        return recording

    # Every connection the fetcher opens: http.client's (direct) and urllib3's (proxies).
    monkeypatch.setattr(socket, "create_connection", recorder(socket.create_connection))
    monkeypatch.setattr(urllib3.util.connection, "create_connection",
                        recorder(urllib3.util.connection.create_connection))
    pvog_front.redirect("/v7/servicedescriptions", "http://169.254.169.254/latest/meta-data/")
    asked = f"{pvog_front.base_url}/v7/servicedescriptions/{JENA_ARS}"
    with Fetcher(HttpSettings(read_timeout=10), retries=0) as fetcher, \
            pytest.raises(Exception) as info:
        fetcher.get(asked, headers={"pvog-sud-api-client-id": CLIENT_ID})
    assert str(info.value) == (
        f"redirect from {asked} to http://169.254.169.254/latest/meta-data/ refused: "
        "zufiwatch follows redirects only within 127.0.0.1")
    assert getattr(info.value, "url", "") == asked
    assert connected and all(host == "127.0.0.1" for host, _ in connected)


def test_a_redirect_within_the_host_is_followed_with_the_headers(
        pvog_front: HostileFront) -> None:
    listing = f"{pvog_front.base_url}/v7/servicedescriptions/{JENA_ARS}?page=0&size=5"
    pvog_front.redirect("/moved", listing.replace("127.0.0.1", "127.0.0.1".upper()), 301)
    with Fetcher(HttpSettings(read_timeout=10), retries=0) as fetcher:
        response = fetcher.get(f"{pvog_front.base_url}/moved",
                               headers={"pvog-sud-api-client-id": CLIENT_ID})
    assert response.status == 200 and response.url == listing
    moved, followed = pvog_front.requests
    assert moved.path.endswith("/moved") and followed.path.endswith("page=0&size=5")
    assert followed.headers["pvog-sud-api-client-id"] == CLIENT_ID


def test_an_error_after_a_redirect_names_the_hop_where_it_happened(
        pvog_front: HostileFront) -> None:
    gone = f"{pvog_front.base_url}/v6/servicedescriptions/nothing-here/detail"
    pvog_front.redirect("/moved", gone)
    with Fetcher(HttpSettings(read_timeout=10), retries=0) as fetcher, \
            pytest.raises(HTTPStatusError) as info:
        fetcher.get(f"{pvog_front.base_url}/moved")
    assert (str(info.value), info.value.url, info.value.status) == (
        f"HTTP 404 from {gone}", gone, 404)


@pytest.mark.parametrize(("target", "why"), [
    ("{front}/b", "redirect loop: {front}/b leads back to {front}/b"),
    ("{front}/a", "redirect loop"),
])
def test_a_redirect_loop_is_an_error_naming_the_hop(pvog_front: HostileFront, target: str,
                                                    why: str) -> None:
    front = pvog_front.origin
    pvog_front.redirect("/a", f"{front}/b")
    pvog_front.redirect("/b", target.format(front=front))
    with Fetcher(HttpSettings(read_timeout=10), retries=0) as fetcher, \
            pytest.raises(Exception, match="redirect loop") as info:
        fetcher.get(f"{front}/a")
    assert why.format(front=front) in str(info.value)


def test_more_redirects_than_max_redirects_are_an_error(pvog_front: HostileFront) -> None:
    front = pvog_front.origin
    for hop in range(4):
        pvog_front.redirect(f"/hop{hop}", f"{front}/hop{hop + 1}")
    with Fetcher(HttpSettings(read_timeout=10, max_redirects=2), retries=0) as fetcher, \
            pytest.raises(Exception) as info:
        fetcher.get(f"{front}/hop0")
    assert str(info.value) == (f"more than max_redirects = 2 redirects from {front}/hop0; "
                               f"the last from {front}/hop2 to {front}/hop3")
    assert len(pvog_front.requests) == 3


# -- 2. a total deadline per response ------------------------------------------------------


@pytest.mark.parametrize("headers_too", [True, False], ids=["headers", "body"])
def test_an_answer_that_drips_ends_at_the_response_deadline(pvog_front: HostileFront,
                                                            headers_too: bool) -> None:
    pvog_front.drip("/v7/servicedescriptions", interval=0.2, headers_too=headers_too)
    url = f"{pvog_front.base_url}/v7/servicedescriptions/{JENA_ARS}"
    http = HttpSettings(read_timeout=10, response_deadline=1)
    with Fetcher(http, retries=2) as fetcher, pytest.raises(Exception) as info:
        fetcher.get(url)
    assert str(info.value) == f"the answer took longer than response_deadline = 1 s: {url}"
    assert len(pvog_front.requests) == 1  # a drip is not retried


def test_a_crawl_against_a_dripping_listing_fails_and_the_next_crawl_runs(
        pvog_front: HostileFront, pvog_source: SourceSettings, crawl: Crawl,
        history: History) -> None:
    _baseline(crawl, pvog_source)
    before = snapshot_tables(history)
    pvog_front.drip("/v7/servicedescriptions", interval=0.2)
    with Fetcher(HttpSettings(read_timeout=10, response_deadline=1), retries=0) as patient:
        result = crawl(pvog_source, patient)
    assert result.outcome is Outcome.FAILED
    assert "listing of Leistungen failed: the answer took longer than response_deadline " \
        "= 1 s: " in result.reason
    assert snapshot_tables(history) == before
    _next_crawl_is_complete(crawl, pvog_source, pvog_front, history, before)


# -- 3. a short body -----------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunk"])
def test_a_body_cut_short_is_a_clear_error_and_retried(pvog_front: HostileFront,
                                                       chunked: bool) -> None:
    pvog_front.short("/v7/servicedescriptions", chunked=chunked)
    url = f"{pvog_front.base_url}/v7/servicedescriptions/{JENA_ARS}"
    with Fetcher(HttpSettings(read_timeout=10), retries=1, backoff=0) as fetcher, \
            pytest.raises(Exception) as info:
        fetcher.get(url)
    message = str(info.value)
    assert message.startswith(f"the answer from {url} ended early after ")
    assert "ChunkedEncodingError" not in message
    assert len(pvog_front.requests) == 2  # retried like a connection error


# -- 4. pages for ever, items without end, the crawl's deadline ----------------------------


def test_a_pvog_listing_that_pages_for_ever_stops_at_max_pages(
        pvog_front: HostileFront, pvog_source: SourceSettings, crawl: Crawl,
        history: History) -> None:
    _baseline(crawl, pvog_source)
    before = snapshot_tables(history)
    pvog_front.endless("/v7/servicedescriptions", "pvog")
    pvog_front.reset_requests()
    result = crawl(replace(pvog_source, max_pages=5))
    assert result.outcome is Outcome.FAILED
    assert "/v7/servicedescriptions: stopped after max_pages = 5 pages" in result.reason
    assert len([r for r in pvog_front.requests if "/v7/servicedescriptions/" in r.path]) == 5
    assert snapshot_tables(history) == before
    _next_crawl_is_complete(crawl, pvog_source, pvog_front, history, before)


def test_pvog_online_services_without_end_stop_at_max_items(
        pvog_front: HostileFront, pvog_source: SourceSettings, crawl: Crawl,
        history: History) -> None:
    _baseline(crawl, pvog_source)
    before = snapshot_tables(history)
    pvog_front.endless("/v1beta2/onlineservices", "pvog-online")
    result = crawl(replace(pvog_source, max_items=120))
    assert result.outcome is Outcome.FAILED
    assert "/v1beta2/onlineservices: stopped after max_items = 120 entries" in result.reason
    assert snapshot_tables(history) == before
    _next_crawl_is_complete(crawl, pvog_source, pvog_front, history, before)


@pytest.mark.parametrize(("limit", "reason"), [
    ({"max_pages": 5}, "/ou/find: stopped after max_pages = 5 pages"),
    ({"max_items": 500}, "/ou/find: stopped after max_items = 500 entries"),
])
def test_a_zufi_office_tree_that_pages_for_ever_stops_at_the_limit(
        tsa_front: HostileFront, zufi: SourceSettings, crawl: Crawl, history: History,
        limit: dict[str, int], reason: str) -> None:
    _baseline(crawl, zufi)
    before = snapshot_tables(history)
    tsa_front.endless("/ou/find", "tsa-find")
    tsa_front.reset_requests()
    result = crawl(replace(zufi, **limit))
    assert result.outcome is Outcome.FAILED
    assert reason in result.reason
    finds = [r for r in tsa_front.requests if "/ou/find" in r.path]
    assert len(finds) <= limit.get("max_pages", 10)
    assert snapshot_tables(history) == before
    _next_crawl_is_complete(crawl, zufi, tsa_front, history, before)


class _TickingFetcher(Fetcher):
    """Each request takes a minute on the crawl's clock (no real waiting)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(HttpSettings(read_timeout=10), retries=0)
        self.clock = clock
        self.asked = 0

    def get(self, url: str, **kwargs: Any) -> Any:
        self.asked += 1
        self.clock.advance(minutes=1)
        return super().get(url, **kwargs)


def test_the_crawl_deadline_ends_a_crawl_partial_and_refuses_further_requests(
        pvog_front: HostileFront, pvog_source: SourceSettings, crawl: Crawl,
        history: History, clock: FakeClock) -> None:
    _baseline(crawl, pvog_source)
    before = snapshot_tables(history)
    pvog_front.reset_requests()
    with _TickingFetcher(clock) as slow:
        result = crawl(replace(pvog_source, max_crawl_minutes=8), slow)
    assert result.outcome is Outcome.PARTIAL
    assert "crawl deadline of 8 min reached in " in result.reason
    assert "what was read so far is stored, nothing else is concluded" in result.reason
    assert len(pvog_front.requests) < 8  # no request started after the deadline
    assert result.changes == []
    assert snapshot_tables(history)["changes"] == before["changes"]
    assert history.db.execute("SELECT count(*) FROM records WHERE status != 'present'"
                              ).fetchone()[0] == 0
    _next_crawl_is_complete(crawl, pvog_source, pvog_front, history, before)
