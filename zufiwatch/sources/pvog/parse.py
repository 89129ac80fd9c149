"""Pure parsing of the PVOG Suchdienst's JSON answers (parser version ``pvog-2``).

One decoded answer in, normalised records out; no I/O. The shapes are those of
``sources.md`` ("Source 1"): the detail and its modules as seen in a verbatim answer, the
office as public clients read it, the online services reconstructed. The parsers accept
unknown fields, missing optional fields (absent or null) and any order, and are strict only
about what conclusions rest on: ids and names. A missing required field raises
:class:`MissingField` naming the endpoint and the field.

What a Leistung record holds (the contract of issue 13):

- ``texte``: one entry per module code (``"code#2"`` for a repeat); a placeholder module
  (``placeholder: true``) says "no content": it is kept as ``{"titel", "text": "",
  "platzhalter": true}`` and its filler text ("nicht angegeben") is never stored;
- ``gueltigkeit`` of the Leistung, and per online-service link its Onlinedienst ``id``,
  validity window, level of confidence and identification methods; of the
  ``validityPeriods`` only those other than the window itself are kept (the live data
  repeats the window as its only period: a moved ``validTo`` is one change, not two);
- ``zustaendigkeiten`` from the ``/v2`` titles, or from ``organisationIds`` where no titles
  answer;
- the import time (``timestamp``, ``lastUpdate``), ``externalLastUpdate`` and the search
  terms (``suggest``) are volatile: never content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import MissingField, PayloadError
from ...model import Record, canonical_json
from ...normalize import html_to_texts, link, sorted_by
from .._payload import json_object as _object
from .._payload import text as _text
from .._payload import unique_links as _unique_links
from .shapes import EP_DETAIL, EP_LISTING, EP_OFFICE, EP_ONLINE, EP_TITLES

__all__ = [
    "CODE_FREIGABE",
    "CODE_URSPRUNGSPORTAL",
    "DETAIL_VOLATILE",
    "INFO_TIMES",
    "OFFICE_VOLATILE",
    "PARSER_VERSION",
    "ListingPage",
    "OnlineServicePage",
    "detail_volatile",
    "leistung_office_ids",
    "leistung_offices",
    "office_volatile",
    "onlineservice_id",
    "onlineservice_items",
    "onlineservice_record",
    "organisation_ids",
    "parse_leistung",
    "parse_listing",
    "parse_office",
    "parse_onlineservices",
]

#: Bump whenever parsing or normalising changes what records contain.
PARSER_VERSION = "pvog-2"

#: Text-module codes whose content becomes a field of its own instead of ``texte``.
CODE_FREIGABE = "93"
CODE_URSPRUNGSPORTAL = "94"

#: Top-level keys of a detail that move without a content change: the import time (every
#: day), the editor's timestamp and the search terms.
DETAIL_VOLATILE = ("lastUpdate", "externalLastUpdate", "timestamp", "suggest")

#: Top-level keys of an office that move without a content change (the import time).
OFFICE_VOLATILE = ("lastUpdate",)

#: The ``additionalInformation`` type of an office's opening hours (seen).
INFO_TIMES = "INFO_TIMES"

#: Role names of the ``/v2`` titles, for answers that name the role without its code.
_ROLE_CODES = {"zuständige stelle": "01", "ansprechpunkt": "03"}


# A missing field is named by the endpoint and its path in the answer (``details[].code``,
# as shape drift names keys), so that a field missing in every answer is seen as drift.


def _require(obj: Any, name: str, endpoint: str, kind: type | tuple[type, ...],
             expected: str, at: str = "") -> Any:
    if not isinstance(obj, dict):
        raise MissingField(endpoint, f"{at}{name}", "inside a JSON object")
    value = obj.get(name)
    if value is None or not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise MissingField(endpoint, f"{at}{name}", expected)
    return value


def _optional_list(obj: dict[str, Any], name: str, endpoint: str, at: str = "") -> list[Any]:
    """The list under ``name``; [] when absent or null; MissingField when not a list."""
    value = obj.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MissingField(endpoint, f"{at}{name}", "a list")
    return value


def _line(value: Any) -> str:
    """Clean text on one line (labels, terms: a line break in the source means nothing)."""
    return " ".join(_text(value).split())


def _html(value: Any) -> str:
    return value if isinstance(value, str) else ""


# -- listing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingPage:
    ids: tuple[str, ...]
    total_elements: int
    total_pages: int
    number: int
    last: bool
    last_update: dict[str, str]


def parse_listing(payload: Any) -> ListingPage:
    """One page of ``/v7/servicedescriptions/{ars}``. Items carry ``id``, ``title`` (often
    empty) and ``description``; the name comes from the detail."""
    endpoint = EP_LISTING
    page = _require(_object(payload, endpoint), "serviceDescriptions", endpoint, dict,
                    "an object with the page")
    content = _require(page, "content", endpoint, list, "a list")
    total = _require(page, "totalElements", endpoint, int, "an integer")
    ids = []
    stamps = {}
    for item in content:
        item_id = _require(item, "id", endpoint, str, "a string", "content[].")
        ids.append(item_id)
        if isinstance(item.get("lastUpdate"), str):
            stamps[item_id] = item["lastUpdate"]
    total_pages = page.get("totalPages")
    number = page.get("number")
    return ListingPage(
        ids=tuple(ids),
        total_elements=total,
        total_pages=total_pages if isinstance(total_pages, int) else 0,
        number=number if isinstance(number, int) else 0,
        last=bool(page.get("last", not content)),
        last_update=stamps,
    )


# -- Leistung ------------------------------------------------------------------------------


def parse_leistung(detail: Any, titles: Any = None, *,
                   zustaendigkeiten: list[dict[str, str]] | None = None) -> Record:
    """A Leistung from its ``/v6`` detail and, when fetched, its ``/v2`` office titles;
    or with its ``zustaendigkeiten`` as known (taken from the stored version when the
    detail names the same offices, see :func:`leistung_offices`)."""
    endpoint = EP_DETAIL
    detail = _object(detail, endpoint)
    lb_id = _require(detail, "id", endpoint, str, "a string")
    name = _require(detail, "name", endpoint, str, "a string")
    texte, freigabe, portal_links = _modules(_optional_list(detail, "details", endpoint),
                                             endpoint)
    ursprung = [link(p.get("uri"), p.get("title")) for p in
                _optional_list(detail, "sourcePortals", endpoint) if isinstance(p, dict)]
    content = {
        "name": _text(name),
        "leika": sorted({str(k) for k in _optional_list(detail, "leikakeys", endpoint)}),
        "ars": sorted({str(a) for a in _optional_list(detail, "ars", endpoint)}),
        "synonyme": sorted({s for s in map(_line, _optional_list(detail, "synonyms", endpoint))
                            if s}),
        "gueltigkeit": _validity(detail, endpoint),
        "texte": texte,
        "fachliche_freigabe": freigabe,
        "onlinedienste": _online_service_links(detail, endpoint),
        "zustaendigkeiten": zustaendigkeiten if zustaendigkeiten is not None
        else _offices(detail, titles, endpoint),
        "ursprungsportal": sorted_by(_unique_links(x for x in ursprung + portal_links
                                                   if x["url"]), "url", "titel"),
    }
    return Record("leistung", lb_id, content, detail_volatile(detail))


def detail_volatile(detail: dict[str, Any]) -> dict[str, Any]:
    """What a Leistung record keeps of its detail's volatile fields."""
    return {k: detail[k] for k in DETAIL_VOLATILE if detail.get(k) is not None}


