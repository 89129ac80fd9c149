"""The simulated TSA REST API v4 over HTTP: routes, paging, faults, ZuFi-only edits."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from .._common import shift_timestamp
from .._http import (
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
from ..scenario import Scenario
from .convert import AREA_ID, TsaData, tsa_view

__all__ = ["DEFAULT_LIMIT", "FAULT_KINDS", "MAX_LIMIT", "PAGING_FAULTS", "SimulatedTSA"]

API_PREFIX = "/rest/v4"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100  # the default page cap: a larger limit is capped, not rejected
#: Faults of a whole answer (see :meth:`SimulatedTSA.inject`).
FAULT_KINDS = ("status", "malformed", "truncated", "maintenance", "empty")
#: Faults of paging: "overlap" (a page after the first starts one result early), "gap"
#: (one result late), "short" (totalCount one more than there are), "drift" (pages after
#: the first announce a totalCount one higher).
PAGING_FAULTS = ("overlap", "gap", "short", "drift")
EDIT_DELAY = timedelta(hours=1)  # how far an edit moves lastUpdated

T = TypeVar("T")
Edit = Callable[[dict], None]

MAINTENANCE_PAGE = maintenance_page("Der Zuständigkeitsfinder Thüringen")


@dataclass
class _Request:
    target: str  # path with query
    headers: dict[str, str]
    peer: tuple[str, int] = ("", 0)  # the client's address and port: its TCP connection


def _error(status: int, message: str) -> Response:
    """A TSA error answer. It never echoes the request (which may carry the api_key)."""
    return Response(status, dumps({"status": status, "error": phrase(status),
                                   "message": message}))


UNAUTHORIZED = _error(401, "invalid or missing api_key")
EMPTY_LIST = dumps({"count": 0, "totalCount": 0, "results": []})


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _paging(query: dict[str, list[str]], cap: int) -> tuple[int, int] | str:
    """``(offset, limit)``, the limit capped to ``cap``; the error message if invalid.

    ``offset`` is the 0-based index of the first result; the documentation says it "must
    be > 0", so the first page is asked for without it and ``offset=0`` is refused."""
    raw_offset, raw_limit = _first(query, "offset"), _first(query, "limit")
    try:
        offset = 0 if raw_offset is None else int(raw_offset)
        limit = DEFAULT_LIMIT if raw_limit is None else int(raw_limit)
    except ValueError:
        return "offset and limit must be integers"
    if raw_offset is not None and offset <= 0:
        return "offset: Startindex für die Rückgabe der Ergebnisse. Wert muss > 0 sein"
    if limit < 1:
        return "limit must be an integer >= 1"
    return offset, min(limit, cap)


def _result(obj: bytes) -> bytes:
    return b'{"score":1.0,"object":%s}' % obj


def _list_body(total: int, items: list[bytes]) -> bytes:
    return b'{"count":%d,"totalCount":%d,"results":[%s]}' % (
        len(items), total, b",".join(_result(item) for item in items))


def _canonical(name: str) -> str:
    """``accept-language`` -> ``Accept-Language``; names with ``_`` (``api_key``) lowered."""
    if "_" in name:
        return name.lower()
    return "-".join(part.capitalize() for part in name.split("-"))


