"""What carries the fetcher's requests: a pool of kept-alive connections per origin
(:mod:`.transport`: a connection whose answer was read to its end serves the next
request), or the proxy the environment names (:mod:`.proxied`), with the CA bundle as
``requests`` reads the environment, and URLs encoded as ``requests`` encodes them.

The environment is read once: the CA bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``,
else certifi's) at the first https request, the proxy (``HTTPS_PROXY``, ``HTTP_PROXY``,
``NO_PROXY``…) at an origin's first request; ``requests`` and urllib3 are loaded only
for a URL that needs encoding or when the environment names a proxy.
"""

from __future__ import annotations

import functools
import os
import re
import ssl
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from .errors import FetchError
from .transport import DirectPool, tls_context

if TYPE_CHECKING:
    from .proxied import ProxySender

__all__ = ["Senders", "authority", "environment_proxy", "origin_and_target", "prepared_url",
           "query_string", "tls_bundle"]

#: Connections kept per origin through a proxy (one per thread of a source's pool, and
#: some spare).
_POOL_SIZE = 16
#: A URL made only of these characters is sent as it is; any other (a space, ``%``,
#: non-ASCII) is encoded as ``requests`` encodes it.
_PLAIN_URL = re.compile(r"[A-Za-z0-9\-._~!#$&'()*+,/:;=?@\[\]]*")
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: What comes before the first ``://``, the authority after it (up to a ``/``, ``?`` or
#: ``#``), and the target (up to a ``#``).
_SCHEME_AUTHORITY_REST = re.compile(r"(.*?)://([^/?#]*)([^#]*)", re.DOTALL)


class Senders:
    """What sends the requests of each origin, chosen at its first request; thread-safe."""

    def __init__(self, *, connect_timeout: float | None = None,
                 read_timeout: float | None = None) -> None:
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._tls: ssl.SSLContext | None = None
        self._origins: dict[str, DirectPool | ProxySender] = {}
        self._proxies: dict[str, ProxySender] = {}
        self._lock = threading.Lock()
        self._tls_lock = threading.Lock()
        #: The ``scheme://authority`` of the last direct request as its URL spelled it,
        #: and its pool: the next URL that starts so, then ``/``, needs no parsing.
        self._last: tuple[str, DirectPool | None] = ("", None)

    def sender(self, url: str) -> tuple[DirectPool | ProxySender, str]:
        """What sends a request for ``url``, and the target to give it: direct, the pool of
        ``url``'s origin and the path; through the proxy the environment names for the
        origin (as ``requests`` reads the environment), the proxy's sender and the whole
        URL. Chosen at the origin's first request."""
        prefix, pool = self._last
        if pool is not None and url.startswith(prefix):
            target = url[len(prefix):]
            if target.startswith("/") and "#" not in target:
                return pool, target
        origin, target = origin_and_target(url)
        sender = self._origins.get(origin)
        if sender is None:
            sender = self._new_sender(url, origin, environment_proxy(url))
        if isinstance(sender, DirectPool):
            self._remember(url, sender)
            return sender, target
        return sender, url

    def _remember(self, url: str, pool: DirectPool) -> None:
        """Let the next URLs of ``url``'s origin, spelled as it is, skip the parsing."""
        parts = _SCHEME_AUTHORITY_REST.match(url)
        if parts is not None:
            self._last = (url[:parts.end(2)], pool)

    def _new_sender(self, url: str, origin: str, proxy: str) -> DirectPool | ProxySender:
        with self._lock:
            sender = self._origins.get(origin)
            if sender is not None:
                return sender
            if not proxy:
                sender = self._direct(url)
            else:
                sender = self._proxies.get(proxy) or self._proxy(proxy, url)
                self._proxies[proxy] = sender
            self._origins[origin] = sender
            return sender

    def _direct(self, url: str) -> DirectPool:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            port = parts.port or _DEFAULT_PORTS.get(scheme)
        except ValueError as exc:
            raise FetchError(f"request failed: {url}: the port is not a number",
                             url=url) from exc
        if scheme not in _DEFAULT_PORTS or not parts.hostname or port is None:
            raise FetchError(f"request failed: {url}: not an http(s) URL", url=url)
        return DirectPool(scheme, parts.hostname, port, connect_timeout=self._connect_timeout,
                          read_timeout=self._read_timeout, tls=self._tls_context)

    def _tls_context(self) -> ssl.SSLContext:
        """One context for every https origin (loading a CA bundle costs milliseconds)."""
        with self._tls_lock:
            if self._tls is None:
                self._tls = tls_context(*tls_bundle())
            return self._tls

    def _proxy(self, proxy: str, url: str) -> ProxySender:
        import urllib3

        from .proxied import ProxySender

        bundle, folder = tls_bundle()
        tls = {"cert_reqs": "CERT_REQUIRED",
               ("ca_cert_dir" if folder else "ca_certs"): bundle}
        return ProxySender(proxy, url, pool_size=_POOL_SIZE, tls=tls,
                           timeout=urllib3.Timeout(connect=self._connect_timeout,
                                                   read=self._read_timeout))

    def close(self) -> None:
        with self._lock:
            senders = {id(s): s for s in [*self._origins.values(), *self._proxies.values()]}
            self._proxies, self._origins = {}, {}
            self._last = ("", None)
        for sender in senders.values():
            sender.close()


