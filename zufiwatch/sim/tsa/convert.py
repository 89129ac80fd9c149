"""The simulated PVOG's Directory in the TSA REST API v4's seen shapes.

Offices become OrganisationalUnits (Type objects for address and communication types and
payment methods, accessibility, appointment), Leistungen become PublicServiceTypes (text
blocks with Type, a Jena specialisation on a deterministic share, FIX and VARIABLE
charges, periods, service periods, documents, trust level, department), online-service
links become the objects of ``/os/findByCompetence``. Values the PVOG does not carry are
the simulator's own, drawn deterministically from the ids, so the directory is "mostly
shared texts with a thin local layer" as the real one is.
"""

from __future__ import annotations

import html
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .._common import id_number, stable_bucket
from .._links import link_title
from ..dataset import Directory, slugify
from . import _pvog as pvog
from .catalog import (
    ACCESS,
    ADDRESS_TYPES,
    COMMUNICATION_TYPES,
    DISTRICTS,
    LOCAL_SENTENCES,
    PAYMENT_METHODS,
    PAYMENT_SETS,
    PERIOD_TYPE,
    PST_TYPES,
    RECEIVERS,
    SERVICE_PERIOD_TYPE,
    TRUST_LEVELS,
    TRUST_WORDS,
    tsa_type,
)

__all__ = [
    "AREA_ID",
    "DEPARTMENTS",
    "EXTRA_OFFICE_BASE",
    "ROOT_OU",
    "SYNTHETIC_OS_BASE",
    "TsaData",
    "department_of",
    "synthetic_service_id",
    "tsa_type",
    "tsa_view",
]

ROOT_OU = 19000
AREA_ID = "351529"  # Jena
AREA_NAMES = {AREA_ID: "Jena"}
DEPARTMENTS = (
    (19001, "Dezernat Bürgerservice und Ordnung"),
    (19002, "Dezernat Soziales und Familie"),
    (19003, "Dezernat Bau und Umwelt"),
)
#: Ids of the ZuFi-only offices below the root (``extra_offices``): 19101, 19102, ...
EXTRA_OFFICE_BASE = 19100
MAX_EXTRA_OFFICES = 899
SYNTHETIC_OS_BASE = 900_000  # ids of online services the Directory does not know
SYNTHETIC_OS_SPAN = 100_000
TREE_LAST_UPDATED = "2025-11-03T07:00:00.000Z"  # root, departments, extra offices
VIEW_CACHE_SIZE = 8  # converted directories kept by tsa_view
#: One Leistung in SPECIALISED_SHARE carries a Jena specialisation of its Volltext.
SPECIALISED_SHARE = 3


