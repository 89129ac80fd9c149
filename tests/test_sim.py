"""Tests of the simulated PVOG Suchdienst, over real HTTP on 127.0.0.1, in the seen shapes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources

import pytest
import requests
from bs4 import BeautifulSoup

from zufiwatch.sim import JENA_ARS, ExpectedEdit, Scenario, SimulatedPVOG, build_directory
from zufiwatch.sim.dataset import BUND_ARS, LAND_ARS, Directory, load_jena_rows, titles_for
from zufiwatch.sources.drift import unknown_keys
from zufiwatch.sources.pvog import SHAPES

GEWERBE_ANMELDEN = "S1600001.LB.354824"
BEWOHNERPARKAUSWEIS = "S1600001.LB.355152"
EHEFAEHIGKEITSZEUGNIS = "S1600001.LB.354614"
GEBURTSURKUNDE = "S1600001.LB.354790"
OLAV_LINK = (
    "https://ajproxy.jena.de/olav/olav.htm?_flowId=parkausweisbeantragen-flow"
    "&_flowExecutionKey=e1s1"
)
TIMEOUT = 5


# fixtures and helpers


@pytest.fixture(scope="module")
def directory() -> Directory:
    return build_directory(300)


@pytest.fixture(scope="module")
def scenario(directory: Directory) -> Scenario:
    return Scenario(directory)


@pytest.fixture
def pvog(scenario: Scenario) -> Iterator[SimulatedPVOG]:
    with SimulatedPVOG(scenario) as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def get(http: requests.Session, pvog: SimulatedPVOG, path: str, **params: object):
    return http.get(pvog.base_url + path, params=params, timeout=TIMEOUT)


def listing_ids(http: requests.Session, pvog: SimulatedPVOG, size: int = 50) -> list[str]:
    ids: list[str] = []
    page = 0
    while True:
        body = get(http, pvog, f"/v7/servicedescriptions/{JENA_ARS}", page=page, size=size)
        wrapper = body.json()["serviceDescriptions"]
        ids += [item["id"] for item in wrapper["content"]]
        if wrapper["last"]:
            return ids
        page += 1


def onlineservice_pages(http: requests.Session, pvog: SimulatedPVOG) -> list[dict]:
    pages = []
    params: dict[str, str] = {"ars": JENA_ARS}
    for _ in range(1000):
        page = get(http, pvog, "/v1beta2/onlineservices", **params).json()
        pages.append(page)
        if "nextPageToken" not in page:
            return pages
        params["nextPageToken"] = page["nextPageToken"]
    raise AssertionError("token paging did not terminate")


def crawl(http: requests.Session, pvog: SimulatedPVOG) -> dict[str, dict]:
    """Everything the server answers for the current day, keyed by kind and id."""
    leistungen, titles = {}, {}
    for lbid in listing_ids(http, pvog):
        leistungen[lbid] = get(http, pvog, f"/v6/servicedescriptions/{lbid}/detail", ars=JENA_ARS)
        leistungen[lbid] = leistungen[lbid].json()
        titles[lbid] = get(
            http, pvog, "/v2/organisationunits/titles", ars=JENA_ARS, lbId=lbid
        ).json()
    office_ids = {entry["id"] for answer in titles.values() for entry in answer}
    offices = {
        oeid: get(http, pvog, "/v5/organisationunits/detail", q=oeid).json()
        for oeid in sorted(office_ids)
    }
    services = {
        item["id"]: item
        for page in onlineservice_pages(http, pvog)
        for item in page["onlineservices"]
    }
    return {
        "leistung": leistungen,
        "titles": titles,
        "organisationseinheit": offices,
        "onlinedienst": services,
    }


def plain(html: str) -> str:
    """HTML reduced to its text with collapsed whitespace (what a monitor compares)."""
    return " ".join(BeautifulSoup(html, "html.parser").get_text(" ").split())


def module_fields(old: dict, new: dict) -> set[str]:
    def by_code(detail: dict) -> dict[str, dict]:
        return {module["code"]: module for module in detail["details"]}

    def meaning(module: dict | None) -> object:
        if module is None:
            return None
        if module.get("placeholder"):
            return ("placeholder", module["title"])  # its filler text means nothing
        return (
            plain(module.get("text", "")),
            [(sub["title"], plain(sub["text"])) for sub in module.get("details", [])],
            module.get("links", []),
            module.get("date"),
        )

    fields = set()
    before, after = by_code(old), by_code(new)
    for code in before.keys() | after.keys():
        if meaning(before.get(code)) != meaning(after.get(code)):
            names = {"93": "fachliche_freigabe", "94": "ursprungsportal"}
            fields.add(names.get(code, "texte"))
    return fields


LEISTUNG_KEYS = {
    "name": "name",
    "leikakeys": "leika",
    "ars": "ars",
    "synonyms": "synonyme",
    "validFrom": "gueltigkeit",
    "validTo": "gueltigkeit",
    "validityPeriods": "gueltigkeit",
    "onlineServiceLinks": "onlinedienste",
    "organisationIds": "zustaendigkeiten",
    "sourcePortals": "ursprungsportal",
}
OFFICE_KEYS = {
    "title": "name",
    "internetAddresses": "internetadressen",
}
TIMESTAMPS = {"lastUpdate", "externalLastUpdate", "timestamp"}


def additional_information(office: dict) -> dict[str, str]:
    return {item["type"]: item["text"] for item in office.get("additionalInformation", [])}


def leistung_fields(old: dict, new: dict) -> set[str]:
    fields = {field for key, field in LEISTUNG_KEYS.items() if old.get(key) != new.get(key)}
    return fields | module_fields(old, new)


def office_fields(old: dict, new: dict) -> set[str]:
    fields = {field for key, field in OFFICE_KEYS.items() if old.get(key) != new.get(key)}
    if old["location"]["addresses"] != new["location"]["addresses"]:
        fields.add("anschriften")
    if old["location"]["communications"] != new["location"]["communications"]:
        fields.add("kommunikation")
    before, after = additional_information(old), additional_information(new)
    if before.get("INFO_TIMES") != after.get("INFO_TIMES"):
        fields.add("oeffnungszeiten")
    before.pop("INFO_TIMES", None)
    after.pop("INFO_TIMES", None)
    if before != after:
        fields.add("zusatzinformationen")
    return fields


def service_fields(old: dict, new: dict) -> set[str]:
    fields = {
        field for key, field in (("name", "name"), ("links", "links")) if old[key] != new[key]
    }
    if old["serviceDescriptions"] != new["serviceDescriptions"]:
        fields.add("leistungen")
    return fields


FIELD_FUNCTIONS = {
    "leistung": leistung_fields,
    "organisationseinheit": office_fields,
    "onlinedienst": service_fields,
}


def meaningful_changes(before: dict, after: dict) -> set[tuple[str, str, str, str | None]]:
    """The (kind, id, change, field) set a correct monitor derives from two crawls."""
    changes = set()
    for kind, fields_of in FIELD_FUNCTIONS.items():
        old, new = before[kind], after[kind]
        changes |= {(kind, key, "added", None) for key in new.keys() - old.keys()}
        changes |= {(kind, key, "removed", None) for key in old.keys() - new.keys()}
        for key in old.keys() & new.keys():
            changes |= {(kind, key, "modified", f) for f in fields_of(old[key], new[key])}
    for lbid in before["titles"].keys() & after["titles"].keys():
        if before["titles"][lbid] != after["titles"][lbid]:
            changes.add(("leistung", lbid, "modified", "zustaendigkeiten"))
    return changes


def as_tuples(edits: list[ExpectedEdit]) -> set[tuple[str, str, str, str | None]]:
    return {(edit.kind, edit.id, edit.change, edit.field) for edit in edits}


# the dataset


def test_listing_pages_add_up_and_every_id_has_a_detail(pvog, http, directory):
    first = get(http, pvog, f"/v7/servicedescriptions/{JENA_ARS}", page=0, size=7)
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    wrapper = first.json()["serviceDescriptions"]
    assert wrapper["totalElements"] == len(directory.leistungen) == 300
    assert wrapper["totalPages"] == 43
    ids = listing_ids(http, pvog, size=7)
    assert len(ids) == wrapper["totalElements"]
    assert ids == sorted(set(ids))
    for lbid in ids:
        answer = get(http, pvog, f"/v6/servicedescriptions/{lbid}/detail", ars=JENA_ARS)
        assert answer.status_code == 200
        assert answer.json()["id"] == lbid


def test_listing_items_are_short_and_titles_often_empty(pvog, http, directory):
    content = get(http, pvog, f"/v7/servicedescriptions/{JENA_ARS}", page=0, size=300).json()
    items = content["serviceDescriptions"]["content"]
    assert all(set(item) == {"id", "title", "description"} for item in items)
    assert all(item["title"] in ("", directory.leistungen[item["id"]]["name"]) for item in items)
    assert all(item["description"] == directory.leistungen[item["id"]]["description"]
               for item in items)
    assert sum(item["title"] == "" for item in items) > len(items) // 3


def test_listing_rejects_small_pages_and_unknown_ars_is_empty(pvog, http):
    small = get(http, pvog, f"/v7/servicedescriptions/{JENA_ARS}", page=0, size=4)
    assert small.status_code == 400
    assert small.json()["status"] == 400
    other = get(http, pvog, "/v7/servicedescriptions/160510000000", page=0, size=20).json()
    assert other["serviceDescriptions"]["content"] == []
    assert other["serviceDescriptions"]["totalElements"] == 0
    beyond = get(http, pvog, f"/v7/servicedescriptions/{JENA_ARS}", page=999, size=20).json()
    assert beyond["serviceDescriptions"]["content"] == []
    assert beyond["serviceDescriptions"]["last"] is True


def test_real_jena_values_are_served(pvog, http):
    answer = get(http, pvog, f"/v6/servicedescriptions/{GEWERBE_ANMELDEN}/detail", ars=JENA_ARS)
    detail = answer.json()
    assert detail["name"] == "Gewerbe anmelden"
    assert detail["leikakeys"] == ["99050012104000"]
    assert detail["ars"] == [JENA_ARS]
    assert detail["externalLastUpdate"] == "2026-03-03T08:10:04.359Z"
    assert detail["onlineServiceLinks"][0]["uri"] == (
        "https://thavel.thueringen.de/thavel/portal?f=leistung&aid=354824"
    )
    modules = {module["code"]: module for module in detail["details"]}
    assert {"24", "06", "09", "08", "98", "07", "93", "94"} <= modules.keys()
    assert all(module["title"] for module in detail["details"])
    assert modules["93"]["text"].startswith("Thüringer Ministerium für Wirtschaft")
    assert modules["93"]["date"] == "2021-09-08"
    assert modules["94"]["links"][0]["uri"] == (
        "https://buerger.thueringen.de/portaldeeplink/?tsa_leistung_id=354824&tsa_sprache=de_DE"
    )
    assert modules["98"]["@type"] == "_moduleDetail"
    assert [(sub["@type"], sub["title"], sub["text"]) for sub in modules["98"]["details"]] == [
        ("_module", "Gebühr", "Gebühr: 25,00 EUR")]
    assert "organisations" not in detail
    assert detail["organisationIds"] == [entry["id"] for entry in titles_for(detail)]
    assert detail["timestamp"] == detail["lastUpdate"]
    assert modules["STATUS"]["text"] == modules["STATUSKATALOG"]["text"] == "6"
    assert modules["18"]["placeholder"] is True and modules["18"]["text"] == "nicht angegeben"


def test_session_parameter_link_is_served_verbatim(pvog, http):
    answer = get(http, pvog, f"/v6/servicedescriptions/{BEWOHNERPARKAUSWEIS}/detail", ars=JENA_ARS)
    assert OLAV_LINK.encode() in answer.content
    assert answer.json()["onlineServiceLinks"][0]["uri"] == OLAV_LINK
    fees = {module["code"]: module for module in answer.json()["details"]}["98"]["details"]
    assert [fee["text"] for fee in fees] == [
        "Gebühr: 120,00 EUR",
        "Gebühr: 10,50 EUR",
        "Gebühr: 0,30 EUR",
    ]


def test_only_rows_found_in_pvog_are_included(directory):
    data = resources.files("zufiwatch.sim").joinpath("data/jena_rows.json")
    rows = json.loads(data.read_text(encoding="utf-8"))["rows"]
    missing = {row["leika"] for row in rows if row["gefunden"] == "false"}
    found = {row["leika"] for row in load_jena_rows()}
    served = {key for detail in directory.leistungen.values() for key in detail["leikakeys"]}
    assert len(found) == 61
    assert found <= served
    assert not missing & served


def test_titles_and_office_details(pvog, http, directory):
    titles = get(
        http, pvog, "/v2/organisationunits/titles", ars=JENA_ARS, lbId=EHEFAEHIGKEITSZEUGNIS
    ).json()
    detail = directory.leistungen[EHEFAEHIGKEITSZEUGNIS]
    assert titles == titles_for(detail)
    assert [entry["id"] for entry in titles] == detail["organisationIds"]
    assert titles[0]["role"] == {"code": "01", "name": "Zuständige Stelle"}
    office = get(http, pvog, "/v5/organisationunits/detail", q=titles[0]["id"]).json()
    assert office["title"] == titles[0]["title"] == "Standesamt Jena"
    address = office["location"]["addresses"][0]
    assert address["city"] == "Jena" and address["zip"] in ("07743", "07745")
    assert [entry["name"] for entry in office["location"]["communications"]] == [
        "Telefon", "Fax", "E-Mail"]
    assert office["location"]["communications"][0]["value"].startswith("+49 3641 49-")
    assert "openingHours" not in office
    assert additional_information(office)["INFO_TIMES"].startswith("<p>")
    assert set(address["geo"]) == {"latitude", "longitude"}
    unknown = get(http, pvog, "/v5/organisationunits/detail", q="S1600001.OE.1")
    assert unknown.status_code == 404
    assert get(http, pvog, "/v2/organisationunits/titles", ars=JENA_ARS, lbId="x").json() == []
    assert len(directory.offices) >= 10
    roles = {entry["role"]["code"] for answer in directory.titles.values() for entry in answer}
    assert roles == {"01", "03"}



def test_every_served_key_is_a_seen_or_reconstructed_one(pvog, http, directory):
    """The simulator serves the shapes of sources.md, nothing the adapter does not know."""
    listing = get(http, pvog, f"/v7/servicedescriptions/{JENA_ARS}", page=0, size=50).json()
    assert unknown_keys(listing, SHAPES["/v7/servicedescriptions"]) == set()
    for lbid in sorted(directory.leistungen)[::25]:
        detail = get(http, pvog, f"/v6/servicedescriptions/{lbid}/detail", ars=JENA_ARS,
                     applyDynamicParams="true").json()
        assert unknown_keys(detail, SHAPES["/v6/servicedescriptions/detail"]) == set()
        titles = get(http, pvog, "/v2/organisationunits/titles", ars=JENA_ARS, lbId=lbid).json()
        assert unknown_keys(titles, SHAPES["/v2/organisationunits/titles"]) == set()
    for oeid in sorted(directory.offices)[::7]:
        office = get(http, pvog, "/v5/organisationunits/detail", q=oeid).json()
        assert unknown_keys(office, SHAPES["/v5/organisationunits/detail"]) == set()
    services = get(http, pvog, "/v1beta2/onlineservices", ars=JENA_ARS).json()
    assert unknown_keys(services, SHAPES["/v1beta2/onlineservices"]) == set()
    header = get(http, pvog, "/v5/servicedescriptions/csv", ars=JENA_ARS).text.split("\n")[0]
    assert header.split("|") == list(SHAPES["/v5/servicedescriptions/csv"])


def test_detail_carries_the_seen_audit_facts(directory):
    details = list(directory.leistungen.values())
    for detail in details:
        assert detail["validityPeriods"] == [{"validFrom": detail["validFrom"],
                                              "validTo": detail["validTo"]}]
        assert detail["synonyms"] and detail["suggest"][-1] == detail["name"]
        for module in detail["details"]:
            assert module["@type"] in ("_module", "_moduleDetail")
            assert module["placeholder"] is (module["text"] == "nicht angegeben")
    links = [link for detail in details for link in detail["onlineServiceLinks"]]
    assert {link["levelOfConfidence"] for link in links} == {"10", "15"}
    assert any(link["validTo"] != "2999-12-31" for link in links)
    assert any(detail["validFrom"] != "1970-01-01" for detail in details)
    assert any(m["code"] == "97" and m["placeholder"] for d in details for m in d["details"])
    eid = [link for link in links if link["identificationMethods"]]
    assert eid and all(link["levelOfConfidence"] == "15" for link in eid)


def test_link_ids_name_the_onlineservices_that_carry_the_link(directory):
    by_id = {service["id"]: service for service in directory.onlineservices}
    for lbid, detail in directory.leistungen.items():
        for link in detail["onlineServiceLinks"]:
            service = by_id[link["id"]]
            assert link["uri"] in [entry["uri"] for entry in service["links"]]
            assert lbid in [entry["id"] for entry in service["serviceDescriptions"]]


def test_some_offices_carry_another_additional_information(directory):
    kinds = [set(additional_information(office)) for office in directory.offices.values()]
    assert all("INFO_TIMES" in found for found in kinds)
    assert {"INFO_TIMES", "INFO_PARKING"} in kinds and {"INFO_TIMES"} in kinds


def csv_rows(text: str) -> list[list[str]]:
    return [line.split("|") for line in text.split("\n")[1:] if line]


def test_csv_listing_names_every_leistung_with_its_online_services(pvog, http, directory):
    answer = get(http, pvog, "/v5/servicedescriptions/csv", ars=JENA_ARS)
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    text = answer.content.decode("utf-8")
    assert text.split("\n")[0] == (
        "ID-LB|Leikaschlüssel|Name|Name2|Updatedatum|ID-OD|Bezeichnung OD|Links")
    rows = csv_rows(text)
    assert all(len(row) == 8 for row in rows)
    assert sorted({row[0] for row in rows}) == sorted(directory.leistungen)
    assert len({row[4] for row in rows}) == 1  # the import time, the same in every row
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", rows[0][4])
    names = {service["id"]: service["name"] for service in directory.onlineservices}
    for lbid, detail in directory.leistungen.items():
        mine = [row for row in rows if row[0] == lbid]
        assert {(row[1], row[2]) for row in mine} == {(detail["leikakeys"][0], detail["name"])}
        expected = [[link["id"], names[link["id"]], link["uri"]]
                    for link in detail["onlineServiceLinks"]] or [["", "", ""]]
        assert sorted(row[5:] for row in mine) == sorted(expected)
    assert any(row[5] == "" for row in rows) and any(row[5] for row in rows)
    other = get(http, pvog, "/v5/servicedescriptions/csv", ars="160510000000")
    assert csv_rows(other.text) == []
    assert get(http, pvog, "/v5/servicedescriptions/csv").status_code == 400


def test_csv_listing_faults(pvog, http, directory):
    lbid = sorted(directory.leistungen)[5]
    pvog.inject("/v5/servicedescriptions/csv", f"omit:{lbid}", times=1)
    pvog.inject("/v5/servicedescriptions/csv", "drop:ID-OD", times=1)
    pvog.inject("/v5/servicedescriptions/csv", "empty", times=1)
    omitted = csv_rows(get(http, pvog, "/v5/servicedescriptions/csv", ars=JENA_ARS).text)
    assert {row[0] for row in omitted} == set(directory.leistungen) - {lbid}
    dropped = get(http, pvog, "/v5/servicedescriptions/csv", ars=JENA_ARS).text
    assert "ID-OD" not in dropped.split("\n")[0]
    assert all(len(row) == 7 for row in csv_rows(dropped))
    assert csv_rows(get(http, pvog, "/v5/servicedescriptions/csv", ars=JENA_ARS).text) == []
    assert len(csv_rows(get(http, pvog, "/v5/servicedescriptions/csv", ars=JENA_ARS).text)) >= 300


def test_onlineservices_token_paging_terminates_and_covers_all(pvog, http, directory):
    pages = onlineservice_pages(http, pvog)
    assert len(pages) > 1
    assert all(len(page["onlineservices"]) <= 50 for page in pages)
    assert "nextPageToken" not in pages[-1]
    items = [item for page in pages for item in page["onlineservices"]]
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) == pages[0]["totalHits"] == len(directory.onlineservices)
    by_uri = {link["uri"]: item for item in items for link in item["links"]}
    assert {
        d["ars"][0] for d in by_uri["https://www.elster.de/eportal/start"]["serviceDescriptions"]
    } == {BUND_ARS}
    thavel = by_uri["https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc"]
    assert thavel["serviceDescriptions"] == [{"id": GEBURTSURKUNDE, "ars": [JENA_ARS]}]
    statewide = by_uri["https://thavel.thueringen.de/thavel/portal?f=leistung&aid=354824"]
    assert statewide["serviceDescriptions"][0]["ars"] == [LAND_ARS]
    no_jena_leistung = [
        item
        for item in items
        if not any(d["id"] in directory.leistungen for d in item["serviceDescriptions"])
    ]
    assert no_jena_leistung
    bad = get(http, pvog, "/v1beta2/onlineservices", ars=JENA_ARS, nextPageToken="???")
    assert bad.status_code == 400
    other = get(http, pvog, "/v1beta2/onlineservices", ars="160510000000").json()
    assert other == {"totalHits": 0, "onlineservices": []}


def test_generated_links_use_all_thavel_shapes(directory):
    uris = [link["uri"] for item in directory.onlineservices for link in item["links"]]
    assert any("thavel.thueringen.de/thavel/portal?f=leistung&aid=" in uri for uri in uris)
    assert any("/thavelp/go/a/" in uri and uri.endswith("?c=bc") for uri in uris)
    assert any("/thavelp/portal/zs/" in uri and "/start?pe=" in uri for uri in uris)
    assert any("a3start" in uri and "startAPI=https%253A%252F%252F" in uri for uri in uris)


def test_unknown_ids_and_paths_answer_404_json(pvog, http):
    detail = get(http, pvog, "/v6/servicedescriptions/S1600001.LB.1/detail", ars=JENA_ARS)
    assert detail.status_code == 404
    assert detail.headers["Content-Type"] == "application/json; charset=utf-8"
    assert detail.json()["status"] == 404
    assert get(http, pvog, "/v9/whatever").status_code == 404
    assert (
        http.get(pvog.base_url.replace("/suchdienst/api", "/x"), timeout=TIMEOUT).status_code == 404
    )


def test_requests_are_recorded(pvog, http):
    get(http, pvog, "/v5/organisationunits/detail", q="S1600001.OE.20001")
    get(http, pvog, "/v9/whatever")
    assert pvog.request_count == 2
    assert pvog.requests == [
        "/suchdienst/api/v5/organisationunits/detail?q=S1600001.OE.20001",
        "/suchdienst/api/v9/whatever",
    ]


def test_build_is_deterministic_for_20000():
    first = build_directory(20000, seed=7)
    second = build_directory(20000, seed=7)
    assert len(first.leistungen) == 20000
    assert list(first.leistungen) == list(second.leistungen)
    assert list(first.offices) == list(second.offices)
    assert [item["id"] for item in first.onlineservices] == [
        item["id"] for item in second.onlineservices
    ]
    sample = list(first.leistungen)[::997]
    assert [first.leistungen[key] for key in sample] == [second.leistungen[key] for key in sample]
    assert 900 <= len(first.offices) <= 1100
    leikas = [detail["leikakeys"][0] for detail in first.leistungen.values()]
    assert len(set(leikas)) == 20000
    assert all(len(key) == 14 and key.startswith("99") for key in leikas)


def test_seed_changes_generated_entries_only():
    one, other = build_directory(120, seed=1), build_directory(120, seed=2)
    real = {detail["id"] for detail in build_directory(0).leistungen.values()}
    assert real <= one.leistungen.keys() and real <= other.leistungen.keys()
    assert one.leistungen.keys() != other.leistungen.keys()
    assert all(one.leistungen[key] == other.leistungen[key] for key in real)


def test_copy_is_deep(directory):
    duplicate = directory.copy()
    duplicate.leistungen[GEWERBE_ANMELDEN]["details"][0]["text"] = "changed"
    assert directory.leistungen[GEWERBE_ANMELDEN]["details"][0]["text"] != "changed"
    assert duplicate.leistungen.keys() == directory.leistungen.keys()


# the scenario


@pytest.fixture(scope="module")
def real_scenario() -> Scenario:
    return Scenario(build_directory(0))


@pytest.fixture(scope="module")
def crawls(real_scenario: Scenario) -> dict[int, dict]:
    """A crawl over HTTP of every scenario day of the real-rows directory."""
    with SimulatedPVOG(real_scenario) as server, requests.Session() as session:
        result = {}
        for day in range(real_scenario.days + 1):
            server.set_day(day)
            result[day] = crawl(session, server)
        return result


@pytest.mark.parametrize("day", range(1, 8))
def test_each_day_changes_exactly_what_its_edits_say(real_scenario, crawls, day):
    before, after = crawls[day - 1], crawls[day]
    assert before != after, "every scenario day changes something at the raw level"
    assert meaningful_changes(before, after) == as_tuples(real_scenario.edits(day))
    assert real_scenario.describe(day).startswith(f"day {day}: ")


def test_day_1_changes_only_timestamps(crawls):
    before, after = crawls[0], crawls[1]
    changed_keys = set()
    for kind in ("leistung", "organisationseinheit"):
        for key, old in before[kind].items():
            new = after[kind][key]
            changed_keys |= {
                name for name in old.keys() | new.keys() if old.get(name) != new.get(name)
            }
            if old != new:
                assert new["lastUpdate"] > old["lastUpdate"]
    assert changed_keys == TIMESTAMPS
    assert before["onlinedienst"] == after["onlinedienst"]
    assert before["titles"] == after["titles"]


def test_day_2_points_geburtsurkunde_to_geras_instance(crawls):
    gera = "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc"
    assert crawls[1]["leistung"][GEBURTSURKUNDE]["onlineServiceLinks"][0]["uri"].endswith(
        "/1273?c=bc"
    )
    assert crawls[2]["leistung"][GEBURTSURKUNDE]["onlineServiceLinks"][0]["uri"] == gera
    links = [link["uri"] for item in crawls[2]["onlinedienst"].values() for link in item["links"]]
    assert gera in links and "https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc" not in links


def test_day_4_removed_leistung_answers_404(real_scenario, http):
    (edit,) = real_scenario.edits(4)
    with SimulatedPVOG(real_scenario) as server:
        server.set_day(3)
        path = f"/v6/servicedescriptions/{edit.id}/detail"
        assert get(http, server, path, ars=JENA_ARS).status_code == 200
        server.set_day(4)
        assert get(http, server, path, ars=JENA_ARS).status_code == 404
        titles = get(http, server, "/v2/organisationunits/titles", ars=JENA_ARS, lbId=edit.id)
        assert titles.json() == []
        assert edit.id not in listing_ids(http, server)


def test_day_7_whitespace_edit_changes_raw_text_only(crawls):
    lbid = "S1600001.LB.355220"
    old = {m["code"]: m["text"] for m in crawls[6]["leistung"][lbid]["details"]}
    new = {m["code"]: m["text"] for m in crawls[7]["leistung"][lbid]["details"]}
    assert old["24"] != new["24"]
    assert plain(old["24"]) == plain(new["24"])


def test_scenario_days_past_the_end_repeat_the_last_day(real_scenario):
    assert real_scenario.days == 7
    assert real_scenario.directory_for(30) is real_scenario.directory_for(7)
    assert real_scenario.edits(30) == []
    assert real_scenario.edits(1) == []
    with pytest.raises(ValueError):
        real_scenario.directory_for(-1)


def test_scenario_leaves_the_base_untouched():
    base = build_directory(0)
    before = json.dumps(base.leistungen, sort_keys=True) + json.dumps(base.offices, sort_keys=True)
    scenario = Scenario(base)
    scenario.directory_for(7)
    after = json.dumps(base.leistungen, sort_keys=True) + json.dumps(base.offices, sort_keys=True)
    assert before == after
    assert scenario.directory_for(0) is base


# fault injection


DETAIL_PATH = f"/v6/servicedescriptions/{GEWERBE_ANMELDEN}/detail"


def test_fault_status_fires_times_then_recovers(pvog, http):
    pvog.inject("/v6/", "status", times=2, status=503)
    first = get(http, pvog, DETAIL_PATH, ars=JENA_ARS)
    assert first.status_code == 503
    assert first.headers["Content-Type"].startswith("text/html")
    assert get(http, pvog, DETAIL_PATH, ars=JENA_ARS).status_code == 503
    assert get(http, pvog, DETAIL_PATH, ars=JENA_ARS).status_code == 200


def test_fault_status_with_json_body_and_no_limit(pvog, http):
    pvog.inject("organisationunits/detail", "status")
    for _ in range(3):
        answer = get(http, pvog, "/v5/organisationunits/detail", q="S1600001.OE.20001")
        assert answer.status_code == 500
        assert answer.json()["status"] == 500
    pvog.clear_faults()
    assert get(http, pvog, "/v5/organisationunits/detail", q="S1600001.OE.20001").ok


def test_fault_malformed(pvog, http):
    pvog.inject(GEWERBE_ANMELDEN, "malformed", times=1)
    answer = get(http, pvog, DETAIL_PATH, ars=JENA_ARS)
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        json.loads(answer.content)
    assert get(http, pvog, DETAIL_PATH, ars=JENA_ARS).json()["id"] == GEWERBE_ANMELDEN


def test_fault_truncated(pvog, http):
    whole = get(http, pvog, DETAIL_PATH, ars=JENA_ARS).content
    pvog.inject("/v6/", "truncated", times=1)
    answer = get(http, pvog, DETAIL_PATH, ars=JENA_ARS)
    assert answer.status_code == 200
    assert int(answer.headers["Content-Length"]) == len(answer.content) < len(whole)
    assert whole.startswith(answer.content)
    with pytest.raises(ValueError):
        json.loads(answer.content)


def test_fault_maintenance(pvog, http):
    pvog.inject("/v7/", "maintenance")
    answer = get(http, pvog, f"/v7/servicedescriptions/{JENA_ARS}", page=0, size=20)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "Wartungsarbeiten" in answer.text


def test_fault_drop_field(pvog, http):
    pvog.inject("/v6/", "drop:onlineServiceLinks", times=1)
    pvog.inject("/v7/", "drop:totalElements", times=1)
    pvog.inject("/v1beta2/", "drop:nextPageToken", times=1)
    detail = get(http, pvog, DETAIL_PATH, ars=JENA_ARS).json()
    assert "onlineServiceLinks" not in detail and detail["id"] == GEWERBE_ANMELDEN
    listing = get(http, pvog, f"/v7/servicedescriptions/{JENA_ARS}", page=0, size=20).json()
    assert "totalElements" not in listing["serviceDescriptions"]
    assert listing["serviceDescriptions"]["content"]
    services = get(http, pvog, "/v1beta2/onlineservices", ars=JENA_ARS).json()
    assert "nextPageToken" not in services and services["onlineservices"]


def test_fault_empty_listing(pvog, http):
    pvog.inject("/v7/servicedescriptions", "empty", times=1)
    empty = get(http, pvog, f"/v7/servicedescriptions/{JENA_ARS}", page=0, size=20).json()
    assert empty["serviceDescriptions"]["content"] == []
    assert empty["serviceDescriptions"]["totalElements"] == 0
    again = get(http, pvog, f"/v7/servicedescriptions/{JENA_ARS}", page=0, size=20).json()
    assert again["serviceDescriptions"]["totalElements"] == 300


def test_first_matching_fault_wins(pvog, http):
    pvog.inject("/v6/", "status", times=1, status=502)
    pvog.inject("detail", "status", times=1, status=504)
    assert get(http, pvog, DETAIL_PATH, ars=JENA_ARS).status_code == 502
    assert get(http, pvog, DETAIL_PATH, ars=JENA_ARS).status_code == 504
    assert get(http, pvog, DETAIL_PATH, ars=JENA_ARS).status_code == 200


def test_unknown_fault_is_rejected(pvog):
    with pytest.raises(ValueError):
        pvog.inject("/v6/", "explode")
    with pytest.raises(ValueError):
        pvog.inject("/v6/", "drop:")


def test_a_churn_with_touch_all_moves_every_import_time_but_edits_only_its_share() -> None:
    from zufiwatch.sim import ChurnScenario, build_directory

    base = build_directory(200)
    churn = ChurnScenario(base, share=0.05, touch_all=True)
    day1 = churn.directory_for(1)
    edited = {edit.id for edit in churn.edits(1)}
    assert len(edited) == 10
    for lb_id, detail in day1.leistungen.items():
        before = base.leistungen[lb_id]
        assert detail["lastUpdate"] != before["lastUpdate"]
        assert detail["timestamp"] == detail["lastUpdate"]
        same = {k: v for k, v in detail.items() if k not in ("lastUpdate", "timestamp",
                                                              "externalLastUpdate")}
        was = {k: v for k, v in before.items() if k not in ("lastUpdate", "timestamp",
                                                            "externalLastUpdate")}
        assert (same != was) == (lb_id in edited), lb_id


def test_the_sim_command_line_names_the_edits_of_a_day() -> None:
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "zufiwatch.sim", "--size", "160",
                                "--churn", "0.05", "--touch-all"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdin and process.stdout
    try:
        assert process.stdout.readline().startswith("http://127.0.0.1:")
        process.stdin.write("edits 0\nday 1\nedits 1\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == ""
        assert process.stdout.readline().strip() == "ok 1"
        assert len(process.stdout.readline().split()) == 8
    finally:
        process.stdin.close()
        process.wait(timeout=60)
