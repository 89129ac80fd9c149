"""Small pure helpers the source parsers share: JSON objects, optional lists, clean text,
links without repeats."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import MissingField, PayloadError
from ..normalize import clean_text

__all__ = ["json_object", "optional_list", "text", "unique_links"]


def json_object(payload: Any, endpoint: str) -> dict[str, Any]:
    """``payload`` if it is a JSON object; PayloadError naming the endpoint otherwise."""
    if not isinstance(payload, dict):
        raise PayloadError(f"{endpoint}: expected a JSON object, got {type(payload).__name__}",
                           endpoint=endpoint)
    return payload


def optional_list(obj: dict[str, Any], name: str, endpoint: str) -> list[Any]:
    """The list under ``name``; [] when absent or null; MissingField when not a list."""
    value = obj.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MissingField(endpoint, name, "a list")
    return value


def text(value: Any) -> str:
    """Clean text of a value that should be a string (None is empty)."""
    return clean_text(value if isinstance(value, str) else "" if value is None else str(value))


def unique_links(links: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Link values without repeats of the same URL and title, first one kept."""
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for item in links:
        unique.setdefault((item["url"], item["titel"]), item)
    return list(unique.values())