_EURO = re.compile(r"(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{1,2}))?\s*(?:EUR\b|Euro\b|€)")
_ITEM = re.compile(r"<li>(.*?)</li>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


# -- the data --------------------------------------------------------------------------------


@dataclass
class TsaData:
    """One directory in TSA shapes. Objects are shared between calls: never edit them.

    ``ous``: ou id -> the /ou object (root, departments, extra offices and offices);
    ``children``: parent ou id -> child ou ids, sorted; ``psts``: pst id -> the /pst
    object; ``competences``: ou id -> the pst ids the office is the zuständige Stelle
    for, sorted; ``online``: pst id -> the /os/findByCompetence results (empty if none);
    ``service_ids``/``service_names``: link uri -> numeric id/name of the PVOG online
    service with that link.
    """

    area_id: str
    ous: dict[int, dict]
    children: dict[int, list[int]]
    psts: dict[int, dict]
    competences: dict[int, list[int]]
    online: dict[int, list[dict]]
    service_ids: dict[str, int]
    service_names: dict[str, str]
    # The PVOG objects each converted object was made from (to reuse it for the next day).
    ou_sources: dict[int, dict] = field(default_factory=dict, repr=False, compare=False)
    pst_sources: dict[int, tuple[dict, object]] = field(default_factory=dict, repr=False,
                                                        compare=False)

    @property
    def area(self) -> dict:
        """The area reference used in addresses, charges and competences."""
        return _area(self.area_id)

    def responsible(self, pst_id: int) -> list[int]:
        """The ou ids that are the zuständige Stelle for ``pst_id``."""
        return sorted(ou for ou, psts in self.competences.items() if pst_id in psts)

    def competence_entry(self, pst_id: int, ou_id: int) -> dict:
        """The object of one /ouCompetence result."""
        return {
            "areas": [self.area],
            "publicServiceTypes": [{"id": pst_id, "name": self.psts[pst_id]["name"]}],
            "organisationalUnit": {"id": ou_id, "name": self.ous[ou_id]["name"]},
        }

    def services_for(self, pst_id: int, urls: Iterable[str]) -> list[dict]:
        """/os/findByCompetence results for ``urls`` (an override of ``pst_id``'s)."""
        titles = {entry["object"]["link"]: entry["object"]["linkTitle"]
                  for entry in self.online.get(pst_id, [])}
        return [_service_entry(url, titles.get(url) or link_title(url), "", self)
                for url in urls]


def _area(area_id: str) -> dict:
    number: int | str = int(area_id) if area_id.isdigit() else area_id
    return {"id": number, "name": AREA_NAMES.get(area_id, f"Gebiet {area_id}")}


def synthetic_service_id(uri: str) -> int:
    """A stable id for an online service the Directory does not know."""
    return SYNTHETIC_OS_BASE + zlib.crc32(uri.encode("utf-8")) % SYNTHETIC_OS_SPAN


def _trust(level: str, fallback: str = "SUBSTANTIAL") -> dict:
    key = TRUST_WORDS.get(level.strip().lower(), level.strip().upper())
    return TRUST_LEVELS.get(key, TRUST_LEVELS[fallback])


def _service_entry(uri: str, title: str, level: str, data: TsaData) -> dict:
    service_id = data.service_ids.get(uri)
    return {
        "score": 1.0,
        "object": {
            "id": service_id if service_id is not None else synthetic_service_id(uri),
            "name": data.service_names.get(uri) or title,
            "description": "",
            "link": uri,
            "linkTitle": title,
            "trustLevel": _trust(level),
            "gdprText": "",
            "onlinePaymentRequired": False,
            "supportedLanguages": ["de"],
        },
    }


def department_of(office_id: str) -> int:
    """The department ou id an office (by PVOG id) hangs below."""
    return DEPARTMENTS[stable_bucket(office_id, len(DEPARTMENTS))][0]


# -- Organisationseinheiten ------------------------------------------------------------------


def _communication(kind: str, value: str, note: str = "") -> dict:
    number = 9 + stable_bucket(kind, 90)
    return {"type": COMMUNICATION_TYPES.get(kind) or tsa_type(number, kind, kind.upper()),
            "title": kind, "note": note, "value": value}


def _ou(ou_id: int, name: str, parent: int | None, **fields: Any) -> dict:
    """An OrganisationalUnit with every seen field (``fields`` override the defaults)."""
    ou = {
        "id": ou_id, "name": name, "optionalName": "", "synonyms": [],
        "description": f"<p>{html.escape(name)}</p>", "shortDescription": "",
        "parentId": parent, "placename": "Jena", "generalized": False,
        "textgeneralized": "", "openingHours": "", "appointmentRequired": False,
        "onlineAppointment": None, "addresses": [], "bankaccounts": [],
        "communications": [], "misc": "", "images": [], "specialInfoServiceCenter": "",
        "communicationSystems": [], "paymentMethods": [], "lastUpdated": TREE_LAST_UPDATED,
        "position": None, "organisationalUnitStructures": [],
        "organisationalUnitCategories": [],
    }
    ou.update(fields)
    return ou


def _address(kind: str, street: str, number: str, zipcode: str, area: dict, *,
             city: str = "", mailbox: str = "", access: tuple = (None, None, ""),
             geo: dict | None = None) -> dict:
    elevator, wheelchair, info = access
    return {
        "street": street, "houseNumber": number,
        "area": {"id": area["id"], "name": city or area["name"]}, "mailbox": mailbox,
        "zipcode": zipcode, "comment": "", "geoLocation": geo,
        "type": ADDRESS_TYPES.get(kind) or tsa_type(9, kind, kind.upper()),
        "addressDescriptionLink": None, "transportationStops": [], "parkingLots": [],
        "elevator": elevator, "wheelchairAccessible": wheelchair, "accessibleInfo": info,
    }


def _tree_ou(ou_id: int, name: str, parent: int | None, area: dict) -> dict:
    return _ou(
        ou_id, name, parent,
        addresses=[_address("Hausanschrift", "Am Anger", "15", "07743", area,
                            access=ACCESS[0])],
        communications=[_communication("Telefon", "+49 3641 49-0"),
                        _communication("E-Mail", "stadtverwaltung@jena.de")],
        paymentMethods=[PAYMENT_METHODS[3]],
    )


def _extra_ou(index: int, area: dict) -> dict:
    """A ZuFi-only office below the root (a Bürgerbüro no PVOG office matches)."""
    number = EXTRA_OFFICE_BASE + index
    district = DISTRICTS[index % len(DISTRICTS)]
    return _ou(
        number, f"Bürgerbüro {district} ({index})", ROOT_OU,
        openingHours="<p>Mo–Fr 09:00–12:00 Uhr</p>",
        addresses=[_address("Hausanschrift", "Stadtteilzentrum", str(index), "07747", area,
                            access=ACCESS[index % len(ACCESS)])],
        communications=[_communication("Telefon", f"+49 3641 49-{8000 + index:04d}")],
        paymentMethods=[PAYMENT_METHODS[0]],
    )


def _office_ou(office: dict, area: dict) -> dict:
    """The /ou object of a PVOG office (``/v5/organisationunits/detail``)."""
    oeid = office["id"]
    title = pvog.office_title(office)
    hours = pvog.office_hours(office)
    uris = pvog.internet_addresses(office)
    description = f"<p>{html.escape(title)} der Stadtverwaltung Jena.</p>"
    if uris:
        escaped = html.escape(uris[0])
        description += f'<p>Weitere Informationen: <a href="{escaped}">{escaped}</a></p>'
    appointment = "Termin" in hours
    online = None
    if appointment or stable_bucket(oeid, 4) == 0:
        slug = uris[0].rstrip("/").rsplit("/", 1)[-1] if uris else str(id_number(oeid))
        online = {"link": f"https://termine.jena.de/{slug}"}
    addresses = []
    for address in pvog.office_addresses(office):
        kind = address.get("type") or "Hausanschrift"
        street, number = pvog.address_parts(address)
        mailbox = ""
        if street.lower().startswith("postfach"):
            mailbox = number or street[len("postfach"):].strip()
            street, number = "", ""
        geo = address.get("geo")
        addresses.append(_address(
            kind, street, number, address.get("zip") or address.get("zipcode") or "", area,
            city=address.get("city") or "", mailbox=mailbox,
            access=ACCESS[stable_bucket(oeid, len(ACCESS))] if kind == "Hausanschrift"
            else (None, None, ""),
            geo=dict(geo) if isinstance(geo, dict) else None))
    note = "Bitte nur zu den Sprechzeiten." if stable_bucket(oeid, 3) == 0 else ""
    communications = [_communication(kind, value, note if kind == "Telefon" else "")
                      for kind, value in pvog.communications(office)]
    payment = [PAYMENT_METHODS[i] for i in PAYMENT_SETS[stable_bucket(oeid, len(PAYMENT_SETS))]]
    return _ou(
        id_number(oeid), title, department_of(oeid), description=description,
        openingHours=hours, appointmentRequired=appointment, onlineAppointment=online,
        addresses=addresses, communications=communications, paymentMethods=payment,
        lastUpdated=pvog.office_stamp(office) or TREE_LAST_UPDATED,
    )


# -- Leistungen ------------------------------------------------------------------------------


def _euro(text: str) -> float | None:
    match = _EURO.search(html.unescape(text))
    if match is None:
        return None
    whole = match.group(1).replace(".", "")
    return float(f"{whole}.{match.group(2) or '0'}")


def _charge(name: str, amount: float | None, note: str, area: dict | None,
            lbid: str) -> dict:
    charge: dict[str, Any] = {
        "type": "FIX", "restrictedArea": area, "name": name, "note": note,
        "prepayment": stable_bucket(lbid, 2) == 0, "currency": "EUR", "paymentNumber": "",
        "chargeSpecificationUrl": None, "validFrom": "2024-01-01", "validTo": None,
    }
    if amount is not None:
        charge["amount"] = amount
    return charge


def _charges(lines: list[dict], lbid: str, area: dict) -> list[dict]:
    """FIX charges from the PVOG's fee lines (module 98), and on a share of the
    Leistungen with fees a VARIABLE one of the simulator's own (one-sided on some)."""
    charges = []
    for line in lines:
        text = pvog.module_text(line)
        amount = _euro(text)
        charges.append(_charge(pvog.module_title(line) or "Gebühr", amount,
                               "" if amount is not None else text, area, lbid))
    bucket = stable_bucket(lbid, 7)
    if charges and bucket in (1, 2, 3):
        variable = _charge("Auslagen", None, "<p>Nach tatsächlichem Aufwand.</p>", None
                           if bucket == 3 else area, lbid)
        variable.update(type="VARIABLE", lowerLimit=5.0 * bucket)
        if bucket != 2:
            variable["upperLimit"] = 20.0 * bucket + 15.0
        charges.append(variable)
    return charges


def _specialisation(name: str, lbid: str, area: dict) -> dict:
    """The area's own wording of a text block (the thin local layer)."""
    slug = slugify(name)
    sentence = LOCAL_SENTENCES[stable_bucket(lbid + ":local", len(LOCAL_SENTENCES))]
    return {
        "restrictedArea": area,
        "text": f"<p>{sentence}</p>",
        "externalLinks": [{"url": f"https://www.jena.de/{slug}",
                           "name": "Informationen der Stadt Jena", "note": ""}],
        "legalNorms": ["Verwaltungskostensatzung der Stadt Jena"]
        if stable_bucket(lbid, 2) == 0 else [],
    }


def _block(module: dict, code: str, text: str) -> dict:
    links = [{"url": link.get("uri"), "name": link.get("title") or "", "note": ""}
             for link in module.get("links") or [] if isinstance(link, dict) and link.get("uri")]
    return {
        "type": tsa_type(int(code) if code.isdigit() else 0, pvog.module_title(module), code),
        "text": text, "externalLinks": links, "specialisations": [],
    }


def _documents(text: str) -> list[dict]:
    return [{"name": html.unescape(_TAG.sub("", item)).strip()} for item in _ITEM.findall(text)]


def _pst(lbid: str, detail: dict, offices: list[str], area: dict) -> dict:
    """The /pst object of a PVOG Leistung (``/v6/servicedescriptions/{id}/detail``)."""
    teaser = ""
    blocks: list[dict] = []
    lines: list[dict] = []
    periods: list[dict] = []
    durations: list[dict] = []
    documents: list[dict] = []
    for module in pvog.modules(detail):
        code, text = pvog.module_code(module), pvog.module_text(module)
        subs = [pvog.module_text(sub) for sub in pvog.sub_modules(module)]
        if code == "24":
            teaser = text
        elif code == "97":
            periods += [{"type": PERIOD_TYPE, "text": t} for t in (text, *subs) if t]
        elif code == "95":
            durations += [{"type": SERVICE_PERIOD_TYPE, "text": t} for t in (text, *subs) if t]
        elif code not in ("93", "94", "STATUS", "STATUSKATALOG"):  # PVOG-only modules
            if code == "98":
                lines = pvog.sub_modules(module)
            if code == "08":
                documents = _documents(text)
            if text or module.get("links"):
                blocks.append(_block(module, code, text))
    name = detail.get("name") or ""
    if blocks and stable_bucket(lbid, SPECIALISED_SHARE) == 0:
        target = next((b for b in blocks if b["type"]["key"] == "06"), blocks[0])
        target["specialisations"] = [_specialisation(name, lbid, area)]
    if not periods and stable_bucket(lbid, 6) == 2:
        periods = [{"type": PERIOD_TYPE, "text": "<p>Stellen Sie den Antrag spätestens vier "
                                                 "Wochen vorher.</p>"}]
    if not durations and stable_bucket(lbid, 3) == 1:
        durations = [{"type": SERVICE_PERIOD_TYPE, "value": 1 + stable_bucket(lbid, 4),
                      "unit": "Wochen", "text": ""}]
    levels = [level for _uri, _title, level in pvog.online_links(detail) if level]
    department = department_of(offices[0]) if offices else None
    synonyms = [s for s in detail.get("synonyms") or [] if isinstance(s, str)]
    return {
        "id": id_number(lbid),
        "type": PST_TYPES[stable_bucket(lbid, len(PST_TYPES))],
        "leikaKeys": list(detail.get("leikakeys") or []),
        "name": name,
        "teaser": teaser,
        "textBlocks": blocks,
        "periods": periods,
        "servicePeriods": durations,
        "charges": _charges(lines, lbid, area),
        "documents": documents,
        "synonyms": synonyms,
        "lastUpdated": detail.get("lastUpdate") or TREE_LAST_UPDATED,
        "restrictedAreas": [area],
        "relatedPublicServiceTypes": [],
        "writtenFormRequired": stable_bucket(lbid, 3) == 0,
        "trustLevel": _trust(levels[0] if levels else "",
                             ("LOW", "SUBSTANTIAL", "HIGH")[stable_bucket(lbid, 3)]),
        "sdgInformationAreas": [],
        "receivers": list(RECEIVERS[: 1 + stable_bucket(lbid, 2)]),
        "singlePointOfContact": False,
        "department": {"id": department, "name": dict(DEPARTMENTS)[department]}
        if department else {"id": ROOT_OU, "name": "Stadtverwaltung Jena"},
        "furtherPstObjectsWithActivity": [],
        "furtherPstObjectsWithActivityAndDetail": [],
    }


# -- the whole directory ---------------------------------------------------------------------


def _convert(directory: Directory, area_id: str, extra_offices: int,
             previous: TsaData | None) -> TsaData:
    """``directory`` in TSA shapes, reusing ``previous``'s objects for unchanged sources."""
    area = _area(area_id)
    ous: dict[int, dict] = {ROOT_OU: _tree_ou(ROOT_OU, "Stadtverwaltung Jena", None, area)}
    children: dict[int, list[int]] = {ROOT_OU: []}
    for number, name in DEPARTMENTS:
        ous[number] = _tree_ou(number, name, ROOT_OU, area)
        children[ROOT_OU].append(number)
        children[number] = []
    for index in range(1, extra_offices + 1):
        ous[EXTRA_OFFICE_BASE + index] = _extra_ou(index, area)
        children[ROOT_OU].append(EXTRA_OFFICE_BASE + index)
    ou_sources: dict[int, dict] = {}
    for office in directory.offices.values():
        number = id_number(office["id"])
        if previous is not None and previous.ou_sources.get(number) is office:
            ou = previous.ous[number]
        else:
            ou = _office_ou(office, area)
        ous[number] = ou
        ou_sources[number] = office
        children[ou["parentId"]].append(number)
    for ids in children.values():
        ids.sort()

    service_ids: dict[str, int] = {}
    service_names: dict[str, str] = {}
    for service in directory.onlineservices:
        for link in service.get("links", []):
            service_ids.setdefault(link["uri"], id_number(service["id"]))
            service_names.setdefault(link["uri"], service.get("name", ""))

    data = TsaData(area_id, ous, children, {}, {}, {}, service_ids, service_names, ou_sources)
    competences: dict[int, set[int]] = {}
    for lbid, detail in directory.leistungen.items():
        number = id_number(lbid)
        titles = directory.titles.get(lbid)
        offices = [oeid for oeid in pvog.responsible_offices(directory, lbid, detail)
                   if id_number(oeid) in ous]
        source = previous.pst_sources.get(number) if previous is not None else None
        if source is not None and source[0] is detail and source[1] is titles:
            data.psts[number] = previous.psts[number]  # type: ignore[union-attr]
        else:
            data.psts[number] = _pst(lbid, detail, offices, area)
        data.pst_sources[number] = (detail, titles)
        for oeid in offices:
            competences.setdefault(id_number(oeid), set()).add(number)
        data.online[number] = [
            _service_entry(uri, title or link_title(uri), level, data)
            for uri, title, level in pvog.online_links(detail)
        ]
    data.competences = {ou: sorted(psts) for ou, psts in competences.items()}
    return data


_views: OrderedDict[tuple[int, str, int], tuple[Directory, TsaData]] = OrderedDict()
_views_lock = threading.Lock()


def tsa_view(directory: Directory, area_id: str = AREA_ID, extra_offices: int = 0) -> TsaData:
    """``directory`` in TSA shapes (cached per directory object, area and number of
    ZuFi-only offices below the root).

    Objects whose PVOG source is shared with the previously converted directory (scenario
    days share untouched objects) are shared too, so converting the next day is cheap.
    """
    if not 0 <= extra_offices <= MAX_EXTRA_OFFICES:
        raise ValueError(f"extra_offices must be from 0 to {MAX_EXTRA_OFFICES}, "
                         f"got {extra_offices}")
    key = (id(directory), area_id, extra_offices)
    with _views_lock:
        entry = _views.get(key)
        if entry is not None and entry[0] is directory:
            _views.move_to_end(key)
            return entry[1]
        previous = next((data for _, data in reversed(_views.values())
                         if data.area_id == area_id), None)
        data = _convert(directory, area_id, extra_offices, previous)
        _views[key] = (directory, data)
        while len(_views) > VIEW_CACHE_SIZE:
            _views.popitem(last=False)
        return data
