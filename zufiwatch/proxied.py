"""Requests through the proxy the environment names: urllib3's proxy manager, its
connections watched like the direct ones (:mod:`.httpwatch`), its answers and errors those
of :mod:`.transport`. Loaded only when a proxy is named.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    DecodeError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.response import HTTPResponse
from urllib3.util import Retry, make_headers, parse_url

from .errors import FetchError
from .httpwatch import watch_socket
from .transport import (
    Answer,
    CannotConnect,
    CutShort,
    Refused,
    TimedOut,
    TransportError,
    Undecodable,
    header_fields,
)

__all__ = ["NO_RETRIES", "ProxySender", "let_go"]

#: urllib3 retries nothing (the fetcher does) and raises its errors as they are.
NO_RETRIES = Retry(total=False, redirect=False, raise_on_redirect=False)


class _WatchedHTTPConnection(HTTPConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3 does
        watch_socket(self.sock)
        return super().getresponse()


class _WatchedHTTPSConnection(HTTPSConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3 does
        watch_socket(self.sock)
        return super().getresponse()


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class ProxySender:
    """Sends the requests of the origins one proxy carries (the whole URL is the target)."""

    def __init__(self, proxy: str, url: str, *, timeout: urllib3.Timeout, pool_size: int,
                 tls: Mapping[str, object]) -> None:
        kwargs: dict[str, Any] = {"num_pools": 8, "maxsize": pool_size, "block": False,
                                  **tls}
        parts = parse_url(proxy)
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"the proxy {parts._replace(auth=None).url} the environment "
                             f"names for {url} is not an http(s) proxy", url=url)
        if parts.auth:
            user, _, password = parts.auth.partition(":")
            kwargs["proxy_headers"] = make_headers(
                proxy_basic_auth=f"{unquote(user)}:{unquote(password)}")
        self._manager = urllib3.ProxyManager(proxy, **kwargs)
        self._manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool,
                                                "https": _WatchedHTTPSPool}
        self._timeout = timeout

    def send(self, target: str, headers: Mapping[str, str],
             watch: Callable[[Any], None]) -> Answer:
        """GET the URL ``target`` through the proxy (the pools watch their sockets)."""
        try:
            answer = self._manager.urlopen(
                "GET", target, headers=dict(headers), retries=NO_RETRIES, redirect=False,
                timeout=self._timeout, preload_content=False, decode_content=True)
        except (HTTPError, OSError) as exc:
            raise _translated(exc) from exc
        return _ProxiedAnswer(answer)

    def close(self) -> None:
        self._manager.clear()


class _ProxiedAnswer:
    def __init__(self, answer: urllib3.BaseHTTPResponse) -> None:
        self._answer = answer
        self.status = answer.status
        self.headers = header_fields(answer.headers.items())

    def header(self, name: str) -> str | None:
        return self._answer.headers.get(name)

    def read1(self, amount: int) -> bytes:
        try:
            return self._answer.read1(amount, decode_content=True)
        except ReadTimeoutError as exc:
            raise TimedOut(exc) from exc
        except DecodeError as exc:
            raise Undecodable(exc) from exc
        except (HTTPError, OSError) as exc:
            raise CutShort(exc) from exc

    def release(self) -> None:
        let_go(self._answer)


def _translated(exc: HTTPError | OSError) -> TransportError:
    if isinstance(exc, Urllib3Timeout) and not isinstance(exc, NewConnectionError):
        return TimedOut(exc)
    if isinstance(exc, NewConnectionError | ProtocolError | ProxyError | SSLError | OSError):
        return CannotConnect(exc)
    return Refused(exc)


def let_go(answer: urllib3.BaseHTTPResponse) -> None:
    """Give the connection back to its pool when the answer was read to its end (it
    serves the next request); else close it."""
    if answer.closed or _fully_read(answer):
        answer.release_conn()
    else:
        answer.close()
        answer.release_conn()


def _fully_read(answer: urllib3.BaseHTTPResponse) -> bool:
    fp = getattr(answer, "_fp", None)
    return fp is None or getattr(fp, "isclosed", lambda: False)()
