"""The polite HTTP client shared by all sources.

Per-host pacing (a minimum interval between requests and a concurrency limit),
connect and read timeouts, retries on connection errors, 429 and 5xx (honouring
``Retry-After``, via urllib3), a cap on the response size, and an identifying
``User-Agent``/``From``. Errors of requests and urllib3 are translated here into
:class:`FetchError` and :class:`HTTPStatusError`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .config import HttpSettings
from .errors import FetchError, HTTPStatusError

__all__ = ["Fetcher", "Response"]

RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class Response:
    """What the server answered (always a success status; errors raise)."""

    url: str
    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _HostLimit:
    min_interval: float
    slots: threading.BoundedSemaphore
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_at: float = 0.0


class Fetcher:
    """GET with pacing per host; thread-safe, so a source may call it from a pool."""

    def __init__(self, http: HttpSettings, *, retries: int = 2, backoff: float = 0.5,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._http = http
        self._monotonic = monotonic
        self._sleep = sleep
        self._limits: dict[str, _HostLimit] = {}
        self._limits_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.requests = 0
        self.bytes_received = 0
        self._session = requests.Session()
        retry = Retry(total=retries, connect=retries, read=retries, status=retries,
                      backoff_factor=backoff, backoff_jitter=backoff / 2,
                      status_forcelist=RETRY_STATUSES, allowed_methods=["GET", "HEAD"],
                      respect_retry_after_header=True, raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=16)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = http.user_agent
        if http.contact:
            self._session.headers["From"] = http.contact

    def limit_host(self, host: str, *, max_concurrency: int, min_interval: float) -> None:
        """Set the pacing for one host (``netloc`` of its URLs)."""
        with self._limits_lock:
            self._limits[host.lower()] = _HostLimit(
                min_interval, threading.BoundedSemaphore(max_concurrency))

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, *, params: Mapping[str, str] | None = None,
            headers: Mapping[str, str] | None = None) -> Response:
        """Fetch ``url``; raise :class:`FetchError` unless the answer is a 2xx."""
        limit = self._limits.get(urlsplit(url).netloc.lower())
        if limit is None:
            return self._get(url, params, headers)
        with limit.slots:
            self._wait_turn(limit)
            return self._get(url, params, headers)

    def _wait_turn(self, limit: _HostLimit) -> None:
        with limit.lock:
            now = self._monotonic()
            wait = limit.next_at - now
            limit.next_at = max(now, limit.next_at) + limit.min_interval
        if wait > 0:
            self._sleep(wait)

    def _get(self, url: str, params: Mapping[str, str] | None,
             headers: Mapping[str, str] | None) -> Response:
        timeout = (self._http.connect_timeout, self._http.read_timeout)
        try:
            with self._session.get(url, params=params, headers=headers, timeout=timeout,
                                   stream=True, allow_redirects=True) as answer:
                body = self._read_capped(answer)
                final_url = answer.url
                status = answer.status_code
                content_type = answer.headers.get("Content-Type", "")
                answer_headers = dict(answer.headers)
        except requests.exceptions.Timeout as exc:
            raise FetchError(f"timed out: {url}", url=url) from exc
        except requests.exceptions.ConnectionError as exc:
            raise FetchError(f"cannot connect: {url}", url=url) from exc
        except requests.exceptions.RequestException as exc:
            raise FetchError(f"request failed: {url}: {type(exc).__name__}", url=url) from exc
        finally:
            with self._count_lock:
                self.requests += 1
        with self._count_lock:
            self.bytes_received += len(body)
        if not 200 <= status < 300:
            raise HTTPStatusError(f"HTTP {status} from {final_url}", url=final_url,
                                  status=status)
        return Response(final_url, status, content_type, body, answer_headers)

    def _read_capped(self, answer: requests.Response) -> bytes:
        limit = self._http.max_response_bytes
        chunks = []
        size = 0
        for chunk in answer.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > limit:
                raise FetchError(f"response larger than {limit} bytes: {answer.url}",
                                 url=answer.url)
            chunks.append(chunk)
        return b"".join(chunks)
