"""Pure parsing of the answers of the TSA Infodienste REST API v4 (the ZuFi itself).

Every function takes decoded JSON and returns values; nothing here fetches. The shapes are
those seen in the typed models of a public client (sources.md, "Source 2"):

- search answers (``/ou/find``, ``/ouCompetence/{id}``, ``/os/findByCompetence``) wrap each
  item as ``{"score", "object"}`` inside ``{"count": <hits on this page>, "totalCount":
  <all hits>, "results": [...]}``;
- kinds (address type, communication type, trust level, payment method, text-block type)
  are Type objects ``{id, name, description, key, notPublic}``, stored as their name;
  kinds are compared on ``key``;
- a Leistung's ``textBlocks[]`` carry ``specialisations[]``, the wording of one area
  (``restrictedArea``): each is tracked as its own text;
- ``charges[]`` are ``{type: FIX | VARIABLE, name, note, amount | lowerLimit/upperLimit,
  currency, validFrom, validTo, prepayment, restrictedArea, ...}``, stored in German form.

Tolerant of unknown fields, missing optional fields (absent or null) and any order;
strict only about ids and names. Empty optional values are "" or [] (never absent in one
crawl and empty in the next), except the optional ``links``, ``spezialisierungen``,
``rechtsnormen`` and ``termin.online``, which are left out when empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ...errors import MissingField, PayloadError
from ...model import Record, canonical_json
from ...normalize import link, sorted_by
from .._payload import json_object as _object
from .._payload import optional_list as _list
from .._payload import text as _text
from .._payload import unique_links as _unique
from ._common import area, html_text, plain, prepared_html, type_key, type_name
from .charges import format_charge, parse_charges
from .shapes import EP_COMPETENCE, EP_FIND, EP_OS, EP_OU, EP_PST, SHAPES, Shape

__all__ = [
    "EP_COMPETENCE",
    "EP_FIND",
    "EP_OS",
    "EP_OU",
    "EP_PST",
    "PARSER_VERSION",
    "SHAPES",
    "Page",
    "Service",
    "Shape",
    "format_charge",
    "item_identity",
    "ou_identity",
    "parse_competences",
    "parse_ou",
    "parse_page",
    "parse_pst",
    "parse_services",
    "service_records",
    "type_key",
    "type_name",
    "unwrap",
]

PARSER_VERSION = "tsa-2"
#: The slot and title of the teaser (``teaser``), as the PVOG's module 24 "Kurztext".
CODE_TEASER = "24"
TITLE_TEASER = "Kurztext"
ROLE_RESPONSIBLE = "01"
ROLE_RESPONSIBLE_NAME = "Zuständige Stelle"

# -- small readers ---------------------------------------------------------------------------


def _id(obj: Any, endpoint: str, name: str = "id") -> str:
    """An id as text: the API sends numbers, other versions may send strings."""
    if not isinstance(obj, dict):
        raise MissingField(endpoint, name, "inside a JSON object")
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value).strip() == "":
        raise MissingField(endpoint, name, "a number or a string")
    return str(value).strip()


def _name(obj: dict[str, Any], endpoint: str) -> str:
    name = obj.get("name")
    if not isinstance(name, str):
        raise MissingField(endpoint, "name", "a string")
    return _text(name)


def _links(obj: dict[str, Any], endpoint: str) -> list[dict[str, Any]]:
    """``externalLinks[{url, name, note}]`` as link values (those without a url dropped)."""
    return [link(x.get("url"), x.get("name")) for x in _list(obj, "externalLinks", endpoint)
            if isinstance(x, dict) and isinstance(x.get("url"), str) and x["url"].strip()]


def _sorted_links(links: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted_by(_unique(links), "url", "titel")


def unwrap(item: Any) -> Any:
    """The ``object`` of a search result ``{"score", "object"}``; an item that is not
    wrapped (older or other shapes) is taken as it is."""
    if isinstance(item, dict) and isinstance(item.get("object"), dict):
        return item["object"]
    return item


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) \
        and value >= 0 else None


# -- search answers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page of a search answer."""

    #: The objects of ``results[]`` (unwrapped), in the order served.
    items: list[Any]
    #: ``totalCount``: all hits of the search; None when the answer names none.
    total: int | None
    #: ``count``: the hits on this page (not the total).
    count: int | None = None


