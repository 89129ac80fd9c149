"""HTML text modules as a minimal tree: the tree BeautifulSoup builds with its ``lxml``
builder, without BeautifulSoup.

The text modules of a Leistung are HTML snippets, and turning them into clean text
(:mod:`.normalize`) needs only elements, their attributes and their strings. BeautifulSoup
builds that tree from lxml's parser events, and importing it (with soupsieve's selectors
and charset_normalizer, which it loads whether they are used or not) costs a crawl more
CPU than parsing the twenty changed Leistungen of a day. So the same events, from the same
``lxml.etree.HTMLParser`` (``recover=True``, fed the text as BeautifulSoup feeds it), are
turned into the same tree here, by BeautifulSoup's rules:

- the strings between two events are one string; one of ASCII whitespace only becomes
  ``"\\n"`` (if it has a line break) or ``" "``, except within ``<pre>`` and ``<textarea>``;
- comments, processing instructions and the doctype end a string and are not kept (the
  text never used them);
- a string within ``<rt>``, ``<rp>``, ``<style>``, ``<script>`` or ``<template>`` is not
  *plain* (BeautifulSoup gives it a class of its own, and ``get_text`` leaves it out);
- an end tag closes the innermost open element of its name (and those within it).

``tests/test_htmltree.py`` holds it to BeautifulSoup's tree on every recorded and
simulated snippet and on generated broken markup.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["Element", "Text", "parse"]

_ASCII_SPACES = "\x20\x0a\x09\x0c\x0d"
_PRESERVE_WHITESPACE = frozenset({"pre", "textarea"})
_STRING_CONTAINERS = frozenset({"rt", "rp", "style", "script", "template"})


class Text(str):
    """A string of the tree; ``plain`` unless within a string container."""

    __slots__ = ("plain",)
    plain: bool


class Element:
    """An element: its name, attributes and children (elements and texts, in order)."""

    __slots__ = ("attrs", "children", "name")

    def __init__(self, name: str, attrs: dict[str, str]) -> None:
        self.name = name
        self.attrs = attrs
        self.children: list[Element | Text] = []

    def get(self, name: str, default: str = "") -> str:
        return self.attrs.get(name, default)

    def elements(self) -> Iterator[Element]:
        """The elements within, depth first, in document order."""
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.elements()

    def find(self, name: str) -> Element | None:
        """The first element named ``name`` within (at any depth)."""
        return next((e for e in self.elements() if e.name == name), None)

    def text(self, separator: str) -> str:
        """The plain strings within, joined by ``separator`` (BeautifulSoup's
        ``get_text``)."""
        return separator.join(self._plain())

    def _plain(self) -> Iterator[str]:
        for child in self.children:
            if isinstance(child, Element):
                yield from child._plain()
            elif child.plain:
                yield child


class _Builder:
    """The parser target: lxml's events into :class:`Element` and :class:`Text`."""

    def __init__(self) -> None:
        self.root = Element("[document]", {})
        self._open = [self.root]
        self._data: list[str] = []
        self._preserve = 0
        self._containers = 0

    def start(self, tag: Any, attrib: Any, nsmap: Any = None) -> None:
        self._flush()
        element = Element(str(tag), dict(attrib))
        self._open[-1].children.append(element)
        self._open.append(element)
        self._preserve += element.name in _PRESERVE_WHITESPACE
        self._containers += element.name in _STRING_CONTAINERS

    def end(self, tag: Any) -> None:
        self._flush()
        names = [element.name for element in self._open]
        if str(tag) not in names[1:]:
            return
        while True:
            element = self._open.pop()
            self._preserve -= element.name in _PRESERVE_WHITESPACE
            self._containers -= element.name in _STRING_CONTAINERS
            if element.name == tag:
                return

    def data(self, content: str) -> None:
        self._data.append(content)

    def comment(self, text: str) -> None:
        self._flush()

    def pi(self, target: str, data: str | None = None) -> None:
        self._flush()

    def doctype(self, *args: Any) -> None:
        self._flush()

    def close(self) -> Element:
        self._flush()
        return self.root

    def _flush(self) -> None:
        if not self._data:
            return
        value = "".join(self._data)
        self._data = []
        if not self._preserve and not value.strip(_ASCII_SPACES):
            value = "\n" if "\n" in value else " "
        text = Text(value)
        text.plain = not self._containers
        self._open[-1].children.append(text)


def parse(markup: str) -> Element:
    """The document tree of ``markup`` (a text module, or several in wrappers)."""
    from lxml import etree

    if markup.startswith("\ufeff"):
        markup = markup[1:]
    builder = _Builder()
    parser = etree.HTMLParser(target=builder, recover=True)
    parser.feed(markup)
    parser.close()
    return builder.root
