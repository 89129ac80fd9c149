"""Source adapters, one per kind of directory, behind the interface in :mod:`.base`.

An adapter's module is imported when a source of its kind is made (a crawl of the PVOG
does not load the link checker's HTML parser, nor the ZuFi's modules)."""

from __future__ import annotations

import importlib
from typing import Any

from ..config import SourceSettings
from .base import Source

__all__ = ["SOURCE_TYPES", "LinkSource", "LinkWatchSource", "PvogSource", "Source",
           "TsaSource", "make_source"]

#: Kind -> (module, class) of its adapter.
_ADAPTERS = {"pvog": (".pvog.walk", "PvogSource"), "tsa": (".tsa", "TsaSource"),
             "links": (".links", "LinkSource"), "linkwatch": (".pvog.watch", "LinkWatchSource")}
#: Adapters set here take precedence over the built-in ones (an upgrade test sets an
#: older release's adapter).
SOURCE_TYPES: dict[str, type[Source]] = {}


def adapter(kind: str) -> type[Source]:
    """The adapter class of a kind of source."""
    chosen = SOURCE_TYPES.get(kind)
    if chosen is not None:
        return chosen
    module, name = _ADAPTERS[kind]
    found: type[Source] = getattr(importlib.import_module(module, __name__), name)
    return found


def make_source(settings: SourceSettings) -> Source:
    return adapter(settings.kind)(settings)


def __getattr__(name: str) -> Any:
    """The built-in adapter classes by name, imported when first asked for."""
    for module, class_name in _ADAPTERS.values():
        if class_name == name:
            return getattr(importlib.import_module(module, __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
