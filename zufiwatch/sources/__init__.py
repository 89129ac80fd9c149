"""Source adapters, one per kind of directory, behind the interface in :mod:`.base`."""

from __future__ import annotations

from ..config import SourceSettings
from .base import Source
from .links import LinkSource
from .pvog import PvogSource
from .pvog.watch import LinkWatchSource
from .tsa import TsaSource

__all__ = ["SOURCE_TYPES", "Source", "make_source"]

SOURCE_TYPES: dict[str, type[Source]] = {PvogSource.kind: PvogSource,
                                         TsaSource.kind: TsaSource, LinkSource.kind: LinkSource,
                                         LinkWatchSource.kind: LinkWatchSource}


def make_source(settings: SourceSettings) -> Source:
    return SOURCE_TYPES[settings.kind](settings)