def prepared_url(url: str, params: Mapping[str, str] | None = None) -> str:
    """``url`` with ``params`` appended, encoded as ``requests`` encodes it (a plain URL
    as it is, anything else through ``requests``' own preparation)."""
    if _PLAIN_URL.fullmatch(url):
        if not params:
            return url
        return f"{url}{'&' if '?' in url else '?'}{query_string(tuple(params.items()))}"
    import requests  # only for URLs that need encoding

    try:
        prepared = requests.PreparedRequest()
        prepared.prepare_url(url, params)
    except requests.exceptions.RequestException as exc:
        raise FetchError(f"request failed: {url}: {type(exc).__name__}", url=url) from exc
    return prepared.url or url


@functools.lru_cache(maxsize=512)
def query_string(items: tuple[tuple[str, str], ...]) -> str:
    """``items`` URL-encoded as a query (remembered: a walk sends the same few parameters
    with thousands of requests)."""
    return urlencode(items)


def origin_and_target(url: str) -> tuple[str, str]:
    """``scheme://netloc`` of an http(s) URL in lower case, and its request target (path
    and query, no fragment): what :func:`urllib.parse.urlsplit` gives, without its cost
    per request."""
    parts = _SCHEME_AUTHORITY_REST.match(url)
    if parts is None:
        split = urlsplit(url)
        return (f"{split.scheme}://{split.netloc}".lower(),
                f"{split.path or '/'}{'?' if split.query else ''}{split.query}")
    scheme, authority, target = parts.groups()
    return f"{scheme}://{authority}".lower(), \
        target if target.startswith("/") else f"/{target}"


def authority(url: str) -> str:
    """The ``netloc`` of an http(s) URL in lower case, as :func:`origin_and_target` finds
    it (what the fetcher's pacing per host is keyed by)."""
    parts = _SCHEME_AUTHORITY_REST.match(url)
    if parts is None:
        return origin_and_target(url)[0].partition("://")[2]
    return parts[2].lower()


def environment_proxy(url: str) -> str:
    """The proxy the environment names for ``url`` ("" for none), as ``requests`` reads
    the environment (``NO_PROXY`` included, with its CIDR ranges)."""
    import urllib.request

    if not urllib.request.getproxies():
        return ""  # what requests would find too; it is not even loaded
    import requests.utils

    proxies = requests.utils.get_environ_proxies(url)
    return requests.utils.select_proxy(url, proxies) or ""


def tls_bundle() -> tuple[str, bool]:
    """The CA bundle to check certificates against, as ``requests`` finds it: the one named
    by ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``, else certifi's; and whether it is a
    folder (of hashed certificates) rather than a file."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if not bundle:
        import certifi

        bundle = certifi.where()
    return bundle, os.path.isdir(bundle)
