"""The fetcher's lean path (issue 19): kept-alive connections, a watchdog that is not
woken per request, the environment's proxy, and nothing loaded that a crawl does not use."""

from __future__ import annotations

import dataclasses
import gzip
import socket
import subprocess
import sys
import textwrap
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest

from zufiwatch.config import HttpSettings, SourceSettings
from zufiwatch.errors import FetchError
from zufiwatch.fetch import Fetcher, Response, Validators
from zufiwatch.httpwatch import Watchdog
from zufiwatch.senders import Senders, origin_and_target, prepared_url
from zufiwatch.sources.base import CrawlContext


class _KeepAlive(BaseHTTPRequestHandler):
    """Answers HTTP/1.1 with a Content-Length (the connection stays open), noting the
    client's port of every request."""

    protocol_version = "HTTP/1.1"
    ports: ClassVar[list[int]] = []
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).ports.append(self.client_address[1])
        type(self).paths.append(self.path)
        body = b'{"ok": true, "padding": "' + b"x" * (200_000 if "big" in self.path else 10) + b'"}'
        gzipped = "gzip" in self.path
        if gzipped:
            body = gzip.compress(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def keepalive() -> Iterator[str]:
    _KeepAlive.ports, _KeepAlive.paths = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_one_connection_serves_request_after_request(keepalive: str) -> None:
    with Fetcher(HttpSettings(), retries=0) as fetcher:
        bodies = [fetcher.get(f"{keepalive}/detail/{n}").body for n in range(5)]
    assert all(b'"ok": true' in body for body in bodies)
    assert len(_KeepAlive.ports) == 5
    assert len(set(_KeepAlive.ports)) == 1


def test_an_answer_cut_off_by_the_size_cap_leaves_no_half_read_connection(
        keepalive: str) -> None:
    """Cut after its first read of at most 64 KiB: the rest is unread, so the connection
    cannot serve another request."""
    with Fetcher(HttpSettings(max_response_bytes=1000), retries=0) as fetcher:
        with pytest.raises(FetchError, match="larger than 1000 bytes"):
            fetcher.get(f"{keepalive}/big")
        after = fetcher.get(f"{keepalive}/small")
    assert after.body.startswith(b'{"ok": true')
    assert len(set(_KeepAlive.ports)) == 2  # the cut connection was closed, not reused


def test_a_gzipped_answer_is_asked_for_and_decoded(keepalive: str) -> None:
    with Fetcher(HttpSettings(), retries=0) as fetcher:
        answer = fetcher.get(f"{keepalive}/gzip")
    assert answer.body.startswith(b'{"ok": true')


def test_params_are_encoded_as_requests_encoded_them() -> None:
    assert prepared_url("http://h/a", {"page": "0", "q": "Straße & Co"}) \
        == "http://h/a?page=0&q=Stra%C3%9Fe+%26+Co"
    assert prepared_url("http://h/a?x=1", {"y": "2"}) == "http://h/a?x=1&y=2"
    assert prepared_url("http://h/a b/ä") == "http://h/a%20b/%C3%A4"
    assert prepared_url("http://h/already%20encoded") == "http://h/already%20encoded"


@pytest.mark.parametrize("url", [
    "http://H:80/p?q#f", "http://h?q", "http://h", "https://h/", "http://h#frag",
    "http://u:p@h:1/a/b?x=1&y=/z", "http://[::1]:8080/x", "HTTP://Host/Path?A",
    "http://127.0.0.1:4242/suchdienst/api/v6/servicedescriptions/S1.LB.1/detail?ars=1",
    "https://h/a%20b?c=%C3%A4#x?y", "//h/no-scheme", "/relative?x"])
def test_origin_and_target_are_what_urlsplit_gives(url: str) -> None:
    parts = urlsplit(url)
    assert origin_and_target(url) == (
        f"{parts.scheme}://{parts.netloc}".lower(),
        f"{parts.path or '/'}{'?' if parts.query else ''}{parts.query}")


def test_each_url_goes_to_its_origins_pool_with_its_target(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool of the last origin is remembered as its URL spelled it: a URL that merely
    starts alike (another authority, a fragment, no path) is parsed, not guessed."""
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    senders = Senders()
    urls = ["http://h/a", "http://h/b?q", "http://h/e#f", "http://h?x", "http://h",
            "http://H/c", "http://h:80/d", "http://h/g", "http://h@x/g", "http://h/i",
            "http://hx/j", "http://h/k", "http://h:8080/k", "http://h/l", "https://h/m",
            "http://h//n#/o", "http://h/p"]
    try:
        for url in urls:
            origin, target = origin_and_target(url)
            assert senders.sender(url) == (senders._origins[origin], target), url
    finally:
        senders.close()


class _CountingCondition(threading.Condition):
    def __init__(self) -> None:
        super().__init__()
        self.notified = 0

    def notify(self, n: int = 1) -> None:
        self.notified += 1
        super().notify(n)


def test_the_watchdog_is_woken_only_by_a_watch_that_ends_first() -> None:
    dog = Watchdog()
    dog._cond = _CountingCondition()  # type: ignore[assignment]
    try:
        with dog.watch(120):  # a request under way: the thread sleeps until its end
            for _ in range(50):
                with dog.watch(120):  # later ones end later: no need to wake it
                    pass
            assert dog._cond.notified == 1  # type: ignore[attr-defined]  # its start only
            with dog.watch(5):  # this one ends first: it must wake up for it
                pass
            assert dog._cond.notified == 2  # type: ignore[attr-defined]
    finally:
        dog.close()


def test_a_short_watch_after_long_ones_still_cuts_its_socket_in_time() -> None:
    dog = Watchdog()
    ours, theirs = socket.socketpair()
    ours.settimeout(30)  # a failure, not a hang, if the watchdog slept through
    try:
        with dog.watch(600), dog.watch(600), dog.watch(0.2) as watch:
            watch.attach(ours)
            received = ours.recv(1)  # nothing is sent: only the shutdown ends this
        assert received == b"" and watch.expired
    finally:
        dog.close()
        ours.close()
        theirs.close()


def test_a_watch_begun_while_the_watchdog_sleeps_with_nothing_to_watch_is_cut() -> None:
    """The thread cut the last watch and sleeps without a deadline: the next watch, handed
    over without its lock, wakes it."""
    dog = Watchdog()
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        for (ours, _), seconds in zip(pairs, (0.05, 0.1, 0.1), strict=True):
            ours.settimeout(30)  # a failure, not a hang, if the watchdog slept through
            with dog.watch(seconds) as watch:
                watch.attach(ours)
                received = ours.recv(1)  # nothing is sent: only the shutdown ends this
            assert received == b"" and watch.expired
    finally:
        dog.close()
        for pair in pairs:
            for sock in pair:
                sock.close()


def test_a_watchdog_used_again_right_after_it_was_closed_still_cuts_in_time() -> None:
    """Its old thread may not have ended yet: a new one watches the new watch, and the
    old one ends."""
    dog = Watchdog()
    ours, theirs = socket.socketpair()
    ours.settimeout(30)  # a failure, not a hang, if nothing watched
    try:
        with dog.watch(600):
            old = dog._thread
        dog.close()
        with dog.watch(0.2) as watch:
            watch.attach(ours)
            received = ours.recv(1)  # nothing is sent: only the shutdown ends this
        assert received == b"" and watch.expired
        assert old is not None and old is not dog._thread
        old.join(timeout=30)
        assert not old.is_alive()
    finally:
        dog.close()
        ours.close()
        theirs.close()


class _LowerCase(BaseHTTPRequestHandler):
    """Answers whose field names are in lower case: a 503 asking to wait, a redirect, and
    the final answer (each path once)."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        body = b"plain"
        if self.path == "/busy" and type(self).seen.count("/busy") == 1:
            self.send_response(503)
            self.send_header("retry-after", "7")
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("location", "/busy")
        else:
            self.send_response(200)
            self.send_header("content-type", "text/plain; charset=utf-8")
            self.send_header("etag", '"v1"')
            self.send_header("last-modified", "Sun, 06 Dec 2026 08:00:00 GMT")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_an_answers_fields_are_found_whatever_the_case_of_their_names() -> None:
    """Location, Retry-After and Content-Type are read from the answer's fields (not
    parsed again): a server's own spelling of their names changes nothing."""
    _LowerCase.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LowerCase)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sleeps: list[float] = []
    try:
        with Fetcher(HttpSettings(), retries=1, sleep=sleeps.append) as fetcher:
            answer = fetcher.get(f"http://127.0.0.1:{server.server_address[1]}/moved")
    finally:
        server.shutdown()
        server.server_close()
    assert _LowerCase.seen == ["/moved", "/busy", "/moved", "/busy"]
    assert sleeps == [7.0]
    assert (answer.status, answer.content_type, answer.body, answer.attempts) \
        == (200, "text/plain; charset=utf-8", b"plain", 2)
    assert answer.headers["etag"] == '"v1"'
    # The next request is conditional: validators are found in any case too.
    assert (answer.validators.etag, answer.validators.last_modified) \
        == ('"v1"', "Sun, 06 Dec 2026 08:00:00 GMT")


class _Noted:
    """A manifest that keeps what it is told."""

    def __init__(self) -> None:
        self.entries: list[dict[str, object]] = []

    def add(self, **entry: object) -> None:
        self.entries.append(entry)


def test_a_crawl_remembers_validators_whatever_the_case_of_their_names() -> None:
    _LowerCase.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LowerCase)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/final"
    try:
        with Fetcher(HttpSettings(), retries=0) as fetcher:
            manifest: Any = _Noted()
            ctx = CrawlContext(settings=SourceSettings(name="s", kind="pvog",
                                                       base_url="http://127.0.0.1"),
                               fetcher=fetcher, archive_put=lambda body, **_: "sha",
                               manifest=manifest, now=lambda: datetime.now(UTC),
                               parser_version="p")
            ctx.fetch(url, endpoint="final")
    finally:
        server.shutdown()
        server.server_close()
    assert ctx.fresh[url].validators == Validators('"v1"', "Sun, 06 Dec 2026 08:00:00 GMT")


