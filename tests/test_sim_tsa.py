"""Tests of the simulated TSA Infodienste REST API v4, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from zufiwatch.sim import Directory, Scenario, SimulatedPVOG, build_directory
from zufiwatch.sim.tsa import (
    AREA_ID,
    DEFAULT_LIMIT,
    DEPARTMENTS,
    MAX_LIMIT,
    ROOT_OU,
    SYNTHETIC_OS_BASE,
    SimulatedTSA,
    tsa_view,
)
from zufiwatch.sim.tsa import _pvog as pvog
from zufiwatch.sim.tsa import server as tsa_server
from zufiwatch.sources.tsa.shapes import (
    ADDRESS_SHAPE,
    CHARGE_SHAPE,
    OU_SHAPE,
    PST_SHAPE,
    SERVICE_SHAPE,
    TYPE_SHAPE,
)

API_KEY = "tsa-test-key-4711-secret"
HEADERS = {"api_key": API_KEY}
GEBURTSURKUNDE = 354790
EHEFAEHIGKEITSZEUGNIS = 354614  # fees "50 / 100"
STANDESAMT = 20006
BUERGERSERVICE = 20001
JENA_THAVEL = "https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc"
GERA_THAVEL = "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc"
UNAUTHORIZED = {"status": 401, "error": "Unauthorized", "message": "invalid or missing api_key"}
EMPTY = {"count": 0, "totalCount": 0, "results": []}
TIMEOUT = 5


# fixtures and helpers


@pytest.fixture(scope="module")
def tsa_scenario() -> Scenario:
    return Scenario(build_directory(60))


@pytest.fixture
def tsa(tsa_scenario: Scenario) -> Iterator[SimulatedTSA]:
    with SimulatedTSA(tsa_scenario, api_key=API_KEY) as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def get(
    http: requests.Session, tsa: SimulatedTSA, path: str, *, headers: dict | None = None,
    **params: object,
) -> requests.Response:
    return http.get(tsa.base_url + path, params=params,
                    headers=HEADERS if headers is None else headers, timeout=TIMEOUT)


def served(tsa: SimulatedTSA) -> Directory:
    """The directory the TSA serves now (the PVOG's directory of day + lead_days)."""
    return tsa.scenario.directory_for(tsa.day + tsa.lead_days)


def pvog_number(pvog_id: str) -> int:
    return int(pvog_id.rsplit(".", 1)[1])


def objects(page: dict) -> list[dict]:
    """The objects of a search answer, checking its seen shape on the way."""
    assert set(page) == {"count", "totalCount", "results"}
    assert page["count"] == len(page["results"])
    assert all(set(result) == {"score", "object"} and isinstance(result["score"], float)
               for result in page["results"])
    return [result["object"] for result in page["results"]]


def paged(
    http: requests.Session, tsa: SimulatedTSA, path: str, limit: int, **params: object
) -> tuple[int, list[dict]]:
    """Every object of a paged search (first page without offset), and its totalCount."""
    found: list[dict] = []
    totals = set()
    while True:
        offset = {"offset": len(found)} if found else {}
        response = get(http, tsa, path, limit=limit, **offset, **params)
        assert response.status_code == 200
        page = response.json()
        totals.add(page["totalCount"])
        assert len(page["results"]) <= limit
        found += objects(page)
        if not page["results"] or len(found) >= page["totalCount"]:
            break
    assert len(totals) == 1, "totalCount changed while paging"
    return totals.pop(), found


def online_links(
    http: requests.Session, tsa: SimulatedTSA, pst_id: int, area: str = AREA_ID
) -> list[dict]:
    response = get(http, tsa, "/os/findByCompetence", pstId=pst_id, areaId=area)
    assert response.status_code == 200
    body = response.json()
    assert body["totalCount"] == body["count"]
    return objects(body)


def competent(http: requests.Session, tsa: SimulatedTSA, ou_id: int) -> list[int]:
    count, results = paged(http, tsa, f"/ouCompetence/{ou_id}", 7, areaId=AREA_ID)
    assert count == len(results)
    return [entry["publicServiceTypes"][0]["id"] for entry in results]


def service_number(directory: Directory, uri: str) -> int | None:
    for service in directory.onlineservices:
        if any(link["uri"] == uri for link in service["links"]):
            return pvog_number(service["id"])
    return None


def responsible(directory: Directory, lbid: str) -> list[str]:
    """The PVOG ids of the offices with role 01 for a Leistung (from the titles)."""
    return [o["id"] for o in directory.titles[lbid] if o["role"]["code"] == "01"]


# authentication


def test_requests_without_or_with_a_wrong_key_are_unauthorized(tsa, http):
    for headers in ({}, {"api_key": "wrong"}, {"api_key": ""}, {"Authorization": API_KEY}):
        response = get(http, tsa, f"/ou/{ROOT_OU}", headers=headers)
        assert response.status_code == 401
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        assert response.json() == UNAUTHORIZED
    # A key in the query string is no key either, and an unknown path needs the key too.
    assert get(http, tsa, f"/ou/{ROOT_OU}", headers={}, api_key=API_KEY).status_code == 401
    assert get(http, tsa, "/nothing", headers={}).status_code == 401
    ok = get(http, tsa, f"/ou/{ROOT_OU}")
    assert ok.status_code == 200
    assert ok.headers["Content-Type"] == "application/json; charset=utf-8"
    assert ok.json()["name"] == "Stadtverwaltung Jena"


def test_the_key_never_appears_in_a_response_body(tsa, http):
    paths = [
        (f"/ou/{ROOT_OU}", {}),
        ("/ou/find", {"parentId": ROOT_OU}),
        ("/ou/find", {"parentId": "x", "api_key": API_KEY}),
        ("/ou/find", {}),
        (f"/ou/{STANDESAMT}", {"api_key": API_KEY}),
        ("/ou/123", {"api_key": API_KEY}),
        (f"/ouCompetence/{STANDESAMT}", {"areaId": AREA_ID, "limit": 100}),
        (f"/pst/{GEBURTSURKUNDE}", {"areaId": AREA_ID}),
        ("/pst/1", {"areaId": API_KEY}),
        ("/os/findByCompetence", {"pstId": GEBURTSURKUNDE, "areaId": AREA_ID}),
        ("/os/findByCompetence", {"pstId": API_KEY}),
        (f"/{API_KEY}", {}),
    ]
    for headers in (HEADERS, {}, {"api_key": API_KEY + "x"}):
        for path, params in paths:
            response = get(http, tsa, path, headers=headers, **params)
            assert API_KEY not in response.text, (path, params, response.status_code)
            assert API_KEY not in json.dumps(dict(response.headers))


# the office tree


def test_walking_the_tree_reaches_every_office_once(tsa, http):
    directory = served(tsa)
    root = get(http, tsa, f"/ou/{ROOT_OU}").json()
    assert root["parentId"] is None
    seen: list[int] = []
    queue = [ROOT_OU]
    parents: dict[int, int] = {}
    while queue:
        parent = queue.pop(0)
        count, children = paged(http, tsa, "/ou/find", 5, parentId=parent)
        assert count == len(children)
        ids = [child["id"] for child in children]
        assert ids == sorted(ids)
        for child in children:
            assert child["parentId"] == parent
            parents[child["id"]] = parent
        seen += ids
        queue += ids
    departments = [number for number, _ in DEPARTMENTS]
    assert [ou for ou, parent in parents.items() if parent == ROOT_OU] == departments
    offices = [ou for ou in seen if ou not in departments]
    assert sorted(offices) == sorted(pvog_number(oeid) for oeid in directory.offices)
    assert len(offices) == len(set(offices)) == len(directory.offices)
    # Departments carry no competences; each office sits below a deterministic department.
    for department in departments:
        assert get(http, tsa, f"/ouCompetence/{department}").json() == EMPTY
    assert parents == {ou: tsa_view(directory).ous[ou]["parentId"] for ou in parents}


def test_offices_and_leistungen_carry_every_seen_field(tsa, http):
    """Field for field as sources.md names them (the parser's known keys)."""
    data = tsa.data()
    for ou in data.ous.values():
        assert set(ou) == set(OU_SHAPE), ou["id"]
        for address in ou["addresses"]:
            assert set(address) == set(ADDRESS_SHAPE)
            assert set(address["type"]) == set(TYPE_SHAPE)
        for entry in ou["communications"]:
            assert set(entry) == {"type", "title", "note", "value"}
            assert set(entry["type"]) == set(TYPE_SHAPE)
        assert all(set(method) == set(TYPE_SHAPE) for method in ou["paymentMethods"])
    for pst in data.psts.values():
        assert set(pst) == set(PST_SHAPE), pst["id"]
        assert set(pst["trustLevel"]) == set(TYPE_SHAPE)
        assert set(pst["department"]) == {"id", "name"}
        for block in pst["textBlocks"]:
            assert set(block) == {"type", "text", "externalLinks", "specialisations"}
            assert set(block["type"]) == set(TYPE_SHAPE)
            for spec in block["specialisations"]:
                assert set(spec) == {"restrictedArea", "text", "externalLinks", "legalNorms"}
        for charge in pst["charges"]:
            assert set(charge) <= set(CHARGE_SHAPE)
            assert ("amount" in charge) or charge["type"] == "VARIABLE" or charge["note"]
    for entries in data.online.values():
        for entry in entries:
            assert set(entry["object"]) == set(SERVICE_SHAPE)
    competence = get(http, tsa, f"/ouCompetence/{STANDESAMT}", limit=1).json()
    assert set(objects(competence)[0]) == {"areas", "publicServiceTypes", "organisationalUnit"}


def test_an_office_is_mapped_from_the_pvog_office(tsa, http):
    office = served(tsa).offices[f"S1600001.OE.{STANDESAMT}"]
    ou = get(http, tsa, f"/ou/{STANDESAMT}").json()
    assert ou["id"] == STANDESAMT
    assert ou["name"] == pvog.office_title(office) == "Standesamt Jena"
    assert ou["parentId"] in {number for number, _ in DEPARTMENTS}
    assert ou["openingHours"] == pvog.office_hours(office) != ""
    assert ou["lastUpdated"] == office["lastUpdate"]
    assert ou["description"].startswith("<p>")
    assert isinstance(ou["appointmentRequired"], bool)
    assert ou["onlineAppointment"] is None or ou["onlineAppointment"]["link"].startswith("https://")
    visitor, postal = ou["addresses"]
    assert (visitor["type"]["name"], visitor["type"]["key"]) == ("Hausanschrift", "VISITOR")
    assert (visitor["street"], visitor["houseNumber"], visitor["zipcode"]) == ("Markt", "1",
                                                                              "07743")
    assert isinstance(visitor["elevator"], bool) and visitor["accessibleInfo"]
    assert (postal["type"]["key"], postal["street"], postal["mailbox"]) == ("POSTAL", "",
                                                                           "100338")
    assert all(a["area"] == {"id": 351529, "name": "Jena"} for a in ou["addresses"])
    assert [(c["type"]["name"], c["title"], c["value"]) for c in ou["communications"]] == [
        (kind, kind, value) for kind, value in pvog.communications(office)]
    assert [c["type"]["key"] for c in ou["communications"]] == ["TEL", "FAX", "EMAIL"]
    assert ou["paymentMethods"] and all(m["key"] for m in ou["paymentMethods"])


def test_unknown_ids_and_bad_parameters(tsa, http):
    for path in ("/ou/99", "/ou/abc", "/ouCompetence/99", "/pst/99", "/nothing"):
        response = get(http, tsa, path)
        assert response.status_code == 404, path
        body = response.json()
        assert body["status"] == 404
        assert body["error"] == "Not Found"
        assert body["message"]
    assert get(http, tsa, "/ou/find", parentId=99).json() == EMPTY
    assert get(http, tsa, "/ou/find").status_code == 400
    for params in ({"offset": -1}, {"limit": 0}, {"limit": "many"}, {"offset": "x"}):
        assert get(http, tsa, "/ou/find", parentId=ROOT_OU, **params).status_code == 400
    assert get(http, tsa, "/os/findByCompetence").status_code == 400


def test_offset_is_a_start_index_that_must_be_greater_than_zero(tsa, http):
    """The first page is asked for without offset; offset=0 is refused (the
    documentation: "Wert muss > 0 sein")."""
    refused = get(http, tsa, "/ou/find", parentId=ROOT_OU, offset=0)
    assert refused.status_code == 400
    assert "muss > 0 sein" in refused.json()["message"]
    assert get(http, tsa, f"/ouCompetence/{STANDESAMT}", offset=0).status_code == 400
    first = objects(get(http, tsa, "/ou/find", parentId=ROOT_OU, limit=2).json())
    second = objects(get(http, tsa, "/ou/find", parentId=ROOT_OU, offset=2, limit=2).json())
    assert [o["id"] for o in first + second] == [number for number, _ in DEPARTMENTS]


def test_a_larger_limit_is_capped_silently_at_the_page_cap(tsa, tsa_scenario, http):
    assert len(get(http, tsa, "/ou/find", parentId=ROOT_OU, limit=1000).json()["results"]) == 3
    with SimulatedTSA(tsa_scenario, api_key=API_KEY, page_cap=2) as capped:
        page = get(http, capped, "/ou/find", parentId=ROOT_OU, limit=1000).json()
        assert (page["count"], page["totalCount"]) == (2, 3)
        assert [ou["id"] for ou in objects(page)] == [19001, 19002]
        rest = get(http, capped, "/ou/find", parentId=ROOT_OU, offset=2, limit=1000).json()
        assert (rest["count"], rest["totalCount"]) == (1, 3)
        default = get(http, capped, f"/ouCompetence/{BUERGERSERVICE}").json()
        assert len(default["results"]) == 2
    with pytest.raises(ValueError):
        SimulatedTSA(tsa_scenario, page_cap=0)


def test_default_paging_is_twenty_from_the_start(tsa, http, monkeypatch):
    assert (DEFAULT_LIMIT, MAX_LIMIT) == (20, 100)
    expected = sorted(pvog_number(lbid) for lbid in served(tsa).leistungen
                      if f"S1600001.OE.{BUERGERSERVICE}" in responsible(served(tsa), lbid))
    assert 5 < len(expected) <= 20
    page = get(http, tsa, f"/ouCompetence/{BUERGERSERVICE}").json()
    assert (page["count"], page["totalCount"]) == (len(expected), len(expected))
    monkeypatch.setattr(tsa_server, "DEFAULT_LIMIT", 5)
    page = get(http, tsa, f"/ouCompetence/{BUERGERSERVICE}").json()
    assert (page["count"], page["totalCount"]) == (5, len(expected))
    assert [entry["publicServiceTypes"][0]["id"] for entry in objects(page)] == expected[:5]


def test_extra_offices_hang_below_the_root(tsa_scenario, http):
    with SimulatedTSA(tsa_scenario, api_key=API_KEY, extra_offices=57, page_cap=25) as wide:
        total, children = paged(http, wide, "/ou/find", 100, parentId=ROOT_OU)
        assert total == len(children) == 60
        assert [c["id"] for c in children][3:] == list(range(19101, 19158))
        assert all(c["parentId"] == ROOT_OU and c["addresses"] for c in children)
        assert get(http, wide, "/ouCompetence/19101").json() == EMPTY
    with pytest.raises(ValueError):
        SimulatedTSA(tsa_scenario, extra_offices=1000)


# paging faults


def test_paging_faults_overlap_gap_short_and_drift(tsa_scenario, http):
    with SimulatedTSA(tsa_scenario, api_key=API_KEY, extra_offices=57, page_cap=25) as wide:
        def ids(**params: object) -> tuple[int, list[int]]:
            page = get(http, wide, "/ou/find", parentId=ROOT_OU, limit=100, **params).json()
            return page["totalCount"], [ou["id"] for ou in objects(page)]

        total, first = ids()
        _, straight = ids(offset=25)
        _, last = ids(offset=50)
        wide.inject(f"parentId={ROOT_OU}", "overlap", times=1)
        assert ids() == (total, first)  # the first page is never shifted
        assert ids(offset=25) == (60, [first[-1], *straight[:24]])
        assert ids(offset=25) == (60, straight)  # times=1
        wide.inject(f"parentId={ROOT_OU}", "gap")
        assert ids(offset=25) == (60, straight[1:] + last[:1])
        assert ids(offset=50) == (60, last[1:])
        wide.clear_faults()
        wide.inject(f"parentId={ROOT_OU}", "short")
        assert ids() == (61, first)
        wide.clear_faults()
        wide.inject(f"parentId={ROOT_OU}", "drift")
        assert ids() == (60, first)
        assert ids(offset=25) == (61, straight)
        wide.clear_faults()
        assert ids(offset=25) == (60, straight)
        with pytest.raises(ValueError):
            wide.inject("/ou/find", "overlap", times=0)


# competences


def test_competences_are_the_leistungen_whose_titles_name_the_office_zustaendig(tsa, http):
    directory = served(tsa)
    covered = 0
    for oeid, office in directory.offices.items():
        expected = sorted(pvog_number(lbid) for lbid in directory.leistungen
                          if oeid in responsible(directory, lbid))
        assert competent(http, tsa, pvog_number(oeid)) == expected, oeid
        covered += len(expected)
        if expected:
            page = get(http, tsa, f"/ouCompetence/{pvog_number(oeid)}", limit=1).json()
            first = directory.leistungen[f"S1600001.LB.{expected[0]}"]
            assert page["totalCount"] == len(expected)
            assert objects(page) == [{
                "areas": [{"id": 351529, "name": "Jena"}],
                "publicServiceTypes": [{"id": expected[0], "name": first["name"]}],
                "organisationalUnit": {"id": pvog_number(oeid),
                                       "name": pvog.office_title(office)},
            }]
    assert covered == len(directory.leistungen)
    # A contact office (role "03") is not competent: some Leistungen have one.
    contacts = [(pvog_number(lbid), pvog_number(o["id"]))
                for lbid, titles in directory.titles.items()
                for o in titles if o["role"]["code"] == "03"]
    assert contacts
    pst_id, contact = contacts[0]
    assert pst_id not in competent(http, tsa, contact)


def test_competences_of_another_area_are_empty(tsa, http):
    page = get(http, tsa, f"/ouCompetence/{STANDESAMT}", areaId="160530000000").json()
    assert page == EMPTY
    assert get(http, tsa, f"/ouCompetence/{STANDESAMT}").json()["totalCount"] > 0


# Leistungen


def test_a_leistung_is_mapped_from_the_pvog_detail(tsa, http):
    detail = served(tsa).leistungen[f"S1600001.LB.{EHEFAEHIGKEITSZEUGNIS}"]
    modules = {pvog.module_code(module): module for module in pvog.modules(detail)}
    pst = get(http, tsa, f"/pst/{EHEFAEHIGKEITSZEUGNIS}", areaId=AREA_ID).json()
    assert pst["id"] == EHEFAEHIGKEITSZEUGNIS
    assert pst["type"] in ("LO", "LOV", "LOVZ", "A")
    assert pst["name"] == detail["name"] == "Ehefähigkeitszeugnis ausstellen"
    assert pst["leikaKeys"] == detail["leikakeys"]
    assert pst["teaser"] == modules["24"]["text"]
    assert pst["lastUpdated"] == detail["lastUpdate"]
    assert [block["type"]["key"] for block in pst["textBlocks"]] == [
        code for code, module in modules.items()
        if code not in ("24", "93", "94", "95", "97", "STATUS", "STATUSKATALOG")
        and pvog.module_text(module)]
    for block in pst["textBlocks"]:
        module = modules[block["type"]["key"]]
        assert block["type"] == {"id": int(pvog.module_code(module)),
                                 "name": pvog.module_title(module), "description": "",
                                 "key": pvog.module_code(module), "notPublic": False}
        assert block["text"] == module["text"]
        assert block["externalLinks"] == [
            {"url": link["uri"], "name": link["title"], "note": ""}
            for link in module.get("links", [])]
    assert any(block["externalLinks"] for block in pst["textBlocks"])
    fixed = [(c["name"], c["amount"], c["currency"], c["restrictedArea"]["name"])
             for c in pst["charges"] if c["type"] == "FIX"]
    lines = pvog.sub_modules(modules["98"])  # the real fees "50 / 100", one line each
    assert fixed == [(pvog.module_title(line), amount, "EUR", "Jena")
                     for line, amount in zip(lines, (50.0, 100.0), strict=True)]
    assert [d["name"] for d in pst["documents"]] and all(
        d["name"] in modules["08"]["text"] for d in pst["documents"])
    assert pst["trustLevel"]["key"] in ("LOW", "SUBSTANTIAL", "HIGH")
    assert pst["department"]["id"] in {number for number, _ in DEPARTMENTS}
    assert isinstance(pst["writtenFormRequired"], bool)


def test_the_directory_is_shared_texts_with_a_thin_local_layer(tsa):
    """A deterministic share of the Leistungen carries a Jena specialisation; some
    charges are VARIABLE (one-sided limits too)."""
    psts = list(tsa.data().psts.values())
    local = [p for p in psts if any(b["specialisations"] for b in p["textBlocks"])]
    assert 0.2 < len(local) / len(psts) < 0.5
    for pst in local:
        (block,) = [b for b in pst["textBlocks"] if b["specialisations"]]
        (spec,) = block["specialisations"]
        assert spec["restrictedArea"] == {"id": 351529, "name": "Jena"}
        assert spec["text"].startswith("<p>") and spec["text"] != block["text"]
    assert tsa.data() is tsa.data()  # deterministic and cached
    variable = [c for p in psts for c in p["charges"] if c["type"] == "VARIABLE"]
    assert any("upperLimit" in c for c in variable)
    assert any("upperLimit" not in c for c in variable)
    assert all("amount" not in c and "lowerLimit" in c for c in variable)


def test_a_leistung_of_another_area_or_unknown_is_not_found(tsa, http):
    assert get(http, tsa, f"/pst/{GEBURTSURKUNDE}").status_code == 200
    wrong = get(http, tsa, f"/pst/{GEBURTSURKUNDE}", areaId="999999")
    assert wrong.status_code == 404
    assert wrong.json()["error"] == "Not Found"
    assert get(http, tsa, "/pst/1", areaId=AREA_ID).status_code == 404


def test_a_leistung_without_fees_has_no_charges(tsa, http):
    for lbid, detail in served(tsa).leistungen.items():
        kosten = next((m for m in pvog.modules(detail) if pvog.module_code(m) == "98"), None)
        if kosten is None or not pvog.sub_modules(kosten):
            pst = get(http, tsa, f"/pst/{pvog_number(lbid)}", areaId=AREA_ID).json()
            assert pst["charges"] == []
            keys = [block["type"]["key"] for block in pst["textBlocks"]]
            assert ("98" in keys) == bool(kosten and pvog.module_text(kosten))
            return
    pytest.fail("no Leistung without fees")


# online services


def test_online_services_are_the_pvog_links_with_the_online_service_ids(tsa, http):
    directory = served(tsa)
    with_links = 0
    for lbid, detail in directory.leistungen.items():
        found = online_links(http, tsa, pvog_number(lbid))
        assert [(o["link"], o["linkTitle"]) for o in found] == [
            (uri, title) for uri, title, _level in pvog.online_links(detail)]
        for item in found:
            assert item["id"] == service_number(directory, item["link"])
            assert item["name"]
            assert item["trustLevel"]["key"] == "SUBSTANTIAL"
        with_links += bool(found)
    assert with_links > 5
    result = get(http, tsa, "/os/findByCompetence", pstId=GEBURTSURKUNDE).json()["results"][0]
    assert result["score"] == 1.0


def test_online_services_of_another_area_or_unknown_leistung_are_empty(tsa, http):
    empty = EMPTY
    assert online_links(http, tsa, GEBURTSURKUNDE)
    assert get(http, tsa, "/os/findByCompetence", pstId=GEBURTSURKUNDE,
               areaId="1").json() == empty
    assert get(http, tsa, "/os/findByCompetence", pstId=1, areaId=AREA_ID).json() == empty


# days


def test_the_tsa_is_a_day_ahead_of_the_pvog(tsa_scenario, http):
    pvog_links = [link["uri"] for link in tsa_scenario.directory_for(1).leistungen[
        f"S1600001.LB.{GEBURTSURKUNDE}"]["onlineServiceLinks"]]
    assert pvog_links == [JENA_THAVEL]
    with SimulatedTSA(tsa_scenario, api_key=API_KEY) as tsa:
        assert [o["link"] for o in online_links(http, tsa, GEBURTSURKUNDE)] == [JENA_THAVEL]
        tsa.set_day(1)
        assert tsa.day == 1
        objects = online_links(http, tsa, GEBURTSURKUNDE)
        assert [o["link"] for o in objects] == [GERA_THAVEL]
        # The PVOG edits the online service's link in place: the id stays the same.
        assert objects[0]["id"] == service_number(tsa_scenario.directory_for(1), JENA_THAVEL)
        detail = tsa_scenario.directory_for(2).leistungen[f"S1600001.LB.{GEBURTSURKUNDE}"]
        pst = get(http, tsa, f"/pst/{GEBURTSURKUNDE}", areaId=AREA_ID).json()
        assert pst["lastUpdated"] == detail["lastUpdate"]
        with SimulatedPVOG(tsa_scenario) as pvog:
            pvog.set_day(1)
            pvog_detail = http.get(
                f"{pvog.base_url}/v6/servicedescriptions/S1600001.LB.{GEBURTSURKUNDE}/detail",
                timeout=TIMEOUT,
            ).json()
            assert [link["uri"] for link in pvog_detail["onlineServiceLinks"]] == [JENA_THAVEL]
        tsa.day = 100  # past the end of the scenario: its last day
        assert tsa.served_day() == tsa_scenario.days
        with pytest.raises(ValueError):
            tsa.set_day(-1)
    with SimulatedTSA(tsa_scenario, api_key=API_KEY, lead_days=0) as same_day:
        same_day.set_day(1)
        assert [o["link"] for o in online_links(http, same_day, GEBURTSURKUNDE)] == [JENA_THAVEL]


def test_tsa_view_is_cached_and_shares_unchanged_objects(tsa_scenario):
    fresh = Scenario(tsa_scenario.directory_for(0).copy())  # objects no view has seen yet
    day1, day2 = fresh.directory_for(1), fresh.directory_for(2)
    first, second = tsa_view(day1), tsa_view(day2)
    assert tsa_view(day1) is first
    assert second.psts[EHEFAEHIGKEITSZEUGNIS] is first.psts[EHEFAEHIGKEITSZEUGNIS]
    assert second.psts[GEBURTSURKUNDE] is not first.psts[GEBURTSURKUNDE]
    assert second.ous[STANDESAMT] is first.ous[STANDESAMT]
    assert tsa_view(day1, "42").area == {"id": 42, "name": "Gebiet 42"}


# ZuFi-only edits


def test_set_links_overrides_the_online_services_until_removed(tsa, http, tsa_scenario):
    directory = served(tsa)
    known = JENA_THAVEL
    unknown = "https://example.org/antrag/geburtsurkunde"
    tsa.set_links(GEBURTSURKUNDE, [unknown, known])
    objects = online_links(http, tsa, GEBURTSURKUNDE)
    assert [o["link"] for o in objects] == [unknown, known]
    assert objects[1]["id"] == service_number(directory, known)
    assert objects[1]["linkTitle"] == "Online-Antrag (ThAVEL)"
    synthetic = objects[0]["id"]
    assert SYNTHETIC_OS_BASE <= synthetic < SYNTHETIC_OS_BASE + 100_000
    assert objects[0]["name"] and objects[0]["linkTitle"]
    assert online_links(http, tsa, GEBURTSURKUNDE)[0]["id"] == synthetic  # stable
    # The PVOG never sees it.
    assert [link["uri"] for link in tsa_scenario.directory_for(1).leistungen[
        f"S1600001.LB.{GEBURTSURKUNDE}"]["onlineServiceLinks"]] == [JENA_THAVEL]
    tsa.set_links(f"S1600001.LB.{GEBURTSURKUNDE}", [])
    assert online_links(http, tsa, GEBURTSURKUNDE) == []
    tsa.set_links(str(GEBURTSURKUNDE), None)
    assert [o["link"] for o in online_links(http, tsa, GEBURTSURKUNDE)] == [JENA_THAVEL]
    with pytest.raises(TypeError):
        tsa.set_links(GEBURTSURKUNDE, known)  # type: ignore[arg-type]


def test_set_responsible_moves_a_competence_until_removed(tsa, http):
    assert GEBURTSURKUNDE in competent(http, tsa, STANDESAMT)
    assert GEBURTSURKUNDE not in competent(http, tsa, BUERGERSERVICE)
    before = competent(http, tsa, BUERGERSERVICE)
    tsa.set_responsible(GEBURTSURKUNDE, BUERGERSERVICE)
    assert GEBURTSURKUNDE not in competent(http, tsa, STANDESAMT)
    assert competent(http, tsa, BUERGERSERVICE) == sorted([*before, GEBURTSURKUNDE])
    entry = next(
        e for e in paged(http, tsa, f"/ouCompetence/{BUERGERSERVICE}", 100)[1]
        if e["publicServiceTypes"][0]["id"] == GEBURTSURKUNDE
    )
    assert entry["organisationalUnit"] == {"id": BUERGERSERVICE, "name": "Bürgerservice Jena"}
    tsa.set_responsible(str(GEBURTSURKUNDE), None)
    assert GEBURTSURKUNDE in competent(http, tsa, STANDESAMT)
    assert competent(http, tsa, BUERGERSERVICE) == before
    tsa.set_responsible(GEBURTSURKUNDE, "S1600001.OE.20006")  # PVOG ids work too
    assert GEBURTSURKUNDE in competent(http, tsa, STANDESAMT)
    with pytest.raises(ValueError):
        tsa.set_responsible(GEBURTSURKUNDE, "Standesamt")
    tsa.clear_overrides()


def test_edits_change_charges_specialisations_and_addresses_until_cleared(tsa, http):
    before = get(http, tsa, f"/pst/{EHEFAEHIGKEITSZEUGNIS}").json()
    office = get(http, tsa, f"/ou/{STANDESAMT}").json()
    tsa.set_charge(EHEFAEHIGKEITSZEUGNIS, "Auslagen", lowerLimit=25.0, upperLimit=90.0)
    tsa.set_specialisation(EHEFAEHIGKEITSZEUGNIS, "<p>In Jena nur mit Termin.</p>")
    tsa.set_address(STANDESAMT, street="Löbdergraben", houseNumber="12")
    pst = get(http, tsa, f"/pst/{EHEFAEHIGKEITSZEUGNIS}").json()
    (auslagen,) = [c for c in pst["charges"] if c["name"] == "Auslagen"]
    assert (auslagen["type"], auslagen["lowerLimit"], auslagen["upperLimit"]) == (
        "VARIABLE", 25.0, 90.0)
    (volltext,) = [b for b in pst["textBlocks"] if b["type"]["key"] == "06"]
    assert [(s["restrictedArea"]["id"], s["text"]) for s in volltext["specialisations"]] == [
        (351529, "<p>In Jena nur mit Termin.</p>")]
    assert pst["lastUpdated"] > before["lastUpdated"]
    moved = get(http, tsa, f"/ou/{STANDESAMT}").json()
    assert (moved["addresses"][0]["street"], moved["addresses"][0]["houseNumber"]) == (
        "Löbdergraben", "12")
    assert moved["lastUpdated"] > office["lastUpdated"]
    department = moved["parentId"]
    _, children = paged(http, tsa, "/ou/find", 100, parentId=department)
    assert next(c for c in children if c["id"] == STANDESAMT) == moved
    # Any change, e.g. the order of the text blocks; what tsa_view holds stays as it was.
    tsa.edit_pst(EHEFAEHIGKEITSZEUGNIS, lambda p: p["textBlocks"].reverse())
    reversed_ = get(http, tsa, f"/pst/{EHEFAEHIGKEITSZEUGNIS}").json()
    assert reversed_["textBlocks"] == pst["textBlocks"][::-1]
    assert tsa.data().psts[EHEFAEHIGKEITSZEUGNIS] == before
    with pytest.raises(KeyError):
        tsa.set_charge(EHEFAEHIGKEITSZEUGNIS, "no such charge", amount=1.0)
    with pytest.raises(KeyError):
        tsa.edit_ou(99, lambda ou: None)
    tsa.edit_pst(EHEFAEHIGKEITSZEUGNIS, None)
    assert get(http, tsa, f"/pst/{EHEFAEHIGKEITSZEUGNIS}").json() == before
    tsa.clear_overrides()
    assert get(http, tsa, f"/ou/{STANDESAMT}").json() == office


def seen_pvog_shapes(directory: Directory) -> Directory:
    """``directory`` with the PVOG's seen shapes: opening hours as INFO_TIMES, channels by
    name (no code), house numbers in the street, modules with ``@type``, ``filled``,
    ``placeholder``, ``xZufiCategory`` and filler text, no ``organisations`` array.
    (A directory in these shapes already stays as it is.)"""
    seen = directory.copy()
    names = {"01": "Telefon", "03": "Fax", "04": "E-Mail"}
    for office in seen.offices.values():
        if "openingHours" in office:
            office["additionalInformation"] = [
                {"type": "INFO_PARKING", "text": "<p>Parkhaus am Markt</p>"},
                {"type": "INFO_TIMES", "text": office.pop("openingHours")}]
        for entry in office["location"]["communications"]:
            if "code" in entry:
                entry["name"] = names[entry.pop("code")]
        for address in office["location"]["addresses"]:
            if address.get("houseNumber"):
                address["street"] = f"{address['street']} {address.pop('houseNumber')}"
    for detail in seen.leistungen.values():
        detail.pop("organisations", None)
        for module in detail["details"]:
            module["@type"] = "_moduleDetail" if module.get("details") else "_module"
            module.setdefault("placeholder", False)
            module["filled"] = not module["placeholder"]
            module.setdefault("xZufiCategory", "TEXT_MODUL")
            if module["placeholder"]:
                module["text"] = "nicht angegeben"
        # A module the editors left empty: its filler text says "no content".
        detail["details"].append({"@type": "_module", "code": "16", "title": "Hinweise",
                                  "text": "<p>nicht angegeben</p>", "filled": False,
                                  "placeholder": True, "xZufiCategory": "TEXT_MODUL"})
    return seen


def test_the_conversion_reads_the_older_and_the_seen_pvog_shapes(tsa_scenario):
    older = tsa_scenario.directory_for(0)
    before, after = tsa_view(older), tsa_view(seen_pvog_shapes(older))
    assert after.ous == before.ous
    assert after.psts == before.psts
    assert after.competences == before.competences
    assert after.online == before.online


# faults


def test_status_fault_fires_once_then_answers_normally(tsa, http):
    tsa.inject("/pst/", "status", times=1, status=503)
    failed = get(http, tsa, f"/pst/{GEBURTSURKUNDE}")
    assert failed.status_code == 503
    assert failed.headers["Content-Type"].startswith("text/html")
    ok = get(http, tsa, f"/pst/{GEBURTSURKUNDE}")
    assert ok.status_code == 200
    assert ok.json()["id"] == GEBURTSURKUNDE
    tsa.inject("/ou/", "status", status=429, retry_after="7")
    limited = get(http, tsa, f"/ou/{ROOT_OU}")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json()["status"] == 429
    tsa.clear_faults()
    assert get(http, tsa, f"/ou/{ROOT_OU}").status_code == 200


def test_malformed_and_truncated_answers_do_not_parse(tsa, http):
    tsa.inject("/ou/find", "malformed", times=1)
    tsa.inject("/ouCompetence/", "truncated", times=1)
    for path, params in (("/ou/find", {"parentId": ROOT_OU}), (f"/ouCompetence/{STANDESAMT}", {})):
        response = get(http, tsa, path, **params)
        assert response.status_code == 200
        with pytest.raises(ValueError):
            json.loads(response.text)
    assert get(http, tsa, "/ou/find", parentId=ROOT_OU).json()["count"] == 3


def test_maintenance_page(tsa, http):
    tsa.inject("findByCompetence", "maintenance")
    response = get(http, tsa, "/os/findByCompetence", pstId=GEBURTSURKUNDE)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Wartungsarbeiten" in response.text
    assert get(http, tsa, f"/pst/{GEBURTSURKUNDE}").status_code == 200


def test_empty_answers(tsa, http):
    tsa.inject("", "empty")
    assert get(http, tsa, "/ou/find", parentId=ROOT_OU).json() == EMPTY
    competences = get(http, tsa, f"/ouCompetence/{STANDESAMT}").json()
    assert competences == EMPTY
    services = get(http, tsa, "/os/findByCompetence", pstId=GEBURTSURKUNDE).json()
    assert services == EMPTY
    assert get(http, tsa, f"/ou/{ROOT_OU}").json() == {}


def test_invalid_faults_are_rejected(tsa):
    with pytest.raises(ValueError):
        tsa.inject("/ou/", "drop:name")
    with pytest.raises(ValueError):
        tsa.inject("/ou/", "status", times=0)


# ETags, request log, lifecycle


def test_etag_answers_not_modified(tsa, http):
    first = get(http, tsa, f"/pst/{GEBURTSURKUNDE}")
    etag = first.headers["ETag"]
    again = get(http, tsa, f"/pst/{GEBURTSURKUNDE}", headers={**HEADERS, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert tsa.not_modified == 1


def test_request_log_headers_and_waiting(tsa, http):
    get(http, tsa, f"/ou/{ROOT_OU}", headers={**HEADERS, "Accept-Language": "de-DE"})
    assert tsa.requests == [f"/rest/v4/ou/{ROOT_OU}"]
    headers = tsa.headers_of(0)
    assert headers["api_key"] == API_KEY
    assert headers["Accept-Language"] == "de-DE"
    tsa.reset_requests()
    assert tsa.request_count == 0
    assert tsa.requests == []

    def client() -> None:
        with requests.Session() as session:
            for _ in range(3):
                get(session, tsa, "/ou/find", parentId=ROOT_OU, limit=2)

    worker = threading.Thread(target=client)
    worker.start()
    assert tsa.wait_for_requests(3, timeout=10)
    worker.join(timeout=10)
    assert tsa.request_count == 3
    assert tsa.requests[0] == f"/rest/v4/ou/find?parentId={ROOT_OU}&limit=2"
    assert not tsa.wait_for_requests(4, timeout=0.01)


def test_stop_returns_promptly_with_an_open_connection(tsa_scenario, http):
    tsa = SimulatedTSA(tsa_scenario, api_key=API_KEY).start()
    assert tsa.base_url == f"http://127.0.0.1:{tsa.port}/rest/v4"
    assert get(http, tsa, f"/ou/{ROOT_OU}").status_code == 200  # keep-alive connection stays
    started = time.monotonic()
    tsa.stop()
    assert time.monotonic() - started < 2
    tsa.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = tsa.port


def test_constructor_checks(tsa_scenario):
    with pytest.raises(ValueError):
        SimulatedTSA(tsa_scenario, lead_days=-1)
    with pytest.raises(ValueError):
        SimulatedTSA(tsa_scenario, api_key="")
    assert SimulatedTSA(tsa_scenario).api_key == "sim-api-key"
