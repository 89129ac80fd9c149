"""The pages of ``zufiwatch serve`` over the demo's history (Flask test client)."""

from __future__ import annotations

import html
import json
import re
import shutil
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from zufiwatch.config import Settings, WebSettings
from zufiwatch.demo import run_demo
from zufiwatch.model import Change, ChangeType, Outcome, canonical_json
from zufiwatch.store import CommitPlan, History, NewVersion
from zufiwatch.timeutil import stored
from zufiwatch.triage import expect
from zufiwatch.web import create_app
from zufiwatch.web import views as web_views

NOW = datetime(2026, 9, 29, 12, 0, tzinfo=UTC)
PRUEFER = "m.muster"
LESER = "l.leser"
SCRIPT = "<script>alert(1)</script>"
EVIL_URL = "javascript:alert(1)"
GERA = "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keep = tmp_path_factory.mktemp("demo")
    run_demo(days=7, size=150, keep=keep, echo=lambda line: None)
    return keep / "zufiwatch.db"


def _app(database: Path, now: datetime = NOW) -> Flask:
    app = create_app(Settings(web=WebSettings(pruefer=(PRUEFER,))), database=database,
                     clock=lambda: now, secret_key=b"k" * 32)
    app.testing = True
    return app


def _client(database: Path, user: str | None, now: datetime = NOW) -> FlaskClient:
    client = _app(database, now).test_client()
    if user:
        with client.session_transaction() as session:
            session["user"] = user
    return client


@pytest.fixture(scope="module")
def pruefer(demo_db: Path) -> FlaskClient:
    return _client(demo_db, PRUEFER)


@pytest.fixture(scope="module")
def leser(demo_db: Path) -> FlaskClient:
    return _client(demo_db, LESER)