def test_a_response_made_at_once_equals_one_made_field_by_field() -> None:
    fields = {"ETag": '"x"'}
    made = Response.made("http://h/a", 200, "application/json", b"{}", fields)
    assert made == Response("http://h/a", 200, "application/json", b"{}", fields)
    assert vars(made).keys() == {f.name for f in dataclasses.fields(Response)}
    assert made.validators.etag == '"x"'
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.status = 304  # type: ignore[misc]


class _Proxy(BaseHTTPRequestHandler):
    """A forwarding HTTP proxy: takes the absolute URL of the request line and fetches it."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                self.path, timeout=10) as upstream:
            body = upstream.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_proxy_the_environment_names_carries_the_requests(
        keepalive: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _Proxy.seen = []
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    try:
        with Fetcher(HttpSettings(), retries=0) as fetcher:
            answer = fetcher.get(f"{keepalive}/through", params={"page": "1"})
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert answer.body.startswith(b'{"ok": true')
    assert _Proxy.seen == [f"{keepalive}/through?page=1"]
    assert _KeepAlive.paths == ["/through?page=1"]


def test_a_socks_proxy_is_refused_with_a_reason(keepalive: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "socks5://user:secret@127.0.0.1:1080")
    with Fetcher(HttpSettings(), retries=0) as fetcher, \
            pytest.raises(FetchError, match="not an http\\(s\\) proxy") as info:
        fetcher.get(f"{keepalive}/x")
    assert "secret" not in str(info.value)
    assert _KeepAlive.paths == []


def test_a_pvog_crawl_loads_neither_other_adapters_nor_requests(keepalive: str) -> None:
    """The modules a PVOG crawl does not use stay unloaded (start-up is a share of a
    daily run's cost): without a proxy, neither requests nor urllib3."""
    script = textwrap.dedent(f"""
        import os, sys
        for name in list(os.environ):
            if name.lower().endswith("_proxy"):
                del os.environ[name]
        from zufiwatch.config import HttpSettings, SourceSettings
        from zufiwatch.fetch import Fetcher, Response, Validators
        from zufiwatch.runner import run_crawl  # noqa: F401
        from zufiwatch.sources import make_source
        source = make_source(SourceSettings(name="p", kind="pvog", base_url="{keepalive}",
                                            ars="160530000000"))
        with Fetcher(HttpSettings(), retries=0) as fetcher:
            fetcher.get("{keepalive}/x")
        print(type(source).__name__)
        print(sorted(m for m in ("requests", "urllib3", "urllib.robotparser", "soupsieve",
                                 "zufiwatch.sources.links", "zufiwatch.sources.tsa")
                     if m in sys.modules))
        """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.splitlines() == ["PvogSource", "[]"]


@pytest.fixture
def tls_server(tmp_path) -> Iterator[tuple[str, str]]:
    """An HTTPS server on 127.0.0.1 with a certificate of a CA of its own, and the PEM
    file of that CA."""
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    _KeepAlive.ports, _KeepAlive.paths = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    yield f"https://127.0.0.1:{server.server_address[1]}", str(bundle)
    server.shutdown()
    server.server_close()


def test_https_is_checked_against_the_bundle_the_environment_names(
        tls_server: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    origin, bundle = tls_server
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with Fetcher(HttpSettings(), retries=0) as fetcher, \
            pytest.raises(FetchError, match="cannot connect"):
        fetcher.get(f"{origin}/untrusted")  # certifi's bundle does not know this CA
    assert _KeepAlive.paths == []
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    with Fetcher(HttpSettings(), retries=0) as fetcher:
        answers = [fetcher.get(f"{origin}/trusted/{n}") for n in range(3)]
    assert all(a.body.startswith(b'{"ok": true') for a in answers)
    assert len(set(_KeepAlive.ports)) == 1
