"""The polite fetcher: identification headers, pacing, size cap, error translation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from zufiwatch.archive import Archive, Manifest
from zufiwatch.config import HttpSettings, SourceSettings
from zufiwatch.errors import FetchError, HTTPStatusError
from zufiwatch.fetch import Fetcher, redirect_refusal
from zufiwatch.limits import CrawlDeadline
from zufiwatch.runner import run_crawl
from zufiwatch.sim import JENA_ARS
from zufiwatch.sim.hostile import HostileFront
from zufiwatch.store import History


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []
    body = b'{"serviceDescriptions": {"content": [], "totalElements": 0, "last": true}}'

    def do_GET(self) -> None:
        type(self).seen.append({"path": self.path, **{k.lower(): v for k, v in
                                                      self.headers.items()}})
        status = 404 if "missing" in self.path else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_requests_identify_zufiwatch_and_send_the_client_id(recorder: str, tmp_path) -> None:
    http = HttpSettings(user_agent="zufiwatch-test (+mailto:ozg@jena.de)",
                        contact="ozg@jena.de")
    source = SourceSettings(name="s", kind="pvog", base_url=recorder + "/suchdienst/api",
                            ars=JENA_ARS, client_id="jena-client-42", min_interval=0)
    with History(tmp_path / "h.db") as history, Fetcher(http, retries=0) as fetcher:
        run_crawl(source, history=history, archive=Archive(tmp_path / "a"), fetcher=fetcher)
    first = _Recorder.seen[0]
    assert first["path"].startswith(f"/suchdienst/api/v7/servicedescriptions/{JENA_ARS}?page=0")
    assert first["user-agent"] == "zufiwatch-test (+mailto:ozg@jena.de)"
    assert first["from"] == "ozg@jena.de"
    assert first["pvog-sud-api-client-id"] == "jena-client-42"
    assert first["accept"] == "application/json"


def test_no_client_id_header_when_none_is_configured(recorder: str, tmp_path) -> None:
    source = SourceSettings(name="s", kind="pvog", base_url=recorder, ars=JENA_ARS,
                            min_interval=0)
    with History(tmp_path / "h.db") as history, Fetcher(HttpSettings(), retries=0) as fetcher:
        run_crawl(source, history=history, archive=Archive(tmp_path / "a"), fetcher=fetcher)
    assert "pvog-sud-api-client-id" not in _Recorder.seen[0]
    assert "from" not in _Recorder.seen[0]


def test_pacing_keeps_the_minimum_interval_per_host(recorder: str) -> None:
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(round(seconds, 3))
        now[0] += seconds

    with Fetcher(HttpSettings(), retries=0, monotonic=lambda: now[0], sleep=sleep) as fetcher:
        fetcher.limit_host(recorder.split("//")[1], max_concurrency=1, min_interval=0.25)
        for _ in range(3):
            fetcher.get(recorder + "/x")
    assert sleeps == [0.25, 0.25]
    assert fetcher.requests == 3


def test_errors_are_translated_with_status_and_url(recorder: str) -> None:
    with Fetcher(HttpSettings(), retries=0) as fetcher:
        with pytest.raises(HTTPStatusError) as info:
            fetcher.get(recorder + "/missing")
        assert info.value.status == 404 and info.value.url.endswith("/missing")
        with pytest.raises(FetchError, match="larger than 10 bytes"):
            Fetcher(HttpSettings(max_response_bytes=10), retries=0).get(recorder + "/x")
        with pytest.raises(FetchError, match="cannot connect"):
            fetcher.get("http://127.0.0.1:9/unreachable")


def test_manifest_notes_failed_fetches_too(recorder: str, tmp_path) -> None:
    source = SourceSettings(name="s", kind="pvog", base_url=recorder + "/missing",
                            ars=JENA_ARS, min_interval=0)
    with History(tmp_path / "h.db") as history, Fetcher(HttpSettings(), retries=0) as fetcher:
        result = run_crawl(source, history=history, archive=Archive(tmp_path / "a"),
                           fetcher=fetcher)
        manifest = history.crawl(result.crawl_id)["manifest"]
    (entry,) = list(Manifest.read(Path(manifest)))
    assert entry["status"] == 404 and "HTTP 404" in entry["error"]


@pytest.mark.parametrize(("asked", "target", "refused"), [
    ("http://api.example/a", "http://api.example/b?x=1", ""),
    ("http://api.example/a", "http://API.Example./b", ""),
    ("http://api.example/a", "https://api.example/b", ""),
    ("http://api.example:8080/a", "https://api.example:8080/b", ""),
    ("https://api.example/a", "https://api.example:443/b", ""),
    ("http://api.example/a", "http://other.example/b", "only within api.example"),
    ("http://api.example/a", "http://api.example.evil/b", "only within api.example"),
    ("http://api.example/a", "http://169.254.169.254/latest", "only within api.example"),
    ("http://api.example/a", "http://api.example:8080/b", "only within api.example"),
    ("http://api.example:8080/a", "https://api.example/b", "only within api.example"),
    ("http://api.example/a", "ftp://api.example/b", "only within api.example"),
    ("http://api.example/a", "file:///etc/passwd", "only within api.example"),
    ("http://api.example/a", "http://user:pw@api.example/b", "only within api.example"),
    ("http://api.example/a", "http://127.0.0.1:1\\@api.example/b", "only within api.example"),
    ("https://api.example/a", "http://api.example/b", "does not follow a redirect from https"),
])
def test_redirects_are_followed_only_within_the_host_asked(asked: str, target: str,
                                                           refused: str) -> None:
    why = redirect_refusal(asked, target)
    if not refused:
        assert why is None
    else:
        assert why is not None and why.startswith(f"redirect from {asked} to {target} refused")
        assert refused in why


def test_the_crawl_deadline_refuses_new_requests_and_cuts_the_one_under_way(
        recorder: str) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    deadline = CrawlDeadline(1, lambda: now[0])
    with Fetcher(HttpSettings(), retries=0) as fetcher:
        fetcher.get(recorder + "/x", deadline=deadline)
        now[0] += timedelta(minutes=1)
        with pytest.raises(FetchError, match=r"^crawl deadline of 1 min reached: .*/y$"):
            fetcher.get(recorder + "/y", deadline=deadline)
    assert [r["path"] for r in _Recorder.seen] == ["/x"]
    assert (deadline.refused, deadline.first_refused) == (1, recorder + "/y")


def test_a_drip_is_cut_when_the_crawl_deadline_comes_first() -> None:
    with HostileFront() as front:
        front.drip("/slow", interval=0.2)
        deadline = CrawlDeadline(1 / 60, lambda: datetime.now(UTC))  # one second left
        with Fetcher(HttpSettings(response_deadline=600), retries=0) as fetcher, \
                pytest.raises(FetchError, match=r"crawl deadline of 0\.0166667 min reached: "):
            fetcher.get(front.origin + "/slow", deadline=deadline)
