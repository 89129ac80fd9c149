"""The link checker: follows the links the other sources' records hold, safely.

Every online-service link (and, with ``text_links``, the links in text modules and the
offices' web addresses) of the current records is fetched through
:class:`~zufiwatch.safehttp.SafeClient`: only http(s), no loopback, private or link-local
address at any hop, capped redirects, bytes and time, no cookies or credentials, paced per
host. Each link becomes a ``link`` record: its state, the redirect chain, the final URL,
content type, page title, the authority the page names and the ThAVEL instance. Its
history is kept like any other record's.

A link that fails is not broken at once: each failed check is a :class:`Strike`, and only
the ``broken_after``-th consecutive one records it as broken (once). A link refused by the
safety rules is recorded at once: that is a property of the link, not a hiccup. When most
links fail in one check the fault is taken to be on this side and the check fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from .. import weburl
from ..config import SourceSettings
from ..errors import ArchiveError
from ..linkpage import PageFacts, page_facts
from ..model import Record, record_key
from ..normalize import canonical_url, thavel_instance
from ..safehttp import (
    Hop,
    LinkAnswer,
    LinkError,
    LinkFailed,
    LinkRefused,
    SafeClient,
    SafetyPolicy,
)
from .base import (
    CrawlContext,
    CrawlItem,
    DirectoryRecord,
    Fatal,
    Listing,
    Observed,
    Progress,
    Source,
    Strike,
)

__all__ = ["LinkSource", "collect_links", "link_content"]

log = logging.getLogger(__name__)

ENDPOINT = "link"
#: What the record says about a link's state (the AG OZG's words).
REACHABLE = "erreichbar"
BROKEN = "nicht erreichbar"
REFUSED = "gesperrt"
#: Failure categories of the safe client, as the overview and mails show them.
FAILURE_TEXT = {
    "dns": "Name nicht auflösbar",
    "connect": "Verbindung fehlgeschlagen",
    "timeout": "Zeitüberschreitung",
    "tls": "TLS-Verbindung oder Zertifikat fehlerhaft",
    "protocol": "Ungültige HTTP-Antwort",
    "redirects": "Zu viele Weiterleitungen oder Schleife",
    "time": "Zeitlimit der Prüfung überschritten",
    "scheme": "Kein http(s)-Link",
    "address": "Nicht öffentliche Adresse",
}
#: Top-level fields holding online-service links, by record kind.
ONLINE_FIELDS = {"leistung": ("onlinedienste",), "onlinedienst": ("links",)}
#: At least this many links must have been checked before "most failed" is concluded.
MIN_FOR_MASS_FAILURE = 3


@dataclass(frozen=True)
class Target:
    """One link to check and the records that hold it."""

    url: str
    #: (key, title, zuständige Stelle) of each record holding the link, sorted.
    used_by: tuple[tuple[str, str, str], ...]

    @property
    def key(self) -> str:
        return record_key("link", self.url)


@dataclass(frozen=True)
class Check:
    """The outcome of checking one link: an answer, or the error that ended it."""

    target: Target
    answer: LinkAnswer | None = None
    error: LinkError | None = None
    facts: PageFacts = field(default_factory=PageFacts)
    #: A meta refresh that was followed: the first page's answer.
    refreshed_from: LinkAnswer | None = None
    #: Where the final page is archived (its body is not kept in memory after that).
    sha256: str = ""


def collect_links(records: Iterable[DirectoryRecord], *,
                  text_links: bool = False) -> list[Target]:
    """The links to check, each with the records that hold it, sorted by URL.

    Online-service links are the ``onlinedienste`` of Leistungen and the ``links`` of
    Onlinedienste; ``text_links`` adds every other link the records hold (text modules,
    Ursprungsportal, Internetadressen of offices).
    """
    users: dict[str, set[tuple[str, str, str]]] = {}
    for _source, key, kind, content in records:
        holder = (key, str(content.get("name") or ""), _office(kind, content))
        online = ONLINE_FIELDS.get(kind, ())
        for name, value in content.items():
            if name in online or text_links:
                for url in _urls(value, bare=text_links and name not in online):
                    users.setdefault(url, set()).add(holder)
    return [Target(url, tuple(sorted(holders))) for url, holders in sorted(users.items())
            if _checkable(url)]


def _office(kind: str, content: dict[str, Any]) -> str:
    """The zuständige Stelle (role 01) of a Leistung, or the office itself."""
    if kind == "organisationseinheit":
        return str(content.get("name") or "")
    for office in content.get("zustaendigkeiten", []) if kind == "leistung" else []:
        if isinstance(office, dict) and office.get("rolle") == "01":
            return str(office.get("name") or "")
    return ""


def _urls(value: Any, *, bare: bool = False) -> Iterator[str]:
    """The URLs of link objects (``{"url": …}``) in a value; with ``bare``, also strings
    that are URLs themselves (an office's web addresses, an appointment link)."""
    if isinstance(value, dict):
        url = value.get("url")
        if isinstance(url, str) and url.strip():
            yield canonical_url(url)
        for name, item in value.items():
            if name != "url":
                yield from _urls(item, bare=bare)
    elif isinstance(value, list):
        for item in value:
            yield from _urls(item, bare=bare)
    elif bare and isinstance(value, str) and value.startswith(("http://", "https://")):
        yield canonical_url(value)


def _checkable(url: str) -> bool:
    """Links with a scheme are checked (and non-http ones refused); a relative or empty
    value is not a link to follow (``http://[broken`` has a scheme: it is refused)."""
    return bool(weburl.written_scheme(url))


def policy_of(settings: SourceSettings, user_agent: str, connect_timeout: float,
              read_timeout: float) -> SafetyPolicy:
    return SafetyPolicy(
        max_redirects=settings.max_redirects, max_bytes=settings.max_bytes,
        connect_timeout=min(connect_timeout, settings.timeout),
        read_timeout=min(read_timeout, settings.timeout), total_timeout=settings.timeout,
        min_interval=settings.min_interval, allow_local=settings.allow_local,
        connect_to=settings.connect_rules, ca_file=settings.ca_file, user_agent=user_agent)


class LinkSource(Source):
    """Follows every link of the watched sources' current records (``kind = "links"``)."""

    kind = "links"
    parser_version = "links-1"

    def crawl(self, ctx: CrawlContext) -> Iterator[CrawlItem]:
        targets = collect_links(ctx.directory(), text_links=self.settings.text_links)
        if not targets:
            watched = ", ".join(self.settings.watch) or "every other source"
            yield Fatal(f"no links to check: the current records of {watched} hold none "
                        "(has the directory been crawled yet?)")
            return
        if ctx.fetcher is None:
            raise RuntimeError("a live check needs the crawl's fetcher (its [http] settings)")
        http = ctx.fetcher.settings
        policy = policy_of(self.settings, http.user_agent, http.connect_timeout,
                           http.read_timeout)
        checks: list[Check] = []
        failed = 0
        with SafeClient(policy) as client:
            ctx.clients.append(client)  # its requests are the crawl's
            yield Progress(0, len(targets))
            for check in self._check_all(ctx, client, targets):
                checks.append(check)
                failed += _failed(check)
                yield Progress(len(checks), len(targets), failed)
        yield from self._conclude(ctx, targets, checks)

    def _check_all(self, ctx: CrawlContext, client: SafeClient,
                   targets: list[Target]) -> Iterator[Check]:
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency,
                                thread_name_prefix="linkcheck") as pool:
            futures: list[Future[Check | None]] = [
                pool.submit(self._check, ctx, client, target) for target in targets]
            for future in futures:
                check = future.result()
                if check is not None:
                    yield check

    def _check(self, ctx: CrawlContext, client: SafeClient, target: Target) -> Check | None:
        if ctx.stop is not None and ctx.stop.is_set():
            return None
        try:
            answer = client.get(target.url)
        except LinkError as exc:
            check = Check(target, error=exc)
        else:
            check = self._read_page(client, target, answer)
        return _archived(ctx, check)

    def _read_page(self, client: SafeClient, target: Target, answer: LinkAnswer) -> Check:
        facts = self._facts(answer)
        hops = len(answer.hops) - 1
        if facts.refresh and answer.status < 400 and hops < self.settings.max_redirects:
            # One <meta http-equiv="refresh"> is followed like a redirect (same rules).
            try:
                second = client.get(_refresh_target(answer.final_url, facts.refresh))
            except LinkError as exc:
                return Check(target, error=_with_earlier_hops(exc, answer),
                             refreshed_from=answer)
            return Check(target, answer=second, facts=self._facts(second),
                         refreshed_from=answer)
        return Check(target, answer=answer, facts=facts)

    def _facts(self, answer: LinkAnswer) -> PageFacts:
        return page_facts(answer.body, answer.content_type,
                          selectors=self.settings.authority_selectors,
                          pattern=self.settings.authority_pattern)

    def _archive(self, ctx: CrawlContext, check: Check, recorded: bool) -> None:
        """Keep the evidence: the final page and what the check saw; ``recorded`` says
        whether it made a record (a replay parses those again)."""
        if ctx.manifest is None:
            return
        entry = _manifest_entry(check)
        if check.sha256:
            entry["sha256"] = check.sha256
        ctx.manifest.add(endpoint=ENDPOINT, key=check.target.key,
                         parser_version=self.parser_version, recorded=recorded, **entry)

    def _conclude(self, ctx: CrawlContext, targets: list[Target],
                  checks: list[Check]) -> Iterator[CrawlItem]:
        failed = sum(1 for c in checks if isinstance(c.error, LinkFailed))
        if len(checks) >= MIN_FOR_MASS_FAILURE and failed > self.settings.max_failures * len(
                checks):
            for check in checks:
                self._archive(ctx, check, recorded=False)
            yield Fatal(f"{failed} of {len(checks)} links could not be reached: the fault is "
                        "probably on this side (network, DNS, proxy); no link counts as failed")
            return
        for check in checks:
            yield self._item(ctx, check)
        yield Listing("link", len(targets), len(checks))

    def _item(self, ctx: CrawlContext, check: Check) -> CrawlItem:
        content = link_content(check)
        record = Record("link", check.target.url, content, _volatile(check))
        strikes = ctx.strikes.get(check.target.key, 0) + 1
        recorded = content["zustand"] != BROKEN or strikes >= self.settings.broken_after
        self._archive(ctx, check, recorded)
        if recorded:
            return Observed((record,))
        return Strike(check.target.key, content["fehler"])

    def replay(self, ctx: CrawlContext, entries: Iterable[dict[str, Any]],
               load: Callable[[str], bytes]) -> Iterator[CrawlItem]:
        """Parse the archived pages of an earlier check again. Only links that check
        recorded (reached, refused or concluded broken) are replayed; its strikes are not
        counted again."""
        for entry in entries:
            if entry.get("endpoint") != ENDPOINT or not entry.get("recorded"):
                continue
            try:
                check = _check_from_entry(entry, load, self._facts)
            except (ArchiveError, KeyError, TypeError, ValueError) as exc:
                log.warning("archived link check %s cannot be replayed: %s",
                            entry.get("url"), exc)
                continue
            yield Observed((Record("link", check.target.url, link_content(check),
                                   _volatile(check)),))


