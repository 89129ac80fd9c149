"""HTTP/1.1 heads written and read as http.client writes and reads them (issue 19): every
case, recorded, tricky and generated, is compared with the standard library itself."""

from __future__ import annotations

import http.client
import io
import random

import pytest

from zufiwatch.httpwire import MAX_FIELDS, MAX_LINE, Response, host_field, read_fields, request_head

#: Heads as servers send them: the simulated PVOG, a Spring Boot API behind nginx, a
#: static file server.
RECORDED = [
    b"Server: BaseHTTP/0.6 Python/3.11.7\r\nDate: Sun, 06 Dec 2026 15:42:35 GMT\r\n"
    b"Content-Type: application/json;charset=UTF-8\r\nContent-Length: 5120\r\n"
    b"ETag: \"5c1e\"\r\n\r\n",
    b"Server: nginx\r\nDate: Tue, 01 Dec 2026 08:00:00 GMT\r\n"
    b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n"
    b"Vary: Origin\r\nVary: Access-Control-Request-Method\r\n"
    b"Vary: Access-Control-Request-Headers\r\nX-Content-Type-Options: nosniff\r\n"
    b"X-XSS-Protection: 0\r\nCache-Control: no-cache, no-store, max-age=0, must-revalidate\r\n"
    b"Pragma: no-cache\r\nExpires: 0\r\nStrict-Transport-Security: max-age=31536000 ; "
    b"includeSubDomains\r\nX-Frame-Options: DENY\r\nContent-Encoding: gzip\r\n\r\n",
    b"Last-Modified: Mon, 30 Nov 2026 23:59:59 GMT\r\nAccept-Ranges: bytes\r\n"
    b"Content-Length: 0\r\n\r\n",
]

#: Heads that leave the ordinary path: folded lines, stray CRs, lines that are no field,
#: odd names and values, heads that end without their empty line.
TRICKY = [
    b"X-Folded: one\r\n two\r\n\tthree\r\nNext: 1\r\n\r\n",
    b" Leading-Continuation: x\r\nA: b\r\n\r\n",
    b"A: b\r\rC: d\r\n\r\n",
    b"A: b\rC: d\r\n\r\n",
    b"A: b\r\n\r",
    b"Bad Name: x\r\nAfter: y\r\n\r\n",
    b"NoColonHere\r\nAfter: y\r\n\r\n",
    b": no name\r\nAfter: y\r\n\r\n",
    b"From nobody Mon Jan  1 00:00:00 2000\r\nA: b\r\n\r\n",
    b"From: someone@example.org\r\n\r\n",
    b"A:\r\nB:    \r\nC: \t spaced \t \r\n\r\n",
    b"A:b\nB: unix line ends\n\n",
    b"Latin: caf\xe9 \xff\r\n\r\n",
    b"Dup: 1\r\ndup: 2\r\nDUP: 3\r\n\r\n",
    b"A: b\r\n",
    b"A: b",
    b"",
    b"\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n",
    b"Content-Type: message/rfc822\r\n\r\n",
    b"X: a: b: c\r\n\r\n",
    b"X-\x7f: del in name\r\n\r\n",
    b"X: nul \x00 inside\r\n\r\n",
]


def stdlib_fields(head: bytes) -> list[tuple[str, str]]:
    return list(http.client.parse_headers(io.BytesIO(head)).items())


def ours(head: bytes) -> list[tuple[str, str]]:
    return list(read_fields(io.BytesIO(head)).items())


@pytest.mark.parametrize("head", RECORDED + TRICKY)
def test_a_head_is_read_as_http_client_reads_it(head: bytes) -> None:
    assert ours(head) == stdlib_fields(head)


def test_generated_heads_are_read_as_http_client_reads_them() -> None:
    pieces = [b"Name", b"x-y", b":", b": ", b" ", b"\t", b"\r\n", b"\n", b"\r", b"value",
              b"From ", b"\xe9", b"(", b"=", b";", b"\x00", b"A: 1\r\n", b"B:2\r\n"]
    rng = random.Random(19)
    for _ in range(3000):
        head = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        if rng.random() < 0.7:
            head += b"\r\n\r\n"
        assert ours(head) == stdlib_fields(head), head


def test_a_head_past_the_limits_fails_as_in_http_client() -> None:
    long_line = b"X: " + b"a" * MAX_LINE + b"\r\n\r\n"
    many = b"".join(b"F%d: v\r\n" % n for n in range(MAX_FIELDS + 1)) + b"\r\n"
    for head in (long_line, many):
        with pytest.raises(http.client.HTTPException) as stdlib:
            http.client.parse_headers(io.BytesIO(head))
        with pytest.raises(http.client.HTTPException) as mine:
            read_fields(io.BytesIO(head))
        assert (type(mine.value), str(mine.value)) == (type(stdlib.value), str(stdlib.value))


