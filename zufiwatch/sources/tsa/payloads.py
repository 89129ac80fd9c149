"""Where the ZuFi's answers come from: the API now (with the api_key), or the archive of
an earlier crawl."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlencode

from ...config import SourceSettings
from ...credentials import read_secret
from ...errors import ArchiveError, ConfigError, FetchError, HTTPStatusError, ZufiwatchError
from ...fetch import Response
from ..base import CrawlContext

__all__ = ["Archived", "Live", "Payloads", "RejectedKey", "load_api_key", "request_url"]


def load_api_key(settings: SourceSettings) -> str:
    """The api_key from where the configuration names it; ConfigError naming the key."""
    where = f"sources[{settings.name}]"
    key = read_secret(what="api_key", env_key=f"{where}.api_key_env", env=settings.api_key_env,
                      file_key=f"{where}.api_key_file", file=settings.api_key_file,
                      credential_key=f"{where}.api_key_credential",
                      credential=settings.api_key_credential)
    if not key:
        raise ConfigError(f"{where}: no api_key source named (api_key_env, api_key_file or "
                          "api_key_credential)")
    return key


class RejectedKey(ZufiwatchError):
    """The API refused the api_key: a configuration error, not an empty directory."""


class Payloads(Protocol):
    def get(self, path: str, params: dict[str, str], endpoint: str, key: str = "") -> Response:
        ...


class Live:
    """Payloads fetched now, through the crawl's fetcher (archived and in the manifest)."""

    def __init__(self, settings: SourceSettings, ctx: CrawlContext, api_key: str) -> None:
        self.base = settings.base_url.rstrip("/")
        self.ctx = ctx
        self.headers = {"api_key": api_key, "Accept": "application/json",
                        "Accept-Language": "de_DE"}

    def get(self, path: str, params: dict[str, str], endpoint: str, key: str = "") -> Response:
        return self.ctx.fetch(request_url(self.base, path, params), endpoint=endpoint, key=key,
                              headers=self.headers)


class Archived:
    """The payloads of an earlier crawl, by request URL.

    Crawls by parser tsa-1 asked for a first page with ``offset=0``: such a page answers
    a first page asked for without offset."""

    def __init__(self, settings: SourceSettings, entries: list[dict[str, Any]],
                 load: Callable[[str], bytes]) -> None:
        self.base = settings.base_url.rstrip("/")
        self.load = load
        self.by_url = {entry["url"]: entry for entry in entries if entry.get("url")}

    def get(self, path: str, params: dict[str, str], endpoint: str, key: str = "") -> Response:
        url = request_url(self.base, path, params)
        entry = self.by_url.get(url)
        if entry is None and "offset" not in params and "limit" in params:
            first = {k: v for k, v in params.items() if k != "limit"}
            first.update(offset="0", limit=params["limit"])
            entry = self.by_url.get(request_url(self.base, path, first))
        if entry is None:
            raise ArchiveError(f"the archived crawl has no payload for {url}")
        if entry.get("error"):
            if entry.get("status"):
                raise HTTPStatusError(f"archived: {entry['error']}", url=url,
                                      status=int(entry["status"]))
            raise FetchError(f"archived fetch failed: {entry['error']}", url=url)
        if not entry.get("sha256"):
            raise ArchiveError(f"the archived crawl has no body for {url}")
        return Response(url, entry.get("status") or 200, entry.get("content_type", ""),
                        self.load(entry["sha256"]))


def request_url(base: str, path: str, params: dict[str, str]) -> str:
    """The request URL with its query: how the manifest remembers it."""
    return f"{base}{path}?{urlencode(params)}" if params else f"{base}{path}"
