"""How the fetcher's GETs travel to a source directly: HTTP/1.1 on sockets kept alive per
origin, the answer's body framed by the standard library's :mod:`http.client`.

urllib3 (which ``requests`` is built on) wraps :mod:`http.client` in a pool, a retry policy
and a response object of its own; :mod:`http.client` in turn parses every answer's head with
the :mod:`email` package. Measured on the simulated directory (``bench/transport_bench.py``),
a GET through urllib3 2.x costs about 2.2 times the CPU of the same GET on a kept-alive
:class:`http.client.HTTPConnection`, and this module about 0.7 times (its heads are written
and read by :mod:`.httpwire`, byte for byte as :mod:`http.client` writes and reads them); a
daily crawl is mostly such GETs. So direct requests take this path; requests through a
proxy (the environment names one: rare) keep urllib3's proxy manager (:mod:`.proxied`)
behind the same :class:`Answer` interface and errors.

What urllib3 did for the fetcher, this module does, and no more:

- a pool of idle connections per origin; one whose peer closed it meanwhile (its socket
  reads as ready while idle) is not reused, nor one whose answer said it closes;
- a connect timeout (TCP and the TLS handshake), then a read timeout for each read;
- TLS with the certificate and host name checked (one :class:`ssl.SSLContext` per fetcher,
  TLS 1.2 at least);
- the content encodings the fetcher asks for (gzip, deflate) decoded in bounded steps, so a
  small compressed answer cannot unpack into memory at once. An encoding it did not ask for
  is left as it came (as urllib3 leaves one it has no decoder for).

Errors come out as :class:`TransportError` subclasses; the fetcher words them.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from .httpwire import Response, host_field, request_head

__all__ = ["ACCEPT_ENCODING", "Answer", "CannotConnect", "CutShort", "DirectPool", "Refused",
           "TimedOut", "TransportError", "Undecodable", "header_fields", "tls_context"]

#: The encodings the fetcher asks for, as urllib3's ``make_headers(accept_encoding=True)``
#: words them without brotli or zstd.
ACCEPT_ENCODING = "gzip,deflate"
#: Idle connections kept per origin (one per thread of a source's pool, and some spare).
KEEP_IDLE = 16


class TransportError(Exception):
    """An exchange that failed; ``cause`` is the name of the error underneath."""

    def __init__(self, cause: BaseException | str) -> None:
        name = cause if isinstance(cause, str) else type(cause).__name__
        super().__init__(name)
        self.cause = name


class CannotConnect(TransportError):
    """No answer: the connection was refused, failed its TLS check, or broke before the
    status line arrived."""


class TimedOut(TransportError):
    """Connecting, or a read, took longer than its timeout."""


class CutShort(TransportError):
    """The body ended before its length, or broke off."""


class Undecodable(TransportError):
    """The body does not decode as the ``Content-Encoding`` it names."""


class Refused(TransportError):
    """The request cannot be sent as it is (a URL or header http.client refuses)."""


class Answer(Protocol):
    """One answer, its body not read yet."""

    status: int
    #: The header fields, duplicates joined with ", " (as urllib3 joins them).
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        """The value of the header field ``name`` (any case), or None."""

    def read1(self, amount: int) -> bytes:
        """Up to ``amount`` bytes of the decoded body; ``b""`` at its end."""

    def release(self) -> None:
        """Done with the answer: its connection serves the next request when the body was
        read to its end, else it is closed."""


def header_fields(fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``fields`` as a dict, a name repeated joined into one value with ", "."""
    found: dict[str, str] = {}
    names: dict[str, str] = {}
    for name, value in fields:
        first = names.setdefault(name.lower(), name)
        found[first] = f"{found[first]}, {value}" if first in found else value
    return found


