"""What a link target's page says: its title, the authority it names, a meta refresh.

Pure functions over the bytes the link checker received. The page structure of ThAVEL
start pages is reconstructed (see sources.md): where the authority sits is configured by
CSS selectors and a pattern, with defaults that fit the simulated ThAVEL.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from .normalize import clean_text

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

__all__ = ["PageFacts", "is_html", "page_facts", "valid_selector"]

#: Longest title or authority kept (a page could put anything there).
MAX_TEXT = 300
_REFRESH_URL = re.compile(r"^\s*\d*\s*[;,]?\s*url\s*=\s*['\"]?([^'\"]+)", re.IGNORECASE)


@dataclass(frozen=True)
class PageFacts:
    title: str = ""
    authority: str = ""
    #: The target of a ``<meta http-equiv="refresh">``, as written (may be relative).
    refresh: str = ""


def valid_selector(selector: str) -> bool:
    """Whether ``selector`` is a CSS selector the page parser understands."""
    import soupsieve  # the page parser's selectors, loaded when first needed

    try:
        soupsieve.compile(selector)
    except (soupsieve.SelectorSyntaxError, TypeError):
        return False
    return bool(selector.strip())


def is_html(content_type: str, body: bytes) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    if media:
        return media in ("text/html", "application/xhtml+xml")
    return body.lstrip()[:1] == b"<"


def page_facts(body: bytes, content_type: str, *, selectors: Sequence[str],
               pattern: str) -> PageFacts:
    """Title, named authority and meta refresh of an HTML page; empty facts otherwise."""
    if not body or not is_html(content_type, body):
        return PageFacts()
    soup = _soup(body, _charset(content_type))
    title = _short(soup.title.get_text(" ") if soup.title else "")
    return PageFacts(title=title, authority=_authority(soup, selectors, _compiled(pattern)),
                     refresh=_refresh(soup))


def _soup(body: bytes, charset: str | None) -> BeautifulSoup:
    # Imported when a page is read: a slow import the other sources do not need.
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        return BeautifulSoup(body, "lxml", from_encoding=charset)


def _charset(content_type: str) -> str | None:
    match = re.search(r"charset\s*=\s*['\"]?([\w.-]+)", content_type, re.IGNORECASE)
    return match.group(1) if match else None


@lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _authority(soup: BeautifulSoup, selectors: Sequence[str], pattern: re.Pattern[str]) -> str:
    for selector in selectors:
        element = soup.select_one(selector)
        if element is None:
            continue
        if element.name == "meta":
            text = str(element.get("content") or "")
        else:
            text = str(element.get("data-authority") or "") or element.get_text(" ")
        found = pattern.search(text)
        text = _short(found.group(1) if found and found.groups() else text)
        if text:
            return text
    body = soup.body or soup
    found = pattern.search(body.get_text("\n"))
    return _short(found.group(1)) if found and found.groups() else ""


def _refresh(soup: BeautifulSoup) -> str:
    for meta in soup.find_all("meta"):
        if str(meta.get("http-equiv", "")).strip().lower() == "refresh":
            found = _REFRESH_URL.match(str(meta.get("content") or ""))
            if found:
                return found.group(1).strip()
    return ""


def _short(text: str) -> str:
    return clean_text(text).replace("\n", " ")[:MAX_TEXT]
