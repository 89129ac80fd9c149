"""What a browser opens for a link: the WHATWG URL standard (``ada-url``), not ``urlsplit``.

``urllib.parse.urlsplit`` and a browser disagree about links that strangers can write into
the directory. ``http://127.0.0.1:1\\@thavel.thueringen.de/go/a/1273`` is, to ``urlsplit``,
a link to thavel.thueringen.de; a browser reads the backslash as a path separator and
opens 127.0.0.1 port 1. Every decision about *which host a link goes to* (the allow-list,
the ThAVEL identity, the link checker's address gate, the host shown in mails and pages)
asks :func:`parse` instead.

:func:`parse` also says whether the written authority hides the host it really opens
(:attr:`WebURL.hidden`): userinfo (``name@``), a backslash, a control character or space,
a scheme not followed by ``//`` and a host, or a host written in another form than the one
opened (``0x7f.1``, ``2130706433``, ``%74havel…``). :attr:`WebURL.appears` is the host a
reader may take it for. Case, a trailing dot, a default port and IDNA (``bücher.de`` is
``xn--bcher-kva.de``) hide nothing.

Pure functions; results are cached.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

import ada_url

__all__ = [
    "BACKSLASH",
    "CONTROL",
    "DEFAULT_PORTS",
    "HOST_FORM",
    "SLASHES",
    "USERINFO",
    "WebURL",
    "ascii_pattern",
    "host_of",
    "host_span",
    "join",
    "obfuscated",
    "parse",
    "written_scheme",
]

DEFAULT_PORTS = {"http": 80, "https": 443}

#: What can hide the host a link opens, as :attr:`WebURL.hidden` names it.
USERINFO = "userinfo"  # user name or password before the host ("thavel.thueringen.de@")
BACKSLASH = "backslash"  # a backslash in the authority (a path separator to a browser)
CONTROL = "control"  # a control character or space in the authority (tab and newline vanish)
SLASHES = "slashes"  # the scheme is not followed by "//" and a host (http:\\host, http:///x)
HOST_FORM = "host form"  # the host written in another form than the one opened (0x7f.1)

#: What a browser strips at both ends before parsing (C0 controls and space).
_ENDS = "".join(map(chr, range(0x21)))
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
#: Where one host-like piece of a written authority ends (for :attr:`WebURL.appears`).
_PIECES = re.compile(r"[@\\\x00-\x20\x7f]+")
#: What a browser removes from anywhere in a URL before parsing it.
_REMOVED = re.compile(r"[\t\n\r]")
#: What :func:`parse` asks ada for (each attribute is a call into the library).
_ATTRIBUTES = ("href", "username", "password", "protocol", "port", "hostname", "pathname",
               "search")
#: A host IDNA leaves as it is (after lower-casing): skip the call.
_PLAIN_HOST = re.compile(r"[a-z0-9.\-]*")
#: The longest host shown as :attr:`WebURL.appears` (a reason text, not a dump).
_APPEARS_MAX = 100


@dataclass(frozen=True)
class WebURL:
    """A link as a browser reads it."""

    #: The link as written (without what a browser strips at both ends).
    written: str
    #: The browser's serialisation of it.
    href: str
    #: Lower case, without the colon.
    scheme: str
    #: The host as the browser normalises it: ASCII (IDNA), lower case, IPv4 in dotted
    #: decimal, IPv6 without brackets; without a trailing dot (for comparisons).
    host: str
    #: The same with the trailing dot, if any (what the browser sends as Host).
    hostname: str
    #: An explicit port other than the scheme's default, else None.
    port: int | None
    #: The path, percent-encoded as the browser sends it ("/" at least for http(s)).
    path: str
    #: The query without "?"; "" when there is none.
    query: str
    #: What a reader takes for the host: the written authority after its last "@", without
    #: the port ("" when the scheme is not followed by "//"). This is ``urlsplit``'s host.
    written_host: str
    #: What hides the host opened (:data:`USERINFO`, :data:`BACKSLASH`, …); empty when the
    #: link is what it looks like.
    hidden: tuple[str, ...] = ()
    #: A host written in the authority other than the one opened, that a reader may take
    #: for it ("thavel.thueringen.de" in ``http://127.0.0.1:1\\@thavel.thueringen.de/``);
    #: "" when there is none.
    appears: str = ""

    @property
    def web(self) -> bool:
        """An http(s) link with a host."""
        return self.scheme in DEFAULT_PORTS and bool(self.host)

    @property
    def opens(self) -> str:
        """``host`` or ``host:port`` (IPv6 in brackets), as the reason texts show it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.port is not None else host


def parse(url: str) -> WebURL | None:
    """``url`` as a browser reads it; None when a browser cannot read it at all."""
    return _parse(url) if isinstance(url, str) else None


@functools.lru_cache(maxsize=32768)
def _parse(url: str) -> WebURL | None:
    written = url.strip(_ENDS)
    try:
        parts = ada_url.parse_url(written, attributes=_ATTRIBUTES)
    except ValueError:
        return None
    scheme = str(parts["protocol"]).rstrip(":").lower()
    hostname = str(parts["hostname"])
    if hostname.startswith("["):
        hostname = hostname[1:-1]
    port_text = str(parts["port"])
    seen = WebURL(
        written=written, href=str(parts["href"]), scheme=scheme,
        host=hostname.rstrip("."), hostname=hostname,
        port=int(port_text) if port_text else None,
        path=str(parts["pathname"]), query=str(parts["search"]).removeprefix("?"),
        written_host="")
    if scheme not in DEFAULT_PORTS:
        return seen
    authority = _written_authority(written)
    written_host = _host_part(authority.rpartition("@")[2]) if authority is not None else ""
    hidden = _hidden(seen, authority, bool(parts["username"] or parts["password"]))
    appears = _appears(seen, authority or "", written_host) if hidden else ""
    return replace(seen, written_host=written_host, hidden=hidden, appears=appears)