def tls_context(bundle: str, folder: bool) -> ssl.SSLContext:
    """Certificate and host name checks against the CA ``bundle`` (a file, or a folder of
    hashed certificates when ``folder``), TLS 1.2 at least."""
    context = ssl.create_default_context(cafile=None if folder else bundle,
                                         capath=bundle if folder else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class DirectPool:
    """The kept-alive connections to one origin; thread-safe (a connection serves one
    request at a time)."""

    def __init__(self, scheme: str, host: str, port: int, *, connect_timeout: float | None,
                 read_timeout: float | None, tls: Callable[[], ssl.SSLContext]) -> None:
        self._scheme, self._host, self._port = scheme, host, port
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._tls = tls
        self._host_field = host_field(host, port, 443 if scheme == "https" else 80)
        self._idle: list[socket.socket] = []
        self._lock = threading.Lock()

    def send(self, target: str, headers: Mapping[str, str],
             watch: Callable[[socket.socket | None], None]) -> Answer:
        """GET ``target`` (path and query) with ``headers``; ``watch`` is given the socket
        before the answer is waited for.

        A kept-alive connection that breaks before the status line arrives was closed by
        its peer as the request went out (an idle connection's close can cross a new
        request): the GET is sent once more on a new connection, as browsers and urllib3's
        retries do. A new connection that breaks is an error."""
        try:
            head = request_head(target, self._host_field, headers)
        except (http.client.InvalidURL, ValueError) as exc:
            raise Refused(exc) from exc
        sock = self._take()
        if sock is not None:
            try:
                return self._exchange(sock, head, watch)
            except CannotConnect:
                pass
        return self._exchange(None, head, watch)

    def _exchange(self, sock: socket.socket | None, head: bytes,
                  watch: Callable[[socket.socket | None], None]) -> Answer:
        response = None
        try:
            if sock is None:
                sock = self._connect()
            sock.sendall(head)
            watch(sock)
            response = Response(sock, method="GET")
            response.begin()
        except BaseException as exc:
            if response is not None:
                response.close()
            if sock is not None:
                sock.close()
            error = _sent_error(exc)
            if error is None:
                raise
            raise error from exc
        return _DirectAnswer(response, sock, self)

    def _connect(self) -> socket.socket:
        """A new connection: TCP (and the TLS handshake) within the connect timeout, its
        reads then within the read timeout. As ``HTTPConnection.connect`` does, Nagle's
        algorithm is off (a request is one write; its answer should not wait)."""
        sock = socket.create_connection((self._host, self._port), self._connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._scheme == "https":
                sock = self._tls().wrap_socket(sock, server_hostname=self._host)
            sock.settimeout(self._read_timeout)
        except BaseException:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()

    def _take(self) -> socket.socket | None:
        """An idle connection whose peer has not closed it, else None."""
        while True:
            with self._lock:
                sock = self._idle.pop() if self._idle else None
            if sock is None or not _dropped(sock):
                return sock
            sock.close()

    def give_back(self, sock: socket.socket) -> None:
        with self._lock:
            if len(self._idle) < KEEP_IDLE:
                self._idle.append(sock)
                return
        sock.close()


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle connection's socket is readable (its peer closed it, or sent what
    nobody asked for) or broken: either way it cannot carry a request."""
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _sent_error(exc: BaseException) -> TransportError | None:
    """An error while sending or waiting for the status line, as a :class:`TransportError`
    (None for anything else, e.g. KeyboardInterrupt)."""
    if isinstance(exc, TimeoutError):
        return TimedOut(exc)
    if isinstance(exc, http.client.InvalidURL):
        return Refused(exc)
    if isinstance(exc, OSError | http.client.HTTPException):  # a failed TLS check too
        return CannotConnect(exc)
    if isinstance(exc, ValueError):  # a header value http.client refuses
        return Refused(exc)
    return None


class _DirectAnswer:
    """An answer on a connection of a :class:`DirectPool`."""

    def __init__(self, response: Response, sock: socket.socket, pool: DirectPool) -> None:
        self.status = response.status
        self.headers = header_fields(response.msg.items())
        self._response = response
        self._sock: socket.socket | None = sock
        self._pool = pool
        self._decoder = _decoder(response.msg.get("Content-Encoding", ""))
        self._broken = False

    def header(self, name: str) -> str | None:
        values = self._response.msg.get_all(name)
        return ", ".join(values) if values else None

    def read1(self, amount: int) -> bytes:
        try:
            return self._read1(amount)
        except TransportError:
            self._broken = True
            raise

    def _read1(self, amount: int) -> bytes:
        if self._decoder is None:
            return self._raw(amount)
        while True:
            decoded = self._decoder.more(amount)
            if decoded or self._decoder.pending:
                if decoded:
                    return decoded
                continue
            raw = self._raw(amount)
            if not raw:
                return self._decoder.finish()
            self._decoder.feed(raw)

    def _raw(self, amount: int) -> bytes:
        response = self._response
        if response.length == 0 and not response.chunked:
            response.close()  # a body of no bytes (a 204, 304 or Content-Length: 0) is read
            return b""
        try:
            data = response.read1(amount)
        except TimeoutError as exc:
            raise TimedOut(exc) from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise CutShort(exc) from exc
        if not data and response.length:
            # http.client ends a body quietly when the peer closes before its length
            raise CutShort("IncompleteRead")
        return data

    def release(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        response = self._response
        if response.isclosed() and not self._broken and not response.will_close:
            self._pool.give_back(sock)
        else:
            response.close()
            sock.close()


class _Inflater:
    """A gzip or deflate body decoded in steps of at most ``amount`` bytes. As urllib3
    does: gzip members one after another, anything after the first member that is not
    one ignored; deflate with the zlib wrapper or without (servers send both)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._wbits = 16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS
        self._inflate = zlib.decompressobj(self._wbits)
        self.pending = b""
        self._started = False
        self._trailing = False  # past the first gzip member: garbage is ignored
        self._finished = False

    def feed(self, data: bytes) -> None:
        self.pending += data

    def more(self, amount: int) -> bytes:
        """Decoded bytes from what was fed (``b""`` when it needs more)."""
        data, self.pending = self.pending, b""
        if not data or (self._inflate.eof and not self._gzip):
            return b""
        try:
            out = self._inflate.decompress(data, amount)
        except zlib.error as exc:
            if not self._gzip and not self._started:
                self._started = True  # deflate without its zlib wrapper
                self._wbits = -zlib.MAX_WBITS
                self._inflate = zlib.decompressobj(self._wbits)
                self.pending = data
                return b""
            if self._trailing:
                return b""
            raise Undecodable(exc) from exc
        self._started = True
        self.pending = self._inflate.unconsumed_tail
        if self._gzip and self._inflate.eof and self._inflate.unused_data:
            self.pending = self._inflate.unused_data + self.pending
            self._inflate = zlib.decompressobj(self._wbits)
            self._trailing = True
        return out

    def finish(self) -> bytes:
        if self._finished:
            return b""
        self._finished = True
        try:
            return self._inflate.flush()
        except zlib.error as exc:
            raise Undecodable(exc) from exc


def _decoder(encoding: str) -> _Inflater | None:
    name = encoding.strip().lower()
    if name in ("gzip", "x-gzip"):
        return _Inflater(gzip=True)
    if name == "deflate":
        return _Inflater(gzip=False)
    return None
