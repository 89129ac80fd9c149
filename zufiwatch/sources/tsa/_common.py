"""Small pure readers the ZuFi parsers share: Type objects, area references, text."""

from __future__ import annotations

from typing import Any

from ...normalize import html_to_text
from .._payload import text as _text

__all__ = ["area", "html_text", "plain", "type_key", "type_name"]


def html_text(value: Any) -> tuple[str, list[dict[str, Any]]]:
    return html_to_text(value) if isinstance(value, str) else ("", [])


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
