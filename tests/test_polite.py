"""Politeness: conditional requests, retries within the pacing, Retry-After, robots.txt."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from tests.conftest import Crawler, snapshot_tables
from zufiwatch.config import HttpSettings
from zufiwatch.errors import FetchError, HTTPStatusError
from zufiwatch.fetch import Fetcher
from zufiwatch.model import Outcome


def test_unchanged_recrawl_is_answered_by_304_and_the_archive(crawler: Crawler) -> None:
    first = crawler.day(0)
    before = snapshot_tables(crawler.history)
    crawler.pvog.not_modified = 0
    second = crawler.day(0)
    assert second.outcome is Outcome.COMPLETE and second.changes == []
    assert crawler.pvog.not_modified == second.stats["requests"]
    assert second.stats["bytes_received"] == 0 < first.stats["bytes_received"]
    assert snapshot_tables(crawler.history)["versions"] == before["versions"]


def test_a_changed_answer_is_fetched_in_full(crawler: Crawler, scenario) -> None:
    crawler.day(1)
    crawler.pvog.not_modified = 0
    result = crawler.day(2)
    edited = {e.id for e in scenario.edits(2) if e.kind == "leistung"}
    assert {k for k, _ in result.changes} >= {f"leistung:{i}" for i in edited}
    assert crawler.pvog.not_modified < result.stats["requests"]


def test_304_with_a_lost_archive_falls_back_to_a_full_request(crawler: Crawler) -> None:
    crawler.day(0)
    for path in (crawler.archive.root / "crawls").rglob("*.warc.gz"):
        path.unlink()
    result = crawler.day(0)
    assert result.outcome is Outcome.COMPLETE and result.changes == []
    assert result.stats["bytes_received"] > 0
    again = crawler.day(0)  # what was lost is archived again: answered by 304 once more
    assert again.stats["bytes_received"] == 0 and again.changes == []


def test_retry_after_holds_the_whole_host_and_retries_pass_the_pacing(crawler: Crawler) -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 2))
        now[0] += seconds

    crawler.pvog.inject("/v7/servicedescriptions", "status", status=503, times=2,
                        retry_after="7")
    with Fetcher(HttpSettings(retries=3, backoff=1), monotonic=lambda: now[0],
                 sleep=sleep) as fetcher:
        fetcher.limit_host(crawler.source.base_url.split("/")[2], max_concurrency=1,
                           min_interval=0.5)
        response = fetcher.get(crawler.source.base_url + "/v7/servicedescriptions/"
                               "160530000000", params={"page": "0", "size": "5"})
    assert response.status == 200 and response.attempts == 3
    # Two Retry-After waits of 7 s, each also a turn of the pacing; never faster.
    assert waits == [7.0, 7.0]
    assert fetcher.retried == 2


def test_backoff_doubles_with_jitter_when_no_retry_after(crawler: Crawler) -> None:
    waits: list[float] = []
    crawler.pvog.inject("/v7/servicedescriptions", "status", status=502, times=3)
    with Fetcher(HttpSettings(retries=3, backoff=1), sleep=waits.append,
                 rng=random.Random(1)) as fetcher:
        fetcher.get(crawler.source.base_url + "/v7/servicedescriptions/160530000000",
                    params={"page": "0", "size": "5"})
    assert len(waits) == 3
    for attempt, wait in enumerate(waits):
        assert 2 ** attempt <= wait <= 2 ** attempt + 1


def test_too_long_retry_after_fails_instead_of_stalling(crawler: Crawler) -> None:
    crawler.pvog.inject("/v7/", "status", status=429, retry_after="3600")
    with Fetcher(HttpSettings(retries=3, max_retry_after=60), sleep=pytest.fail) as fetcher, \
            pytest.raises(FetchError, match="asks to wait 3600 s"):
        fetcher.get(crawler.source.base_url + "/v7/servicedescriptions/160530000000")


def test_retries_are_bounded_and_the_last_error_is_reported(crawler: Crawler) -> None:
    waits: list[float] = []
    crawler.pvog.inject("/v7/", "status", status=500)
    with Fetcher(HttpSettings(retries=2, backoff=0.1), sleep=waits.append) as fetcher, \
            pytest.raises(HTTPStatusError) as info:
        fetcher.get(crawler.source.base_url + "/v7/servicedescriptions/160530000000")
    assert info.value.status == 500 and len(waits) == 2
    assert fetcher.requests == 3


def test_client_errors_are_not_retried(crawler: Crawler) -> None:
    with Fetcher(HttpSettings(retries=3), sleep=pytest.fail) as fetcher:
        with pytest.raises(HTTPStatusError):
            fetcher.get(crawler.source.base_url + "/v6/servicedescriptions/nope/detail")
        assert fetcher.requests == 1


class _Site(BaseHTTPRequestHandler):
    robots: ClassVar[tuple[int, bytes]] = (200, b"")

    def do_GET(self) -> None:
        status, body = type(self).robots if self.path == "/robots.txt" else (200, b"<p>ok</p>")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("robots", "allowed", "blocked"), [
    ((200, b"User-agent: *\nDisallow: /private\n"), "/public", "/private/form"),
    ((200, b"User-agent: zufiwatch\nDisallow: /\n"), None, "/anything"),
    ((404, b""), "/anything", None),
    ((500, b""), None, "/anything"),
])
def test_robots_txt_is_honoured_where_asked(site: str, robots, allowed, blocked) -> None:
    _Site.robots = robots
    with Fetcher(HttpSettings(user_agent="zufiwatch/0.1 (test)", retries=0)) as fetcher:
        if allowed:
            assert fetcher.get(site + allowed, robots=True).status == 200
        if blocked:
            with pytest.raises(FetchError, match=r"disallowed by robots\.txt"):
                fetcher.get(site + blocked, robots=True)
            assert fetcher.get(site + blocked).status == 200  # APIs are not crawled pages
