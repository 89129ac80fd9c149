"""The ``/v6/servicedescriptions/{id}/detail`` objects of the simulated PVOG, in the seen shape.

Field for field as in the verbatim answer of ``tests/payloads/pvog/`` (sources.md, "Source
1"): the top level with the import time (``timestamp``, ``lastUpdate``), the Leistung's
validity, synonyms, search terms and ``organisationIds`` (no ``organisations`` array);
modules with ``@type``, ``filled``, ``placeholder``, ``xZufiCategory`` and links with
``description``, ``replace`` and ``dynamicParameters``; fees, periods and durations as
``_moduleDetail`` with sub-modules; placeholder modules with the filler "nicht angegeben";
STATUS and STATUSKATALOG; online-service links with their Onlinedienst id, validity, level
of confidence and identification methods.

A detail names its offices only by id; the ``/v2`` titles answer (ids, names, roles) rides
along on the served object (:class:`LeistungDetail`, not part of its JSON) so that
:func:`titles_for` can give it from the detail alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from . import _texts
from ._common import JENA_ARS, leistung_id, pick, slugify, stable_bucket
from ._links import link_title
from ._offices import ROLE_ANSPRECHPUNKT, ROLE_ZUSTAENDIG, organisation_entry

__all__ = [
    "FILLER",
    "LeistungDetail",
    "LeistungSeed",
    "leistung_detail",
    "module",
    "module_detail",
    "titles_for",
]

#: The text of a placeholder module (seen): "no content", not a text.
FILLER = "nicht angegeben"
#: The validity the live data names when nothing is restricted (seen).
ALWAYS = ("1970-01-01", "2999-12-31")
#: Identification methods as the verbatim answer spells them, line break included (seen).
EID_METHODS = (
    "Elektronische Identifizierung mittels nationalen eID Mittel -\n"
    "               Benutzername/Passwort",
    "Elektronische Identifizierung mittels nationalen eID Mittel -\n"
    "               Personalausweis",
)
#: Levels of confidence: the seen one for services that identify their users; the lower
#: one (made up) for the city's own forms without identification.
CONFIDENCE_EID, CONFIDENCE_NONE = "15", "10"
#: The editorial status numbers of a finished entry (seen: "6").
STATUS_DONE = "6"


class LeistungDetail(dict[str, Any]):
    """A served detail object: a dict (its JSON) that also holds its ``/v2`` titles."""

    titles: list[dict[str, Any]]


@dataclass(frozen=True)
class LeistungSeed:
    """The facts one detail object is built from."""

    number: int
    name: str
    leika: str
    fees: str
    links: tuple[str, ...]
    quelle: str
    approver: str
    approval_date: str
    external_update: str
    last_update: str
    organisations: tuple[tuple[str, dict], ...]


def titles_for(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The /v2 organisationunits/titles answer of a detail object: the offices of a
    Leistung with their names and roles (a copy)."""
    titles = getattr(detail, "titles", None)
    if titles is None:  # a plain detail: its organisationIds, the first one responsible
        titles = [{"id": oeid, "title": "",
                   "role": ROLE_ZUSTAENDIG if index == 0 else ROLE_ANSPRECHPUNKT}
                  for index, oeid in enumerate(detail.get("organisationIds", []))]
    return [dict(entry, role=dict(entry["role"])) for entry in titles]


def module_link(title: str, uri: str) -> dict[str, Any]:
    return {"uri": uri, "title": title, "description": "", "replace": False,
            "dynamicParameters": []}


def module(code: str, title: str, text: str, *, links: tuple[tuple[str, str], ...] = (),
           category: str = "TEXT_MODUL", placeholder: bool = False) -> dict[str, Any]:
    """A ``_module``; ``links`` are (title, uri) pairs."""
    return {"@type": "_module", "additionalInformation": [], "filled": True,
            "placeholder": placeholder, "title": title, "text": text,
            "links": [module_link(t, u) for t, u in links], "replace": False, "code": code,
            "xZufiCategory": category}


def module_detail(code: str, title: str, text: str, details: list[dict[str, Any]],
                  category: str, *, placeholder: bool = False) -> dict[str, Any]:
    """A ``_moduleDetail`` with its sub-modules."""
    return {"@type": "_moduleDetail", "details": details, "filled": True, "title": title,
            "text": text, "links": [], "replace": False, "code": code,
            "placeholder": placeholder, "xZufiCategory": category}


def _sub_module(code: str, title: str, text: str) -> dict[str, Any]:
    sub = module(code, title, text)
    del sub["xZufiCategory"]  # sub-modules carry none (seen)
    return sub


def _period(valid_from: str, valid_to: str) -> dict[str, Any]:
    return {"validFrom": valid_from, "validTo": valid_to,
            "validityPeriods": [{"validFrom": valid_from, "validTo": valid_to}]}


