"""The simulated PVOG directory of Jena: the 61 real Leistungen plus generated ones.

``build_directory`` returns a :class:`Directory` holding every object exactly as the
simulated Suchdienst serves it. The real rows (``data/jena_rows.json``) always come
first and do not depend on ``size`` or ``seed``; generated Leistungen, offices and
online services are drawn from a seeded ``random.Random``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import pickle
import random
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources

from . import _texts
from ._common import (
    BUND_ARS,
    JENA_ARS,
    LAND_ARS,
    REDAKTION,
    ZUFI_DEEPLINK,
    below,
    format_timestamp,
    leistung_id,
    office_id,
    parse_timestamp,
    pick,
    slugify,
)
from ._detail import LeistungDetail, LeistungSeed, leistung_detail, titles_for
from ._links import LinkFactory, build_onlineservices, numbers_in
from ._offices import (
    CORE_OFFICES,
    ROLE_ANSPRECHPUNKT,
    ROLE_ZUSTAENDIG,
    build_offices,
    core_office_for,
)

__all__ = [
    "BUND_ARS",
    "JENA_ARS",
    "LAND_ARS",
    "REDAKTION",
    "Directory",
    "build_directory",
    "load_jena_rows",
    "new_leistung_detail",
    "titles_for",
]

_TSA_ID = re.compile(r"tsa_leistung_id=(\d+)")
_GENERATED_START = 300_000_000
_EXTERNAL_EPOCH = datetime(2021, 1, 1, tzinfo=UTC)
_EXTERNAL_SPAN_SECONDS = int((datetime(2026, 9, 25, tzinfo=UTC) - _EXTERNAL_EPOCH).total_seconds())


@dataclass
class Directory:
    """Everything the simulated Suchdienst serves for one day.

    ``leistungen``: LB id -> the /v6 detail object (a :class:`LeistungDetail`: it names its
    offices by ``organisationIds`` only, :func:`titles_for` gives them with names and roles);
    ``titles``: LB id -> the /v2 organisationunits/titles answer; ``offices``: OE id -> the
    /v5 detail object;
    ``onlineservices``: the /v1beta2 items, inherited Land/Bund ones included.
    Objects are treated as immutable once served; :meth:`copy` before editing.
    """

    leistungen: dict[str, dict]
    titles: dict[str, list[dict]]
    offices: dict[str, dict]
    onlineservices: list[dict]

    def copy(self) -> Directory:
        """A deep copy (pickle round trip: much faster than ``copy.deepcopy``)."""
        return pickle.loads(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))


def load_jena_rows() -> list[dict]:
    """The real Jena rows that PVOG has a description for (``gefunden == "true"``)."""
    raw = resources.files("zufiwatch.sim").joinpath("data/jena_rows.json")
    rows = json.loads(raw.read_text(encoding="utf-8"))["rows"]
    return [row for row in rows if row["gefunden"] == "true"]


def build_directory(size: int = 0, seed: int = 1) -> Directory:
    """The real Jena Leistungen plus generated ones up to ``size`` Leistungen in total."""
    with _gc_paused():
        return _build(size, seed)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: building creates ~10^6 acyclic objects and gen-2 passes
    over them (and over anything else alive) would double the build time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(size: int, seed: int) -> Directory:
    rng = random.Random(seed)
    rows = load_jena_rows()
    offices = build_offices(rng, max(10, size // 20))
    links = LinkFactory(rng, numbers_in(row["onlineDienst"] for row in rows))
    leistungen: dict[str, dict] = {}
    for leistung_seed in _real_seeds(rows):
        leistungen[leistung_id(leistung_seed.number)] = leistung_detail(
            leistung_seed, random.Random(leistung_seed.leika), offices
        )
    leikas = {detail["leikakeys"][0] for detail in leistungen.values()}
    for leistung_seed in _generated_seeds(rng, size - len(leistungen), offices, leikas, links):
        leistungen[leistung_id(leistung_seed.number)] = leistung_detail(leistung_seed, rng, offices)
    titles = {lbid: titles_for(detail) for lbid, detail in leistungen.items()}
    services = build_onlineservices(leistungen)
    _link_onlineservice_ids(leistungen, services)
    return Directory(leistungen, titles, offices, services)


def _link_onlineservice_ids(leistungen: dict[str, dict], services: list[dict]) -> None:
    """Each online-service link of a detail names its Onlinedienst (the /v1beta2 id)."""
    by_uri: dict[str, str] = {}
    for service in services:
        for link in service["links"]:
            by_uri.setdefault(link["uri"], service["id"])
    for detail in leistungen.values():
        for link in detail["onlineServiceLinks"]:
            link["id"] = by_uri[link["uri"]]


def _real_number(row: dict, taken: set[int]) -> int:
    """The ZuFi id from the deep link, or a stable made-up one for fimportal rows."""
    match = _TSA_ID.search(row["quelle"])
    number = (
        int(match.group(1)) if match else 298_000_000 + zlib.crc32(row["leika"].encode()) % 10**6
    )
    while number in taken:
        number += 1
    taken.add(number)
    return number


def _real_seeds(rows: list[dict]) -> list[LeistungSeed]:
    taken: set[int] = set()
    seeds = []
    for row in rows:
        row_rng = random.Random(f"offices:{row['leika']}")
        external = row["pvogStand"]
        last = format_timestamp(
            parse_timestamp(external) + timedelta(minutes=row_rng.randint(1, 600))
        )
        seeds.append(
            LeistungSeed(
                number=_real_number(row, taken),
                name=row["pvogName"],
                leika=row["leika"],
                fees=row["gebuehrBetraege"],
                links=(row["onlineDienst"],) if row["onlineDienst"] else (),
                quelle=row["quelle"],
                approver=row["freigabeStelle"],
                approval_date=row["freigabeDatum"],
                external_update=external,
                last_update=last,
                organisations=_real_organisations(row["pvogName"], row_rng),
            )
        )
    return seeds


def _real_organisations(name: str, rng: random.Random) -> tuple[tuple[str, dict], ...]:
    primary = core_office_for(name)
    if rng.random() >= 0.3:
        return ((primary, ROLE_ZUSTAENDIG),)
    first, second = (office_id(seed.number) for seed in CORE_OFFICES[:2])
    contact = second if primary == first else first
    return ((primary, ROLE_ZUSTAENDIG), (contact, ROLE_ANSPRECHPUNKT))


def _unique_leika(rng: random.Random, used: set[str]) -> str:
    while True:
        leika = f"99{below(rng, 10**12):012d}"
        if leika not in used:
            used.add(leika)
            return leika


def _generated_seeds(
    rng: random.Random,
    count: int,
    offices: dict[str, dict],
    leikas: set[str],
    links: LinkFactory,
) -> list[LeistungSeed]:
    office_ids = list(offices)
    number = _GENERATED_START
    seeds = []
    for _ in range(max(0, count)):
        number += 1 + below(rng, 50)
        name = _texts.leistung_name(rng)
        external_moment = _EXTERNAL_EPOCH + timedelta(
            milliseconds=below(rng, _EXTERNAL_SPAN_SECONDS * 1000)
        )
        approval = external_moment - timedelta(days=below(rng, 201))
        seeds.append(
            LeistungSeed(
                number=number,
                name=name,
                leika=_unique_leika(rng, leikas),
                fees=_texts.random_fee_amounts(rng),
                links=_generated_links(rng, links, number, name),
                quelle=ZUFI_DEEPLINK.format(n=number),
                approver=pick(rng, _texts.APPROVERS),
                approval_date=f"{approval:%Y-%m-%d}",
                external_update=format_timestamp(external_moment),
                last_update=format_timestamp(
                    external_moment + timedelta(minutes=1 + below(rng, 600))
                ),
                organisations=_generated_organisations(rng, office_ids),
            )
        )
    return seeds


def _generated_links(
    rng: random.Random, links: LinkFactory, number: int, name: str
) -> tuple[str, ...]:
    if rng.random() >= 0.28:
        return ()
    first = links.random_link(number, slugify(name))
    if rng.random() < 0.05:
        second = links.local(slugify(name))
        if second != first:
            return (first, second)
    return (first,)


def _generated_organisations(
    rng: random.Random, office_ids: list[str]
) -> tuple[tuple[str, dict], ...]:
    primary = pick(rng, office_ids)
    if rng.random() >= 0.2:
        return ((primary, ROLE_ZUSTAENDIG),)
    contact = pick(rng, office_ids)
    if contact == primary:
        return ((primary, ROLE_ZUSTAENDIG),)
    return ((primary, ROLE_ZUSTAENDIG), (contact, ROLE_ANSPRECHPUNKT))


def new_leistung_detail(
    number: int,
    name: str,
    leika: str,
    office: dict,
    moment: datetime,
) -> LeistungDetail:
    """A detail object for a Leistung that appears later (used by the scenario)."""
    external = moment - timedelta(minutes=17)
    seed = LeistungSeed(
        number=number,
        name=name,
        leika=leika,
        fees="",
        links=(),
        quelle=ZUFI_DEEPLINK.format(n=number),
        approver="Thüringer Ministerium für Umwelt, Energie und Naturschutz",
        approval_date=f"{external:%Y-%m-%d}",
        external_update=format_timestamp(external),
        last_update=format_timestamp(moment),
        organisations=((office["id"], ROLE_ZUSTAENDIG),),
    )
    return leistung_detail(seed, random.Random(leika), {office["id"]: office})
