"""Configuration: one TOML file, loaded once into frozen, typed settings.

The file is found via ``--config``, then the environment variable ``ZUFIWATCH_CONFIG``,
then ``./zufiwatch.toml``. Every key is checked when the file is loaded: an unknown key, a
value of the wrong type or a missing required value raises :class:`ConfigError` naming
the file, the key and what is expected. Relative paths are resolved against the
directory of the file. Secrets never live here.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError
from .schedules import valid_cron

__all__ = [
    "ENV_VAR",
    "DaemonSettings",
    "HttpSettings",
    "NotifySettings",
    "ReportSettings",
    "RuleOverride",
    "RulesSettings",
    "Settings",
    "SmtpSettings",
    "SourceSettings",
    "WebSettings",
    "find_config",
    "load_settings",
    "settings_from_mapping",
]

ENV_VAR = "ZUFIWATCH_CONFIG"
DEFAULT_FILE = "zufiwatch.toml"
SOURCE_KINDS = ("pvog", "tsa", "links")
_RECORD_KINDS = ("leistung", "organisationseinheit", "onlinedienst", "link")


@dataclass(frozen=True)
class HttpSettings:
    """How zufiwatch identifies itself and how long it waits (``[http]``)."""

    #: Sent as ``User-Agent``; name a contact so the source's operators can reach you.
    user_agent: str = f"zufiwatch/{__version__} (ZuFi change monitor)"
    #: Sent as ``From`` when set: an e-mail address of the operator.
    contact: str = ""
    #: Seconds to wait for a connection.
    connect_timeout: float = 10.0
    #: Seconds to wait for the server to send data.
    read_timeout: float = 60.0
    #: Largest response accepted, in bytes.
    max_response_bytes: int = 50_000_000
    #: Further attempts after a connection error, a timeout, 429 or 5xx.
    retries: int = 3
    #: Seconds before the first retry; doubled for each further one, plus random jitter.
    backoff: float = 2.0
    #: Longest Retry-After honoured, in seconds; a server asking for more fails the request.
    max_retry_after: float = 300.0
    #: Redirects followed per request at most; only within the host asked (http → https
    #: on the same host included), never to another host, port or scheme.
    max_redirects: int = 5
    #: Seconds one response may take in all, redirects, headers and body included (unlike
    #: ``read_timeout``, which a server sending a byte at a time resets with every byte).
    response_deadline: float = 120.0

    def validate(self, where: str) -> None:
        _require(self.connect_timeout > 0, f"{where}.connect_timeout", "a number > 0")
        _require(self.read_timeout > 0, f"{where}.read_timeout", "a number > 0")
        _require(self.max_response_bytes > 0, f"{where}.max_response_bytes", "an integer > 0")
        _require(0 <= self.retries <= 10, f"{where}.retries", "an integer from 0 to 10")
        _require(self.backoff >= 0, f"{where}.backoff", "a number >= 0")
        _require(self.max_retry_after >= 0, f"{where}.max_retry_after", "a number >= 0")
        _require(0 <= self.max_redirects <= 30, f"{where}.max_redirects",
                 "an integer from 0 to 30")
        _require(self.response_deadline > 0, f"{where}.response_deadline", "a number > 0")


#: Where a ThAVEL start page (or any link target) names the responsible authority: the
#: first of these CSS selectors that matches (a ``meta`` element's ``content``, else the
#: element's text). Reconstructed: the live pages may differ; configure what they use.
DEFAULT_AUTHORITY_SELECTORS = ("meta[name='zustaendige-stelle']", ".zustaendige-stelle",
                               ".behoerde", ".authority", "[data-authority]")
#: Fallback: a pattern over the page's text whose first group is the authority.
DEFAULT_AUTHORITY_PATTERN = r"(?:Zuständige Stelle|Zuständige Behörde|Behörde)\s*:\s*([^\n]+)"

#: Keys that only some kinds of source read; any other kind must leave them unset.
_KIND_KEYS = {
    "pvog": ("base_url", "ars", "client_id", "page_size", "incremental", "verify_every_days",
             "max_crawl_minutes", "max_pages", "max_items", "link_watch_schedule"),
    "tsa": ("base_url", "root_ou", "area_id", "api_key_env", "api_key_file",
            "api_key_credential", "page_size", "crosscheck", "sync_window_hours",
            "max_crawl_minutes", "max_pages", "max_items"),
    "links": ("watch", "text_links", "broken_after", "max_failures", "max_redirects",
              "max_bytes", "timeout", "allow_local", "connect_to", "ca_file",
              "authority_selectors", "authority_pattern"),
}
#: Keys a kind of source cannot do without.
_REQUIRED_KEYS = {"pvog": ("base_url", "ars"), "tsa": ("base_url", "root_ou", "area_id")}


@dataclass(frozen=True)
class SourceSettings:
    """One ``[[sources]]`` entry: a directory to crawl, or the link checker."""

    #: A short unique name, used in the CLI (``crawl --source``) and in the history.
    name: str
    #: The adapter: ``"pvog"`` (PVOG Suchdienst REST API) or ``"links"`` (follows the
    #: online-service links the other sources' records hold).
    kind: str
    #: The API root, e.g. ``https://pvog.fitko.net/suchdienst/api`` (pvog), or the TSA REST
    #: API v4 of the Land (tsa).
    base_url: str = ""
    #: Amtlicher Regionalschlüssel of the municipality, 12 digits (Jena: 160530000000) (pvog).
    ars: str = ""
    #: Sent as ``pvog-sud-api-client-id`` when set (issued by FITKO).
    client_id: str = ""
    #: Page size of the service-description listing (the API rejects < 5); tsa: the
    #: ``limit`` of the office and competence pages.
    page_size: int = 100
    #: Parallel requests to this source at most (links: parallel link checks).
    max_concurrency: int = 3
    #: Minimum seconds between two requests to this source (links: to the same host).
    min_interval: float = 0.2
    #: A crawl that sees a larger share of records fewer than the history holds fails as
    #: suspicious (an empty or cut listing is never read as mass removal). Not for links:
    #: their listing is the already checked history.
    max_loss: float = 0.10
    #: An entry missing from this many consecutive complete crawls is concluded removed
    #: (sooner when its detail endpoint answers 404 or 410 on a direct recheck).
    removal_after: int = 2
    #: Where the listing carries ``lastUpdate``, read only entries whose stamp moved (and
    #: the offices they name); a full crawl still runs every ``verify_every_days``.
    incremental: bool = True
    #: Days between full verification crawls that read every entry again.
    verify_every_days: float = 7.0
    #: A field that returns to a value it had within this many days is flapping: the
    #: back-and-forth is reported once, with its sequence (0 turns this off).
    flap_window_days: float = 7.0
    #: When the daemon crawls this source: cron "minute hour day month weekday" (local
    #: time), or with a leading seconds field.
    schedule: str = "30 5 * * *"
    #: (pvog) When the daemon runs the link watch: one request for the CSV listing, which
    #: reports replaced, added or removed online-service links and added or removed
    #: Leistungen as the next full crawl would (that crawl joins its events). Cron like
    #: ``schedule``; empty turns the watch off.
    link_watch_schedule: str = "0 * * * *"
    #: (pvog, tsa) Minutes one crawl may take at most: then it stops like a service that
    #: shuts down (what was read is stored, nothing else concluded; partial) and the next
    #: crawl runs.
    max_crawl_minutes: float = 240.0
    #: (pvog, tsa) Pages one paged walk reads at most: the PVOG listing, the PVOG online
    #: services, the ZuFi office tree (every /ou/find page), the competences of all offices,
    #: one Leistung's online services. A walk that reaches it fails the crawl, naming the
    #: endpoint and the limit (nothing is concluded from a listing that does not end).
    max_pages: int = 2000
    #: (pvog, tsa) Entries one paged walk delivers at most (Leistungen, online services,
    #: offices, competences), counted as they arrive; more fail the crawl like
    #: ``max_pages``. It bounds the memory of a crawl (a ZuFi office is ~5 KB in memory).
    max_items: int = 20_000
    #: (tsa) The id of the city's root Organisationseinheit in the ZuFi; the office tree
    #: below it is walked.
    root_ou: str = ""
    #: (tsa) The ZuFi area (Gebiet) of the city: Jena 351529.
    area_id: str = ""
    #: (tsa) Name of an environment variable holding the api_key.
    api_key_env: str = ""
    #: (tsa) A file holding the api_key (first line).
    api_key_file: str = ""
    #: (tsa) Name of a systemd credential ($CREDENTIALS_DIRECTORY/<name>) holding the api_key.
    api_key_credential: str = ""
    #: (tsa) The PVOG source to compare with: online-service links and zuständige Stelle of
    #: the Leistungen both hold. Empty: no cross-check.
    crosscheck: str = ""
    #: (tsa) Hours a difference between ZuFi and PVOG may last before it is a finding (the
    #: PVOG receives the ZuFi's data about once a day).
    sync_window_hours: float = 48.0
    #: (links) The sources whose records' links are checked; empty: every other source.
    watch: tuple[str, ...] = ()
    #: (links) Also follow links in text modules and office web addresses, not only the
    #: online-service links.
    text_links: bool = False
    #: (links) A link is broken after failing this many consecutive checks (reported once).
    broken_after: int = 3
    #: (links) When a larger share of the links fails in one check, the fault is taken to be
    #: on this side (network, DNS): the check fails and no link counts a failure.
    max_failures: float = 0.5
    #: (links) Redirects followed per link at most.
    max_redirects: int = 5
    #: (links) Bytes of a target page read at most.
    max_bytes: int = 1_000_000
    #: (links) Seconds one link check may take at most, redirects included.
    timeout: float = 30.0
    #: (links) Endpoints "address:port" that may be reached although they are loopback or
    #: private addresses. For the simulator in tests and demos only: never in production.
    allow_local: tuple[str, ...] = ()
    #: (links) "host:port=address:port": connect there instead, keeping the host name for
    #: TLS and the Host header ("*:443=127.0.0.1:8443" maps every host). Simulator only.
    connect_to: tuple[str, ...] = ()
    #: (links) A PEM file of CA certificates to trust instead of the bundled ones.
    ca_file: str = ""
    #: (links) CSS selectors for the authority a target page names (first match wins).
    authority_selectors: tuple[str, ...] = DEFAULT_AUTHORITY_SELECTORS
    #: (links) Regular expression over the page text; group 1 is the authority (fallback).
    authority_pattern: str = DEFAULT_AUTHORITY_PATTERN

    def validate(self, where: str) -> None:
        _require(bool(re.fullmatch(r"[A-Za-z0-9_.-]+", self.name)), f"{where}.name",
                 "letters, digits, '.', '_' or '-'")
        _require(self.kind in SOURCE_KINDS, f"{where}.kind", f"one of {list(SOURCE_KINDS)}")
        own = _KIND_KEYS.get(self.kind, ())
        for kind, keys in _KIND_KEYS.items():
            for key in keys:
                if key not in own:
                    _require(getattr(self, key) == _DEFAULTS[key], f"{where}.{key}",
                             f"nothing here: {key} is for sources of kind {kind!r}, "
                             f"this one is {self.kind!r}")
        for key in _REQUIRED_KEYS.get(self.kind, ()):
            _require(bool(getattr(self, key)), f"{where}.{key}",
                     f"a value (this key is required for kind {self.kind!r})")
        if self.kind == "links":
            self._validate_links(where)
        elif self.kind == "tsa":
            self._validate_tsa(where)
        else:
            self._validate_directory(where)
        _require(self.max_concurrency >= 1, f"{where}.max_concurrency", "an integer >= 1")
        _require(self.min_interval >= 0, f"{where}.min_interval", "a number >= 0")
        _require(0 < self.max_loss < 1, f"{where}.max_loss", "a share between 0 and 1")
        _require(self.removal_after >= 1, f"{where}.removal_after", "an integer >= 1")
        _require(self.flap_window_days >= 0, f"{where}.flap_window_days", "a number >= 0")
        _require(self.max_crawl_minutes > 0, f"{where}.max_crawl_minutes", "a number > 0")
        _require(self.max_pages >= 1, f"{where}.max_pages", "an integer >= 1")
        _require(self.max_items >= 1, f"{where}.max_items", "an integer >= 1")
        _require(valid_cron(self.schedule), f"{where}.schedule",
                 "a cron expression such as '30 5 * * *' (minute hour day month weekday)")
        _require(not self.link_watch_schedule or valid_cron(self.link_watch_schedule),
                 f"{where}.link_watch_schedule",
                 "a cron expression such as '0 * * * *' (hourly), or \"\" for no link watch")

    def _validate_directory(self, where: str) -> None:
        _require(bool(re.match(r"https?://[^/]+", self.base_url)), f"{where}.base_url",
                 "an http(s) URL")
        _require(bool(re.fullmatch(r"\d{12}", self.ars)), f"{where}.ars",
                 "12 digits (Amtlicher Regionalschlüssel)")
        _require(self.page_size >= 5, f"{where}.page_size", "an integer >= 5")
        _require(self.verify_every_days > 0, f"{where}.verify_every_days", "a number > 0")

    def _validate_tsa(self, where: str) -> None:
        _require(bool(re.match(r"https?://[^/]+", self.base_url)), f"{where}.base_url",
                 "an http(s) URL")
        _require(bool(re.fullmatch(r"[A-Za-z0-9_.:-]+", self.root_ou)), f"{where}.root_ou",
                 "the id of an Organisationseinheit, such as '19000'")
        _require(bool(re.fullmatch(r"\d+", self.area_id)), f"{where}.area_id",
                 "the numeric id of a ZuFi area (Jena: '351529')")
        named = [n for n in (self.api_key_env, self.api_key_file, self.api_key_credential) if n]
        _require(len(named) == 1, f"{where}.api_key_env",
                 "exactly one of api_key_env, api_key_file, api_key_credential (the key "
                 "itself never goes into this file)")
        _require(1 <= self.page_size <= 100, f"{where}.page_size", "an integer from 1 to 100")
        _require(self.sync_window_hours > 0, f"{where}.sync_window_hours", "a number > 0")

    def _validate_links(self, where: str) -> None:
        _require(self.name not in self.watch, f"{where}.watch",
                 "names of other sources (a link checker cannot watch itself)")
        _require(self.broken_after >= 1, f"{where}.broken_after", "an integer >= 1")
        _require(0 < self.max_failures <= 1, f"{where}.max_failures",
                 "a share greater than 0 and at most 1")
        _require(0 <= self.max_redirects <= 30, f"{where}.max_redirects",
                 "an integer from 0 to 30")
        _require(self.max_bytes >= 1024, f"{where}.max_bytes", "an integer >= 1024")
        _require(self.timeout > 0, f"{where}.timeout", "a number > 0")
        for endpoint in self.allow_local:
            _require(_ENDPOINT.fullmatch(endpoint) is not None, f"{where}.allow_local",
                     "endpoints such as '127.0.0.1:8080' or '[::1]:8080'")
        for rule in self.connect_to:
            host, sep, target = rule.partition("=")
            _require(bool(sep) and _HOST_PORT.fullmatch(host) is not None
                     and _ENDPOINT.fullmatch(target) is not None, f"{where}.connect_to",
                     "entries such as 'thavelp.thueringen.de:443=127.0.0.1:8443'")
        try:
            re.compile(self.authority_pattern)
        except re.error:
            _require(False, f"{where}.authority_pattern", "a regular expression")
        from .linkpage import valid_selector  # soupsieve is only needed here

        for selector in self.authority_selectors:
            _require(valid_selector(selector), f"{where}.authority_selectors",
                     "CSS selectors such as '.zustaendige-stelle'")

    @property
    def connect_rules(self) -> tuple[tuple[str, str], ...]:
        """``connect_to`` as (host:port, address:port) pairs."""
        return tuple(tuple(rule.split("=", 1)) for rule in self.connect_to)  # type: ignore[misc]


_ENDPOINT = re.compile(r"(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}")
_HOST_PORT = re.compile(r"(\*|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}")


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(SourceSettings)}

SECURITY_MODES = ("starttls", "tls", "plain")
LANGUAGES = ("de", "en")
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class SmtpSettings:
    """How mail leaves (``[smtp]``). The password never lives here: it comes from an
    environment variable, a file or a systemd credential, whichever is named."""

    #: The mail server; empty means mail is not configured.
    host: str = ""
    #: 587 for STARTTLS, 465 for implicit TLS, 25 for a local relay.
    port: int = 587
    #: "starttls", "tls" (implicit TLS) or "plain" (only for a relay on this machine).
    security: str = "starttls"
    #: Login name; empty means no login.
    username: str = ""
    #: Name of an environment variable holding the password.
    password_env: str = ""
    #: A file holding the password (first line).
    password_file: str = ""
    #: Name of a systemd credential ($CREDENTIALS_DIRECTORY/<name>) holding the password.
    password_credential: str = ""
    #: Seconds to wait for the server.
    timeout: float = 30.0

    def validate(self, where: str) -> None:
        _require(self.security in SECURITY_MODES, f"{where}.security",
                 f"one of {list(SECURITY_MODES)}")
        _require(0 < self.port < 65536, f"{where}.port", "a port number")
        _require(self.timeout > 0, f"{where}.timeout", "a number > 0")
        named = [n for n in (self.password_env, self.password_file, self.password_credential)
                 if n]
        _require(len(named) <= 1, f"{where}.password_env",
                 "at most one of password_env, password_file, password_credential")
        _require(not named or bool(self.username), f"{where}.username",
                 "a login name when a password source is named")


@dataclass(frozen=True)
class NotifySettings:
    """Who hears about what, and how (``[notify]``)."""

    #: The AG OZG's addresses: alerts, digests, reminders.
    recipients: tuple[str, ...] = ()
    #: The operators' addresses: failed or suspicious crawls, stale sources, undeliverable mail.
    operators: tuple[str, ...] = ()
    #: The From address of every message.
    sender: str = "zufiwatch@localhost"
    #: "de" (default) or "en".
    language: str = "de"
    #: Hours between digests of the changes that did not go out at once.
    digest_every_hours: float = 24.0
    #: Days between reminders of changes still untracked.
    reminder_every_days: float = 7.0
    #: A source without a complete crawl for this many hours is reported to the operators.
    stale_after_hours: float = 36.0
    #: Sending attempts before a message counts as undeliverable.
    max_attempts: int = 8

    def validate(self, where: str) -> None:
        _require(self.language in LANGUAGES, f"{where}.language", f"one of {list(LANGUAGES)}")
        for key in ("recipients", "operators"):
            for address in getattr(self, key):
                _require("@" in address, f"{where}.{key}", "e-mail addresses")
        _require("@" in self.sender, f"{where}.sender", "an e-mail address")
        _require(self.digest_every_hours > 0, f"{where}.digest_every_hours", "a number > 0")
        _require(self.reminder_every_days > 0, f"{where}.reminder_every_days", "a number > 0")
        _require(self.stale_after_hours > 0, f"{where}.stale_after_hours", "a number > 0")
        _require(self.max_attempts >= 1, f"{where}.max_attempts", "an integer >= 1")


@dataclass(frozen=True)
class RuleOverride:
    """One ``[[rules.override]]``: the severity of a field of a kind of record."""

    #: "leistung", "organisationseinheit", "onlinedienst" or "*".
    kind: str
    #: The German field label as changes show it ("Volltext", "Gebühren"…) or its start.
    field: str
    #: "low", "medium", "high" or "critical".
    severity: str

    def validate(self, where: str) -> None:
        _require(self.severity in SEVERITIES, f"{where}.severity", f"one of {list(SEVERITIES)}")
        _require(self.kind in (*_RECORD_KINDS, "*"), f"{where}.kind",
                 f"one of {[*_RECORD_KINDS, '*']}")


@dataclass(frozen=True)
class RulesSettings:
    """How serious a change is (``[rules]``)."""

    #: Hosts an online-service link may point to; "*.jena.de" matches subdomains. A link
    #: to any other host is critical.
    allowed_hosts: tuple[str, ...] = (
        "thavel.thueringen.de", "thavelp.thueringen.de", "*.jena.de", "*.gov.de",
        "*.bund.de", "serviceportal.gemeinsamonline.de", "*.elster.de", "elster.de",
        "*.arbeitsagentur.de", "*.bafoeg-digital.de", "*.elterngeld-digital.de",
        "*.deutsche-rentenversicherung.de", "*.bundesjustizamt.de",
        "bundesportal.gkv-spitzenverband.de", "buerger.thueringen.de",
        "ikfz.ikfz-thueringen.de")
    #: The city's own ThAVEL applications, as "go/a/<n>", "zs/<n>" or "verfahren/<n>".
    #: A ThAVEL link to any other instance is critical. Empty: no such check.
    own_thavel: tuple[str, ...] = ()
    #: The authorities the city calls its own, as a checked link target names them
    #: ("Stadtverwaltung Jena", "Stadt Jena*"; case-insensitive, * matches anything). A
    #: target naming another authority is critical. Empty: no such check.
    own_authorities: tuple[str, ...] = ()
    #: The severity of a difference between ZuFi and PVOG that outlasts the sync window.
    crosscheck_severity: str = "high"
    override: tuple[RuleOverride, ...] = ()

    def validate(self, where: str) -> None:
        _require(self.crosscheck_severity in SEVERITIES, f"{where}.crosscheck_severity",
                 f"one of {list(SEVERITIES)}")
        for host in self.allowed_hosts:
            _require(bool(host) and "/" not in host, f"{where}.allowed_hosts",
                     "host names such as 'thavelp.thueringen.de' or '*.jena.de'")


@dataclass(frozen=True)
class DaemonSettings:
    """The background service (``[daemon]``)."""

    #: Each crawl starts up to this many seconds after its scheduled time (spreads load).
    jitter_seconds: int = 600
    #: Minutes between runs of notify: deliver the outbox, queue digest, reminder and
    #: stale-source notices when due.
    notify_every_minutes: float = 15.0
    #: A run missed while the service was down still runs if it is at most this late;
    #: several missed runs of a job coalesce into one.
    misfire_grace_seconds: int = 3600

    def validate(self, where: str) -> None:
        _require(self.jitter_seconds >= 0, f"{where}.jitter_seconds", "an integer >= 0")
        _require(self.notify_every_minutes > 0, f"{where}.notify_every_minutes",
                 "a number > 0")
        _require(self.misfire_grace_seconds >= 1, f"{where}.misfire_grace_seconds",
                 "an integer >= 1")


@dataclass(frozen=True)
class ReportSettings:
    """The static overview (``[report]``)."""

    #: Where the overview (index.html, a page per record, feed.atom) is written after every
    #: crawl; relative to this file. Empty: no overview.
    directory: str = ""
    #: "de" (default) or "en".
    language: str = "de"
    #: The group that may read the overview (the web server's, e.g. "www-data"): its files
    #: are then group-readable (0640, folders 0750) and owned by that group; zufiwatch's
    #: user must belong to it. Empty: readable by zufiwatch's user only (0600/0700).
    group: str = ""

    def validate(self, where: str) -> None:
        _require(self.language in LANGUAGES, f"{where}.language", f"one of {list(LANGUAGES)}")
        _require(not self.group or (self.group.strip() == self.group and ":" not in self.group),
                 f"{where}.group", "a group name")


#: How people sign in to ``zufiwatch serve``.
WEB_AUTH = ("users", "proxy")


@dataclass(frozen=True)
class WebSettings:
    """The web application ``zufiwatch serve`` (``[web]``)."""

    #: Address and port to listen on; meant to sit behind the city's reverse proxy.
    listen: str = "127.0.0.1:8470"
    #: The public address of the application (https://…/zufiwatch), for links in mails.
    #: Empty: mails carry no links to it.
    base_url: str = ""
    #: "users": a local user file with Argon2 password hashes (``zufiwatch user add``);
    #: "proxy": the user name the reverse proxy sends in ``proxy_header``.
    auth: str = "users"
    #: The user file (``auth = "users"``); relative to this file.
    users_file: str = "users.json"
    #: The header carrying the signed-in user's name (``auth = "proxy"``).
    proxy_header: str = "X-Remote-User"
    #: The addresses the header is trusted from; a request from anywhere else is refused.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    #: Users who may act (acknowledge, record and withdraw expectations): role "pruefer".
    #: Every other signed-in user reads (role "leser"), if listed in ``leser`` or if
    #: ``leser`` is empty.
    pruefer: tuple[str, ...] = ()
    leser: tuple[str, ...] = ()
    #: The key that signs session cookies, from an environment variable, a file or a
    #: systemd credential; none named: a random key per start (sign in again after a
    #: restart).
    secret_key_env: str = ""
    secret_key_file: str = ""
    secret_key_credential: str = ""
    #: Send the session cookie only over https (behind a TLS-terminating proxy: true).
    secure_cookies: bool = True

    def validate(self, where: str) -> None:
        host, sep, port = self.listen.rpartition(":")
        _require(bool(sep and host and port.isdigit() and 0 < int(port) < 65536),
                 f"{where}.listen", "HOST:PORT, e.g. '127.0.0.1:8470'")
        _require(not self.base_url or self.base_url.startswith(("https://", "http://")),
                 f"{where}.base_url", "an http(s) URL or empty")
        _require(self.auth in WEB_AUTH, f"{where}.auth", f"one of {list(WEB_AUTH)}")
        _require(bool(self.proxy_header.strip()), f"{where}.proxy_header", "a header name")
        _require(sum(bool(x) for x in (self.secret_key_env, self.secret_key_file,
                                       self.secret_key_credential)) <= 1,
                 f"{where}.secret_key_env", "at most one of secret_key_env, "
                 "secret_key_file and secret_key_credential")


@dataclass(frozen=True)
class Settings:
    """The whole configuration."""

    #: The SQLite history file.
    database: Path = Path("zufiwatch.db")
    #: The raw-payload archive directory.
    snapshots: Path = Path("snapshots")
    #: Time zone for dates typed on the command line and shown to people.
    timezone: str = "Europe/Berlin"
    http: HttpSettings = field(default_factory=HttpSettings)
    sources: tuple[SourceSettings, ...] = ()
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    rules: RulesSettings = field(default_factory=RulesSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    web: WebSettings = field(default_factory=WebSettings)
    #: The file these settings came from (not a key).
    origin: str = field(default="<defaults>", metadata={"internal": True})

    def validate(self, where: str) -> None:
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            _require(False, "timezone", "an IANA time zone such as 'Europe/Berlin'")
        names = [s.name for s in self.sources]
        for i, name in enumerate(names):
            _require(name not in names[:i], f"sources[{i}].name", "a name no other source has")
        directories = [s.name for s in self.sources if s.kind != "links"]
        for i, source in enumerate(self.sources):
            for name in source.watch:
                _require(name in directories, f"sources[{i}].watch",
                         f"names of configured directory sources {directories}")
        pvog = [s.name for s in self.sources if s.kind == "pvog"]
        for i, source in enumerate(self.sources):
            _require(not source.crosscheck or source.crosscheck in pvog,
                     f"sources[{i}].crosscheck", f"the name of a pvog source {pvog}")

    def source(self, name: str) -> SourceSettings:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"{self.origin}: no source named {name!r} (sources: {known})")


class _Invalid(Exception):
    def __init__(self, key: str, expected: str, value: Any = dataclasses.MISSING, *,
                 unknown: bool = False) -> None:
        super().__init__(key)
        self.key = key
        self.unknown = unknown
        self.expected = expected
        self.value = value


def _require(ok: bool, key: str, expected: str) -> None:
    if not ok:
        raise _Invalid(key, expected)


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The configuration file to use: ``--config``, ``$ZUFIWATCH_CONFIG``, ``./zufiwatch.toml``."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    local = Path(DEFAULT_FILE)
    return local if local.is_file() else None


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and validate one TOML file."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: configuration file not found") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return settings_from_mapping(data, origin=str(path), base_dir=path.resolve().parent)


def settings_from_mapping(data: Mapping[str, Any], *, origin: str = "<mapping>",
                          base_dir: Path | None = None) -> Settings:
    """Build validated settings from already parsed TOML; paths resolve against ``base_dir``."""
    try:
        settings = _build(Settings, data, "")
    except _Invalid as exc:
        if exc.unknown:
            message = f"unknown key {exc.key!r}; expected {exc.expected}"
        else:
            got = "" if exc.value is dataclasses.MISSING else f", got {exc.value!r}"
            message = f"key {exc.key!r}: expected {exc.expected}{got}"
        raise ConfigError(f"{origin}: {message}") from None
    base = base_dir or Path.cwd()
    report = settings.report
    if report.directory:
        report = dataclasses.replace(report,
                                     directory=str(_resolve(Path(report.directory), base)))
    web = dataclasses.replace(settings.web,
                              users_file=str(_resolve(Path(settings.web.users_file), base)))
    return dataclasses.replace(
        settings,
        database=_resolve(settings.database, base),
        snapshots=_resolve(settings.snapshots, base),
        report=report,
        web=web,
        origin=origin,
    )


def _resolve(path: Path, base: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else base / path


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise _Invalid(where or "<top level>", "a table", data)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    for key in data:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise _Invalid(_join(where, key), f"one of the known keys here: {known}",
                           unknown=True)
    values = {}
    for name, f in fields.items():
        key = _join(where, name)
        if name in data:
            values[name] = _convert(hints[name], data[name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise _Invalid(key, "a value (this key is required)")
    obj = cls(**values)
    obj.validate(where.rstrip(".") or "")
    return obj


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _convert(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, list):
            expected = ("a list of tables ([[...]])" if dataclasses.is_dataclass(item_type)
                        else "a list")
            raise _Invalid(key, expected, value)
        return tuple(_convert(item_type, item, f"{key}[{i}]") for i, item in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(options[0], value, key)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, key)
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise _Invalid(key, "a path (non-empty string)", value)
        return Path(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Invalid(key, "a number", value)
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(key, "an integer", value)
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise _Invalid(key, "true or false", value)
        return value
    if hint is str:
        if not isinstance(value, str):
            raise _Invalid(key, "a string", value)
        return value
    raise TypeError(f"unsupported setting type {hint!r} for {key}")  # a bug, not bad input