def online_service_link(uri: str) -> dict[str, Any]:
    """An ``onlineServiceLinks[]`` item; its ``id`` (the Onlinedienst) is set once the
    online services are known."""
    own_form = "ajproxy.jena.de" in uri
    valid_to = "2027-06-30" if stable_bucket(uri, 10) == 0 else ALWAYS[1]
    return {"uri": uri, "title": link_title(uri), "replace": False, "dynamicParameters": [],
            "id": "", **_period(ALWAYS[0], valid_to), "executionLanguages": [],
            "executionNationalities": [],
            "levelOfConfidence": CONFIDENCE_NONE if own_form else CONFIDENCE_EID,
            "identificationMethods": [] if own_form else list(EID_METHODS),
            "paymentMethods": [], "helpLinks": []}


def _synonyms(name: str) -> list[str]:
    """Search synonyms of a name: its nouns (capitalised words), first four."""
    words = [w.strip("-,()") for w in name.split()]
    return list(dict.fromkeys(w for w in words if len(w) > 3 and w[:1].isupper()))[:4]


def _suggest(name: str) -> list[str]:
    words = [w.strip("-,()").lower() for w in name.split()]
    return [*dict.fromkeys(w for w in words if len(w) > 3), name]


def leistung_detail(seed: LeistungSeed, rng: random.Random,
                    offices: dict[str, dict[str, Any]]) -> LeistungDetail:
    """The /v6 detail object of one Leistung, as served."""
    lbid = leistung_id(seed.number)
    portal = _portal_link(seed.quelle)
    titles = [organisation_entry(offices[oeid], role) for oeid, role in seed.organisations]
    validity = (_period(seed.approval_date, ALWAYS[1])
                if seed.approval_date and stable_bucket(lbid, 7) == 0 else _period(*ALWAYS))
    description = _texts.kurzinfo(seed.name)
    detail = LeistungDetail({
        "name": seed.name,
        "description": description,
        "leikakeys": [seed.leika],
        "sdgInformation": [],
        "id": lbid,
        "languageCode": "de",
        "timestamp": seed.last_update,
        "ars": [JENA_ARS],
        "sourcePortals": [{**portal, "replace": False}],
        "languageComplete": {"en": False},
        "availableLanguages": ["de"],
        "organisationIds": [entry["id"] for entry in titles],
        "lastUpdate": seed.last_update,
        "externalLastUpdate": seed.external_update,
        "addressees": ["Bürger"],
        "arsFederalstate": ["16"],
        **validity,
        "synonyms": _synonyms(seed.name),
        "details": _modules(seed, rng, lbid, portal, description),
        "typing": [],
        "onlineServiceLinks": [online_service_link(uri) for uri in seed.links],
        "personalMatters": [],
        "forms": [],
        "suggest": _suggest(seed.name),
    })
    detail.titles = titles
    return detail


def _portal_link(quelle: str) -> dict[str, str]:
    if "fimportal.de" in quelle:
        return {"title": "FIM-Portal", "uri": quelle}
    return {"title": "Zuständigkeitsfinder Thüringen", "uri": quelle}


def _modules(seed: LeistungSeed, rng: random.Random, lbid: str, portal: dict[str, str],
             description: str) -> list[dict[str, Any]]:
    # The draws from ``rng`` (law, Volltext, Voraussetzungen, Unterlagen) keep their order:
    # generated Leistungen share one stream, and each draw moves the ones after it.
    slug = slugify(seed.name)
    law_title, law_uri = pick(rng, _texts.LAWS)
    fees = [_sub_module("98", line["title"], line["text"])
            for line in (_texts.fee_lines(seed.fees) if seed.fees else [])]
    modules = [
        module("24", "Kurzinformation", description),
        module("06", "Volltext", _texts.volltext(rng, slug)),
        module("09", "Voraussetzungen", _texts.voraussetzungen(rng)),
        module("08", "Erforderliche Unterlagen", _texts.unterlagen(rng, slug)),
        module_detail("98", "Kosten", _texts.kosten_text(bool(fees)), fees, "KOSTEN"),
    ]
    if stable_bucket(lbid, 9) == 0:
        # A placeholder module: "no content", with filler text, as the live API serves them.
        modules.append(module_detail("97", "Fristen", FILLER, [], "FRIST", placeholder=True))
    modules.append(module("07", "Rechtsgrundlage(n)", f"<p>{law_title}</p>",
                          links=((law_title, law_uri),)))
    modules.append(module("18", "Urheber", FILLER, placeholder=True))
    if seed.approver:
        freigabe = module("93", "Fachlich freigegeben durch", seed.approver)
        freigabe["date"] = seed.approval_date
        modules.append(freigabe)
    modules.append(module("94", "Ursprungsportal", "", links=((portal["title"], portal["uri"]),)))
    modules.append(module("STATUS", "Status Bibliothekseintrag", STATUS_DONE,
                          category="TEXT_MODUL_INDIVIDUELL"))
    modules.append(module("STATUSKATALOG", "Status Katalogeintrag", STATUS_DONE,
                          category="TEXT_MODUL_INDIVIDUELL"))
    return modules