def _page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def _text(page: str) -> str:
    """The page's visible text, tags removed, entities decoded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _section(page: str, start: str, end: str | None = None) -> str:
    begin = page.index(start)
    return page[begin:page.index(end, begin)] if end else page[begin:]


def test_not_signed_in_is_sent_to_sign_in(demo_db: Path) -> None:
    client = _client(demo_db, None)
    for url in ("/", "/aenderungen", "/eintrag/leistung:354790", "/feed.atom"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/anmelden" in response.headers["Location"]


def test_start_page_lists_this_weeks_open_changes_by_office_most_severe_first(
        pruefer: FlaskClient, demo_db: Path) -> None:
    page = _page(pruefer, "/")
    text = _text(page)
    assert "Offene Änderungen dieser Woche" in text
    for nav in ("Start", "Änderungen", "Erwartungen", "Crawls", "Abmelden", PRUEFER):
        assert nav in text
    assert 'href="/feed.atom"' in page and 'href="/export/aenderungen.csv"' in page
    office = _text(_section(page, "<h2>Standesamt Jena", "</section>"))
    # old → new of the fee and the phone number, the Gera link first (critical)
    assert "50,00 EUR → 55,00 EUR" in office
    assert "Telefon: +49 3641 49-2250 → Telefon: +49 3641 49-2255" in office
    assert office.index("go/a/5741") < office.index("55,00 EUR")
    assert office.index("kritisch") < office.index("mittel")
    assert "Geburtsurkunde beantragen" in office and "im PVOG angekommen" in office
    # groups: every office with a critical change before those with only high ones
    headings = re.findall(r"<h2>([^<]+?) <span", page)
    assert headings.index("Standesamt Jena") < headings.index("Gewerbeamt")
    # the changed words are marked
    assert "<del>50,00</del>" in page and "<ins>55,00</ins>" in page
    # the sources and the disagreement
    assert "Quellen" in text and "Letzter vollständiger Crawl" in text
    disagreements = _text(_section(page, "ZuFi und PVOG widersprechen sich", "</table>"))
    assert "Gewerbe anmelden" in disagreements and "Gewerbeamt" in disagreements
    assert "gewerbeanmeldung-flow" in disagreements
    # a month later nothing is from this week, and every source is stale
    later = _text(_page(_client(demo_db, PRUEFER, datetime(2026, 10, 29, tzinfo=UTC)), "/"))
    assert "Keine offenen Änderungen in den letzten 7 Tagen" in later
    assert "veraltet" in later


def _event_numbers(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td class="nr">(\d+)</td>', page)]


def test_changes_filters_and_paging(pruefer: FlaskClient,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert sorted(_event_numbers(_page(pruefer, "/aenderungen"))) == list(range(1, 12))
    critical = _page(pruefer, "/aenderungen?schwere=critical")
    assert sorted(_event_numbers(critical)) == [1, 6, 9, 11]
    at_least_high = _event_numbers(_page(pruefer, "/aenderungen?schwere=high"))
    assert set(at_least_high) == {1, 2, 3, 4, 6, 8, 9, 11}
    assert set(_event_numbers(_page(pruefer, "/aenderungen?stelle=gewerbeamt"))) == {3, 10}
    assert _event_numbers(_page(pruefer, "/aenderungen?art=organisationseinheit")) == [5]
    assert set(_event_numbers(_page(
        pruefer, "/aenderungen?seit=27.09.2026&bis=2026-09-27"))) == {7, 8, 9}
    assert _event_numbers(_page(pruefer, "/aenderungen?status=acknowledged")) == []
    assert len(_event_numbers(_page(pruefer, "/aenderungen?status=untracked"))) == 11
    assert set(_event_numbers(_page(pruefer, "/aenderungen?quelle=links-sim"))) >= {6, 8}

    monkeypatch.setattr(web_views, "PAGE_SIZE", 4)
    first = _page(pruefer, "/aenderungen")
    assert _event_numbers(first) == [11, 10, 9, 8]
    assert "Seite 1 von 3" in first and "seite=2" in first
    last = _page(pruefer, "/aenderungen?schwere=low&seite=3")
    assert _event_numbers(last) == [3, 2, 1] and "nächste Seite" not in last


def test_an_invalid_date_is_a_400_with_the_accepted_forms(pruefer: FlaskClient) -> None:
    text = _text(_page(pruefer, "/aenderungen?seit=letzten%20Dienstag", 400))
    assert "„letzten Dienstag“ ist keine Zeitangabe" in text
    for form in ("15.12.2026", "2026-12-15", "heute", "7d"):
        assert form in text
    _page(pruefer, "/eintrag/leistung:354790?stand=bald", 400)


def test_record_page_shows_content_first_then_changes_and_versions(
        pruefer: FlaskClient) -> None:
    page = _page(pruefer, "/eintrag/leistung:354790")
    content = _section(page, 'id="inhalt"', 'id="versionen"')
    text = _text(content)
    assert "Zuständige Stelle: Standesamt Jena" in text
    assert GERA in text and "(ThAVEL go/a/5741)" in text
    assert "Stadtverwaltung Gera" in text and "erreichbar" in text
    assert "Gebühr: 10,00 EUR" in text and "Bearbeitungsdauer" in text
    assert page.index("Stadtverwaltung Gera") < page.index('id="versionen"')
    assert f'href="{GERA}"' in page
    # the edit with its reasons
    changes = _text(_section(page, 'id="aenderungen"', 'id="versionen"'))
    assert "Online-Dienst › Link" in changes and "ThAVEL-Antrag einer anderen Stelle" in changes
    # no hash or parser outside the folded technical section
    before = page[:page.index("Technisches")]
    assert "tsa-2" not in before and not re.search(r"[0-9a-f]{64}", before)


def _version_ids(page: str) -> list[int]:
    """The version ids the "Unterschied von" select offers, oldest first."""
    select = re.search(r'<select name="von">(.*?)</select>', page, re.S)
    assert select is not None
    return [int(n) for n in re.findall(r'<option value="(\d+)"', select.group(1))]


def test_record_page_compares_two_versions_and_shows_a_past_state(
        pruefer: FlaskClient) -> None:
    page = _page(pruefer, "/eintrag/leistung:354790")
    ids = _version_ids(page)
    assert len(ids) >= 2
    diff = _page(pruefer, f"/eintrag/leistung:354790?von={ids[0]}&bis={ids[-1]}")
    section = _section(diff, "<h3>Unterschied</h3>", "</table>")
    assert "go/a/1273" in section and "go/a/5741" in section
    assert re.search(r"<del>[^<]*go/a/1273", section)
    assert re.search(r"<ins>[^<]*go/a/5741", section)
    _page(pruefer, f"/eintrag/leistung:354790?von={ids[0]}&bis=999999", 400)

    past = _page(pruefer, "/eintrag/leistung:354790?stand=22.09.2026")
    shown = _text(_section(past, 'id="inhalt"', 'id="aenderungen"'))
    assert "Stand am 22.09.2026 23:59" in shown
    assert "go/a/1273" in shown and "go/a/5741" not in shown


def test_office_page_lists_the_leistungen_it_is_responsible_for(
        pruefer: FlaskClient) -> None:
    page = _page(pruefer, "/eintrag/organisationseinheit:20006")
    text = _text(_section(page, 'id="inhalt"', "<h3>Zuständig für</h3>"))
    assert "Telefon: +49 3641 49-2255" in text and "Kanal" not in text
    duties = _text(_section(page, "<h3>Zuständig für</h3>", "</section>"))
    assert "Geburtsurkunde beantragen" in duties
    assert "Ehefähigkeitszeugnis ausstellen" in duties
    assert "Gewerbe anmelden" not in duties


def test_link_page_names_the_authority_and_the_leistung_using_it(
        pruefer: FlaskClient) -> None:
    page = _page(pruefer, "/link?url=" + GERA.replace("?", "%3F").replace("=", "%3D"))
    text = _text(page)
    assert "Stadtverwaltung Gera" in text
    assert "Geburtsurkunde beantragen" in text and "Standesamt Jena" in text
    assert "erreichbar" in text and "go-a-5741/start" in text
    assert _event_numbers(page) == [1]
    _page(pruefer, "/link?url=https://example.org/nie", 404)


def test_unknown_key_is_a_german_404(pruefer: FlaskClient) -> None:
    text = _text(_page(pruefer, "/eintrag/leistung:000000", 404))
    assert "Nicht gefunden" in text and "„leistung:000000“" in text


def test_feed_and_csv_export_answer(pruefer: FlaskClient) -> None:
    response = pruefer.get("/feed.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.data)
    entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 11
    csv = pruefer.get("/export/aenderungen.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    body = csv.data.decode("utf-8")
    assert body.startswith("\ufeff") and "Bezeichnung" in body.splitlines()[0]
    assert "Geburtsurkunde beantragen" in body and "29.09.2026" not in body.splitlines()[0]


@pytest.fixture(scope="module")
def marked(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo's history with markup and a javascript: link in a Leistung's
    name, link and a new value, and one expectation."""
    database = tmp_path_factory.mktemp("marked") / "zufiwatch.db"
    shutil.copy(demo_db, database)
    history = History(database)
    try:
        key = "leistung:354790"
        record = history.find_record(key)
        content = json.loads(history.versions(record["id"])[-1]["content"])
        old_name = content["name"]
        content["name"] = SCRIPT
        content["onlinedienste"] = [{"url": EVIL_URL, "titel": f"Titel {SCRIPT}"}]
        at = stored(datetime(2026, 9, 29, 11, tzinfo=UTC))
        crawl = history.begin_crawl("zufi-jena-sim", at, "tsa-2")
        plan = CommitPlan(
            new_versions=[NewVersion(key, "leistung", SCRIPT, "injected-hash",
                                     canonical_json(content), "{}")],
            changes=[(key, Change(ChangeType.MODIFIED, "name", "Name der Leistung",
                                  old_name, SCRIPT)),
                     (key, Change(ChangeType.MODIFIED, "onlinedienste[0].url",
                                  "Online-Dienst › Link", GERA, EVIL_URL))],
            annotations=[{"severity": "critical", "reasons": [SCRIPT],
                          "status": "untracked"}] * 2,
            seen=[key])
        history.commit_crawl(crawl, "zufi-jena-sim", at, "tsa-2", plan,
                             outcome=Outcome.COMPLETE, finished_at=at, reason=SCRIPT,
                             stats={})
        expect(history, key=key, field="Name der Leistung", value=SCRIPT,
               until=datetime(2026, 10, 30, tzinfo=UTC), by=PRUEFER, note=SCRIPT, now=NOW)
    finally:
        history.close()
    return database