class _Routes:
    """Request routing over the current day: path, query and api key in, response out."""

    def __init__(self, app: SimulatedTSA) -> None:
        self._app = app

    def handle(self, target: str, api_key: str | None) -> tuple[str, Response]:
        """The route name (for faults) and the normal response."""
        if api_key is None or not secrets.compare_digest(
            api_key.encode("utf-8"), self._app.api_key.encode("utf-8")
        ):
            return "unauthorized", UNAUTHORIZED
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        if not path.startswith(API_PREFIX + "/"):
            return "unknown", _error(404, "No handler found")
        sub = path[len(API_PREFIX):].split("/")[1:]
        data = self._app._current_data()
        if sub == ["ou", "find"]:
            return "ou_find", self._ou_find(data, query, target)
        if len(sub) == 2 and sub[0] == "ou" and sub[1].isdigit():
            return "ou", self._ou(data, int(sub[1]))
        if len(sub) == 2 and sub[0] == "ouCompetence" and sub[1].isdigit():
            return "competence", self._competence(data, int(sub[1]), query, target)
        if len(sub) == 2 and sub[0] == "pst" and sub[1].isdigit():
            return "pst", self._pst(data, int(sub[1]), query)
        if sub == ["os", "findByCompetence"]:
            return "os", self._online_services(data, query, target)
        return "unknown", _error(404, "No handler found")

    def _area_ok(self, query: dict[str, list[str]]) -> bool:
        area = _first(query, "areaId")
        return area is None or area == self._app.area_id

    def _page(self, ids: Sequence[T], render: Callable[[T], bytes],
              query: dict[str, list[str]], target: str) -> Response:
        """One page of a search answer over ``ids``, paging faults applied."""
        paging = _paging(query, self._app.page_cap)
        if isinstance(paging, str):
            return _error(400, paging)
        offset, limit = paging
        total = len(ids)
        kind = self._app._take_paging_fault(target, offset)
        if kind == "overlap":
            offset -= 1
        elif kind == "gap":
            offset += 1
        elif kind in ("short", "drift"):
            total += 1
        return Response(200, _list_body(total, [render(i) for i in ids[offset:offset + limit]]))

    def _ou(self, data: TsaData, ou_id: int) -> Response:
        if ou_id not in data.ous:
            return _error(404, f"OrganisationalUnit {ou_id} not found")
        return Response(200, self._app._served_ou(data, ou_id))

    def _ou_find(self, data: TsaData, query: dict[str, list[str]], target: str) -> Response:
        parent = _first(query, "parentId")
        if not parent:
            return _error(400, "parameter parentId is required")
        if not parent.isdigit():
            return _error(400, "parameter parentId must be an integer")
        ids = data.children.get(int(parent), [])
        return self._page(ids, lambda ou: self._app._served_ou(data, ou), query, target)

    def _competence(self, data: TsaData, ou_id: int, query: dict[str, list[str]],
                    target: str) -> Response:
        if ou_id not in data.ous:
            return _error(404, f"OrganisationalUnit {ou_id} not found")
        psts = self._app._competent_psts(data, ou_id) if self._area_ok(query) else []
        return self._page(psts, lambda pst: dumps(data.competence_entry(pst, ou_id)), query,
                          target)

    def _pst(self, data: TsaData, pst_id: int, query: dict[str, list[str]]) -> Response:
        if pst_id not in data.psts or not self._area_ok(query):
            return _error(404, f"PublicServiceType {pst_id} not found for this area")
        return Response(200, self._app._served_pst(data, pst_id))

    def _online_services(self, data: TsaData, query: dict[str, list[str]],
                         target: str) -> Response:
        pst = _first(query, "pstId")
        if not pst:
            return _error(400, "parameter pstId is required")
        if not pst.isdigit():
            return _error(400, "parameter pstId must be an integer")
        pst_id = int(pst)
        entries: list[dict] = []
        if pst_id in data.psts and self._area_ok(query):
            urls = self._app._link_override(pst_id)
            entries = data.online[pst_id] if urls is None else data.services_for(pst_id, urls)
        return self._page(entries, lambda entry: dumps(entry["object"]), query, target)


def _fault_error(status: int) -> Response:
    """The answer of a "status" fault (502-504 get a proxy's HTML page instead)."""
    return _error(status, "injected fault")


def apply_fault(fault: Fault, route: str, response: Response) -> Response:
    """The response as changed by ``fault``."""
    answer = common_fault(fault, response, _fault_error, MAINTENANCE_PAGE)
    if answer is not None:
        return answer
    # "empty": a search answer with nothing in it, or an empty object
    return Response(200, EMPTY_LIST if route in ("ou_find", "competence", "os") else b"{}")


class _Handler(ApiHandler):
    def do_GET(self) -> None:
        app: SimulatedTSA = self.server.app
        app._record(_Request(self.path, joined_headers(self.headers, _canonical),
                             (str(self.client_address[0]), int(self.client_address[1]))))
        route, response = app._routes.handle(self.path, self.headers.get("api_key"))
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


def _touch(obj: dict) -> None:
    """Move ``lastUpdated`` forward, as every real edit does."""
    if isinstance(obj.get("lastUpdated"), str):
        obj["lastUpdated"] = shift_timestamp(obj["lastUpdated"], EDIT_DELAY)