def _failed(check: Check) -> bool:
    """Whether the check found the link unreachable (refused links are recorded as such:
    a property of the link, not a failed check)."""
    if check.error is not None:
        return isinstance(check.error, LinkFailed)
    return check.answer is not None and check.answer.status >= 400


def _archived(ctx: CrawlContext, check: Check) -> Check:
    """Put the final page into the archive and keep only its address: a check of
    thousands of links never holds their pages in memory."""
    sha256 = ""
    answer = check.answer
    if answer is not None and answer.body and ctx.manifest is not None:
        sha256 = ctx.archive_put(answer.body)
    return replace(check, answer=_without_body(answer),
                   refreshed_from=_without_body(check.refreshed_from), sha256=sha256)


def _without_body(answer: LinkAnswer | None) -> LinkAnswer | None:
    return None if answer is None else replace(answer, body=b"")


def link_content(check: Check) -> dict[str, Any]:
    """The record content of one check (pure)."""
    url = check.target.url
    content: dict[str, Any] = {"url": url}
    answer = check.answer
    hops = _all_hops(check)
    if check.error is not None:
        error = check.error
        refused = isinstance(error, LinkRefused)
        content["zustand"] = REFUSED if refused else BROKEN
        detail = FAILURE_TEXT.get(error.category, error.category)
        if refused and error.category == "address":
            detail = f"{detail}: {_host(error.url)}"
        content["fehler"] = detail
        if hops:
            content["weiterleitungen"] = [_hop(h) for h in hops]
            content["ziel"] = canonical_url(error.url)
            content["zielhost"] = _host(error.url)
        return content
    assert answer is not None
    content["status"] = answer.status
    content["zustand"] = REACHABLE if answer.status < 400 else BROKEN
    content["fehler"] = "" if answer.status < 400 else f"HTTP {answer.status}"
    content["weiterleitungen"] = [_hop(h) for h in hops[:-1]]
    final = canonical_url(answer.final_url)
    content["ziel"] = final
    content["zielhost"] = _host(final)
    content["inhaltstyp"] = answer.content_type.split(";", 1)[0].strip().lower()
    content["seitentitel"] = check.facts.title
    content["stelle"] = check.facts.authority
    content["thavel"] = thavel_instance(final) or thavel_instance(url)
    return content


