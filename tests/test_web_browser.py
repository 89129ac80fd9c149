"""The web application in headless Chromium, as the working group uses it: on the demo's
history, served by waitress on 127.0.0.1, driven by Playwright with the system's Chromium
(Debian package chromium; .ci/run installs it).

A pruefer signs in, filters the changes, opens a record and the difference between two of
its versions, acknowledges a change with a note (which `zufiwatch changes` and the
evidence chain then show) and signs out; a leser sees no action and cannot act; a form
without its token is refused. At 1280 × 800 the first screen of the start page, a
Leistung, the link go/a/5741 and an office shows what the working group needs.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import waitress
from click.testing import CliRunner

from tests.conftest import run_until_closed
from zufiwatch.cli import cli
from zufiwatch.config import Settings, WebSettings
from zufiwatch.demo import run_demo
from zufiwatch.web import create_app
from zufiwatch.web.users import add_user

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed (Debian package chromium; .ci/run "
    "installs it)")

NOW = datetime(2026, 9, 29, 12, 0, tzinfo=UTC)
GERA = "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc"
PASSWORD = "richtig-geheim-1"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]




@dataclass
class Site:
    base: str
    database: Path
    browser: object


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("browser")
    run_demo(days=7, size=150, keep=root, echo=lambda line: None)
    users = root / "users.json"
    add_user(users, "m.muster", PASSWORD)
    add_user(users, "l.leser", PASSWORD)
    settings = Settings(database=root / "zufiwatch.db", web=WebSettings(
        users_file=str(users), pruefer=("m.muster",), secure_cookies=False))
    app = create_app(settings, clock=lambda: NOW, secret_key=b"browser-test" * 3)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=run_until_closed, args=(server,), daemon=True).start()
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield Site(f"http://127.0.0.1:{server.effective_port}", root / "zufiwatch.db",
                       browser)
        finally:
            browser.close()
            server.close()


def new_page(site: Site):  # a Playwright page
    return site.browser.new_page(viewport={"width": 1280, "height": 800})  # type: ignore


def sign_in(page, site: Site, name: str) -> None:
    page.goto(site.base + "/")
    assert "/anmelden" in page.url
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    assert page.url == site.base + "/", page.url


def cli_json(site: Site, *args: str) -> object:
    result = CliRunner().invoke(cli, ["--database", str(site.database), *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_pruefer_filters_opens_compares_acknowledges_and_signs_out(site: Site) -> None:
    page = new_page(site)
    sign_in(page, site, "m.muster")
    assert page.locator("h1").first.inner_text() == "Offene Änderungen dieser Woche"
    # Filter: critical changes only.
    page.goto(site.base + "/aenderungen")
    page.select_option("select[name=schwere]", "critical")
    page.click("form.filters button[type=submit]")
    assert "schwere=critical" in page.url
    rows = page.locator("tr.event")
    assert rows.count() > 0
    assert set(rows.locator(".sev").all_inner_texts()) == {"kritisch"}
    # Open a record, compare its two versions.
    page.goto(site.base + "/aenderungen")
    page.click("tr.event a:text-is('Geburtsurkunde beantragen')")
    assert "/eintrag/leistung" in page.url and "354790" in page.url
    page.click("button:text-is('Unterschied zeigen')")
    assert "von=" in page.url and "bis=" in page.url
    assert "go/a/5741" in page.content() and "go/a/1273" in page.content()
    # Acknowledge the link change with a note.
    page.goto(site.base + "/eintrag/leistung:354790")
    page.check("tr.event input[type=checkbox] >> nth=0")
    event = int(page.locator("tr.event input[type=checkbox]").first.get_attribute("value"))
    page.fill("#ack-form input[name=note]", "Gera-Link mit dem Standesamt geklärt")
    page.click("#ack-form button[type=submit]")
    assert "quittiert" in page.locator(".flash").first.inner_text()
    (changed,) = [e for e in cli_json(site, "changes") if e["id"] == event]  # type: ignore
    assert changed["status"] == "acknowledged"
    ledger = CliRunner().invoke(cli, ["--database", str(site.database), "verify"])
    assert ledger.exit_code == 0 and "intact" in ledger.output
    import sqlite3

    with sqlite3.connect(site.database) as db:
        acks = db.execute(
            "SELECT a.by, a.note FROM acknowledgements a JOIN changes c ON c.id = a.change_id "
            "WHERE c.event_id = ?", [event]).fetchall()
        chained = db.execute("SELECT count(*) FROM ledger WHERE event = 'acknowledgement' AND "
                             "ref IN (SELECT a.id FROM acknowledgements a JOIN changes c ON "
                             "c.id = a.change_id WHERE c.event_id = ?)", [event]).fetchone()
    assert acks and set(acks) == {("m.muster", "Gera-Link mit dem Standesamt geklärt")}
    assert chained[0] == len(acks)
    # Sign out: the pages need a sign-in again.
    page.click("header form button:text-is('Abmelden')")
    assert "/anmelden" in page.url
    page.goto(site.base + "/aenderungen")
    assert "/anmelden" in page.url


def test_a_leser_sees_no_action_and_a_form_without_its_token_is_refused(site: Site) -> None:
    page = new_page(site)
    sign_in(page, site, "l.leser")
    page.goto(site.base + "/eintrag/leistung:354790")
    assert page.locator("#ack-form").count() == 0
    assert page.locator("input[type=checkbox]").count() == 0
    refused = page.request.post(site.base + "/aenderungen/quittieren",
                                form={"id": "1", "note": "x"})
    assert refused.status == 403  # no CSRF token
    # With the session's token the leser is still not allowed to act.
    page.goto(site.base + "/")
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forbidden = page.request.post(site.base + "/aenderungen/quittieren",
                                  form={"id": "1", "note": "x", "csrf_token": csrf or ""})
    assert forbidden.status == 403
    assert "Nur Prüferinnen und Prüfer" in forbidden.text()
    assert "Das Formular ist abgelaufen" in refused.text()


@pytest.mark.parametrize(("path", "needed"), [
    ("/", ["Offene Änderungen dieser Woche", "Fachdienst Soziales", "Landratsamt Saale-"]),
    ("/eintrag/leistung:354790", ["Zuständige Stelle", "Standesamt Jena", "go/a/5741",
                                  "Stadtverwaltung Gera"]),
    (f"/link?url={quote(GERA, safe='')}", ["Stadtverwaltung Gera",
                                           "Geburtsurkunde beantragen"]),
    ("/eintrag/organisationseinheit:20006", ["Standesamt Jena", "Telefon: +49 3641 49-2255",
                                             "Zuständig für"]),
])
def test_the_first_screen_shows_what_the_working_group_needs(site: Site, path: str,
                                                             needed: list[str]) -> None:
    page = new_page(site)
    sign_in(page, site, "l.leser")
    page.goto(site.base + path)
    for text in needed:
        box = page.get_by_text(text, exact=False).first.bounding_box()
        assert box is not None, text
        assert box["y"] + box["height"] <= 800, f"{text!r} below the first screen: {box}"
