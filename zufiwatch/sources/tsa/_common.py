"""Small pure readers the ZuFi parsers share: Type objects, area references, text."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from ...normalize import html_to_text, html_to_texts
from .._payload import text as _text

__all__ = ["area", "html_text", "plain", "prepared_html", "type_key", "type_name"]

#: The HTML snippets of the answer being parsed, converted at once (see prepared_html).
_PREPARED: ContextVar[dict[str, tuple[str, list[dict[str, Any]]]] | None] = ContextVar(
    "tsa_prepared_html", default=None)


@contextmanager
def prepared_html(payload: Any) -> Iterator[None]:
    """While parsing ``payload``, :func:`html_text` finds each of its strings converted
    already: all of them parsed as one document (:func:`html_to_texts`, several times
    faster than one parse each, and the same result)."""
    token = _PREPARED.set(html_to_texts(list(_strings(payload))))
    try:
        yield
    finally:
        _PREPARED.reset(token)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if "<" in value or "&" in value:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def html_text(value: Any) -> tuple[str, list[dict[str, Any]]]:
    """Clean text and links of an HTML text (``("", [])`` for what is not a string)."""
    if not isinstance(value, str):
        return "", []
    prepared = _PREPARED.get()
    found = prepared.get(value) if prepared is not None else None
    return found if found is not None else html_to_text(value)


def plain(value: Any) -> str:
    """Clean text of a value that may carry markup (notes, descriptions)."""
    return html_text(value)[0] if isinstance(value, str) else _text(value)


def type_name(value: Any) -> str:
    """A Type object ``{id, name, description, key, notPublic}`` as its name (clean
    text; its key where it has no name). A bare string is taken as the name."""
    if isinstance(value, dict):
        return _text(value.get("name")) or _text(value.get("key"))
    if isinstance(value, str | int) and not isinstance(value, bool):
        return _text(value)
    return ""


def type_key(value: Any) -> str:
    """What identifies a kind: a Type's ``key`` (else its id); a bare string itself."""
    if isinstance(value, dict):
        for name in ("key", "id"):
            found = value.get(name)
            if isinstance(found, str | int) and not isinstance(found, bool) \
                    and str(found).strip():
                return str(found).strip()
        return ""
    if isinstance(value, str):
        return value.strip()
    return ""


def area(value: Any) -> tuple[str, str]:
    """``(id, name)`` of an area reference ``{id, name}`` (a bare id is accepted)."""
    if isinstance(value, dict):
        number = value.get("id")
        area_id = "" if number is None or isinstance(number, bool) else _text(number)
        return area_id, _text(value.get("name"))
    if isinstance(value, int | str) and not isinstance(value, bool):
        return _text(value), ""
    return "", ""