def _written_authority(written: str) -> str | None:
    """The authority as a reader (and ``urlsplit``) sees it: after ``scheme://`` up to the
    first "/", "?" or "#"; None when the scheme is not followed by "//"."""
    scheme = _SCHEME.match(written)
    if scheme is None:
        return None
    rest = written[scheme.end():]
    if not rest.startswith("//"):
        return None
    return re.split(r"[/?#]", rest[2:], maxsplit=1)[0]


def _host_part(host_port: str) -> str:
    """``host`` of ``host:port`` (an IPv6 literal keeps its brackets)."""
    if host_port.startswith("["):
        end = host_port.find("]")
        return host_port[:end + 1] if end >= 0 else host_port
    return host_port.partition(":")[0]


def _normal(host: str) -> str:
    """A written host as the browser would compare it (lower case, IDNA, no trailing dot);
    a host IDNA refuses stays as written, in lower case."""
    host = host.lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if _PLAIN_HOST.fullmatch(host):
        return host.rstrip(".")
    try:
        encoded = ada_url.idna_to_ascii(host).decode("ascii") if host else ""
    except (UnicodeError, ValueError):
        encoded = ""
    return (encoded or host).rstrip(".")


def _hidden(seen: WebURL, authority: str | None, userinfo: bool) -> tuple[str, ...]:
    hidden: list[str] = []
    if userinfo or (authority is not None and "@" in authority):
        hidden.append(USERINFO)
    if authority is not None and "\\" in authority:
        hidden.append(BACKSLASH)
    if authority is not None and _CONTROL.search(authority):
        hidden.append(CONTROL)
    if not authority:  # None: no "//" after the scheme; "": http:///x
        hidden.append(SLASHES)
    if not hidden and authority is not None and _other_host_form(seen, authority):
        hidden.append(HOST_FORM)
    return tuple(dict.fromkeys(hidden))


def _other_host_form(seen: WebURL, authority: str) -> bool:
    """Whether the written host (or port) differs from the opened one beyond case, a
    trailing dot, a default port and IDNA."""
    host_port = authority.rpartition("@")[2]
    host = _host_part(host_port)
    if _normal(host) != seen.host:
        return True
    port = host_port[len(host):].removeprefix(":")
    if port.isdigit():
        opened = seen.port if seen.port is not None else DEFAULT_PORTS[seen.scheme]
        return int(port) != opened
    return False


def _appears(seen: WebURL, authority: str, written_host: str) -> str:
    """The first host-like piece of the written authority (it has a dot, or is an IP
    literal in brackets) that is not the host opened nor its end; else the written host
    if it differs (``0x7f.1``). Tab and newline are dropped first, as a browser drops them
    (``thavelp.thuer<TAB>ingen.de`` names no other host)."""
    for piece in _PIECES.split(_REMOVED.sub("", authority)):
        host = _host_part(piece).strip(".")
        if host and ("." in host or host.startswith("[")) \
                and not seen.host.endswith(_normal(host)):
            return host[:_APPEARS_MAX]
    if written_host and not _CONTROL.search(written_host) \
            and _normal(written_host) != seen.host:
        return written_host[:_APPEARS_MAX]
    return ""


def obfuscated(url: str) -> bool:
    """Whether ``url`` is an http(s) link whose written authority hides what it opens."""
    seen = parse(url)
    return seen is not None and bool(seen.hidden)


def host_of(url: str) -> str:
    """The host a browser opens for an http(s) link ("" for anything else)."""
    seen = parse(url)
    return seen.host if seen is not None and seen.web else ""


def written_scheme(url: str) -> str:
    """The scheme as written, in lower case ("" when there is none)."""
    scheme = _SCHEME.match(url.strip(_ENDS))
    return scheme.group(1).lower() if scheme else ""


def join(base: str, reference: str) -> str:
    """``reference`` (a Location, a meta refresh) resolved against ``base`` as a browser
    resolves it (``/\\\\evil.example`` is another host). Raises ``ValueError`` when no URL
    results."""
    return str(ada_url.join_url(base, reference))


def host_span(url: str) -> tuple[int, int] | None:
    """Where in ``url`` (as written) the browser reads the host it opens: (start, end);
    None when the host opened is not written there as such (``0x7f.1``) or cannot be
    located (control characters)."""
    seen = parse(url)
    if seen is None or not seen.web or CONTROL in seen.hidden:
        return None
    offset = len(url) - len(url.lstrip(_ENDS))
    written = seen.written
    scheme = _SCHEME.match(written)
    if scheme is None:
        return None
    start = scheme.end()
    while start < len(written) and written[start] in "/\\":
        start += 1
    end = start
    while end < len(written) and written[end] not in "/\\?#":
        end += 1
    at = written.rfind("@", start, end)
    if at >= 0:
        start = at + 1
    host = _host_part(written[start:end])
    if host.startswith("["):
        host, start = host[1:-1], start + 1
    if not host or _normal(host) != seen.host:
        return None
    return offset + start, offset + start + len(host)


def ascii_pattern(pattern: str) -> str:
    """A host pattern of the configuration (``*.jena.de``, ``bücher.de``) in the form
    :attr:`WebURL.host` has: lower case, IDNA, no trailing dot."""
    return _normal(pattern.strip())