def parse_page(payload: Any, endpoint: str, *, null_is_empty: bool = False) -> Page:
    """The objects of one page of a search answer and the totals it announces.

    ``{"count", "totalCount", "results": [{"score", "object"}]}`` as seen; a bare list
    (everything, one page) and a Spring page (``content``, ``totalElements``) are
    accepted too. ``null_is_empty``: a ``null`` answer means "no results" (a missing
    competence list may be null)."""
    if payload is None and null_is_empty:
        return Page([], 0, 0)
    if isinstance(payload, list):
        return Page([unwrap(item) for item in payload], len(payload), len(payload))
    page = _object(payload, endpoint)
    if "results" in page or "totalCount" in page:
        items = _list(page, "results", endpoint)
        total, count = _count(page.get("totalCount")), _count(page.get("count"))
        if total is None and count is not None and count > len(items):
            total = count  # more hits than on the page: only the total can mean that
    elif "content" in page:
        items = _list(page, "content", endpoint)
        total, count = _count(page.get("totalElements")), len(items)
    else:
        raise MissingField(endpoint, "results", "a list of the page's items")
    for item in items:
        if not isinstance(item, dict):
            raise PayloadError(f"{endpoint}: a result is not an object", endpoint=endpoint)
    return Page([unwrap(item) for item in items], total, count)


def item_identity(item: Any) -> str:
    """What identifies a result when pages are checked for overlaps: its ``id``, else
    the whole object."""
    if isinstance(item, dict):
        number = item.get("id")
        if isinstance(number, int | str) and not isinstance(number, bool):
            return f"id:{number}"
    return canonical_json(item)


def parse_competences(items: Iterable[Any], endpoint: str = EP_COMPETENCE) -> list[str]:
    """The ids of the Leistungen in the results of ``/ouCompetence`` (wrapped or not).
    A result whose ``publicServiceTypes`` is empty or null names none."""
    found: list[str] = []
    for item in items:
        obj = unwrap(item)
        if not isinstance(obj, dict):
            raise PayloadError(f"{endpoint}: a result is not an object", endpoint=endpoint)
        types = obj.get("publicServiceTypes", obj.get("publicServiceType"))
        if types is None:
            continue
        if isinstance(types, dict):
            types = [types]
        if not isinstance(types, list):
            raise MissingField(endpoint, "publicServiceTypes", "a list")
        found.extend(_id(t, f"{endpoint} publicServiceTypes[]") for t in types)
    return found


@dataclass(frozen=True)
class Service:
    """One online service as ``/os/findByCompetence`` names it."""

    id: str
    name: str
    url: str
    title: str
    trust_level: str


def parse_services(payload: Any, endpoint: str = EP_OS) -> list[Service]:
    """The online services of a search answer (or of its results, already read)."""
    items = payload if isinstance(payload, list) else parse_page(
        payload, endpoint, null_is_empty=True).items
    services = []
    for item in items:
        obj = _object(unwrap(item), f"{endpoint} results[].object")
        url = obj.get("link")
        if not isinstance(url, str) or not url.strip():
            continue  # an online service without a link offers nothing to follow
        services.append(Service(_id(obj, endpoint), _text(obj.get("name")), url,
                                _text(obj.get("linkTitle")), type_name(obj.get("trustLevel"))))
    return services


def service_records(services: dict[str, tuple[Service, set[str]]]) -> list[Record]:
    """The Onlinedienste met while reading the Leistungen, with the Leistungen offering them."""
    records = []
    for service_id, (service, leistungen) in sorted(services.items()):
        content = {"name": service.name,
                   "links": [link(service.url, service.title or service.name)],
                   "leistungen": [{"id": pst_id} for pst_id in sorted(leistungen)],
                   "vertrauensniveau": service.trust_level}
        records.append(Record("onlinedienst", service_id, content, {}))
    return records


# -- Organisationseinheit --------------------------------------------------------------------


def ou_identity(payload: Any, endpoint: str = EP_OU) -> tuple[str, str]:
    """The id and name of an office as :func:`parse_ou` reads them (its record's
    ``source_id`` and ``title``), without parsing the rest."""
    ou = _object(unwrap(payload), endpoint)
    return _id(ou, endpoint), _name(ou, endpoint)


def parse_ou(payload: Any, endpoint: str = EP_OU) -> Record:
    """One Organisationseinheit (``/ou/{id}``, or an object of ``/ou/find``)."""
    ou = _object(unwrap(payload), endpoint)
    with prepared_html(ou):
        return _parse_ou(ou, endpoint)