class SimulatedTSA(JsonApi):
    """The simulated TSA API: ``with SimulatedTSA(scenario) as tsa: tsa.base_url``."""

    _api_prefix = API_PREFIX
    _handler = _Handler
    _thread_name = "simulated-tsa"

    def __init__(
        self, scenario: Scenario, *, api_key: str = "sim-api-key", lead_days: int = 1,
        host: str = "127.0.0.1", port: int = 0, area_id: str = AREA_ID, etags: bool = True,
        page_cap: int = MAX_LIMIT, extra_offices: int = 0,
    ) -> None:
        """``lead_days``: how many days the ZuFi is ahead of the PVOG. ``etags``: answer
        with an ETag and 304 to a matching If-None-Match. ``page_cap``: the most results
        a page holds (a larger ``limit`` is capped silently). ``extra_offices``: that many
        ZuFi-only offices (Bürgerbüros 19101, 19102, ...) hang directly below the root."""
        if lead_days < 0:
            raise ValueError(f"lead_days must be >= 0, got {lead_days}")
        if not api_key:
            raise ValueError("api_key must not be empty")
        if page_cap < 1:
            raise ValueError(f"page_cap must be >= 1, got {page_cap}")
        super().__init__(host, port, etags)
        self.scenario = scenario
        self.api_key = api_key
        self.lead_days = lead_days
        self.area_id = area_id
        self.page_cap = page_cap
        self.extra_offices = extra_offices
        tsa_view(scenario.directory_for(0), area_id, extra_offices)  # checks extra_offices
        self._links: dict[int, list[str]] = {}
        self._responsible: dict[int, int] = {}
        self._pst_edits: dict[int, list[Edit]] = {}
        self._ou_edits: dict[int, list[Edit]] = {}
        self._paging_faults: list[Fault] = []
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
        """What is served now, before overrides and edits (see :func:`tsa_view`)."""
        return self._current_data()

    # ZuFi-only edits (they never reach the PVOG; each stays until cleared)

    def set_links(self, pst_id: int | str, urls: list[str] | None) -> None:
        """From now on, list ``urls`` as the online services of ``pst_id``; None removes
        the override."""
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
        """From now on, ``ou_id`` alone is the zuständige Stelle for ``pst_id``; None
        removes the override."""
        number = _number(pst_id, "pst_id")
        with self._lock:
            if ou_id is None:
                self._responsible.pop(number, None)
            else:
                self._responsible[number] = _number(ou_id, "ou_id")

    def edit_pst(self, pst_id: int | str, edit: Edit | None) -> None:
        """From now on, serve ``pst_id``'s /pst object as changed by ``edit`` (called on a
        copy, after the edits added before); None removes every edit of it. The edit is
        tried on what is served now, so a wrong one fails here (KeyError, ...)."""
        number = _number(pst_id, "pst_id")
        if edit is not None:
            self._try(self._pst_edits, number, self._current_data().psts, edit)
        self._add_edit(self._pst_edits, number, edit)

    def edit_ou(self, ou_id: int | str, edit: Edit | None) -> None:
        """As :meth:`edit_pst`, for an office (in ``/ou/{id}`` and ``/ou/find``)."""
        number = _number(ou_id, "ou_id")
        if edit is not None:
            self._try(self._ou_edits, number, self._current_data().ous, edit)
        self._add_edit(self._ou_edits, number, edit)

    def set_charge(self, pst_id: int | str, name: str, **fields: Any) -> None:
        """Change the fields of the charge named ``name`` (e.g. ``lowerLimit=25.0``); a
        field set to None is removed. ``lastUpdated`` moves on."""
        def edit(pst: dict) -> None:
            charge = next((c for c in pst["charges"] if c.get("name") == name), None)
            if charge is None:
                raise KeyError(f"Leistung {pst['id']} has no charge named {name!r}")
            for key, value in fields.items():
                if value is None:
                    charge.pop(key, None)
                else:
                    charge[key] = value
            _touch(pst)

        self.edit_pst(pst_id, edit)

    def set_specialisation(self, pst_id: int | str, text: str, *, block: str = "06",
                           area: dict | None = None) -> None:
        """Set the text of ``area``'s specialisation (default: the served area) of the text
        block with type key ``block``, adding it if it has none."""
        def edit(pst: dict) -> None:
            target = next((b for b in pst["textBlocks"] if b["type"]["key"] == block), None)
            if target is None:
                raise KeyError(f"Leistung {pst['id']} has no text block {block}")
            where = area or pst["restrictedAreas"][0]
            spec = next((s for s in target["specialisations"]
                         if s.get("restrictedArea", {}).get("id") == where["id"]), None)
            if spec is None:
                spec = {"restrictedArea": where, "text": "", "externalLinks": [],
                        "legalNorms": []}
                target["specialisations"].append(spec)
            spec["text"] = text
            _touch(pst)

        self.edit_pst(pst_id, edit)

    def set_address(self, ou_id: int | str, index: int = 0, **fields: Any) -> None:
        """Change the fields of the office's address ``index`` (e.g. ``street=...``)."""
        def edit(ou: dict) -> None:
            ou["addresses"][index].update(fields)
            _touch(ou)

        self.edit_ou(ou_id, edit)

    def clear_overrides(self) -> None:
        """Remove every ZuFi-only edit and override."""
        with self._lock:
            self._links.clear()
            self._responsible.clear()
            self._pst_edits.clear()
            self._ou_edits.clear()

    # request log

    @property
    def requests(self) -> list[str]:
        """The request paths (with query) received so far, oldest first.

        Only the last ``REQUEST_LOG_LIMIT`` are kept; :attr:`request_count` counts all.
        """
        with self._lock:
            return [request.target for request in self._requests]

    @property
    def peers(self) -> list[tuple[str, int]]:
        """The client address and port of each request in :attr:`requests`: requests
        with the same peer came over the same TCP connection."""
        with self._lock:
            return [request.peer for request in self._requests]

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
        "malformed", "truncated", "maintenance" (an HTML page with status 200), "empty"
        (``{"count":0,"totalCount":0,"results":[]}``, or ``{}`` for single objects), or
        one of :data:`PAGING_FAULTS` for search answers ("overlap" and "gap" shift pages
        after the first by one result, "short" announces one result more than there are,
        "drift" announces one more on pages after the first); ``times`` limits how often
        it fires (None = always; a paging fault counts the pages it changes). The first
        injected fault that matches wins; faults apply whatever the api_key.
        """
        if kind not in FAULT_KINDS + PAGING_FAULTS:
            raise ValueError(f"unknown fault {kind!r}; expected one of "
                             f"{', '.join(FAULT_KINDS + PAGING_FAULTS)}")
        if kind in PAGING_FAULTS:
            if times is not None and times < 1:
                raise ValueError(f"times must be >= 1 or None, got {times}")
            with self._lock:
                self._paging_faults.append(Fault(path_substring, kind, times, status))
            return
        self._add_fault(path_substring, kind, times, status, retry_after)

    def clear_faults(self) -> None:
        super().clear_faults()
        with self._lock:
            self._paging_faults.clear()

    # internals used by the handler

    def _take_paging_fault(self, target: str, offset: int) -> str | None:
        """The kind of the paging fault for a page at ``offset``, if one applies."""
        with self._lock:
            for fault in self._paging_faults:
                if fault.path_substring not in target:
                    continue
                if fault.kind != "short" and offset == 0:
                    continue  # only pages after the first overlap, leave gaps or drift
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._paging_faults.remove(fault)
                return fault.kind
        return None

    def _try(self, edits: dict[int, list[Edit]], number: int, served: dict[int, dict],
             edit: Edit) -> None:
        if number not in served:
            raise KeyError(f"{number} is not served now")
        with self._lock:
            earlier = list(edits.get(number, ()))
        trial = copy.deepcopy(served[number])
        for change in [*earlier, edit]:
            change(trial)

    def _add_edit(self, edits: dict[int, list[Edit]], number: int, edit: Edit | None) -> None:
        with self._lock:
            if edit is None:
                edits.pop(number, None)
            else:
                edits.setdefault(number, []).append(edit)

    def _edited(self, edits: dict[int, list[Edit]], number: int, obj: dict) -> bytes:
        with self._lock:
            changes = list(edits.get(number, ()))
        if not changes:
            return self._bytes_of(obj)
        edited = copy.deepcopy(obj)
        for change in changes:
            change(edited)
        return dumps(edited)

    def _served_ou(self, data: TsaData, ou_id: int) -> bytes:
        return self._edited(self._ou_edits, ou_id, data.ous[ou_id])

    def _served_pst(self, data: TsaData, pst_id: int) -> bytes:
        return self._edited(self._pst_edits, pst_id, data.psts[pst_id])

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
            lambda day: tsa_view(self.scenario.directory_for(day), self.area_id,
                                 self.extra_offices),
        )
