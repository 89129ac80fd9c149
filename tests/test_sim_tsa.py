"""Tests of the simulated TSA Infodienste REST API v4, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from zufiwatch.sim import Directory, Scenario, SimulatedPVOG, build_directory
from zufiwatch.sim import tsa as tsa_module
from zufiwatch.sim._offices import opening_hours
from zufiwatch.sim.dataset import titles_for
from zufiwatch.sim.tsa import (
    AREA_ID,
    DEPARTMENTS,
    ROOT_OU,
    SYNTHETIC_OS_BASE,
    SimulatedTSA,
    tsa_view,
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


def paged(
    http: requests.Session, tsa: SimulatedTSA, path: str, limit: int, **params: object
) -> tuple[int, list[dict]]:
    """Every result of a paged list, and the count the pages announce."""
    results: list[dict] = []
    counts = set()
    offset = 0
    while True:
        response = get(http, tsa, path, offset=offset, limit=limit, **params)
        assert response.status_code == 200
        page = response.json()
        counts.add(page["count"])
        assert len(page["results"]) <= limit
        results += page["results"]
        if not page["results"]:
            break
        offset += len(page["results"])
    assert len(counts) == 1, "count changed while paging"
    return counts.pop(), results


def online_links(
    http: requests.Session, tsa: SimulatedTSA, pst_id: int, area: str = AREA_ID
) -> list[dict]:
    response = get(http, tsa, "/os/findByCompetence", pstId=pst_id, areaId=area)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(body["results"])
    return [entry["object"] for entry in body["results"]]


def competent(http: requests.Session, tsa: SimulatedTSA, ou_id: int) -> list[int]:
    count, results = paged(http, tsa, f"/ouCompetence/{ou_id}", 7, areaId=AREA_ID)
    assert count == len(results)
    return [entry["publicServiceTypes"][0]["id"] for entry in results]


def service_number(directory: Directory, uri: str) -> int | None:
    for service in directory.onlineservices:
        if any(link["uri"] == uri for link in service["links"]):
            return pvog_number(service["id"])
    return None


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
        assert get(http, tsa, f"/ouCompetence/{department}").json() == {"count": 0, "results": []}
    assert parents == {ou: tsa_view(directory).ous[ou]["parentId"] for ou in parents}


def test_an_office_is_mapped_from_the_pvog_office(tsa, http):
    office = served(tsa).offices[f"S1600001.OE.{STANDESAMT}"]
    ou = get(http, tsa, f"/ou/{STANDESAMT}").json()
    assert ou["id"] == STANDESAMT
    assert ou["name"] == office["title"] == "Standesamt Jena"
    assert ou["parentId"] in {number for number, _ in DEPARTMENTS}
    assert ou["openingHours"] == opening_hours(office)
    assert ou["lastUpdated"] == office["lastUpdate"]
    assert ou["description"].startswith("<p>")
    assert isinstance(ou["appointmentRequired"], bool)
    assert ou["onlineAppointment"] is None or ou["onlineAppointment"]["link"].startswith("https://")
    assert [(a["street"], a["houseNumber"], a["zipcode"], a["type"]) for a in ou["addresses"]] == [
        (a["street"], a["houseNumber"], a["zip"], a["type"])
        for a in office["location"]["addresses"]
    ]
    assert all(a["area"] == {"id": 351529, "name": "Jena"} for a in ou["addresses"])
    values = {entry["name"]: entry["value"] for entry in office["location"]["communications"]}
    assert ou["communications"] == [
        {"type": "phone", "title": "Telefon", "value": values["Telefon"]},
        {"type": "fax", "title": "Fax", "value": values["Fax"]},
        {"type": "email", "title": "E-Mail", "value": values["E-Mail"]},
    ]


def test_unknown_ids_and_bad_parameters(tsa, http):
    for path in ("/ou/99", "/ou/abc", "/ouCompetence/99", "/pst/99", "/nothing"):
        response = get(http, tsa, path)
        assert response.status_code == 404, path
        body = response.json()
        assert body["status"] == 404
        assert body["error"] == "Not Found"
        assert body["message"]
    assert get(http, tsa, "/ou/find", parentId=99).json() == {"count": 0, "results": []}
    assert get(http, tsa, "/ou/find").status_code == 400
    for params in ({"offset": -1}, {"limit": 0}, {"limit": "many"}):
        assert get(http, tsa, "/ou/find", parentId=ROOT_OU, **params).status_code == 400
    assert get(http, tsa, "/os/findByCompetence").status_code == 400


def test_a_larger_limit_is_capped(tsa, http, monkeypatch):
    assert len(get(http, tsa, "/ou/find", parentId=ROOT_OU, limit=1000).json()["results"]) == 3
    monkeypatch.setattr(tsa_module, "MAX_LIMIT", 2)
    page = get(http, tsa, "/ou/find", parentId=ROOT_OU, limit=1000).json()
    assert page["count"] == 3
    assert [ou["id"] for ou in page["results"]] == [19001, 19002]
    default = get(http, tsa, f"/ouCompetence/{BUERGERSERVICE}").json()
    assert len(default["results"]) == 2


def test_default_paging_is_twenty_from_the_start(tsa, http, monkeypatch):
    assert (tsa_module.DEFAULT_LIMIT, tsa_module.MAX_LIMIT) == (20, 100)
    expected = sorted(
        pvog_number(lbid) for lbid, detail in served(tsa).leistungen.items()
        if any(pvog_number(o["id"]) == BUERGERSERVICE and o["role"]["code"] == "01"
               for o in titles_for(detail))
    )
    assert len(expected) > 5
    monkeypatch.setattr(tsa_module, "DEFAULT_LIMIT", 5)
    page = get(http, tsa, f"/ouCompetence/{BUERGERSERVICE}").json()
    assert page["count"] == len(expected)
    assert [entry["publicServiceTypes"][0]["id"] for entry in page["results"]] == expected[:5]


# competences


def test_competences_are_the_leistungen_whose_detail_names_the_office_zustaendig(tsa, http):
    directory = served(tsa)
    covered = 0
    for oeid, office in directory.offices.items():
        expected = sorted(
            pvog_number(lbid) for lbid, detail in directory.leistungen.items()
            if any(o["id"] == oeid and o["role"]["code"] == "01" for o in titles_for(detail))
        )
        assert competent(http, tsa, pvog_number(oeid)) == expected, oeid
        covered += len(expected)
        if expected:
            entry = get(http, tsa, f"/ouCompetence/{pvog_number(oeid)}", limit=1).json()
            first = directory.leistungen[f"S1600001.LB.{expected[0]}"]
            assert entry["results"] == [{
                "publicServiceTypes": [{"id": expected[0], "name": first["name"]}],
                "areas": [{"id": 351529, "name": "Jena"}],
                "organisationalUnit": {"id": pvog_number(oeid), "name": office["title"]},
            }]
    assert covered == len(directory.leistungen)
    # A contact office (role "03") is not competent: some Leistungen have one.
    contacts = [
        (pvog_number(lbid), pvog_number(o["id"]))
        for lbid, detail in directory.leistungen.items()
        for o in titles_for(detail) if o["role"]["code"] == "03"
    ]
    assert contacts
    pst_id, contact = contacts[0]
    assert pst_id not in competent(http, tsa, contact)


def test_competences_of_another_area_are_empty(tsa, http):
    page = get(http, tsa, f"/ouCompetence/{STANDESAMT}", areaId="160530000000").json()
    assert page == {"count": 0, "results": []}
    assert get(http, tsa, f"/ouCompetence/{STANDESAMT}").json()["count"] > 0


# Leistungen


def test_a_leistung_is_mapped_from_the_pvog_detail(tsa, http):
    detail = served(tsa).leistungen[f"S1600001.LB.{EHEFAEHIGKEITSZEUGNIS}"]
    modules = {module["code"]: module for module in detail["details"]}
    pst = get(http, tsa, f"/pst/{EHEFAEHIGKEITSZEUGNIS}", areaId=AREA_ID).json()
    assert pst["id"] == EHEFAEHIGKEITSZEUGNIS
    assert pst["type"] == "LEISTUNG"
    assert pst["name"] == detail["name"] == "Ehefähigkeitszeugnis ausstellen"
    assert pst["leikaKeys"] == detail["leikakeys"]
    assert pst["teaser"] == modules["24"]["text"]
    assert pst["lastUpdated"] == detail["lastUpdate"]
    assert [block["type"]["key"] for block in pst["textBlocks"]] == [
        module["code"] for module in detail["details"] if module["code"] != "24"
    ]
    for block in pst["textBlocks"]:
        module = modules[block["type"]["key"]]
        code = module["code"]
        assert block["type"] == {"id": int(code) if code.isdigit() else code,
                                 "name": module["title"],
                                 "key": module["code"]}
        assert block["text"] == module["text"]
        assert block["externalLinks"] == [
            {"url": link["uri"], "name": link["title"]} for link in module.get("links", [])
        ]
    assert any(block["externalLinks"] for block in pst["textBlocks"])
    assert pst["charges"] == [
        {"description": "Gebühr 1", "amount": "Gebühr: 50,00 EUR"},
        {"description": "Gebühr 2", "amount": "Gebühr: 100,00 EUR"},
    ]


def test_a_leistung_of_another_area_or_unknown_is_not_found(tsa, http):
    assert get(http, tsa, f"/pst/{GEBURTSURKUNDE}").status_code == 200
    wrong = get(http, tsa, f"/pst/{GEBURTSURKUNDE}", areaId="999999")
    assert wrong.status_code == 404
    assert wrong.json()["error"] == "Not Found"
    assert get(http, tsa, "/pst/1", areaId=AREA_ID).status_code == 404


def test_a_leistung_without_fees_has_no_charges(tsa, http):
    for lbid, detail in served(tsa).leistungen.items():
        kosten = next(m for m in detail["details"] if m["code"] == "98")
        if not kosten["details"]:
            pst = get(http, tsa, f"/pst/{pvog_number(lbid)}", areaId=AREA_ID).json()
            assert pst["charges"] == []
            assert "98" in [block["type"]["key"] for block in pst["textBlocks"]]
            return
    pytest.fail("no Leistung without fees")


# online services


def test_online_services_are_the_pvog_links_with_the_online_service_ids(tsa, http):
    directory = served(tsa)
    with_links = 0
    for lbid, detail in directory.leistungen.items():
        objects = online_links(http, tsa, pvog_number(lbid))
        assert [(o["link"], o["linkTitle"]) for o in objects] == [
            (link["uri"], link["title"]) for link in detail["onlineServiceLinks"]
        ]
        for item in objects:
            assert item["id"] == service_number(directory, item["link"])
            assert item["name"]
            assert item["trustLevel"] == "SUBSTANTIELL"
        with_links += bool(objects)
    assert with_links > 5
    result = get(http, tsa, "/os/findByCompetence", pstId=GEBURTSURKUNDE).json()["results"][0]
    assert result["score"] == 1.0


def test_online_services_of_another_area_or_unknown_leistung_are_empty(tsa, http):
    empty = {"count": 0, "results": []}
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
    assert get(http, tsa, "/ou/find", parentId=ROOT_OU).json() == {"count": 0, "results": []}
    competences = get(http, tsa, f"/ouCompetence/{STANDESAMT}").json()
    assert competences == {"count": 0, "results": []}
    services = get(http, tsa, "/os/findByCompetence", pstId=GEBURTSURKUNDE).json()
    assert services == {"count": 0, "results": []}
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
