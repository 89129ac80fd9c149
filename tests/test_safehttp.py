"""The link checker's HTTP client: SSRF gate, redirects, limits, pacing, TLS.

Every server here listens on 127.0.0.1 (or ::1) on a port the OS chooses. Connections are
recorded by a stand-in for urllib3's ``create_connection`` that refuses to leave the
loopback interface, so a client that tried a forbidden address fails the test instead of
reaching it.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
import urllib3.util.connection

from zufiwatch.errors import ZufiwatchError
from zufiwatch.safehttp import (
    Hop,
    LinkError,
    LinkFailed,
    LinkRefused,
    SafeClient,
    SafetyPolicy,
    address_problem,
)

App = Callable[["_Handler"], None]


# --------------------------------------------------------------------------- helpers


def send(handler: BaseHTTPRequestHandler, status: int = 200, body: bytes = b"hello",
         headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/html"),)) -> None:
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def hello(handler: BaseHTTPRequestHandler) -> None:
    send(handler)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def setup(self) -> None:
        self.request.settimeout(10)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def do_GET(self) -> None:
        owner = self.server.owner
        with owner.lock:
            owner.requests.append({"path": self.path,
                                   **{k.lower(): v for k, v in self.headers.items()}})
        owner.app(self)

    def log_message(self, *args: object) -> None:
        pass


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = 64

    def __init__(self, owner: Server, family: socket.AddressFamily,
                 tls: ssl.SSLContext | None) -> None:
        self.owner = owner
        self.tls = tls
        self.address_family = family
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        super().__init__((host, 0), _Handler)

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = super().get_request()
        with self.owner.lock:
            self.owner.accepted += 1
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up early, TLS handshakes the client rejects


class Server:
    """A threaded HTTP(S) server that counts accepted connections and records requests."""

    def __init__(self, app: App = hello, *, family: socket.AddressFamily = socket.AF_INET,
                 tls: ssl.SSLContext | None = None) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.accepted = 0
        self.requests: list[dict[str, str]] = []
        self._server = _HTTPServer(self, family, tls)
        self.host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return f"http://{self.endpoint}{path}"

    @property
    def paths(self) -> list[str]:
        return [request["path"] for request in self.requests]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(app: App = hello, **options: object) -> Server:
        server = Server(app, **options)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every connection urllib3 opens, as (host, port); only loopback ones are made."""
    calls: list[tuple[str, int]] = []
    real = urllib3.util.connection.create_connection

    def record(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        host, port = address
        calls.append((host, port))
        if host != "::1" and not host.startswith("127."):
            pytest.fail(f"the client tried to connect to {host}:{port}")
        return real(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib3.util.connection, "create_connection", record)
    return calls


class Resolver:
    """An injected resolver: fixed answers, and a record of what it was asked."""

    def __init__(self, answers: dict[str, list[str]] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.answers[host]


class TickingClock:
    """Advances by ``step`` on every call."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def policy(**options: object) -> SafetyPolicy:
    """A policy for tests: no pacing, short timeouts."""
    defaults: dict[str, object] = {"min_interval": 0, "connect_timeout": 5, "read_timeout": 5,
                                   "total_timeout": 20}
    return SafetyPolicy(**{**defaults, **options})  # type: ignore[arg-type]


def client(allow: tuple[Server, ...] = (), **options: object) -> SafeClient:
    resolver = options.pop("resolver", Resolver())
    clock = options.pop("clock", None)
    wait = options.pop("wait", None)
    extra = {name: value for name, value in (("clock", clock), ("wait", wait)) if value}
    allow_local = tuple(server.endpoint for server in allow)
    allow_local += tuple(options.pop("allow_local", ()))  # type: ignore[arg-type]
    return SafeClient(policy(allow_local=allow_local, **options),
                      resolver=resolver, **extra)  # type: ignore[arg-type]


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------- addresses

REFUSED = ["127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.0.1", "192.168.1.1",
           "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255",
           "240.0.0.1", "192.0.2.1", "198.18.0.1", "::1", "::", "fe80::1", "fc00::1",
           "fd12::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
           "::ffff:169.254.169.254", "2002:7f00:1::1", "64:ff9b::a00:1",
           # beyond the brief: more embeddings and special ranges
           "::ffff:0:7f00:1", "::a00:1", "2002:a9fe:a9fe::1", "2001:db8::1", "100::1",
           "64:ff9b:1::a00:1", "fec0::1", "fe80::1%1", "198.51.100.7", "203.0.113.9",
           "2001:0:4136:e378:8000:63bf:3fff:fdd2", "not an address", ""]
ALLOWED = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001:82a::200e",
           "64:ff9b::808:808", "::ffff:8.8.8.8", "2002:808:808::1",
           "2001:0:4136:e378:8000:63bf:f7f7:f7f7"]


@pytest.mark.parametrize("address", REFUSED)
def test_address_problem_refuses_non_public_addresses(address: str) -> None:
    assert address_problem(address) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_address_problem_allows_public_unicast_addresses(address: str) -> None:
    assert address_problem(address) is None


@pytest.mark.parametrize(("address", "reason"), [
    ("127.8.9.10", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("2002:7f00:1::1", "loopback"), ("10.0.0.1", "private"), ("172.31.255.255", "private"),
    ("192.168.1.1", "private"), ("fd12::1", "private"), ("64:ff9b::a00:1", "private"),
    ("169.254.169.254", "link-local"), ("::ffff:169.254.169.254", "link-local"),
    ("fe80::1", "link-local"), ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("255.255.255.255", "reserved"),
    ("240.0.0.1", "reserved"), ("100.64.0.1", "shared"), ("192.0.2.1", "documentation"),
    ("2001:db8::1", "documentation"),
    # Teredo: the client address 192.0.2.45 is hidden (inverted) in the last 32 bits
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "documentation"),
])
def test_address_problem_names_the_reason(address: str, reason: str) -> None:
    assert address_problem(address) == reason


# --------------------------------------------------------------------------- refusals


def test_loopback_literal_is_refused_without_a_connection(serve, connections) -> None:
    server = serve()
    with client() as safe, pytest.raises(LinkRefused) as refused:
        safe.get(server.url("/"))
    assert refused.value.category == "address"
    assert "127.0.0.1" in str(refused.value) and "loopback" in str(refused.value)
    assert refused.value.url == server.url("/")
    assert refused.value.hops == ()
    assert server.accepted == 0
    assert connections == []


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6_loopback_literal_is_refused_without_a_connection(serve, connections) -> None:
    server = serve(family=socket.AF_INET6)
    with client() as safe, pytest.raises(LinkRefused) as refused:
        safe.get(server.url("/"))
    assert refused.value.category == "address"
    assert "::1" in str(refused.value)
    assert server.accepted == 0
    assert connections == []


def test_localhost_is_refused_with_the_system_resolver(serve, connections) -> None:
    server = serve()
    with SafeClient(policy()) as safe, pytest.raises(LinkRefused) as refused:
        safe.get(f"http://localhost:{server.port}/")
    assert refused.value.category == "address"
    assert "localhost" in str(refused.value) and "loopback" in str(refused.value)
    assert server.accepted == 0
    assert connections == []


@pytest.mark.parametrize("addresses", [
    ["10.0.0.1"], ["169.254.169.254"], ["::1"], ["93.184.216.34", "10.0.0.1"],
    ["10.0.0.1", "93.184.216.34"], ["::ffff:169.254.169.254"],
])
def test_names_resolving_to_forbidden_addresses_are_refused(addresses, connections) -> None:
    resolver = Resolver({"intranet.test": addresses})
    with client(resolver=resolver) as safe, pytest.raises(LinkRefused) as refused:
        safe.get("http://intranet.test/status")
    assert refused.value.category == "address"
    assert "intranet.test" in str(refused.value)
    assert resolver.calls == [("intranet.test", 80)]
    assert connections == []


def test_a_refusal_is_a_link_error_and_a_zufiwatch_error() -> None:
    with client() as safe, pytest.raises(ZufiwatchError) as caught:
        safe.get("http://10.0.0.1/")
    assert isinstance(caught.value, LinkError)
    assert "10.0.0.1:80" in str(caught.value) and "private" in str(caught.value)


# --------------------------------------------------------------------------- allow_local


def test_allowed_local_endpoint_is_fetched(serve, connections) -> None:
    server = serve()
    with client(allow=(server,)) as safe:
        answer = safe.get(server.url("/page"))
    assert answer.status == 200
    assert answer.body == b"hello"
    assert answer.truncated is False
    assert answer.content_type == "text/html"
    assert answer.url == answer.final_url == server.url("/page")
    assert answer.hops == (Hop(server.url("/page"), 200, server.endpoint),)
    assert server.accepted == 1
    assert connections == [("127.0.0.1", server.port)]


def test_error_statuses_are_answers(serve) -> None:
    server = serve(lambda h: send(h, 404, b"gone"))
    with client(allow=(server,)) as safe:
        answer = safe.get(server.url("/missing"))
    assert (answer.status, answer.body) == (404, b"gone")


def test_redirect_to_another_local_endpoint_is_refused(serve, connections) -> None:
    second = serve()
    first = serve(lambda h: send(h, 302, b"", (("Location", second.url("/")),)))
    with client(allow=(first,)) as safe, pytest.raises(LinkRefused) as refused:
        safe.get(first.url("/"))
    assert refused.value.category == "address"
    assert refused.value.url == second.url("/")
    assert refused.value.hops == (Hop(first.url("/"), 302, first.endpoint, second.url("/")),)
    assert second.accepted == 0
    assert connections == [("127.0.0.1", first.port)]


@pytest.mark.parametrize("target", [
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]:{port}/",
    "http://metadata.test/", "HTTP://0.0.0.0:{port}/",
])
def test_redirects_to_forbidden_addresses_are_refused(serve, connections, target) -> None:
    resolver = Resolver({"metadata.test": ["169.254.169.254"]})
    holder: dict[str, str] = {}
    server = serve(lambda h: send(h, 301, b"", (("Location", holder["target"]),)))
    holder["target"] = target.format(port=server.port)
    with client(allow=(server,), resolver=resolver) as safe, \
            pytest.raises(LinkRefused) as refused:
        safe.get(server.url("/start"))
    assert refused.value.category == "address"
    assert len(refused.value.hops) == 1
    assert refused.value.hops[0].status == 301
    assert refused.value.hops[0].location == refused.value.url
    assert connections == [("127.0.0.1", server.port)]
    assert server.accepted == 1


# --------------------------------------------------------------------------- schemes


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://example.org/", "javascript:alert(1)", "data:text/html,x",
    "//example.org", "example.org/path", "gopher://example.org:70/", "mailto:a@example.org",
    "http:///path", "http://user:pw@/", "http://exa mple.org/", "http://[zz::1]/",
    "http://example.org:99999/", "http://example.org:0/",
])
def test_other_schemes_and_hostless_urls_are_refused_without_io(url, connections) -> None:
    resolver = Resolver()
    with client(resolver=resolver) as safe, pytest.raises(LinkRefused) as refused:
        safe.get(url)
    assert refused.value.category == "scheme"
    assert "\n" not in str(refused.value)
    assert resolver.calls == []
    assert connections == []


def test_the_host_is_the_one_a_browser_opens(serve, connections) -> None:
    """Issue 18: ``urlsplit`` reads the lookalike's host as the allowed server's name; a
    browser (and the client) open 127.0.0.1 port 1, which is refused."""
    server = serve()
    resolver = Resolver({"portal.test": ["127.0.0.1"]})
    with client(allow=(server,), resolver=resolver,
                connect_to=((f"portal.test:{server.port}", server.endpoint),)) as safe, \
            pytest.raises(LinkRefused) as refused:
        safe.get(f"http://127.0.0.1:1\\@portal.test:{server.port}/")
    assert refused.value.category == "address"
    assert refused.value.url == f"http://127.0.0.1:1/@portal.test:{server.port}/"
    assert resolver.calls == [] and connections == [] and server.accepted == 0


def test_a_backslash_location_leads_to_another_host(serve, connections) -> None:
    server = serve(lambda h: send(h, 302, b"", (("Location", "/\\metadata.test/x"),)))
    resolver = Resolver({"metadata.test": ["169.254.169.254"]})
    with client(allow=(server,), resolver=resolver) as safe, \
            pytest.raises(LinkRefused) as refused:
        safe.get(server.url("/"))
    assert refused.value.category == "address"
    assert refused.value.url == "http://metadata.test/x"
    assert resolver.calls == [("metadata.test", 80)]
    assert connections == [("127.0.0.1", server.port)]


def test_redirect_to_another_scheme_is_refused(serve) -> None:
    server = serve(lambda h: send(h, 302, b"", (("Location", "file:///etc/passwd"),)))
    with client(allow=(server,)) as safe, pytest.raises(LinkRefused) as refused:
        safe.get(server.url("/"))
    assert refused.value.category == "scheme"
    assert refused.value.hops == (Hop(server.url("/"), 302, server.endpoint,
                                      "file:///etc/passwd"),)


# --------------------------------------------------------------------------- redirects


def redirecting(routes: dict[str, tuple[int, str]]) -> App:
    """Paths in ``routes`` answer (status, Location); the others answer 200 "hello"."""
    def app(handler: BaseHTTPRequestHandler) -> None:
        if handler.path in routes:
            status, location = routes[handler.path]
            send(handler, status, b"moved", (("Location", location),) if location else ())
        else:
            send(handler)
    return app


def test_relative_location_is_resolved_against_the_current_url(serve) -> None:
    server = serve(redirecting({"/dir/a": (302, "b?x=1")}))
    with client(allow=(server,)) as safe:
        answer = safe.get(server.url("/dir/a"))
    assert answer.status == 200
    assert answer.final_url == server.url("/dir/b?x=1")
    assert [hop.status for hop in answer.hops] == [302, 200]
    assert answer.hops[0].location == server.url("/dir/b?x=1")
    assert answer.hops[1] == Hop(server.url("/dir/b?x=1"), 200, server.endpoint)
    assert server.paths == ["/dir/a", "/dir/b?x=1"]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_statuses_are_followed(serve, status) -> None:
    server = serve(redirecting({"/old": (status, "/new")}))
    with client(allow=(server,)) as safe:
        answer = safe.get(server.url("/old"))
    assert (answer.status, answer.final_url) == (200, server.url("/new"))
    assert server.paths == ["/old", "/new"]


def test_more_redirects_than_allowed_fail(serve) -> None:
    routes = {f"/chain/{n}": (302, f"/chain/{n + 1}") for n in range(10)}
    server = serve(redirecting(routes))
    with client(allow=(server,), max_redirects=3) as safe, pytest.raises(LinkFailed) as failed:
        safe.get(server.url("/chain/0"))
    assert failed.value.category == "redirects"
    assert len(failed.value.hops) == 4
    assert server.paths == ["/chain/0", "/chain/1", "/chain/2", "/chain/3"]


def test_exactly_max_redirects_are_followed(serve) -> None:
    routes = {f"/chain/{n}": (302, f"/chain/{n + 1}") for n in range(3)}
    server = serve(redirecting(routes))
    with client(allow=(server,), max_redirects=3) as safe:
        answer = safe.get(server.url("/chain/0"))
    assert answer.status == 200
    assert len(answer.hops) == 4
    assert answer.final_url == server.url("/chain/3")


def test_redirect_loop_fails(serve) -> None:
    server = serve(redirecting({"/a": (302, "/b"), "/b": (302, "/a")}))
    with client(allow=(server,), max_redirects=20) as safe, \
            pytest.raises(LinkFailed) as failed:
        safe.get(server.url("/a"))
    assert failed.value.category == "redirects"
    assert "loop" in str(failed.value)
    assert len(failed.value.hops) == 2
    assert server.paths == ["/a", "/b"]


def test_redirect_without_location_is_the_final_answer(serve) -> None:
    server = serve(redirecting({"/nowhere": (302, "")}))
    with client(allow=(server,)) as safe:
        answer = safe.get(server.url("/nowhere"))
    assert (answer.status, answer.body) == (302, b"moved")
    assert answer.hops == (Hop(server.url("/nowhere"), 302, server.endpoint),)


def test_fragments_are_dropped(serve) -> None:
    server = serve(redirecting({"/f": (302, "/target#section")}))
    with client(allow=(server,)) as safe:
        answer = safe.get(server.url("/f#top"))
    assert answer.url == server.url("/f")
    assert answer.hops[0].location == server.url("/target")
    assert answer.final_url == server.url("/target")
    assert server.paths == ["/f", "/target"]


def test_idna_host_names_are_encoded_and_lowercased(serve) -> None:
    server = serve()
    resolver = Resolver({"xn--bcher-kva.test": ["127.0.0.1"]})
    with client(allow=(server,), resolver=resolver) as safe:
        answer = safe.get(f"http://BÜCHER.test:{server.port}/")
    assert resolver.calls == [("xn--bcher-kva.test", server.port)]
    assert server.requests[0]["host"] == f"xn--bcher-kva.test:{server.port}"
    assert answer.final_url == f"http://xn--bcher-kva.test:{server.port}/"


# --------------------------------------------------------------------------- body


def big_body(handler: BaseHTTPRequestHandler) -> None:
    size = 3_000_000 if handler.path == "/big" else 100_000
    send(handler, 200, b"x" * size, (("Content-Type", "application/octet-stream"),))


def test_body_is_cut_at_max_bytes(serve) -> None:
    server = serve(big_body)
    with client(allow=(server,), max_bytes=100_000) as safe:
        answer = safe.get(server.url("/big"))
    assert len(answer.body) == 100_000
    assert answer.truncated is True


def test_body_of_exactly_max_bytes_is_not_truncated(serve) -> None:
    server = serve(big_body)
    with client(allow=(server,), max_bytes=100_000) as safe:
        answer = safe.get(server.url("/exact"))
    assert len(answer.body) == 100_000
    assert answer.truncated is False


def test_gzip_sent_anyway_is_decoded_and_still_capped(serve) -> None:
    packed = gzip.compress(b"a" * 3_000_000)
    server = serve(lambda h: send(h, 200, packed, (("Content-Encoding", "gzip"),)))
    with client(allow=(server,), max_bytes=100_000) as safe:
        answer = safe.get(server.url("/"))
    assert answer.body == b"a" * 100_000
    assert answer.truncated is True
    assert server.requests[0]["accept-encoding"] == "identity"


# --------------------------------------------------------------------------- time


def test_total_time_is_checked_between_hops(serve) -> None:
    routes = {f"/chain/{n}": (302, f"/chain/{n + 1}") for n in range(100)}
    server = serve(redirecting(routes))
    clock = TickingClock(step=1.0)
    with client(allow=(server,), max_redirects=50, total_timeout=10, clock=clock) as safe, \
            pytest.raises(LinkFailed) as failed:
        safe.get(server.url("/chain/0"))
    assert failed.value.category == "time"
    assert 1 <= len(failed.value.hops) < 10
    assert len(server.paths) == len(failed.value.hops)


def test_total_time_is_checked_between_body_chunks(serve) -> None:
    clock = ManualClock()

    def slow(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(2 * 200_000))
        handler.end_headers()
        handler.wfile.write(b"a" * 200_000)
        clock.now += 100  # the rest arrives "later"
        handler.wfile.write(b"b" * 200_000)

    server = serve(slow)
    with client(allow=(server,), total_timeout=30, clock=clock) as safe, \
            pytest.raises(LinkFailed) as failed:
        safe.get(server.url("/"))
    assert failed.value.category == "time"
    assert failed.value.hops == (Hop(server.url("/"), 200, server.endpoint),)


def test_silent_server_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)  # the kernel accepts; nobody ever answers
        endpoint = f"127.0.0.1:{listener.getsockname()[1]}"
        with client(allow_local=(endpoint,), read_timeout=0.3) as safe, \
                pytest.raises(LinkFailed) as failed:
            safe.get(f"http://{endpoint}/")
    assert failed.value.category == "timeout"
    assert endpoint in str(failed.value)


# --------------------------------------------------------------------------- failures


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refused_connection_fails_with_connect() -> None:
    port = closed_port()
    with client(allow_local=(f"127.0.0.1:{port}",)) as safe, \
            pytest.raises(LinkFailed) as failed:
        safe.get(f"http://127.0.0.1:{port}/")
    assert failed.value.category == "connect"
    assert f"http://127.0.0.1:{port}/" in str(failed.value)


def test_the_next_vetted_address_is_tried_when_one_fails(serve, connections) -> None:
    server = serve()
    resolver = Resolver({"twice.test": ["127.0.0.2", "127.0.0.1"]})
    with client(allow=(server,), allow_local=(f"127.0.0.2:{server.port}",),
                resolver=resolver) as safe:
        answer = safe.get(f"http://twice.test:{server.port}/")
    assert answer.status == 200
    assert answer.hops[0].address == server.endpoint
    assert connections == [("127.0.0.2", server.port), ("127.0.0.1", server.port)]


@pytest.mark.parametrize("answers", [{}, {"void.test": []}])
def test_unresolvable_names_fail_with_dns(answers) -> None:
    with client(resolver=Resolver(answers)) as safe, pytest.raises(LinkFailed) as failed:
        safe.get("http://void.test/")
    assert failed.value.category == "dns"
    assert "http://void.test/" in str(failed.value)


def test_malformed_http_fails_with_protocol(serve) -> None:
    server = serve(lambda h: h.wfile.write(b"SURPRISE\r\n\r\n"))
    with client(allow=(server,)) as safe, pytest.raises(LinkFailed) as failed:
        safe.get(server.url("/"))
    assert failed.value.category == "protocol"


# --------------------------------------------------------------------------- privacy


def test_exactly_the_documented_headers_are_sent(serve) -> None:
    server = serve()
    with client(allow=(server,)) as safe:
        safe.get(server.url("/"))
    seen = server.requests[0]
    assert seen == {
        "path": "/",
        "host": server.endpoint,
        "user-agent": "zufiwatch link checker",
        "accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
        "accept-language": "de-DE,de;q=0.9",
        "accept-encoding": "identity",
    }


def test_userinfo_is_never_sent_nor_shown(serve) -> None:
    server = serve()
    with client(allow=(server,)) as safe:
        answer = safe.get(f"http://user:secret@{server.endpoint}/")
    assert answer.status == 200
    assert answer.url == server.url("/")
    assert "authorization" not in server.requests[0]
    assert "secret" not in repr(answer)


def test_userinfo_in_redirects_is_dropped(serve) -> None:
    routes: dict[str, tuple[int, str]] = {}
    server = serve(redirecting(routes))
    routes["/a"] = (302, f"http://other:secret2@{server.endpoint}/b")
    with client(allow=(server,)) as safe:
        answer = safe.get(f"http://user:secret@{server.endpoint}/a")
    assert answer.final_url == server.url("/b")
    assert server.paths == ["/a", "/b"]
    assert all("authorization" not in request for request in server.requests)
    assert "secret" not in repr(answer)


def test_userinfo_is_not_in_error_messages() -> None:
    port = closed_port()
    with client(allow_local=(f"127.0.0.1:{port}",)) as safe:
        for url, error in [(f"http://user:secret@127.0.0.1:{port}/", LinkFailed),
                           ("http://user:secret@10.0.0.1/", LinkRefused),
                           ("ftp://user:secret@example.org/", LinkRefused)]:
            with pytest.raises(error) as caught:
                safe.get(url)
            assert "secret" not in str(caught.value) and "secret" not in caught.value.url
            assert "user" not in caught.value.url


def test_cookies_are_never_sent_back(serve) -> None:
    def app(handler: BaseHTTPRequestHandler) -> None:
        if handler.path == "/login":
            send(handler, 302, b"", (("Set-Cookie", "session=abc; Path=/"),
                                     ("Location", "/next")))
        else:
            send(handler)

    server = serve(app)
    with client(allow=(server,)) as safe:
        answer = safe.get(server.url("/login"))
        safe.get(server.url("/again"))
    assert answer.final_url == server.url("/next")
    assert server.paths == ["/login", "/next", "/again"]
    for request in server.requests:
        assert "cookie" not in request and "referer" not in request


# --------------------------------------------------------------------------- TLS

TLS_NAME = "thavelp.thueringen.de"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def tls_server(serve, ca: trustme.CA, name: str) -> tuple[Server, list[str]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    names: list[str] = []
    context.sni_callback = lambda sslobj, server_name, ctx: names.append(server_name)
    return serve(tls=context), names


def tls_client(server: Server, ca_file: str = "") -> SafeClient:
    def no_dns(host: str, port: int) -> list[str]:
        pytest.fail(f"{host} was resolved although connect_to maps it")

    return client(allow=(server,), ca_file=ca_file, resolver=no_dns,
                  connect_to=((f"{TLS_NAME}:443", server.endpoint),))


def test_https_via_connect_to_keeps_host_and_sni(serve, ca, ca_file, connections) -> None:
    server, names = tls_server(serve, ca, TLS_NAME)
    with tls_client(server, ca_file) as safe:
        answer = safe.get(f"https://{TLS_NAME}/x")
    assert answer.status == 200
    assert answer.hops == (Hop(f"https://{TLS_NAME}/x", 200, server.endpoint),)
    assert server.requests[0]["host"] == TLS_NAME
    assert names == [TLS_NAME]
    assert connections == [("127.0.0.1", server.port)]


def test_certificate_for_another_name_fails_with_tls(serve, ca, ca_file) -> None:
    server, _ = tls_server(serve, ca, "other.example")
    with tls_client(server, ca_file) as safe, pytest.raises(LinkFailed) as failed:
        safe.get(f"https://{TLS_NAME}/x")
    assert failed.value.category == "tls"
    assert server.requests == []


def test_unknown_ca_fails_with_tls_under_certifi(serve, ca) -> None:
    server, _ = tls_server(serve, ca, TLS_NAME)
    with tls_client(server) as safe, pytest.raises(LinkFailed) as failed:
        safe.get(f"https://{TLS_NAME}/x")
    assert failed.value.category == "tls"
    assert server.requests == []


# --------------------------------------------------------------------------- connect_to


def test_wildcard_connect_to_maps_any_host_on_the_port(serve, connections) -> None:
    server = serve()
    resolver = Resolver({"anything.example": ["10.0.0.1"]})
    with client(allow=(server,), resolver=resolver,
                connect_to=(("*:80", server.endpoint),)) as safe:
        answer = safe.get("http://anything.example/page")
        assert answer.hops == (Hop("http://anything.example/page", 200, server.endpoint),)
        assert resolver.calls == []
        with pytest.raises(LinkRefused) as refused:  # port 8080 is not mapped
            safe.get("http://anything.example:8080/")
    assert refused.value.category == "address"
    assert resolver.calls == [("anything.example", 8080)]
    assert server.requests[0]["host"] == "anything.example"
    assert connections == [("127.0.0.1", server.port)]


@pytest.mark.parametrize("url", ["http://10.0.0.1/", "http://169.254.169.254/latest/",
                                 "http://[::1]/", "http://127.0.0.1/"])
def test_wildcard_connect_to_does_not_map_ip_literals(serve, connections, url) -> None:
    server = serve()
    with client(allow=(server,), connect_to=(("*:80", server.endpoint),)) as safe, \
            pytest.raises(LinkRefused) as refused:
        safe.get(url)
    assert refused.value.category == "address"
    assert server.accepted == 0
    assert connections == []


def test_connect_to_can_name_an_ip_literal(serve) -> None:
    server = serve()
    with client(allow=(server,), connect_to=(("[2001:db8::1]:80", server.endpoint),)) as safe:
        answer = safe.get("http://[2001:db8::1]/")
    assert answer.hops == (Hop("http://[2001:db8::1]/", 200, server.endpoint),)
    assert server.requests[0]["host"] == "[2001:db8::1]"


def test_connect_to_a_forbidden_endpoint_is_refused(serve, connections) -> None:
    server = serve()
    with client(connect_to=(("portal.test:80", server.endpoint),)) as safe, \
            pytest.raises(LinkRefused) as refused:
        safe.get("http://portal.test/")
    assert refused.value.category == "address"
    assert "portal.test" in str(refused.value) and server.endpoint in str(refused.value)
    assert server.accepted == 0
    assert connections == []


@pytest.mark.parametrize("options", [
    {"allow_local": ("localhost:80",)}, {"allow_local": ("127.0.0.1",)},
    {"connect_to": (("a.test", "127.0.0.1:80"),)}, {"connect_to": (("a.test:80", "x"),)},
    {"max_bytes": -1}, {"total_timeout": 0},
])
def test_malformed_policies_are_rejected(options) -> None:
    with pytest.raises(ValueError):
        SafetyPolicy(**options)


# --------------------------------------------------------------------------- pacing


def paced_client(server: Server, waits: list[float], clock: ManualClock) -> SafeClient:
    resolver = Resolver({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]})
    lock = threading.Lock()

    def wait(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    return client(allow=(server,), resolver=resolver, min_interval=5, clock=clock, wait=wait)


def test_pacing_waits_between_requests_to_the_same_host(serve) -> None:
    server = serve()
    waits: list[float] = []
    clock = ManualClock()
    with paced_client(server, waits, clock) as safe:
        safe.get(f"http://a.test:{server.port}/1")
        assert waits == []
        safe.get(f"http://a.test:{server.port}/2")
        assert waits == [pytest.approx(5)]
        clock.now += 20
        safe.get(f"http://a.test:{server.port}/3")
        clock.now += 2
        safe.get(f"http://a.test:{server.port}/4")
    assert waits == [pytest.approx(5), pytest.approx(3)]


def test_pacing_does_not_hold_other_hosts(serve) -> None:
    server = serve()
    waits: list[float] = []
    with paced_client(server, waits, ManualClock()) as safe:
        safe.get(f"http://a.test:{server.port}/")
        safe.get(f"http://b.test:{server.port}/")
    assert waits == []


def test_pacing_is_shared_across_threads(serve) -> None:
    server = serve()
    waits: list[float] = []
    with paced_client(server, waits, ManualClock()) as safe, ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: safe.get(f"http://a.test:{server.port}/{n}"),
                                range(4)))
    assert [answer.status for answer in answers] == [200] * 4
    assert sorted(waits) == [pytest.approx(5), pytest.approx(10), pytest.approx(15)]


def test_waiting_for_one_host_does_not_block_others(serve) -> None:
    server = serve()
    resolver = Resolver({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]})
    waiting, other_done = threading.Event(), threading.Event()

    def wait(seconds: float) -> None:  # holds a.test's second request until b.test is done
        waiting.set()
        assert other_done.wait(timeout=10), "b.test was held up by a.test's wait"

    with client(allow=(server,), resolver=resolver, min_interval=5, clock=ManualClock(),
                wait=wait) as safe, ThreadPoolExecutor(1) as pool:
        safe.get(f"http://a.test:{server.port}/1")
        second = pool.submit(safe.get, f"http://a.test:{server.port}/2")
        assert waiting.wait(timeout=10)
        assert safe.get(f"http://b.test:{server.port}/").status == 200
        other_done.set()
        assert second.result().status == 200
    assert server.paths == ["/1", "/", "/2"]


# --------------------------------------------------------------------------- concurrency


def test_concurrent_gets_on_one_client(serve) -> None:
    together = threading.Barrier(8)

    def app(handler: BaseHTTPRequestHandler) -> None:
        try:
            together.wait(timeout=10)  # all eight requests are in flight at once
        except threading.BrokenBarrierError:
            send(handler, 500, b"not concurrent")
            return
        send(handler, 200, handler.path.encode())

    server = serve(app)
    with client(allow=(server,), read_timeout=15) as safe, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: safe.get(server.url(f"/{n}")), range(8)))
    assert [(answer.status, answer.body) for answer in answers] == [
        (200, f"/{n}".encode()) for n in range(8)]


def test_closed_client_refuses_to_work() -> None:
    safe = client()
    safe.close()
    with pytest.raises(RuntimeError):
        safe.get("http://example.org/")


# --------------------------------------------------------------------------- counters


def test_requests_and_bytes_are_counted_per_hop_sent(serve, connections) -> None:
    """Each hop that reached the server is a request; a refused hop or a connection that
    could not be made sent none; the bytes are those of the bodies read."""
    final = serve(lambda h: send(h, 200, b"hello world"))
    hop = serve(lambda h: send(h, 302, b"moved", (("Location", final.url("/end")),)))
    outside = serve(lambda h: send(h, 302, b"", (("Location", "http://10.0.0.1/"),)))
    port = closed_port()
    with client(allow=(final, hop, outside), allow_local=(f"127.0.0.1:{port}",)) as safe:
        assert (safe.requests, safe.bytes_received) == (0, 0)
        assert safe.get(hop.url("/start")).body == b"hello world"
        assert (safe.requests, safe.bytes_received) == (2, len(b"hello world"))
        with pytest.raises(LinkRefused):
            safe.get(outside.url("/"))  # sent; its redirect to 10.0.0.1 refused
        with pytest.raises(LinkRefused):
            safe.get("http://10.0.0.2/")  # refused before any connection
        with pytest.raises(LinkFailed):
            safe.get(f"http://127.0.0.1:{port}/")  # no connection could be made
        assert safe.requests == 3 == final.accepted + hop.accepted + outside.accepted
        assert safe.bytes_received == len(b"hello world")
