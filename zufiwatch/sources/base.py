"""The interface every source adapter implements.

A source crawls (fetches and archives payloads, through the shared :class:`Fetcher`) and
parses payloads into normalised :class:`Record` values with pure functions. It reports
what it learned as a stream of items:

- :class:`Observed` — records built from payloads received intact;
- :class:`Confirmed` — an entry whose payloads carry the content its current version was
  parsed from (volatile fields such as import times aside; parsing is pure, so it is
  unchanged and need not be parsed);
- :class:`Unobserved` — an entry the source knows exists but could not read this time
  (nothing may be concluded about it);
- :class:`Incomplete` — a whole kind of record could not be read completely;
- :class:`Listing` — how many entries the source's own listing promised and delivered;
- :class:`Strike` — one more failed check of an entry whose last known state stands (the
  runner counts consecutive strikes; the link checker reports a link broken after N);
- :class:`Fatal` — the crawl cannot say anything reliable (the listing failed);
- :class:`Progress` — how far a source that concludes only at the end has got (for the
  progress shown to people; it concludes nothing).

The runner decides the outcome of the crawl from these items; a source never writes to
the history itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

import orjson

from ..archive import Manifest, PutPayload
from ..config import SourceSettings
from ..errors import ArchiveError, FetchError, MalformedPayload, ZufiwatchError
from ..fetch import Fetcher, Response, Validators
from ..limits import CrawlDeadline
from ..model import Record
from ..senders import query_string
from .drift import Shape, ShapeLog
from .jsonread import read_json

log = logging.getLogger(__name__)

__all__ = [
    "CachedAnswer",
    "Confirmed",
    "CrawlContext",
    "CrawlItem",
    "Fatal",
    "Incomplete",
    "Listing",
    "Metered",
    "Observed",
    "Progress",
    "Source",
    "Strike",
    "Unobserved",
    "Unverified",
    "Vouched",
    "content_digest",
    "decode_json",
    "failure_reason",
    "unreadable",
    "without",
]


@dataclass(frozen=True)
class Observed:
    records: tuple[Record, ...]
    #: Fingerprint of the payloads (and parser version) the records were parsed from.
    fingerprint: str = ""


@dataclass(frozen=True)
class Confirmed:
    key: str
    fingerprint: str
    #: The volatile values of this answer (import times), kept with the current version
    #: as an observation would; None leaves them as they are.
    volatile: dict[str, Any] | None = None


@dataclass(frozen=True)
class Vouched:
    """An entry the source's listing says is unchanged (same ``lastUpdate``): seen, not
    fetched (incremental crawls)."""

    key: str


@dataclass(frozen=True)
class Unverified:
    """A kind of record this crawl did not set out to read completely (incremental
    crawls): none of it is concluded missing, and the crawl is not partial for it."""

    kind: str
    reason: str


@dataclass(frozen=True)
class Unobserved:
    key: str
    reason: str


@dataclass(frozen=True)
class Incomplete:
    """Not every record of ``kind`` could be read: none of that kind may be concluded gone."""

    kind: str
    reason: str


@dataclass(frozen=True)
class Listing:
    name: str
    expected: int
    received: int


@dataclass(frozen=True)
class Strike:
    """A check of ``key`` failed; its last known state stands until the source concludes
    otherwise. The runner keeps the count of consecutive strikes (``CrawlContext.strikes``)
    and resets it when the entry is observed."""

    key: str
    reason: str


@dataclass(frozen=True)
class Fatal:
    reason: str


@dataclass(frozen=True)
class Progress:
    """How far a source that concludes only at the end (the link checker) has got:
    ``done`` of ``total`` entries checked, ``errors`` of them failed. Concludes nothing."""

    done: int
    total: int
    errors: int = 0


CrawlItem = (Observed | Confirmed | Vouched | Unobserved | Incomplete | Unverified | Listing
             | Strike | Fatal | Progress)


class Metered(Protocol):
    """An HTTP client that counts what it sent and received."""

    @property
    def requests(self) -> int: ...

    @property
    def bytes_received(self) -> int: ...

#: (source name, key, kind, content) of a present record of another source.
DirectoryRecord = tuple[str, str, str, dict[str, Any]]


@dataclass
class CrawlContext:
    """What a source needs for one crawl; the edges (HTTP, archive, clock) passed in."""

    settings: SourceSettings
    #: ``None`` when an archived crawl is replayed.
    fetcher: Fetcher | None
    #: Stores a payload unless the archive has it; returns its SHA-256.
    archive_put: PutPayload
    manifest: Manifest | None
    now: Callable[[], datetime]
    parser_version: str
    #: CPU seconds of the crawling thread per step (``parse`` for sources).
    timings: dict[str, float] = field(default_factory=dict)
    #: Fingerprints of the payloads each stored current version was parsed from, by key.
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    #: The content of the stored current version of a key (None if none); read in the
    #: crawling thread only (it reads the history).
    stored: Callable[[str], dict[str, Any] | None] = lambda key: None
    #: Entries whose record took a part from their stored version instead of asking the
    #: source for it (the offices of a PVOG Leistung): the crawl verified less than all.
    reused: int = 0
    #: Incremental crawl: skip entries whose listing ``lastUpdate`` equals ``stamps``.
    incremental: bool = False
    #: The stored ``lastUpdate`` of each current version, by key (incremental crawls).
    stamps: Mapping[str, str] = field(default_factory=dict)
    #: Reads archived payloads (for answers "304 Not Modified").
    archive_get: Callable[[str], bytes] | None = None
    #: Validators of earlier answers, by request URL: what makes a conditional request.
    cached: Mapping[str, CachedAnswer] = field(default_factory=dict)
    #: Validators of this crawl's answers, to remember for the next crawl.
    fresh: dict[str, CachedAnswer] = field(default_factory=dict)
    #: Consecutive failed checks before this crawl, by key (see :class:`Strike`).
    strikes: Mapping[str, int] = field(default_factory=dict)
    #: The current records of the other sources (what the link checker follows).
    directory: Callable[[], Iterable[DirectoryRecord]] = lambda: ()
    #: Set when the crawl should stop after the step it is in.
    stop: threading.Event | None = None
    #: The shapes of the answers: unknown keys and needed fields missing, per endpoint
    #: (with what the previous crawl lets a live crawl know without walking an answer).
    shapes: ShapeLog = field(default_factory=ShapeLog)
    #: When the crawl must end: the fetcher refuses requests after it.
    deadline: CrawlDeadline | None = None
    #: HTTP clients of the source besides the fetcher (the link checker's safe client):
    #: their requests and bytes count as the crawl's.
    clients: list[Metered] = field(default_factory=list)
    _fresh_lock: threading.Lock = field(default_factory=threading.Lock)

    def fingerprint(self, *bodies: bytes) -> str:
        """Identifies these payloads, byte for byte, under this parser version: how the
        earlier releases' walks fingerprinted (their frozen copies in ``tests/legacy``
        call it, to make the histories the upgrade tests start from); today's walks use
        :meth:`content_fingerprint`."""
        digest = hashlib.sha256(self.parser_version.encode())
        for body in bodies:
            digest.update(len(body).to_bytes(8, "big"))
            digest.update(body)
        return digest.hexdigest()

    def content_fingerprint(self, *parts: Any) -> str:
        """Identifies the content of decoded answers under this parser version: ``parts``
        are JSON values with their volatile fields already removed (see
        :func:`without`); the order of an object's keys does not matter."""
        return content_digest(self.parser_version, *parts)

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        begin = time.thread_time()
        try:
            yield
        finally:
            self.timings[step] = self.timings.get(step, 0.0) + time.thread_time() - begin

    def fetch(self, url: str, *, endpoint: str, key: str = "",
              params: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> Response:
        """GET, archive the body and note it in the manifest (errors noted too).

        Conditional where an earlier answer left validators: a 304 is answered with the
        archived body of that earlier answer.
        """
        if self.fetcher is None or self.manifest is None:
            raise RuntimeError("a replayed crawl cannot fetch")
        cache_key = request_key(url, params)
        known = self.cached.get(cache_key)
        if self.deadline is not None:
            self.deadline.endpoint = endpoint
        try:
            response = self.fetcher.get(url, params=params, headers=headers,
                                        validators=known.validators if known else None,
                                        deadline=self.deadline)
            if response.not_modified:
                response = self._from_archive(response, known)
        except ZufiwatchError as exc:
            self.manifest.add(url=getattr(exc, "url", "") or url, params=params or {},
                              endpoint=endpoint, key=key, error=str(exc),
                              status=getattr(exc, "status", None),
                              parser_version=self.parser_version)
            raise
        digest = self.archive_put(response.body, url=response.url, status=response.status,
                                  content_type=response.content_type)
        self.manifest.add(url=response.url, endpoint=endpoint, key=key, sha256=digest,
                          status=response.status, content_type=response.content_type,
                          size=len(response.body), parser_version=self.parser_version)
        validators = response.validators
        if validators.etag or validators.last_modified:
            answer = CachedAnswer(validators, digest, response.content_type)
            if answer != known:
                with self._fresh_lock:
                    self.fresh[cache_key] = answer
        return response

    def _from_archive(self, response: Response, known: CachedAnswer | None) -> Response:
        if known is None or self.archive_get is None:
            raise FetchError(f"304 Not Modified to an unconditional request: {response.url}",
                             url=response.url)
        try:
            body = self.archive_get(known.sha256)
        except ArchiveError:
            assert self.fetcher is not None
            # The archived answer is gone: ask again without validators.
            return self.fetcher.get(response.url, deadline=self.deadline)
        headers = {"ETag": known.validators.etag, "Last-Modified": known.validators.last_modified}
        return Response.made(response.url, 304, known.content_type, body,
                             {k: v for k, v in headers.items() if v}, response.attempts)


@dataclass(frozen=True)
class CachedAnswer:
    """An earlier answer to a request: its validators and where its body is archived."""

    validators: Validators
    sha256: str
    content_type: str = ""


def request_key(url: str, params: Mapping[str, str] | None) -> str:
    """The full URL of a request, parameters sorted: how answers are remembered."""
    if not params:
        return url
    return f"{url}?{query_string(tuple(sorted(params.items())))}"


class Source(ABC):
    """A directory zufiwatch watches."""

    kind: ClassVar[str]
    parser_version: ClassVar[str]
    #: Conclude an entry removed only when the source says it is gone (a recheck answers
    #: 404/410), never by counting the crawls that did not list it: for a source that runs
    #: often and reads a cheap listing (the hourly link watch), a listing's blip of a few
    #: runs is no removal; the full crawl decides by its own count.
    removes_only_when_gone: ClassVar[bool] = False
    #: The known keys of the answers, by endpoint (see :mod:`.drift`): a crawl walks again
    #: the answers whose content it knows where they differ from the previous crawl's.
    answer_shapes: ClassVar[Mapping[str, Shape]] = {}

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings

    @property
    def name(self) -> str:
        return self.settings.name

    @abstractmethod
    def crawl(self, ctx: CrawlContext) -> Iterator[CrawlItem]:
        """Fetch everything and yield what was learned."""

    def recheck(self, ctx: CrawlContext, keys: list[str]) -> dict[str, bool | None]:
        """Ask the source directly about entries a complete crawl did not see:
        ``True`` gone (404/410), ``False`` still there, ``None`` cannot tell."""
        return dict.fromkeys(keys)

    @abstractmethod
    def replay(self, ctx: CrawlContext, entries: Iterable[dict[str, Any]],
               load: Callable[[str], bytes]) -> Iterator[CrawlItem]:
        """Yield what an earlier crawl learned, from its manifest ``entries`` and the
        archived payloads (``load`` maps a SHA-256 to the bytes), parsed anew."""


def content_digest(parser_version: str, *parts: Any) -> str:
    """SHA-256 of ``parts`` in a canonical form (keys sorted, no whitespace, UTF-8, the
    text :func:`json.dumps` writes with ``sort_keys=True, ensure_ascii=False`` and compact
    separators), under ``parser_version``.

    orjson writes that text for the values answers hold (strings, integers, floats
    between 1e-4 and 1e16, booleans, null), at a tenth of the cost; values it would write
    otherwise, or not at all (integers beyond 64 bits, lone surrogates, anything not
    plain JSON), are written by :func:`json.dumps`. A float outside that range is written
    in another notation (``1e-9``, not ``1e-09``): its digest differs from the one of
    before, so such an answer is parsed once more, never confirmed falsely (either text
    reads back as the same value). ``parts`` are values :func:`~.jsonread.read_json`
    returns: no NaN or Infinity.
    """
    whole = [parser_version, *parts]
    try:
        text = orjson.dumps(whole, option=_CANONICAL)
    except orjson.JSONEncodeError:
        text = json.dumps(whole, sort_keys=True, ensure_ascii=False, separators=(",", ":")
                          ).encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()


#: orjson's options for the canonical form; anything it does not write as plain JSON
#: (dataclasses, dates, subclasses) goes to :func:`json.dumps` as before.
_CANONICAL = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS
              | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS)