def office_volatile(office: dict[str, Any]) -> dict[str, Any]:
    """What an office record keeps of its volatile fields."""
    return {k: office[k] for k in OFFICE_VOLATILE if office.get(k) is not None}


def _periods(obj: dict[str, Any], endpoint: str, at: str = "") -> list[dict[str, str]]:
    """The ``validityPeriods`` other than the window ``validFrom``–``validTo`` itself: the
    live data repeats the window as its only period, and a moved window is one change."""
    window = (_line(obj.get("validFrom")), _line(obj.get("validTo")))
    periods = {(_line(p.get("validFrom")), _line(p.get("validTo")))
               for p in _optional_list(obj, "validityPeriods", endpoint, at)
               if isinstance(p, dict)}
    return [{"von": von, "bis": bis} for von, bis in sorted(periods - {window})]


def _validity(detail: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """``{"von", "bis", "zeitraeume"}``; ``{}`` when the detail names no validity."""
    periods = _optional_list(detail, "validityPeriods", endpoint)
    if detail.get("validFrom") is None and detail.get("validTo") is None and not periods:
        return {}
    return {"von": _line(detail.get("validFrom")), "bis": _line(detail.get("validTo")),
            "zeitraeume": _periods(detail, endpoint)}


def _is_placeholder(module: dict[str, Any]) -> bool:
    return module.get("placeholder") is True


def _modules(modules: list[Any], endpoint: str
             ) -> tuple[dict[str, Any], dict[str, str], list[dict[str, Any]]]:
    """``texte``, ``fachliche_freigabe`` and the links of module 94 (Ursprungsportal)."""
    where = "details[]."
    converted = html_to_texts(_snippets(modules, endpoint, where))
    entries: list[tuple[str, dict[str, Any]]] = []
    approvals: list[dict[str, str]] = []
    portal: list[dict[str, Any]] = []
    for module in modules:
        code = str(_require(module, "code", endpoint, (str, int), "a code", where))
        if code == CODE_URSPRUNGSPORTAL:
            portal += [link(x.get("uri"), x.get("title")) for x in
                       _optional_list(module, "links", endpoint, where) if isinstance(x, dict)]
        elif _is_placeholder(module):
            if code != CODE_FREIGABE:
                entries.append((code, {"titel": _text(module.get("title")), "text": "",
                                       "platzhalter": True}))
        elif code == CODE_FREIGABE:
            approvals.append({"stelle": converted[_html(module.get("text"))][0],
                              "datum": _text(module.get("date"))})
        else:
            entries.append((code, _text_module(module, endpoint, where, converted)))
    # A code's repeats are numbered in the order of their content, so that the order of
    # the modules in the answer never moves a text to another slot.
    entries.sort(key=lambda entry: (entry[0], canonical_json(entry[1])))
    texte: dict[str, Any] = {}
    for code, value in entries:
        slot = code
        suffix = 2
        while slot in texte:
            slot = f"{code}#{suffix}"
            suffix += 1
        texte[slot] = value
    freigabe = min(approvals, key=lambda a: (a["stelle"], a["datum"])) if approvals else {}
    return texte, freigabe, portal


def _snippets(modules: list[Any], endpoint: str, at: str) -> list[str]:
    """Every HTML text of the modules and their sub-modules, to convert in one go."""
    snippets = []
    for module in modules:
        if isinstance(module, dict):
            snippets.append(_html(module.get("text")))
            snippets += _snippets(_optional_list(module, "details", endpoint, at), endpoint,
                                  f"{at}details[].")
    return snippets


def _text_module(module: dict[str, Any], endpoint: str, where: str,
                 converted: dict[str, tuple[str, list[dict[str, str]]]]) -> dict[str, Any]:
    """A module's title, clean text, links (its own, in its text, of its sub-modules) and
    sub-modules (``_moduleDetail``: fees under 98, periods under 97, durations under 95)."""
    text, found = converted[_html(module.get("text"))]
    links = list(found)
    links += [link(x.get("uri"), x.get("title"))
              for x in _optional_list(module, "links", endpoint, where) if isinstance(x, dict)]
    sub = []
    for item in _optional_list(module, "details", endpoint, where):
        if not isinstance(item, dict):
            continue
        if _is_placeholder(item):
            sub.append({"titel": _text(item.get("title")), "text": ""})
            continue
        sub_text, sub_found = converted[_html(item.get("text"))]
        sub.append({"titel": _text(item.get("title")), "text": sub_text})
        links += sub_found
        links += [link(x.get("uri"), x.get("title")) for x in
                  _optional_list(item, "links", endpoint, f"{where}details[].")
                  if isinstance(x, dict)]
    value: dict[str, Any] = {"titel": _text(module.get("title")), "text": text}
    links = [x for x in links if x["url"]]
    if links:
        value["links"] = sorted_by(_unique_links(links), "url", "titel")
    if sub:
        value["details"] = sorted_by(sub, "titel", "text")
    if module.get("date"):
        value["datum"] = _text(module.get("date"))
    return value


def _online_service_links(detail: dict[str, Any], endpoint: str) -> list[dict[str, Any]]:
    """Each online-service link with its Onlinedienst id, validity window, level of
    confidence and identification methods ("" / [] where the answer names none)."""
    where = "onlineServiceLinks[]."
    found = []
    for item in _optional_list(detail, "onlineServiceLinks", endpoint):
        if not isinstance(item, dict) or not item.get("uri"):
            continue
        value = link(item.get("uri"), item.get("title"))
        value["id"] = _line(item.get("id"))
        value["gueltig_von"] = _line(item.get("validFrom"))
        value["gueltig_bis"] = _line(item.get("validTo"))
        value["gueltigkeitszeitraeume"] = _periods(item, endpoint, where)
        value["vertrauensniveau"] = _line(item.get("levelOfConfidence"))
        value["identifizierung"] = sorted({m for m in map(_line, _optional_list(
            item, "identificationMethods", endpoint, where)) if m})
        found.append(value)
    return sorted_by(_unique_links(sorted_by(found, "url", "titel", "id")), "url", "titel")


def _offices(detail: dict[str, Any], titles: Any, endpoint: str) -> list[dict[str, str]]:
    """The offices with their roles from the ``/v2`` titles; where no titles answer (none
    fetched, or an empty list), the detail's ``organisationIds`` without name and role."""
    offices: dict[tuple[str, str], dict[str, str]] = {}
    if titles is not None:
        if not isinstance(titles, list):
            raise PayloadError(f"{EP_TITLES}: expected a JSON list", endpoint=EP_TITLES)
        offices = _titled(titles, EP_TITLES)
    if not offices:
        for oe_id in _organisation_ids(detail, endpoint):
            offices[("", oe_id)] = {"id": oe_id, "name": "", "rolle": "", "rollenname": ""}
    return sorted_by(list(offices.values()), "rolle", "id")


def leistung_offices(detail: Any, titles: Any) -> list[dict[str, str]]:
    """The ``zustaendigkeiten`` of a Leistung (what :func:`parse_leistung` stores), from
    its detail and ``/v2`` titles, without parsing its texts."""
    return _offices(_object(detail, EP_DETAIL), titles, EP_DETAIL)


def organisation_ids(detail: Any) -> list[str]:
    """The detail's ``organisationIds`` ([] when absent or null); MissingField when they
    are not a list of ids."""
    return _organisation_ids(detail, EP_DETAIL)


def _organisation_ids(detail: Any, endpoint: str) -> list[str]:
    ids = _optional_list(detail, "organisationIds", endpoint) if isinstance(detail, dict) else []
    if not all(isinstance(i, str) and i for i in ids):
        raise MissingField(endpoint, "organisationIds", "a list of office ids")
    return ids


def _titled(items: list[Any], endpoint: str) -> dict[tuple[str, str], dict[str, str]]:
    offices = {}
    for item in items:
        oe_id = _require(item, "id", endpoint, str, "a string")
        role = item.get("role")
        if isinstance(role, dict):
            code, role_name = _text(role.get("code")), _text(role.get("name"))
        else:
            role_name = _text(role)
            code = _ROLE_CODES.get(role_name.casefold(), "")
        value = {"id": oe_id, "name": _text(item.get("title")), "rolle": code,
                 "rollenname": role_name}
        offices[(code, oe_id)] = value
    return offices


def leistung_office_ids(detail: Any, titles: Any) -> set[str]:
    """The ids of the offices a Leistung names (titles and ``organisationIds``), without
    parsing its texts."""
    found: set[str] = set()
    if isinstance(titles, list):
        found.update(i["id"] for i in titles if isinstance(i, dict)
                     and isinstance(i.get("id"), str) and i["id"])
    if isinstance(detail, dict) and isinstance(detail.get("organisationIds"), list):
        found.update(i for i in detail["organisationIds"] if isinstance(i, str) and i)
    return found


# -- office --------------------------------------------------------------------------------


def parse_office(payload: Any) -> Record:
    """One ``/v5/organisationunits/detail`` answer. Opening hours are the
    ``additionalInformation`` item of type ``INFO_TIMES``; every other type is a field of
    ``zusatzinformationen``. A communication's channel is its ``name`` (else ``code``)."""
    endpoint = EP_OFFICE
    office = _object(payload, endpoint)
    oe_id = _require(office, "id", endpoint, str, "a string")
    title = office.get("title")
    if not (isinstance(title, str) and title.strip()) and isinstance(office.get("name"), str):
        title = office["name"]
    if not isinstance(title, str):
        raise MissingField(endpoint, "title", "a string")
    location = office["location"] if isinstance(office.get("location"), dict) else {}
    where = "location."
    addresses = [
        {"typ": _text(a.get("type")), "strasse": _text(a.get("street")),
         "hausnummer": _text(a.get("houseNumber")), "plz": _text(a.get("zip")),
         "ort": _text(a.get("city"))}
        for a in _optional_list(location, "addresses", endpoint, where) if isinstance(a, dict)
    ]
    communications = [
        {"kanal": _line(c.get("name")) or _line(c.get("code")), "wert": _line(c.get("value"))}
        for c in _optional_list(location, "communications", endpoint, where)
        if isinstance(c, dict)
    ]
    hours, more = _additional_information(office, endpoint)
    content = {
        "name": _text(title),
        "anschriften": sorted_by(addresses, "typ", "strasse", "hausnummer", "plz", "ort"),
        "kommunikation": sorted_by(communications, "kanal", "wert"),
        "internetadressen": sorted({link(a.get("uri"))["url"] for a in
                                    _optional_list(office, "internetAddresses", endpoint)
                                    if isinstance(a, dict) and a.get("uri")}),
        "oeffnungszeiten": hours,
        "zusatzinformationen": more,
    }
    return Record("organisationseinheit", oe_id, content, office_volatile(office))


def _additional_information(office: dict[str, Any], endpoint: str) -> tuple[str, dict[str, str]]:
    """The clean text of ``INFO_TIMES`` ("" if none) and ``{type: clean text}`` of the other
    types; the texts of a repeated type are joined (sorted, one per line)."""
    items = [(_line(i.get("type")), _html(i.get("text")))
             for i in _optional_list(office, "additionalInformation", endpoint)
             if isinstance(i, dict)]
    converted = html_to_texts([text for _, text in items])
    by_type: dict[str, list[str]] = {}
    for kind, text in items:
        clean = converted[text][0]
        if clean:
            by_type.setdefault(kind, []).append(clean)
    joined = {kind: "\n".join(sorted(texts)) for kind, texts in by_type.items()}
    return joined.pop(INFO_TIMES, ""), dict(sorted(joined.items()))


# -- online services -----------------------------------------------------------------------


@dataclass(frozen=True)
class OnlineServicePage:
    records: tuple[Record, ...]
    next_token: str | None
    total_hits: int | None
    received: int


def parse_onlineservices(payload: Any, ars: str) -> OnlineServicePage:
    """One page of ``/v1beta2/onlineservices``; inherited services are marked ``geerbt``."""
    items, token, total = onlineservice_items(payload)
    return OnlineServicePage(
        records=tuple(onlineservice_record(item, ars) for item in items),
        next_token=token, total_hits=total, received=len(items))


def onlineservice_items(payload: Any) -> tuple[list[Any], str | None, int | None]:
    """The items of a page of ``/v1beta2/onlineservices``, the token of the next page
    and the total the page announces."""
    page = _object(payload, EP_ONLINE)
    items = _require(page, "onlineservices", EP_ONLINE, list, "a list")
    token = page.get("nextPageToken")
    total = page.get("totalHits")
    return (items, token if isinstance(token, str) and token else None,
            total if isinstance(total, int) and not isinstance(total, bool) else None)


def onlineservice_id(item: Any) -> str:
    """The id of one item of ``/v1beta2/onlineservices``."""
    found: str = _require(item, "id", EP_ONLINE, str, "a string", "onlineservices[].")
    return found


def onlineservice_record(item: Any, ars: str) -> Record:
    """One online service from its item; inherited (no description for ``ars``): ``geerbt``."""
    endpoint = EP_ONLINE
    at = "onlineservices[]."
    od_id = onlineservice_id(item)
    descriptions = [
        {"id": _require(d, "id", endpoint, str, "a string", f"{at}serviceDescriptions[]."),
         "ars": sorted({str(a) for a in _optional_list(
             d, "ars", endpoint, f"{at}serviceDescriptions[].")})}
        for d in _optional_list(item, "serviceDescriptions", endpoint, at)
    ]
    local = any(ars in d["ars"] for d in descriptions)
    content = {
        "name": _text(item.get("name")),
        "links": sorted_by(_unique_links(
            link(x.get("uri"), x.get("title")) for x in
            _optional_list(item, "links", endpoint, at)
            if isinstance(x, dict) and x.get("uri")),
            "url", "titel"),
        "leistungen": sorted_by(descriptions, "id"),
        "geerbt": not local,
    }
    return Record("onlinedienst", od_id, content, {})
