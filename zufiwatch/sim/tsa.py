"""A simulated TSA Infodienste REST API v4 (the ZuFi's own API) on 127.0.0.1.

It serves the same :class:`~zufiwatch.sim.dataset.Directory` as the simulated PVOG,
converted to the TSA's shapes, one day ahead: on simulated day ``d`` it serves the
scenario's directory of ``d + lead_days``, because the PVOG receives the ZuFi's data only
about once a day. The shapes are reconstructed from field names seen in public
documentation, not copied from the live API.

Endpoints (under ``/rest/v4``; every request needs the header ``api_key``)::

    GET /ou/{id}                                   one Organisationseinheit, 404 if unknown
    GET /ou/find?parentId=P&offset=N&limit=K       the children of P, paged, sorted by id
    GET /ouCompetence/{ouId}?areaId=A&offset=&limit=   the Leistungen the office is the
                                                   zuständige Stelle (role "01") for
    GET /pst/{id}?areaId=A                         one Leistung, 404 if unknown or wrong area
    GET /os/findByCompetence?pstId=P&areaId=A      the online services of a Leistung

Ids: a Leistung ``S1600001.LB.354790`` is pst 354790, an office ``S1600001.OE.20006`` is
ou 20006. The offices hang below a made-up tree: the root :data:`ROOT_OU` ("Stadtverwaltung
Jena") has three departments (19001-19003), and every office sits below the department
chosen by a stable hash of its PVOG id. A missing ``areaId`` means the served area.

ZuFi-only edits that never reach the PVOG can be made while serving
(:meth:`SimulatedTSA.set_links`, :meth:`SimulatedTSA.set_responsible`), and faults can be
injected per path substring (:meth:`SimulatedTSA.inject`), as for the simulated PVOG.
"""

from __future__ import annotations

import html
import re
import secrets
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from ._common import id_number, stable_bucket
from ._http import HTML_TYPE as HTML_TYPE  # re-exported: these were defined here
from ._http import JSON_TYPE as JSON_TYPE
from ._http import REQUEST_LOG_LIMIT as REQUEST_LOG_LIMIT
from ._http import SHUTDOWN_POLL_SECONDS as SHUTDOWN_POLL_SECONDS
from ._http import (
    ApiHandler,
    Fault,
    JsonApi,
    Response,
    common_fault,
    dumps,
    joined_headers,
    maintenance_page,
    phrase,
)
from ._links import link_title
from ._offices import EMAIL, FAX, PHONE, ROLE_ZUSTAENDIG, opening_hours
from .dataset import Directory, titles_for
from .scenario import Scenario

__all__ = [
    "AREA_ID",
    "DEPARTMENTS",
    "FAULT_KINDS",
    "ROOT_OU",
    "SimulatedTSA",
    "TsaData",
    "tsa_view",
]

API_PREFIX = "/rest/v4"
ROOT_OU = 19000
AREA_ID = "351529"  # Jena
AREA_NAMES = {AREA_ID: "Jena"}
DEPARTMENTS = (
    (19001, "Dezernat Bürgerservice und Ordnung"),
    (19002, "Dezernat Soziales und Familie"),
    (19003, "Dezernat Bau und Umwelt"),
)
DEFAULT_LIMIT = 20
MAX_LIMIT = 100  # a larger limit is capped, not rejected
SYNTHETIC_OS_BASE = 900_000  # ids of online services the Directory does not know
SYNTHETIC_OS_SPAN = 100_000
TRUST_LEVEL = "SUBSTANTIELL"
TREE_LAST_UPDATED = "2025-11-03T07:00:00.000Z"  # root and departments never change
VIEW_CACHE_SIZE = 8  # converted directories kept by tsa_view
FAULT_KINDS = ("status", "malformed", "truncated", "maintenance", "empty")

_OU = re.compile(r"^/ou/(\d+)$")
_COMPETENCE = re.compile(r"^/ouCompetence/(\d+)$")
_PST = re.compile(r"^/pst/(\d+)$")
_LIST_ROUTES = frozenset({"ou_find", "competence", "os"})

