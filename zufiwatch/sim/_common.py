"""Identifiers, id builders and timestamp helpers shared by the simulator modules."""

from __future__ import annotations

import functools
import itertools
import random
import re
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

JENA_ARS = "160530000000"
LAND_ARS = "160000000000"
BUND_ARS = "000000000000"

# Made-up Redaktion prefix for Thuringia: the real prefix of the Thuringian
# editorial office in PVOG is not known (sources.md says to configure it).
REDAKTION = "S1600001"

# Made-up Redaktion prefix for federal descriptions that exist only outside Jena.
BUND_REDAKTION = "B1000001"

T = TypeVar("T")

ZUFI_DEEPLINK = (
    "https://buerger.thueringen.de/portaldeeplink/?tsa_leistung_id={n}&tsa_sprache=de_DE"
)


def leistung_id(n: int | str) -> str:
    """The PVOG id of a Leistung with ZuFi number ``n``."""
    return f"{REDAKTION}.LB.{n}"


def office_id(n: int | str) -> str:
    """The PVOG id of an Organisationseinheit."""
    return f"{REDAKTION}.OE.{n}"


def onlineservice_id(n: int | str) -> str:
    """The PVOG id of an Onlinedienst."""
    return f"{REDAKTION}.OD.{n}"


def id_number(pvog_id: str) -> int:
    """The trailing number of a PVOG id (``S1600001.LB.354824`` -> 354824)."""
    return int(pvog_id.rsplit(".", 1)[1])


def stable_bucket(text: str, modulo: int) -> int:
    """A deterministic bucket for ``text`` (independent of PYTHONHASHSEED)."""
    return zlib.crc32(text.encode("utf-8")) % modulo


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, like ``2026-07-20T12:56:51.578Z``."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    """Parse the timestamps the directory uses (``…Z`` with or without milliseconds)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def shift_timestamp(text: str, delta: timedelta) -> str:
    """``text`` moved by ``delta``, formatted like :func:`format_timestamp`."""
    return format_timestamp(parse_timestamp(text) + delta)


# Fast draws from a seeded ``random.Random``: ``Random.choice``/``sample``/``randint``
# go through Python-level rejection sampling, which dominates building 20,000 entries.


def below(rng: random.Random, n: int) -> int:
    """An int in ``range(n)``."""
    return int(rng.random() * n)


def pick(rng: random.Random, options: Sequence[T]) -> T:
    """One element of ``options``."""
    return options[int(rng.random() * len(options))]


@functools.cache
def _orderings(pool: tuple[str, ...], k: int) -> tuple[tuple[str, ...], ...]:
    return tuple(itertools.permutations(pool, k))


def sample(rng: random.Random, pool: tuple[str, ...], k: int) -> tuple[str, ...]:
    """``k`` distinct elements of the (small) ``pool`` in random order."""
    return pick(rng, _orderings(pool, k))


@functools.lru_cache(maxsize=8192)
def slugify(name: str) -> str:
    """A URL slug for a German name (``"Gewerbe anmelden"`` -> ``"gewerbe-anmelden"``)."""
    lowered = name.lower()
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        lowered = lowered.replace(umlaut, plain)
    return re.sub(r"[^a-z0-9]+", "-", lowered).strip("-")
