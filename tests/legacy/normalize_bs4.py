"""The HTML-to-text normalisation as it was before issue 19 (BeautifulSoup's tree): the
reference that tests hold :mod:`zufiwatch.htmltree` to. Frozen; do not edit.

Normal forms: HTML text modules to clean text, URLs to a canonical form, ThAVEL identity.

Everything here is pure. The aim is that only meaningful edits survive: whitespace,
markup that does not change the text, parameter order, session parameters and URL
fragments never make two values differ.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from zufiwatch import weburl

if TYPE_CHECKING:
    from bs4 import Tag

__all__ = [
    "canonical_url",
    "clean_text",
    "html_to_text",
    "html_to_texts",
    "link",
    "sorted_by",
    "thavel_identity",
    "thavel_instance",
]

#: Query parameters that carry a session or flow state, never content (lower case).
SESSION_PARAMS = frozenset({"_flowexecutionkey", "jsessionid", "phpsessid", "sessionid", "sid"})
#: Query parameters whose value is a URL that ThAVEL encodes twice.
ENCODED_URL_PARAMS = frozenset({"startapi"})
DEFAULT_PORTS = {"http": 80, "https": 443}

_BLOCK_TAGS = frozenset({"p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
                         "table", "tr", "blockquote", "section"})
_PART = "zufiwatch-part"  # wrapper element of one snippet in html_to_texts()
_SKIP_TAGS = frozenset({"script", "style", "template", "head", "title", "meta", "link",
                        _PART})
_BREAK = "\x1e"  # ASCII record separator: never in crawled text (removed before use)
_SOURCE_BREAKS = re.compile(r"[\r\n\v\f\x1c\x1d\x85\u2028\u2029]+")
_PATH_SESSION = re.compile(r";(jsessionid|phpsessid|sid)=[^/?#]*", re.IGNORECASE)
_THAVEL_HOST = re.compile(r"^thavel[a-z]*\.thueringen\.de$")


def clean_text(text: str | None) -> str:
    """Collapse runs of whitespace within lines and drop empty lines."""
    if not text:
        return ""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def html_to_text(html: str | None) -> tuple[str, list[dict[str, str]]]:
    """Clean text of an HTML text module, and the links in it (sorted by URL).

    Block elements and ``<br>`` become line breaks, list items start with "- "; line
    breaks in the HTML source are plain whitespace, and all whitespace is collapsed.
    Links are ``{"url": canonical URL, "titel": link text}``.
    """
    if not html:
        return "", []
    if "<" not in html and "&" not in html:
        return clean_text(_SOURCE_BREAKS.sub(" ", html)), []
    from bs4 import BeautifulSoup  # imported when HTML is parsed: a slow import

    soup = BeautifulSoup(html.replace(_BREAK, " "), "lxml")
    parts: list[str] = []
    links: list[dict[str, Any]] = []
    _walk(soup, parts, links)
    return _finish(parts, links)


def html_to_texts(htmls: list[str]) -> dict[str, tuple[str, list[dict[str, str]]]]:
    """:func:`html_to_text` for several snippets at once, by snippet.

    The snippets are parsed as one document, each inside a wrapper element, which is several
    times faster than one parse each. A snippet whose markup escapes its wrapper (an
    unclosed table, a stray wrapper tag) is detected and parsed on its own, so the result
    is always the same as :func:`html_to_text` gives.
    """
    results: dict[str, tuple[str, list[dict[str, str]]]] = {}
    rich = []
    for html in dict.fromkeys(htmls):
        if not html or ("<" not in html and "&" not in html):
            results[html] = html_to_text(html)
        else:
            rich.append(html)
    if len(rich) > 1:
        document = "".join(f"<{_PART} n={i}>{html.replace(_BREAK, ' ')}</{_PART}>"
                           for i, html in enumerate(rich))
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(document, "lxml")
        parts: dict[int, list[Tag]] = {}
        for part in (soup.body or soup).find_all(_PART, recursive=False):
            number = str(part.get("n", ""))
            if number.isdigit() and int(number) < len(rich):
                parts.setdefault(int(number), []).append(part)
        for index, found in parts.items():
            if len(found) == 1 and found[0].find(_PART) is None:
                texts: list[str] = []
                links: list[dict[str, Any]] = []
                _walk(found[0], texts, links)
                results[rich[index]] = _finish(texts, links)
    for html in rich:
        if html not in results:
            results[html] = html_to_text(html)
    return results


def _finish(parts: list[str], links: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    text = _SOURCE_BREAKS.sub(" ", "".join(parts)).replace(_BREAK, "\n")
    return clean_text(text), sorted_by(_dedupe(links), "url", "titel")


def _walk(node: Tag, parts: list[str], links: list[dict[str, Any]]) -> None:
    from bs4 import NavigableString, Tag
    from bs4.element import PreformattedString

    """Collect the text of ``node`` with break markers; one pass, the tree left as it is."""
    for child in node.children:
        if isinstance(child, Tag):
            name = child.name
            if name in _SKIP_TAGS:
                continue
            if name == "br":
                parts.append(_BREAK)
                continue
            block = name in _BLOCK_TAGS
            if block:
                parts.append(_BREAK)
                if name == "li":
                    parts.append("- ")
            if name == "a" and str(child.get("href", "")).strip():
                links.append(link(child.get("href", ""), child.get_text(" ")))
            _walk(child, parts, links)
            if block:
                parts.append(_BREAK)
        elif isinstance(child, NavigableString) and not isinstance(child, PreformattedString):
            parts.append(str(child))


def link(uri: Any, title: Any = "") -> dict[str, Any]:
    """A link as records keep it: canonical URL, clean title, ThAVEL identity if any."""
    url = canonical_url(str(uri or ""))
    value: dict[str, Any] = {"url": url, "titel": clean_text(str(title or ""))}
    identity = _cached_thavel_identity(url)
    if identity:
        value["thavel"] = dict(identity)
    return value


@functools.lru_cache(maxsize=32768)
def canonical_url(url: str) -> str:
    """The canonical form of a URL, for comparing links.

    Lower-case scheme and host, no default port, no fragment, no session parameters
    (``_flowExecutionKey``, ``jsessionid`` …), query parameters sorted, the twice-encoded
    ``startAPI`` of ThAVEL a3start links decoded (and encoded once again).
    Values that are not http(s) URLs are returned stripped and otherwise unchanged, and so
    is a link whose written authority hides the host a browser opens
    (:func:`~zufiwatch.weburl.obfuscated`: ``http://127.0.0.1:1\\@thavel.thueringen.de/``
    must not become ``http://127.0.0.1@thavel.thueringen.de/``, a link to another host).
    """
    url = url.strip()
    if weburl.obfuscated(url):
        return url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    if parts.username:
        host = f"{parts.username}@{host}"
    path = _PATH_SESSION.sub("", parts.path) or "/"
    return urlunsplit((scheme, host, path, _canonical_query(parts.query), ""))


def _canonical_query(query: str) -> str:
    pairs = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        lowered = name.lower()
        if lowered in SESSION_PARAMS:
            continue
        if lowered in ENCODED_URL_PARAMS:
            value = _fully_unquote(value)
        pairs.append((name, value))
    return urlencode(sorted(pairs), quote_via=quote, safe="/:@,")


def _fully_unquote(value: str, rounds: int = 3) -> str:
    for _ in range(rounds):
        decoded = unquote(value)
        if decoded == value:
            break
        value = decoded
    return value


@functools.lru_cache(maxsize=32768)
def _cached_thavel_identity(url: str) -> dict[str, str] | None:
    """Shared results: callers copy before handing them out."""
    return thavel_identity(url)


def thavel_identity(url: str) -> dict[str, str] | None:
    """What a ThAVEL link points at, or ``None`` for other hosts: the host is the one a
    browser opens (:mod:`zufiwatch.weburl`), not the one the link seems to name.

    ``form`` is one of ``aid`` (statewide ``portal?f=leistung&aid=<pstId>``), ``go``
    (``go/a/<n>``, an application instance of one authority), ``zs`` (``portal/zs/<n>``
    with ``pe``), ``a3start`` (``verfahrenId`` with a decoded ``startAPI``) or ``other``.
    """
    seen = weburl.parse(url)
    if seen is None or not seen.web or not _THAVEL_HOST.match(seen.host):
        return None
    host = seen.host
    query = {name.lower(): value for name, value in parse_qsl(seen.query)}
    segments = [s for s in seen.path.split("/") if s]
    identity = {"host": host, "instanz": f"{host}/{segments[0]}" if segments else host}
    if "aid" in query:
        identity.update(form="aid", aid=query["aid"])
    elif (n := _after(segments, ["go", "a"])) is not None:
        identity.update(form="go", antrag=n)
    elif (n := _after(segments, ["zs"])) is not None:
        identity.update(form="zs", zs=n, pe=query.get("pe", ""))
    elif "verfahrenid" in query:
        identity.update(form="a3start", verfahrenId=query["verfahrenid"],
                        startAPI=_fully_unquote(query.get("startapi", "")))
    else:
        identity.update(form="other")
    return identity


def thavel_instance(identity: dict[str, str] | str | None) -> str:
    """The application instance a ThAVEL link (or its identity) names, as the
    configuration lists the city's own: ``go/a/<n>``, ``zs/<n>`` or ``verfahren/<n>``;
    "" for a statewide link and for other hosts."""
    if isinstance(identity, str):
        identity = thavel_identity(identity)
    if not identity:
        return ""
    form = identity.get("form")
    if form == "go":
        return f"go/a/{identity.get('antrag', '')}"
    if form == "zs":
        return f"zs/{identity.get('zs', '')}"
    if form == "a3start":
        return f"verfahren/{identity.get('verfahrenId', '')}"
    return ""


def _after(segments: list[str], marker: list[str]) -> str | None:
    """The path segment right after ``marker`` (a run of segments), if present."""
    size = len(marker)
    for i in range(len(segments) - size):
        if segments[i:i + size] == marker:
            return segments[i + size]
    return None


def sorted_by(items: list[dict[str, Any]], *fields: str) -> list[dict[str, Any]]:
    """Sort dicts by the given fields (missing fields sort first), for a stable order."""
    return sorted(items, key=lambda item: tuple(str(item.get(f, "")) for f in fields))


def _dedupe(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for item in items:
        marker = (item["url"], item["titel"])
        if marker not in seen:
            seen.add(marker)
            unique.append(item)
    return unique