def _parse_ou(ou: dict[str, Any], endpoint: str) -> Record:
    ou_id = _id(ou, endpoint)
    name = _name(ou, endpoint)
    addresses = [_address(a) for a in _list(ou, "addresses", endpoint) if isinstance(a, dict)]
    communications = [
        {"kanal": type_name(c.get("type")), "titel": _text(c.get("title")),
         "hinweis": plain(c.get("note")), "wert": _text(c.get("value"))}
        for c in _list(ou, "communications", endpoint) if isinstance(c, dict)]
    appointment = ou.get("onlineAppointment")
    termin: dict[str, Any] = {"erforderlich": ou.get("appointmentRequired") is True}
    if isinstance(appointment, dict) and isinstance(appointment.get("link"), str) \
            and appointment["link"].strip():
        termin["online"] = link(appointment["link"])["url"]
    payment = {type_name(p) for p in _list(ou, "paymentMethods", endpoint)}
    parent = ou.get("parentId")
    content = {
        "name": name,
        "uebergeordnet": "" if parent is None or isinstance(parent, bool) else _text(parent),
        "beschreibung": html_text(ou.get("description"))[0],
        "anschriften": sorted_by(addresses, "typ", "strasse", "hausnummer", "plz", "ort",
                                 "postfach", "barrierefrei"),
        "kommunikation": sorted_by(communications, "kanal", "wert", "titel", "hinweis"),
        "oeffnungszeiten": html_text(ou.get("openingHours"))[0],
        "termin": termin,
        "zahlungsarten": sorted(payment - {""}),
    }
    return Record("organisationseinheit", ou_id, content, _volatile(ou))


def _address(address: dict[str, Any]) -> dict[str, str]:
    _area_id, area_name = area(address.get("area"))
    return {
        "typ": type_name(address.get("type")),
        "strasse": _text(address.get("street")),
        "hausnummer": _text(address.get("houseNumber")),
        "plz": _text(address.get("zipcode") or address.get("zip")),
        "ort": area_name or _text(address.get("city")),
        "postfach": _text(address.get("mailbox")),
        "barrierefrei": _accessibility(address),
    }


def _accessibility(address: dict[str, Any]) -> str:
    """One line about access: lift, wheelchair, and the free-text note ("" if none)."""
    parts = []
    for name, yes, no in (("elevator", "Aufzug vorhanden", "kein Aufzug"),
                          ("wheelchairAccessible", "rollstuhlgerecht",
                           "nicht rollstuhlgerecht")):
        value = address.get(name)
        if value is True:
            parts.append(yes)
        elif value is False:
            parts.append(no)
        elif isinstance(value, str) and value.strip():
            parts.append(_text(value))
    info = plain(address.get("accessibleInfo"))
    if info:
        parts.append(info)
    return "; ".join(parts)


def _volatile(obj: dict[str, Any]) -> dict[str, Any]:
    stamp = obj.get("lastUpdated")
    return {"lastUpdate": stamp} if isinstance(stamp, str) else {}


# -- Leistung --------------------------------------------------------------------------------


def parse_pst(payload: Any, services: list[Service],
              offices: list[tuple[str, str]], endpoint: str = EP_PST) -> Record:
    """A Leistung from ``/pst/{id}``, its online services and the offices responsible
    for it (``(ouId, name)``, from the competences)."""
    pst = _object(payload, endpoint)
    with prepared_html(pst):
        return _parse_pst(pst, services, offices, endpoint)


def _parse_pst(pst: dict[str, Any], services: list[Service], offices: list[tuple[str, str]],
               endpoint: str) -> Record:
    pst_id = _id(pst, endpoint)
    name = _name(pst, endpoint)
    department = pst.get("department")
    written = pst.get("writtenFormRequired")
    content = {
        "name": name,
        "zufi_id": pst_id,
        "leika": sorted({_text(k) for k in _list(pst, "leikaKeys", endpoint)} - {""}),
        "typ": type_name(pst.get("type")),
        "texte": _texts(pst, endpoint),
        "gebuehren": parse_charges(_list(pst, "charges", endpoint)),
        "fristen": _item_texts(_list(pst, "periods", endpoint)),
        "bearbeitungsdauer": _item_texts(_list(pst, "servicePeriods", endpoint)),
        "unterlagen": _item_texts(_list(pst, "documents", endpoint)),
        "vertrauensniveau": type_name(pst.get("trustLevel")),
        "fachbereich": _text(department.get("name")) if isinstance(department, dict)
        else type_name(department),
        "schriftform_erforderlich": written if isinstance(written, bool) else None,
        "onlinedienste": _online_services(services),
        "zustaendigkeiten": sorted_by(
            [{"id": ou_id, "name": _text(office), "rolle": ROLE_RESPONSIBLE,
              "rollenname": ROLE_RESPONSIBLE_NAME} for ou_id, office in set(offices)],
            "rolle", "id"),
    }
    return Record("leistung", pst_id, content, _volatile(pst))