def _all_hops(check: Check) -> list[Hop]:
    hops = list(check.refreshed_from.hops) if check.refreshed_from else []
    if check.answer is not None:
        hops.extend(check.answer.hops)
    elif check.error is not None:
        hops.extend(h for h in check.error.hops if h not in hops)
    return hops


def _hop(hop: Hop) -> dict[str, Any]:
    return {"url": canonical_url(hop.url), "status": hop.status}


def _host(url: str) -> str:
    """The host a browser opens for ``url`` ("" when there is none)."""
    return weburl.host_of(url)


def _refresh_target(page: str, refresh: str) -> str:
    """Where a meta refresh leads, resolved as a browser resolves it (the client refuses
    what is no URL)."""
    try:
        return weburl.join(page, refresh.strip())
    except ValueError:
        return refresh


def _volatile(check: Check) -> dict[str, Any]:
    volatile: dict[str, Any] = {
        "verwendet_in": [{"key": key, "titel": title, "stelle": office}
                         for key, title, office in check.target.used_by]}
    hops = _all_hops(check)
    if hops:
        volatile["adresse"] = hops[-1].address
    if check.error is not None:
        volatile["detail"] = str(check.error)
    return volatile


def _with_earlier_hops(error: LinkError, first: LinkAnswer) -> LinkError:
    return type(error)(str(error), category=error.category, url=error.url,
                       hops=(*first.hops, *error.hops))


