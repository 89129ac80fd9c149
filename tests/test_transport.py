"""The direct transport (issue 19): http.client connections kept alive per origin, content
encodings decoded in bounded steps, a connection its peer closed never reused, errors as
the fetcher words them."""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from zufiwatch.config import HttpSettings
from zufiwatch.errors import FetchError
from zufiwatch.fetch import Fetcher
from zufiwatch.transport import (
    CannotConnect,
    CutShort,
    DirectPool,
    Refused,
    Undecodable,
    _dropped,
    header_fields,
)


@dataclass
class Scripted:
    """A server on 127.0.0.1 that answers each request with the next scripted answer
    (raw bytes), closing the connection after it where the script says so."""

    answers: list[tuple[bytes, bool]]
    requests: list[tuple[int, bytes]] = field(default_factory=list)
    connections: int = 0
    #: Released each time the server has closed a connection.
    closed: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    def serve(self, listener: socket.socket) -> None:
        while self.answers:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                self._converse(conn)
            self.closed.release()

    def _converse(self, conn: socket.socket) -> None:
        buffer = b""
        while self.answers:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            self.requests.append((self.connections, head))
            reply, close = self.answers.pop(0)
            conn.sendall(reply)
            if close:
                return


Serve = Callable[..., tuple[Scripted, int]]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve((bytes, close), ...)``: the server and its port, answering in that order."""
    started: list[tuple[socket.socket, threading.Thread]] = []

    def start(*answers: tuple[bytes, bool]) -> tuple[Scripted, int]:
        listener = socket.create_server(("127.0.0.1", 0))
        server = Scripted(list(answers))
        thread = threading.Thread(target=server.serve, args=(listener,), daemon=True)
        thread.start()
        started.append((listener, thread))
        return server, listener.getsockname()[1]

    yield start
    for listener, thread in started:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # ends a waiting accept()
        listener.close()
        thread.join(timeout=10)


def pool(port: int) -> DirectPool:
    def no_tls() -> object:
        raise AssertionError("plain http needs no TLS context")

    return DirectPool("http", "127.0.0.1", port, connect_timeout=5, read_timeout=5,
                      tls=no_tls)  # type: ignore[arg-type]


def reply(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_all(direct: DirectPool, target: str = "/x", amount: int = 65536) -> bytes:
    got = direct.send(target, {"Accept-Encoding": "gzip,deflate"}, lambda sock: None)
    chunks = []
    try:
        while chunk := got.read1(amount):
            assert len(chunk) <= amount
            chunks.append(chunk)
    finally:
        got.release()
    return b"".join(chunks)


BODY = b'{"id": "B100019_LB_105396908", "padding": "' + b"x" * 5000 + b'"}'


def test_answers_with_a_length_keep_one_connection(serve: Serve) -> None:
    server, port = serve(*[(reply(BODY), False)] * 3)
    direct = pool(port)
    assert [read_all(direct) for _ in range(3)] == [BODY] * 3
    assert [number for number, _ in server.requests] == [1, 1, 1]


def test_an_empty_answer_gives_its_connection_back(serve: Serve) -> None:
    server, port = serve((reply(b"", status="204 No Content"), False),
                         (reply(b"", status="304 Not Modified"), False), (reply(BODY), False))
    direct = pool(port)
    assert [read_all(direct) for _ in range(3)] == [b"", b"", BODY]
    assert [number for number, _ in server.requests] == [1, 1, 1]


def test_a_connection_whose_answer_says_it_closes_is_not_reused(serve: Serve) -> None:
    # The server keeps the socket open although it said "Connection: close": reusing it
    # would send the next request to a peer that stopped listening.
    server, port = serve((reply(BODY, "Connection: close"), False), (reply(BODY), False))
    direct = pool(port)
    assert read_all(direct) == BODY
    assert read_all(direct) == BODY
    assert [number for number, _ in server.requests] == [1, 2]


def test_an_answer_without_a_length_is_read_to_the_close_and_not_reused(
        serve: Serve) -> None:
    server, port = serve((b"HTTP/1.1 200 OK\r\n\r\n" + BODY, True), (reply(BODY), False))
    direct = pool(port)
    assert [read_all(direct) for _ in range(2)] == [BODY, BODY]
    assert [number for number, _ in server.requests] == [1, 2]


def test_an_idle_socket_its_peer_closed_or_wrote_to_reads_as_dropped() -> None:
    mine, peer = socket.socketpair()
    with mine, peer:
        assert not _dropped(mine)
        peer.sendall(b"HTTP/1.1 200 OK\r\n")  # what nobody asked for
        assert _dropped(mine)
    mine, peer = socket.socketpair()
    with mine:
        peer.close()
        assert _dropped(mine)


def test_a_connection_its_peer_closed_while_idle_is_not_reused(
        serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    # The server closes after each answer without saying so (no "Connection: close").
    server, port = serve(*[(reply(BODY), True)] * 3)
    direct = pool(port)
    exchanges = []
    exchange = direct._exchange
    monkeypatch.setattr(direct, "_exchange", lambda *args: exchanges.append(1) or exchange(*args))
    for _ in range(3):
        assert read_all(direct) == BODY
        assert server.closed.acquire(timeout=10)  # the close has reached the client
    assert [number for number, _ in server.requests] == [1, 2, 3]
    assert len(exchanges) == 3  # none sent on a closed connection (and sent again)


def test_a_kept_alive_connection_closed_as_the_request_arrives_is_asked_again_once(
        serve: Serve) -> None:
    # The second request reaches a server that closes the kept-alive connection instead
    # of answering (its idle timeout crossed the request); the third comes on a new one.
    server, port = serve((reply(BODY), False), (b"", True), (reply(BODY + b" "), False))
    direct = pool(port)
    assert read_all(direct) == BODY
    assert read_all(direct) == BODY + b" "
    assert [number for number, _ in server.requests] == [1, 1, 2]


def test_a_new_connection_that_breaks_is_not_asked_again(serve: Serve) -> None:
    server, port = serve((b"", True), (reply(BODY), False))
    with pytest.raises(CannotConnect):
        pool(port).send("/x", {}, lambda sock: None)
    assert [number for number, _ in server.requests] == [1]


def test_chunked_answers_are_read_whole(serve: Serve) -> None:
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (BODY[:7], BODY[7:]))
    _, port = serve((reply(chunked + b"0\r\n\r\n", "Transfer-Encoding: chunked"), False))
    assert read_all(pool(port)) == BODY


def test_a_body_shorter_than_its_length_is_cut_short(serve: Serve) -> None:
    _, port = serve((reply(BODY, f"Content-Length: {len(BODY) + 10}"), True))
    with pytest.raises(CutShort):
        read_all(pool(port))


def test_a_chunked_body_that_breaks_off_is_cut_short(serve: Serve) -> None:
    _, port = serve((reply(b"10\r\n" + BODY[:5], "Transfer-Encoding: chunked"), True))
    with pytest.raises(CutShort):
        read_all(pool(port))


@pytest.mark.parametrize(("encoding", "encode"), [
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("deflate", zlib.compress),  # with the zlib wrapper (RFC 9110)
    ("deflate", lambda data: zlib.compress(data, wbits=-15)),  # raw, as some servers send
])
def test_encodings_asked_for_are_decoded(serve: Serve, encoding: str,
                                         encode: Callable[[bytes], bytes]) -> None:
    _, port = serve((reply(encode(BODY), f"Content-Encoding: {encoding}"), False))
    assert read_all(pool(port), amount=1000) == BODY


def test_gzip_members_one_after_another_are_one_body_garbage_after_them_ignored(
        serve: Serve) -> None:
    body = gzip.compress(BODY[:100]) + gzip.compress(BODY[100:]) + b"\0garbage"
    _, port = serve((reply(body, "Content-Encoding: gzip"), False))
    assert read_all(pool(port)) == BODY


def test_a_small_compressed_answer_unpacks_in_bounded_steps(serve: Serve) -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)  # 20 MB from ~20 KB
    _, port = serve((reply(bomb, "Content-Encoding: gzip"), False))
    direct = pool(port)
    got = direct.send("/bomb", {}, lambda sock: None)
    sizes = [len(got.read1(65536)) for _ in range(5)]
    got.release()
    assert sizes == [65536] * 5


def test_a_body_that_is_not_what_its_encoding_says_is_undecodable(serve: Serve) -> None:
    _, port = serve((reply(b"this is not gzip at all", "Content-Encoding: gzip"), False))
    with pytest.raises(Undecodable):
        read_all(pool(port))


def test_an_encoding_not_asked_for_is_left_as_it_came(serve: Serve) -> None:
    _, port = serve((reply(b"\x8b\x00brotli?", "Content-Encoding: br"), False))
    assert read_all(pool(port)) == b"\x8b\x00brotli?"


def test_repeated_header_fields_are_joined_as_urllib3_joins_them(serve: Serve) -> None:
    assert header_fields([("Link", "<a>"), ("ETag", '"1"'), ("link", "<b>")]) == {
        "Link": "<a>, <b>", "ETag": '"1"'}
    _, port = serve((reply(BODY, "Warning: 1", "warning: 2"), False))
    got = pool(port).send("/x", {}, lambda sock: None)
    assert got.header("WARNING") == "1, 2"
    assert got.headers["Warning"] == "1, 2"
    got.release()


def test_errors_before_an_answer_are_named() -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(CannotConnect):
        pool(port).send("/x", {}, lambda sock: None)
    with pytest.raises(Refused):
        pool(port).send("/x y", {}, lambda sock: None)  # http.client refuses the space
    with pytest.raises(Refused):
        pool(port).send("/x", {"X": "a\r\nInjected: 1"}, lambda sock: None)


def test_the_fetcher_retries_a_status_line_that_never_comes(serve: Serve) -> None:
    server, port = serve((b"", True), (reply(BODY), False))
    with Fetcher(HttpSettings(), retries=1, backoff=0) as fetcher:
        assert fetcher.get(f"http://127.0.0.1:{port}/x").body == BODY
    assert [number for number, _ in server.requests] == [1, 2]


def test_the_fetcher_asks_for_what_it_can_decode(serve: Serve) -> None:
    server, port = serve((reply(gzip.compress(BODY), "Content-Encoding: gzip"), False))
    with Fetcher(HttpSettings(user_agent="zufiwatch-test"), retries=0) as fetcher:
        assert fetcher.get(f"http://127.0.0.1:{port}/x?a=1").body == BODY
    head = server.requests[0][1].decode().split("\r\n")
    assert head[0] == "GET /x?a=1 HTTP/1.1"
    assert sorted(head[1:]) == sorted([
        f"Host: 127.0.0.1:{port}", "User-Agent: zufiwatch-test", "Accept: */*",
        "Accept-Encoding: gzip,deflate"])


def test_an_undecodable_answer_is_a_fetch_error_naming_its_encoding(serve: Serve) -> None:
    _, port = serve((reply(b"not deflate", "Content-Encoding: deflate"), False))
    with Fetcher(HttpSettings(), retries=0) as fetcher, \
            pytest.raises(FetchError, match=r"cannot be decoded \(deflate\)"):
        fetcher.get(f"http://127.0.0.1:{port}/x")