def _online_services(services: list[Service]) -> list[dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for service in sorted(services, key=lambda s: (s.id.zfill(20), s.id)):
        value = link(service.url, service.title or service.name)
        value.update({"id": service.id, "vertrauensniveau": service.trust_level})
        found.setdefault((value["url"], value["titel"]), value)
    return sorted_by(list(found.values()), "url", "titel")


def _texts(pst: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """The teaser (slot "24") and the text blocks by slot: the block type's key (else its
    id as 2 digits, else "00"), "#2", "#3" for repeats. Repeats are ordered by content,
    so the order in which the API lists blocks never matters."""
    texte: dict[str, Any] = {}
    teaser, teaser_links = html_text(pst.get("teaser"))
    if teaser or teaser_links:
        texte[CODE_TEASER] = _module(TITLE_TEASER, teaser, teaser_links)
    blocks = [(_slot(block.get("type")), _block(block, endpoint))
              for block in _list(pst, "textBlocks", endpoint) if isinstance(block, dict)]
    blocks.sort(key=lambda entry: (entry[0], canonical_json(entry[1])))
    for code, value in blocks:
        slot, suffix = code, 2
        while slot in texte:
            slot = f"{code}#{suffix}"
            suffix += 1
        texte[slot] = value
    return texte


def _slot(kind: Any) -> str:
    if isinstance(kind, dict):
        key = kind.get("key")
        if isinstance(key, str) and key.strip():
            return key.strip()
        number = kind.get("id")
        if isinstance(number, int) and not isinstance(number, bool):
            return f"{number:02d}"
    elif isinstance(kind, str) and kind.strip():
        return kind.strip()
    return "00"


def _module(title: str, text: str, links: list[dict[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {"titel": title, "text": text}
    if links:
        value["links"] = _sorted_links(links)
    return value


def _block(block: dict[str, Any], endpoint: str) -> dict[str, Any]:
    text, found = html_text(block.get("text"))
    value = _module(type_name(block.get("type")), text, found + _links(block, endpoint))
    by_area: dict[str, dict[str, Any]] = {}
    specialisations = [_specialisation(s, endpoint)
                       for s in _list(block, "specialisations", endpoint) if isinstance(s, dict)]
    for spec in sorted(specialisations, key=lambda s: (s["gebiet_id"], s["text"],
                                                        canonical_json(s))):
        known = by_area.get(spec["gebiet_id"])
        if known is None:
            by_area[spec["gebiet_id"]] = spec
        else:  # one area twice: one text of that area
            _merge(known, spec)
    if by_area:
        value["spezialisierungen"] = [by_area[key] for key in sorted(by_area)]
    return value


def _specialisation(spec: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """The wording of one area (``restrictedArea``) for a text block."""
    where = f"{endpoint} textBlocks[].specialisations[]"
    area_id, area_name = area(spec.get("restrictedArea"))
    text, found = html_text(spec.get("text"))
    value: dict[str, Any] = {"gebiet_id": area_id, "gebiet": area_name, "text": text}
    links = found + _links(spec, where)
    if links:
        value["links"] = _sorted_links(links)
    norms = sorted({_norm(n) for n in _list(spec, "legalNorms", where)} - {""})
    if norms:
        value["rechtsnormen"] = norms
    return value


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    into["text"] = "\n".join(t for t in (into["text"], other["text"]) if t)
    into["gebiet"] = into["gebiet"] or other["gebiet"]
    links = into.get("links", []) + other.get("links", [])
    if links:
        into["links"] = _sorted_links(links)
    norms = set(into.get("rechtsnormen", [])) | set(other.get("rechtsnormen", []))
    if norms:
        into["rechtsnormen"] = sorted(norms)


def _norm(value: Any) -> str:
    """A legal norm as text: a string, or an object's name/title/text with its url."""
    if isinstance(value, dict):
        title = plain(value.get("name") or value.get("title") or value.get("text"))
        url = value.get("url") or value.get("link")
        if isinstance(url, str) and url.strip():
            address = link(url)["url"]
            return f"{title} ({address})" if title else address
        return title
    return plain(value)


def _item_texts(items: list[Any]) -> list[str]:
    """Periods, service periods, documents: clean text per item, sorted, no repeats."""
    return sorted({_item_text(item) for item in items} - {""})


def _item_text(item: Any) -> str:
    """An item as one text: its kind or name, its value and unit, its text."""
    if not isinstance(item, dict):
        return plain(item)
    names = [type_name(item.get("type")), _text(item.get("name")), _text(item.get("title"))]
    label = " – ".join(dict.fromkeys(n for n in names if n))
    amount = " ".join(_text(item.get(f)) for f in ("value", "unit")
                      if item.get(f) not in (None, "") and not isinstance(item.get(f), bool))
    body = "\n".join(t for t in (plain(item.get(f)) for f in ("text", "description", "note"))
                     if t)
    tail = " ".join(p for p in (amount, body) if p)
    return f"{label}: {tail}" if label and tail else label or tail