def _manifest_entry(check: Check) -> dict[str, Any]:
    """What the archive keeps of a check, enough to parse it again."""
    entry: dict[str, Any] = {
        "url": check.target.url,
        "used_by": [list(u) for u in check.target.used_by],
        "hops": [[h.url, h.status, h.address, h.location] for h in _all_hops(check)],
    }
    if check.answer is not None:
        entry.update(status=check.answer.status, final_url=check.answer.final_url,
                     content_type=check.answer.content_type,
                     truncated=check.answer.truncated)
    if check.error is not None:
        entry.update(error=str(check.error), category=check.error.category,
                     error_url=check.error.url,
                     refused=isinstance(check.error, LinkRefused))
    return entry


def _check_from_entry(entry: dict[str, Any], load: Callable[[str], bytes],
                      facts: Callable[[LinkAnswer], PageFacts]) -> Check:
    target = Target(entry["url"], tuple((k, t, o) for k, t, o in entry.get("used_by", [])))
    hops = tuple(Hop(url, status, address, location)
                 for url, status, address, location in entry.get("hops", []))
    if "category" in entry:
        kind = LinkRefused if entry.get("refused") else LinkFailed
        return Check(target, error=kind(entry["error"], category=entry["category"],
                                        url=entry["error_url"], hops=hops))
    body = load(entry["sha256"]) if entry.get("sha256") else b""
    answer = LinkAnswer(url=entry["url"], hops=hops, status=int(entry["status"]),
                        final_url=entry["final_url"], content_type=entry["content_type"],
                        body=body, truncated=bool(entry.get("truncated")))
    return Check(target, answer=answer, facts=facts(answer))