def without(payload: Any, volatile: Iterable[str]) -> Any:
    """A JSON object without its ``volatile`` top-level keys (a shallow copy); anything
    else as it is."""
    if not isinstance(payload, dict):
        return payload
    drop = set(volatile)
    return {k: v for k, v in payload.items() if k not in drop}


def decode_json(response: Response | bytes, endpoint: str) -> Any:
    """Parse a JSON payload, or raise :class:`MalformedPayload` saying what is wrong: an
    HTML page instead of JSON, and everything :func:`~.jsonread.read_json` refuses (not
    UTF-8, truncated or malformed, too deep, too long a number, NaN, a repeated key)."""
    body = response.body if isinstance(response, Response) else response
    content_type = response.content_type if isinstance(response, Response) else ""
    start = body[:1]
    if start.isspace():  # rare: only then is the body copied to find its first character
        start = body.lstrip()[:1]
    if "html" in content_type.lower() or start == b"<":
        raise MalformedPayload(
            f"{endpoint}: an HTML page instead of JSON (error or maintenance page?)",
            endpoint=endpoint)
    return read_json(body, endpoint)


def failure_reason(exc: Exception, what: str) -> str:
    """Why ``what`` (an entry, a part of a crawl) could not be read. A ZufiwatchError says
    it itself (a bad answer); any other exception is an answer no check foresaw or a fault
    of the parser: logged with its traceback, and named with its type."""
    if isinstance(exc, ZufiwatchError):
        return str(exc)
    log.warning("%s could not be read: unexpected %s", what, type(exc).__name__, exc_info=exc)
    return f"unexpected {type(exc).__name__} while reading it: {exc}"


def unreadable(key: str, exc: Exception, shapes: ShapeLog) -> Unobserved:
    """The entry ``key`` not observed, as reading its answers raised ``exc`` (whatever it
    is: one bad entry never ends the crawl); a field it lacked is noted in ``shapes``."""
    shapes.missing(exc)
    return Unobserved(key, failure_reason(exc, key))