MARKED_PAGES = ("/", "/aenderungen", "/eintrag/leistung:354790",
                "/eintrag/leistung:354790?stand=29.09.2026", "/erwartungen", "/crawls",
                "/eintrag/organisationseinheit:20006", "/link?url=javascript:alert(1)")


def test_crawled_markup_is_escaped_and_javascript_urls_are_never_links(marked: Path) -> None:
    client = _client(marked, PRUEFER)
    for url in MARKED_PAGES:
        page = _page(client, url)
        assert "<script" not in page.lower(), url
        assert not re.search(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", page, re.I), url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _page(client, "/eintrag/leistung:354790")
    assert EVIL_URL in _text(_page(client, "/link?url=javascript:alert(1)"))
    feed = client.get("/feed.atom").get_data(as_text=True)
    assert "<script" not in feed and "&lt;script&gt;" in feed


def _post_forms(page: str) -> list[str]:
    return re.findall(r'<form[^>]*method="post".*?</form>', page, re.S)


def test_a_leser_sees_no_action_forms_a_pruefer_does_each_with_csrf(marked: Path) -> None:
    reader, checker = _client(marked, LESER), _client(marked, PRUEFER)
    for url in ("/", "/aenderungen", "/eintrag/leistung:354790", "/erwartungen",
                "/link?url=" + GERA.replace("?", "%3F").replace("=", "%3D")):
        forms = _post_forms(_page(reader, url))
        assert [f for f in forms if "Abmelden" not in f] == [], url
        assert "Leser/in" in _page(reader, url)
        assert 'type="checkbox"' not in _page(reader, url)
    actions = {
        "/": "/aenderungen/quittieren", "/aenderungen": "/aenderungen/quittieren",
        "/erwartungen": "/zuruecknehmen",
    }
    for url, action in actions.items():
        forms = _post_forms(_page(checker, url))
        assert any(action in f for f in forms), url
        for form in forms:
            assert 'name="csrf_token"' in form, url
            assert 'name="next"' in form or "Abmelden" in form, url
    record = _page(checker, "/eintrag/leistung:354790")
    forms = _post_forms(record)
    expect_form = next(f for f in forms if 'name="field"' in f)
    assert 'name="key" value="leistung:354790"' in expect_form
    assert "<option value=\"Gebühren" in expect_form and 'name="until"' in expect_form
    assert any("/aenderungen/quittieren" in f for f in forms)
    assert all('name="csrf_token"' in f for f in forms)
    assert 'name="id" value="1"' in _page(checker, "/")


def test_expectations_register_and_crawls_with_the_health_line(marked: Path) -> None:
    reader = _client(marked, LESER)
    register = _text(_section(_page(reader, "/erwartungen"), "<table>", "</table>"))
    assert "Name der Leistung" in register and "offen" in register
    assert PRUEFER in register and "30.10.2026" in register
    crawls = _page(reader, "/crawls")
    assert "ZUFIWATCH" in _text(crawls) and "Link-Prüfung" in _text(crawls)
    assert "vollständig" in _text(crawls) and len(re.findall(r"<tr><td>\d+</td>", crawls)) > 20
