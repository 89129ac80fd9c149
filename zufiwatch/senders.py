"""What carries the fetcher's requests: urllib3's connection pools, one per origin, kept
alive (a connection whose answer was read to its end serves the next request), the
environment's proxies and CA bundle as ``requests`` reads them, and URLs encoded as
``requests`` encodes them.

The environment is read once: the CA bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``,
else certifi's) when the :class:`Senders` are made, the proxy (``HTTPS_PROXY``,
``HTTP_PROXY``, ``NO_PROXY``…) at an origin's first request; ``requests`` itself is loaded
only for a URL that needs encoding or when the environment names a proxy.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import urllib3
from urllib3.util import Retry, make_headers, parse_url

from .errors import FetchError
from .httpwatch import connection_pool, pool_manager

__all__ = ["NO_RETRIES", "Sender", "Senders", "environment_proxy", "let_go",
           "origin_and_target", "prepared_url", "tls_settings"]

#: urllib3 retries nothing (the fetcher does) and raises its errors as they are.
NO_RETRIES = Retry(total=False, redirect=False, raise_on_redirect=False)
#: Connections kept per origin (one per thread of a source's pool, and some spare).
_POOL_SIZE = 16
#: A URL made only of these characters is sent as it is; any other (a space, ``%``,
#: non-ASCII) is encoded as ``requests`` encodes it.
_PLAIN_URL = re.compile(r"[A-Za-z0-9\-._~!#$&'()*+,/:;=?@\[\]]*")
#: What sends the requests of one origin: its connection pool, or a proxy's manager.
Sender = urllib3.PoolManager | urllib3.HTTPConnectionPool


class Senders:
    """What sends the requests of each origin, chosen at its first request; thread-safe."""

    def __init__(self) -> None:
        self._tls = tls_settings()
        self._origins: dict[str, Sender] = {}
        self._managers: dict[str, urllib3.PoolManager] = {}
        self._lock = threading.Lock()

    def sender(self, url: str) -> tuple[Sender, str]:
        """What sends a request for ``url``, and the URL to give it: direct, the pool of
        ``url``'s origin and the path; through the proxy the environment names for the
        origin (as ``requests`` reads the environment), the proxy's manager and the whole
        URL. Chosen at the origin's first request."""
        origin, target = origin_and_target(url)
        sender = self._origins.get(origin)
        if sender is None:
            sender = self._new_sender(url, origin, environment_proxy(url))
        if isinstance(sender, urllib3.PoolManager):
            return sender, url
        return sender, target

    def _new_sender(self, url: str, origin: str, proxy: str) -> Sender:
        with self._lock:
            sender = self._origins.get(origin)
            if sender is not None:
                return sender
            if not proxy:
                sender = connection_pool(url, maxsize=_POOL_SIZE, block=False, **self._tls)
            else:
                sender = self._managers.get(proxy) or self._proxy_manager(proxy, url)
                self._managers[proxy] = sender
            self._origins[origin] = sender
            return sender

    def _proxy_manager(self, proxy: str, url: str) -> urllib3.PoolManager:
        kwargs: dict[str, Any] = {"num_pools": 8, "maxsize": _POOL_SIZE, "block": False,
                                  **self._tls}
        parts = parse_url(proxy)
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"the proxy {parts._replace(auth=None).url} the environment "
                             f"names for {url} is not an http(s) proxy", url=url)
        if parts.auth:
            user, _, password = parts.auth.partition(":")
            kwargs["proxy_headers"] = make_headers(
                proxy_basic_auth=f"{unquote(user)}:{unquote(password)}")
        return pool_manager(proxy, **kwargs)

    def close(self) -> None:
        with self._lock:
            senders = {id(s): s for s in [*self._origins.values(), *self._managers.values()]}
            self._managers, self._origins = {}, {}
        for sender in senders.values():
            if isinstance(sender, urllib3.PoolManager):
                sender.clear()
            else:
                sender.close()


def prepared_url(url: str, params: Mapping[str, str] | None = None) -> str:
    """``url`` with ``params`` appended, encoded as ``requests`` encodes it (a plain URL
    as it is, anything else through ``requests``' own preparation)."""
    if _PLAIN_URL.fullmatch(url):
        if not params:
            return url
        return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
    import requests  # only for URLs that need encoding

    try:
        prepared = requests.PreparedRequest()
        prepared.prepare_url(url, params)
    except requests.exceptions.RequestException as exc:
        raise FetchError(f"request failed: {url}: {type(exc).__name__}", url=url) from exc
    return prepared.url or url


def origin_and_target(url: str) -> tuple[str, str]:
    """``scheme://netloc`` of an http(s) URL in lower case, and its request target (path
    and query, no fragment): what :func:`urllib.parse.urlsplit` gives, without its cost
    per request."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        parts = urlsplit(url)
        return (f"{parts.scheme}://{parts.netloc}".lower(),
                f"{parts.path or '/'}{'?' if parts.query else ''}{parts.query}")
    ends = [at for at in (rest.find("/"), rest.find("?"), rest.find("#")) if at >= 0]
    cut = min(ends, default=len(rest))
    target = rest[cut:].partition("#")[0]
    return f"{scheme}://{rest[:cut]}".lower(), \
        target if target.startswith("/") else f"/{target}"


def environment_proxy(url: str) -> str:
    """The proxy the environment names for ``url`` ("" for none), as ``requests`` reads
    the environment (``NO_PROXY`` included, with its CIDR ranges)."""
    import urllib.request

    if not urllib.request.getproxies():
        return ""  # what requests would find too; it is not even loaded
    import requests.utils

    proxies = requests.utils.get_environ_proxies(url)
    return requests.utils.select_proxy(url, proxies) or ""


def tls_settings() -> dict[str, object]:
    """Certificate checking as ``requests`` does it: the bundle named by
    ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` (a file or a folder), else certifi's."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if not bundle:
        import certifi

        bundle = certifi.where()
    if os.path.isdir(bundle):
        return {"cert_reqs": "CERT_REQUIRED", "ca_cert_dir": bundle}
    return {"cert_reqs": "CERT_REQUIRED", "ca_certs": bundle}


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