class _Wire:
    """A socket whose reads come from bytes and whose writes are kept."""

    def __init__(self, data: bytes = b"") -> None:
        self.data = data
        self.sent = b""

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self.data))

    def sendall(self, data: bytes) -> None:
        self.sent += data


ANSWERS = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 3\r\n\r\n"
    b"2\r\nhi\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\nuntil the end",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/0.9 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK  \r\nContent-Length: 1\r\n\r\nx",
    b"HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\nbody",
    b"HTTP/1.1 200 OK\r\nContent-Length: four\r\n\r\nbody",
    b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\nbody",
    b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 199 Early\r\nContent-Length: 3\r\n\r\nabc",
]


def _state(response: http.client.HTTPResponse) -> tuple[object, ...]:
    return (response.status, response.reason, response.version, response.chunked,
            response.length, response.will_close, list(response.msg.items()),
            response.read())


@pytest.mark.parametrize("raw", ANSWERS)
def test_an_answer_is_begun_as_http_client_begins_it(raw: bytes) -> None:
    stdlib = http.client.HTTPResponse(_Wire(raw), method="GET")  # type: ignore[arg-type]
    stdlib.begin()
    mine = Response(_Wire(raw), method="GET")  # type: ignore[arg-type]
    mine.begin()
    assert _state(mine) == _state(stdlib)


@pytest.mark.parametrize("raw", [b"", b"garbage\r\n\r\n", b"HTTP/2 200 OK\r\n\r\n",
                                 b"HTTP/1.1 abc OK\r\n\r\n", b"SPDY/3 200 OK\r\n\r\n"])
def test_a_broken_status_line_fails_as_in_http_client(raw: bytes) -> None:
    with pytest.raises(http.client.HTTPException) as stdlib:
        http.client.HTTPResponse(_Wire(raw), method="GET").begin()  # type: ignore[arg-type]
    with pytest.raises(http.client.HTTPException) as mine:
        Response(_Wire(raw), method="GET").begin()  # type: ignore[arg-type]
    assert (type(mine.value), str(mine.value)) == (type(stdlib.value), str(stdlib.value))


def _written_by_http_client(host: str, port: int, target: str, fields: dict[str, str],
                            tls: bool = False) -> bytes:
    kind = http.client.HTTPSConnection if tls else http.client.HTTPConnection
    connection = kind(host, port)
    wire = _Wire()
    connection.sock = wire  # type: ignore[assignment]
    connection.request("GET", target, headers=fields)
    return wire.sent


FIELDS = {"User-Agent": "zufiwatch/0.1 (+https://example.org)", "Accept": "*/*",
          "Accept-Encoding": "gzip,deflate"}


@pytest.mark.parametrize(("host", "port", "tls", "target", "fields"), [
    ("127.0.0.1", 8080, False, "/v6/servicedescriptions/1/detail?ars=160530000000", FIELDS),
    ("example.org", 80, False, "/", FIELDS),
    ("example.org", 443, True, "/a", FIELDS),
    ("example.org", 443, False, "/a", FIELDS),
    ("::1", 8443, True, "/a?b=c", FIELDS),
    ("bücher.example", 80, False, "/x", {"Accept": "*/*"}),
    ("example.org", 80, False, "", {"If-None-Match": "\"abc\"", "From": "ops@jena.de"}),
    ("example.org", 80, False, "/x", {"host": "other.example", "X-Latin": "caf\xe9"}),
    ("example.org", 80, False, "/x", {"X-Folded": "a\r\n b", "accept-encoding": "gzip"}),
])
def test_a_request_head_is_the_bytes_http_client_writes(host: str, port: int, tls: bool,
                                                          target: str,
                                                          fields: dict[str, str]) -> None:
    ours = request_head(target, host_field(host, port, 443 if tls else 80), fields)
    assert ours == _written_by_http_client(host, port, target, fields, tls)


@pytest.mark.parametrize(("target", "fields"), [
    ("/a b", FIELDS),
    ("/a\r\nX: y", FIELDS),
    ("/\x7f", FIELDS),
    ("/caf\xe9", FIELDS),
    ("/x", {"Bad:Name": "v"}),
    ("/x", {" Leading": "v"}),
    ("/x", {"": "v"}),
    ("/x", {"Nam\xe9": "v"}),
    ("/x", {"X": "split\r\nInjected: yes"}),
    ("/x", {"X": "lone\rcr"}),
    ("/x", {"X": "lone\nlf"}),
    ("/x", {"X": "not latin \u20ac"}),
])
def test_a_request_http_client_refuses_is_refused_alike(target: str,
                                                        fields: dict[str, str]) -> None:
    refusals = (http.client.InvalidURL, ValueError)
    with pytest.raises(refusals) as stdlib:
        _written_by_http_client("example.org", 80, target, fields)
    with pytest.raises(refusals) as mine:
        request_head(target, host_field("example.org", 80, 80), fields)
    assert (type(mine.value), str(mine.value)) == (type(stdlib.value), str(stdlib.value))