# PVOG communication name -> TSA type and title.
_COMMUNICATIONS = {
    PHONE: ("phone", "Telefon"),
    FAX: ("fax", "Fax"),
    EMAIL: ("email", "E-Mail"),
}

MAINTENANCE_PAGE = maintenance_page("Der Zuständigkeitsfinder Thüringen")


# conversion


@dataclass
class TsaData:
    """One directory in TSA shapes. Objects are shared between calls: never edit them.

    ``ous``: ou id -> the /ou object (root, departments and offices); ``children``:
    parent ou id -> child ou ids, sorted; ``psts``: pst id -> the /pst object;
    ``competences``: ou id -> the pst ids the office is the zuständige Stelle for, sorted;
    ``online``: pst id -> the /os/findByCompetence result entries (empty if none);
    ``service_ids``/``service_names``: link uri -> numeric id/name of the /v1beta2 online
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
    pst_sources: dict[int, dict] = field(default_factory=dict, repr=False, compare=False)

    @property
    def area(self) -> dict:
        """The area reference used in addresses and competences."""
        return _area(self.area_id)

    def responsible(self, pst_id: int) -> list[int]:
        """The ou ids that are the zuständige Stelle for ``pst_id``."""
        return sorted(ou for ou, psts in self.competences.items() if pst_id in psts)

    def competence_entry(self, pst_id: int, ou_id: int) -> dict:
        """One /ouCompetence result entry."""
        return {
            "publicServiceTypes": [{"id": pst_id, "name": self.psts[pst_id]["name"]}],
            "areas": [self.area],
            "organisationalUnit": {"id": ou_id, "name": self.ous[ou_id]["name"]},
        }

    def services_for(self, pst_id: int, urls: Iterable[str]) -> list[dict]:
        """/os/findByCompetence result entries for ``urls`` (an override of ``pst_id``'s)."""
        titles = {entry["object"]["link"]: entry["object"]["linkTitle"]
                  for entry in self.online.get(pst_id, [])}
        return [
            _service_entry(url, titles.get(url) or link_title(url), self) for url in urls
        ]


def _area(area_id: str) -> dict:
    number: int | str = int(area_id) if area_id.isdigit() else area_id
    return {"id": number, "name": AREA_NAMES.get(area_id, f"Gebiet {area_id}")}


def synthetic_service_id(uri: str) -> int:
    """A stable id for an online service the Directory does not know."""
    return SYNTHETIC_OS_BASE + zlib.crc32(uri.encode("utf-8")) % SYNTHETIC_OS_SPAN


def _service_entry(uri: str, title: str, data: TsaData) -> dict:
    service_id = data.service_ids.get(uri)
    return {
        "score": 1.0,
        "object": {
            "id": service_id if service_id is not None else synthetic_service_id(uri),
            "name": data.service_names.get(uri) or title,
            "link": uri,
            "linkTitle": title,
            "trustLevel": TRUST_LEVEL,
        },
    }


def department_of(office_id: str) -> int:
    """The department ou id an office (by PVOG id) hangs below."""
    return DEPARTMENTS[stable_bucket(office_id, len(DEPARTMENTS))][0]


def _tree_ou(ou_id: int, name: str, parent: int | None, area: dict) -> dict:
    return {
        "id": ou_id,
        "name": name,
        "parentId": parent,
        "description": f"<p>{html.escape(name)}</p>",
        "openingHours": "",
        "appointmentRequired": False,
        "onlineAppointment": None,
        "addresses": [
            {"street": "Am Anger", "houseNumber": "15", "zipcode": "07743", "area": area,
             "type": "Hausanschrift"},
        ],
        "communications": [
            {"type": "phone", "title": "Telefon", "value": "+49 3641 49-0"},
            {"type": "email", "title": "E-Mail", "value": "stadtverwaltung@jena.de"},
        ],
        "lastUpdated": TREE_LAST_UPDATED,
    }


def _office_ou(office: dict, area: dict) -> dict:
    """The /ou object of a PVOG office (``/v5/organisationunits/detail``)."""
    oeid = office["id"]
    title = office["title"]
    hours = opening_hours(office)
    uris = [entry["uri"] for entry in office.get("internetAddresses", []) if entry.get("uri")]
    description = f"<p>{html.escape(title)} der Stadtverwaltung Jena.</p>"
    if uris:
        link = html.escape(uris[0])
        description += f'<p>Weitere Informationen: <a href="{link}">{link}</a></p>'
    appointment = "Termin" in hours
    online = None
    if appointment or stable_bucket(oeid, 4) == 0:
        slug = uris[0].rstrip("/").rsplit("/", 1)[-1] if uris else str(id_number(oeid))
        online = {"link": f"https://termine.jena.de/{slug}"}
    location = office.get("location", {})
    addresses = [
        {
            "street": address.get("street", ""),
            "houseNumber": address.get("houseNumber", ""),
            "zipcode": address.get("zip", ""),
            "area": {"id": area["id"], "name": address.get("city") or area["name"]},
            "type": address.get("type", ""),
        }
        for address in location.get("addresses", [])
    ]
    communications = []
    for entry in location.get("communications", []):
        kind, label = _COMMUNICATIONS.get(entry.get("name", ""), ("other", "Sonstiges"))
        communications.append({"type": kind, "title": label, "value": entry.get("value", "")})
    return {
        "id": id_number(oeid),
        "name": title,
        "parentId": department_of(oeid),
        "description": description,
        "openingHours": hours,
        "appointmentRequired": appointment,
        "onlineAppointment": online,
        "addresses": addresses,
        "communications": communications,
        "lastUpdated": office["lastUpdate"],
    }


def _pst(detail: dict) -> dict:
    """The /pst object of a PVOG Leistung (``/v6/servicedescriptions/{id}/detail``)."""
    teaser = ""
    blocks = []
    charges = []
    for module in detail.get("details", []):
        code = module.get("code", "")
        if code == "24":
            teaser = module.get("text") or ""
            continue
        if code == "98":
            charges = [
                {"description": sub.get("title", ""), "amount": sub.get("text", "")}
                for sub in module.get("details", [])
            ]
        blocks.append(
            {
                "type": {
                    "id": int(code) if code.isdigit() else code,
                    "name": module.get("title", ""),
                    "key": code,
                },
                "text": module.get("text") or "",
                "externalLinks": [
                    {"url": link.get("uri", ""), "name": link.get("title", "")}
                    for link in module.get("links", [])
                ],
            }
        )
    return {
        "id": id_number(detail["id"]),
        "type": "LEISTUNG",
        "leikaKeys": list(detail.get("leikakeys", [])),
        "name": detail["name"],
        "teaser": teaser,
        "textBlocks": blocks,
        "charges": charges,
        "lastUpdated": detail["lastUpdate"],
    }


def _convert(directory: Directory, area_id: str, previous: TsaData | None) -> TsaData:
    """``directory`` in TSA shapes, reusing ``previous``'s objects for unchanged sources."""
    area = _area(area_id)
    ous: dict[int, dict] = {ROOT_OU: _tree_ou(ROOT_OU, "Stadtverwaltung Jena", None, area)}
    children: dict[int, list[int]] = {ROOT_OU: []}
    for number, name in DEPARTMENTS:
        ous[number] = _tree_ou(number, name, ROOT_OU, area)
        children[ROOT_OU].append(number)
        children[number] = []
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
    for detail in directory.leistungen.values():
        number = id_number(detail["id"])
        if previous is not None and previous.pst_sources.get(number) is detail:
            data.psts[number] = previous.psts[number]
        else:
            data.psts[number] = _pst(detail)
        data.pst_sources[number] = detail
        for organisation in titles_for(detail):
            if organisation.get("role", {}).get("code") == ROLE_ZUSTAENDIG["code"]:
                competences.setdefault(id_number(organisation["id"]), set()).add(number)
        data.online[number] = [
            _service_entry(link["uri"], link.get("title") or link_title(link["uri"]), data)
            for link in detail.get("onlineServiceLinks", [])
        ]
    data.competences = {ou: sorted(psts) for ou, psts in competences.items()}
    return data


_views: OrderedDict[tuple[int, str], tuple[Directory, TsaData]] = OrderedDict()
_views_lock = threading.Lock()


def tsa_view(directory: Directory, area_id: str = AREA_ID) -> TsaData:
    """``directory`` in TSA shapes (cached per directory object and area).

    Objects whose PVOG source is shared with the previously converted directory (scenario
    days share untouched objects) are shared too, so converting the next day is cheap.
    """
    key = (id(directory), area_id)
    with _views_lock:
        entry = _views.get(key)
        if entry is not None and entry[0] is directory:
            _views.move_to_end(key)
            return entry[1]
        previous = next(
            (data for _, data in reversed(_views.values()) if data.area_id == area_id), None
        )
        data = _convert(directory, area_id, previous)
        _views[key] = (directory, data)
        while len(_views) > VIEW_CACHE_SIZE:
            _views.popitem(last=False)
        return data


# responses


@dataclass
class _Request:
    target: str  # path with query
    headers: dict[str, str]


def _error(status: int, message: str) -> Response:
    """A TSA error answer. It never echoes the request (which may carry the api_key)."""
    return Response(status, dumps({"status": status, "error": phrase(status),
                                   "message": message}))


UNAUTHORIZED = _error(401, "invalid or missing api_key")
EMPTY_LIST = dumps({"count": 0, "results": []})


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _paging(query: dict[str, list[str]]) -> tuple[int, int] | None:
    """``(offset, limit)`` with the limit capped to :data:`MAX_LIMIT`; None if invalid."""
    try:
        offset = int(_first(query, "offset") or 0)
        limit = int(_first(query, "limit") or DEFAULT_LIMIT)
    except ValueError:
        return None
    if offset < 0 or limit < 1:
        return None
    return offset, min(limit, MAX_LIMIT)


def _list_body(count: int, items: list[bytes]) -> bytes:
    return b'{"count":%d,"results":[%s]}' % (count, b",".join(items))


def _canonical(name: str) -> str:
    """``accept-language`` -> ``Accept-Language``; names with ``_`` (``api_key``) lowered."""
    if "_" in name:
        return name.lower()
    return "-".join(part.capitalize() for part in name.split("-"))


class _Routes:
    """Request routing over the current day: path, query and api key in, response out."""

    def __init__(self, app: SimulatedTSA) -> None:
        self._app = app

    def handle(
        self, path: str, query: dict[str, list[str]], api_key: str | None
    ) -> tuple[str, Response]:
        """The route name (for faults) and the normal response."""
        if api_key is None or not secrets.compare_digest(
            api_key.encode("utf-8"), self._app.api_key.encode("utf-8")
        ):
            return "unauthorized", UNAUTHORIZED
        if not path.startswith(API_PREFIX + "/"):
            return "unknown", _error(404, "No handler found")
        sub = path[len(API_PREFIX) :]
        data = self._app._current_data()
        if sub == "/ou/find":
            return "ou_find", self._ou_find(data, query)
        if match := _OU.match(sub):
            return "ou", self._ou(data, int(match.group(1)))
        if match := _COMPETENCE.match(sub):
            return "competence", self._competence(data, int(match.group(1)), query)
        if match := _PST.match(sub):
            return "pst", self._pst(data, int(match.group(1)), query)
        if sub == "/os/findByCompetence":
            return "os", self._online_services(data, query)
        return "unknown", _error(404, "No handler found")

    def _area_ok(self, query: dict[str, list[str]]) -> bool:
        area = _first(query, "areaId")
        return area is None or area == self._app.area_id

    def _ou(self, data: TsaData, ou_id: int) -> Response:
        ou = data.ous.get(ou_id)
        if ou is None:
            return _error(404, f"OrganisationalUnit {ou_id} not found")
        return Response(200, self._app._bytes_of(ou))

    def _ou_find(self, data: TsaData, query: dict[str, list[str]]) -> Response:
        paging = _paging(query)
        if paging is None:
            return _error(400, "offset must be an integer >= 0 and limit an integer >= 1")
        parent = _first(query, "parentId")
        if not parent:
            return _error(400, "parameter parentId is required")
        if not parent.isdigit():
            return _error(400, "parameter parentId must be an integer")
        offset, limit = paging
        ids = data.children.get(int(parent), [])
        page = [self._app._bytes_of(data.ous[ou]) for ou in ids[offset : offset + limit]]
        return Response(200, _list_body(len(ids), page))

    def _competence(self, data: TsaData, ou_id: int, query: dict[str, list[str]]) -> Response:
        paging = _paging(query)
        if paging is None:
            return _error(400, "offset must be an integer >= 0 and limit an integer >= 1")
        if ou_id not in data.ous:
            return _error(404, f"OrganisationalUnit {ou_id} not found")
        if not self._area_ok(query):
            return Response(200, EMPTY_LIST)
        offset, limit = paging
        psts = self._app._competent_psts(data, ou_id)
        page = [dumps(data.competence_entry(pst, ou_id)) for pst in psts[offset : offset + limit]]
        return Response(200, _list_body(len(psts), page))

    def _pst(self, data: TsaData, pst_id: int, query: dict[str, list[str]]) -> Response:
        pst = data.psts.get(pst_id)
        if pst is None or not self._area_ok(query):
            return _error(404, f"PublicServiceType {pst_id} not found for this area")
        return Response(200, self._app._bytes_of(pst))

    def _online_services(self, data: TsaData, query: dict[str, list[str]]) -> Response:
        pst = _first(query, "pstId")
        if not pst:
            return _error(400, "parameter pstId is required")
        if not pst.isdigit():
            return _error(400, "parameter pstId must be an integer")
        pst_id = int(pst)
        if pst_id not in data.psts or not self._area_ok(query):
            return Response(200, EMPTY_LIST)
        urls = self._app._link_override(pst_id)
        entries = data.online[pst_id] if urls is None else data.services_for(pst_id, urls)
        return Response(200, _list_body(len(entries), [dumps(entry) for entry in entries]))


# faults


def _fault_error(status: int) -> Response:
    """The answer of a "status" fault (502-504 get a proxy's HTML page instead)."""
    return _error(status, "injected fault")


def apply_fault(fault: Fault, route: str, response: Response) -> Response:
    """The response as changed by ``fault``."""
    answer = common_fault(fault, response, _fault_error, MAINTENANCE_PAGE)
    if answer is not None:
        return answer
    # "empty": a list answer with nothing in it, or an empty object
    return Response(200, EMPTY_LIST if route in _LIST_ROUTES else b"{}")


# server


class _Handler(ApiHandler):
    def do_GET(self) -> None:
        app: SimulatedTSA = self.server.app
        app._record(_Request(self.path, joined_headers(self.headers, _canonical)))
        parts = urlsplit(self.path)
        route, response = app._routes.handle(
            parts.path, parse_qs(parts.query), self.headers.get("api_key")
        )
        self._reply(route, response, apply_fault)


def _number(value: int | str, what: str) -> int:
    """An id as int: ``354790``, ``"354790"`` or a PVOG id ``"S1600001.LB.354790"``."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an int or a str, got {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).rsplit(".", 1)[-1]
    if not text.isdigit():
        raise ValueError(f"{what} must be numeric or a PVOG id, got {value!r}")
    return int(text)


class SimulatedTSA(JsonApi):
    """The simulated TSA API: ``with SimulatedTSA(scenario) as tsa: tsa.base_url``."""

    _api_prefix = API_PREFIX
    _handler = _Handler
    _thread_name = "simulated-tsa"

    def __init__(
        self, scenario: Scenario, *, api_key: str = "sim-api-key", lead_days: int = 1,
        host: str = "127.0.0.1", port: int = 0, area_id: str = AREA_ID, etags: bool = True,
    ) -> None:
        """``lead_days``: how many days the ZuFi is ahead of the PVOG. ``etags``: answer
        with an ETag and 304 to a matching If-None-Match."""
        if lead_days < 0:
            raise ValueError(f"lead_days must be >= 0, got {lead_days}")
        if not api_key:
            raise ValueError("api_key must not be empty")
        super().__init__(host, port, etags)
        self.scenario = scenario
        self.api_key = api_key
        self.lead_days = lead_days
        self.area_id = area_id
        self._links: dict[int, list[str]] = {}
        self._responsible: dict[int, int] = {}
        self._routes = _Routes(self)

    def set_day(self, day: int) -> None:
        """Simulated day ``day``: serve the scenario's directory of ``day + lead_days``."""
        self.scenario.effective_day(day)
        self.scenario.effective_day(day + self.lead_days)
        self._day = day

    def served_day(self) -> int:
        """The scenario day whose directory is served now."""
        return self.scenario.effective_day(self._day + self.lead_days)

    def data(self) -> TsaData:
        """What is served now, before overrides (see :func:`tsa_view`)."""
        return self._current_data()

    # ZuFi-only edits

    def set_links(self, pst_id: int | str, urls: list[str] | None) -> None:
        """From now on, list ``urls`` as the online services of ``pst_id`` (a ZuFi-only edit
        that never reaches the PVOG); None removes the override."""
        number = _number(pst_id, "pst_id")
        if urls is not None and (isinstance(urls, str) or
                                 not all(isinstance(url, str) for url in urls)):
            raise TypeError("urls must be a list of str or None")
        with self._lock:
            if urls is None:
                self._links.pop(number, None)
            else:
                self._links[number] = list(urls)

    def set_responsible(self, pst_id: int | str, ou_id: int | str | None) -> None:
        """From now on, ``ou_id`` alone is the zuständige Stelle for ``pst_id`` (ZuFi-only);
        None removes the override."""
        number = _number(pst_id, "pst_id")
        with self._lock:
            if ou_id is None:
                self._responsible.pop(number, None)
            else:
                self._responsible[number] = _number(ou_id, "ou_id")

    def clear_overrides(self) -> None:
        """Remove every :meth:`set_links` and :meth:`set_responsible` override."""
        with self._lock:
            self._links.clear()
            self._responsible.clear()

    # request log

    @property
    def requests(self) -> list[str]:
        """The request paths (with query) received so far, oldest first.

        Only the last ``REQUEST_LOG_LIMIT`` are kept; :attr:`request_count` counts all.
        """
        with self._lock:
            return [request.target for request in self._requests]

    def headers_of(self, index: int) -> dict[str, str]:
        """The headers of request ``index`` (as in :attr:`requests`), names capitalised
        canonically ("Accept-Language", "User-Agent") except those with an underscore,
        which are lowered ("api_key"); repeated ones joined."""
        with self._lock:
            return dict(self._requests[index].headers)

    # faults

    def inject(
        self, path_substring: str, kind: str, *, times: int | None = None, status: int = 500,
        retry_after: str | None = None,
    ) -> None:
        """Answer requests whose path (with query) contains ``path_substring`` with a fault.

        ``kind`` is "status" (with ``status`` and, if given, a ``Retry-After`` header),
        "malformed", "truncated", "maintenance" (an HTML page with status 200) or "empty"
        (``{"count":0,"results":[]}``, or ``{}`` for single objects); ``times`` limits how
        often it fires (None = always). The first injected fault that matches wins; faults
        apply whatever the api_key.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        self._add_fault(path_substring, kind, times, status, retry_after)

    # internals used by the handler

    def _link_override(self, pst_id: int) -> list[str] | None:
        with self._lock:
            urls = self._links.get(pst_id)
            return None if urls is None else list(urls)

    def _competent_psts(self, data: TsaData, ou_id: int) -> list[int]:
        """The pst ids ``ou_id`` is the zuständige Stelle for, overrides applied."""
        with self._lock:
            moved = dict(self._responsible)
        kept = {pst for pst in data.competences.get(ou_id, []) if pst not in moved}
        kept.update(pst for pst, ou in moved.items() if ou == ou_id and pst in data.psts)
        return sorted(kept)

    def _current_data(self) -> TsaData:
        return self._view(
            self.served_day(),
            lambda day: tsa_view(self.scenario.directory_for(day), self.area_id),
        )
