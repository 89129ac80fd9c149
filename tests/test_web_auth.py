"""The web application's sign-in, security and actions, with the Flask test client over a
copy of the history the CLI tests build (the simulated scenario, days 0..7)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner, Result
from flask import Flask, g
from flask.testing import FlaskClient

from tests.conftest import FakeClock
from tests.test_cli import Built
from tests.test_cli import built as built
from zufiwatch import triage
from zufiwatch.cli import cli
from zufiwatch.config import Settings, WebSettings
from zufiwatch.errors import ConfigError
from zufiwatch.timeutil import ACCEPTED_FORMS
from zufiwatch.web import create_app
from zufiwatch.web.actions import retrying
from zufiwatch.web.users import add_user, remove_user

NOW = datetime(2026, 10, 9, 8, 0, tzinfo=UTC)  # after the fixture's last crawl
PASSWORD = "richtig-geheim-1"
KEY = "k" * 40


@dataclass
class Site:
    app: Flask
    client: FlaskClient
    clock: FakeClock
    database: Path
    users_file: Path

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--database", str(self.database), *args])

    def csrf(self) -> str:
        self.client.get("/anmelden")
        with self.client.session_transaction() as session:
            return str(session["csrf"])

    def sign_in(self, name: str, password: str = PASSWORD, **extra: str) -> Any:
        return self.client.post("/anmelden", data={
            "username": name, "password": password, "csrf_token": self.csrf(), **extra})

    def post(self, path: str, data: dict[str, Any]) -> Any:
        with self.client.session_transaction() as session:
            token = session["csrf"]
        return self.client.post(path, data={**data, "csrf_token": token})

    def events(self) -> list[dict[str, Any]]:
        result = self.cli("changes", "--json")
        assert result.exit_code == 0, result.output
        rows: list[dict[str, Any]] = json.loads(result.output)
        return rows


def make_site(tmp_path: Path, database: Path, **web: Any) -> Site:
    copy = tmp_path / "h.db"
    shutil.copy(database, copy)
    users_file = tmp_path / "users.json"
    add_user(users_file, "pruefer", PASSWORD)
    add_user(users_file, "leser", PASSWORD)
    web = {"users_file": str(users_file), "pruefer": ("pruefer",), "secure_cookies": False,
           **web}
    settings = Settings(database=copy, web=WebSettings(**web))
    clock = FakeClock(NOW)
    app = create_app(settings, clock=clock, secret_key=KEY.encode())
    app.config["TESTING"] = True

    @app.route("/probe")
    def probe() -> str:
        return f"{g.user} {g.role}"

    return Site(app, app.test_client(), clock, copy, users_file)


@pytest.fixture
def site(tmp_path: Path, built: Built) -> Site:
    return make_site(tmp_path, built.database)


# -- sign-in ------------------------------------------------------------------------------


def test_sign_in_and_out(site: Site) -> None:
    form = site.client.get("/anmelden?next=/probe")
    assert form.status_code == 200
    page = form.get_data(as_text=True)
    assert "Benutzername" in page and "Passwort" in page and 'name="csrf_token"' in page
    assert site.client.get("/probe").headers["Location"].startswith("/anmelden?next=/probe")
    before = site.csrf()
    signed = site.sign_in("pruefer", next="/probe")
    assert signed.status_code == 303 and signed.headers["Location"] == "/probe"
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Expires=" in cookie
    with site.client.session_transaction() as session:
        assert session["user"] == "pruefer" and session.permanent
        assert session["csrf"] != before  # a new session: no fixation
    assert site.client.get("/probe").get_data(as_text=True) == "pruefer pruefer"
    out = site.post("/abmelden", {})
    assert out.status_code == 303 and out.headers["Location"] == "/anmelden"
    with site.client.session_transaction() as session:
        assert "user" not in session
    assert site.client.get("/probe").status_code == 302


def test_secure_cookie_per_config(tmp_path: Path, built: Built) -> None:
    secure = make_site(tmp_path, built.database, secure_cookies=True)
    response = secure.client.get("/anmelden")
    assert "; Secure" in response.headers["Set-Cookie"]


def test_wrong_password_and_unknown_user(site: Site) -> None:
    for name, password in (("pruefer", "falsch-falsch"), ("niemand", PASSWORD)):
        refused = site.sign_in(name, password)
        assert refused.status_code == 401
        assert "Benutzername oder Passwort ist falsch." in refused.get_data(as_text=True)
        with site.client.session_transaction() as session:
            assert "user" not in session


def test_a_removed_user_is_signed_out(site: Site) -> None:
    site.sign_in("leser")
    assert site.client.get("/probe").status_code == 200
    remove_user(site.users_file, "leser")
    assert site.client.get("/probe").status_code == 302


def test_the_session_ends_after_eight_hours(site: Site) -> None:
    site.sign_in("leser")
    site.clock.advance(hours=7, minutes=59)
    assert site.client.get("/probe").status_code == 200
    site.clock.advance(minutes=1)
    assert site.client.get("/probe").status_code == 302


def test_lock_out_after_five_failures_and_release_after_fifteen_minutes(site: Site) -> None:
    for _ in range(5):
        assert site.sign_in("pruefer", "falsch-falsch").status_code == 401
        site.clock.advance(minutes=1)
    locked = site.sign_in("pruefer")  # the right password does not help now
    assert locked.status_code == 429
    assert "Zu viele fehlgeschlagene Anmeldungen" in locked.get_data(as_text=True)
    site.clock.advance(minutes=13, seconds=59)  # 14:59 after the last failure
    assert site.sign_in("pruefer").status_code == 429
    site.clock.advance(seconds=1)
    assert site.sign_in("pruefer").status_code == 303


def test_lock_out_per_address(site: Site) -> None:
    for number in range(5):
        assert site.sign_in(f"rater{number}", "falsch-falsch").status_code == 401
    assert site.sign_in("leser").status_code == 429
    elsewhere = site.app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    elsewhere.get("/anmelden")
    with elsewhere.session_transaction() as session:
        token = session["csrf"]
    assert elsewhere.post("/anmelden", data={"username": "leser", "password": PASSWORD,
                                             "csrf_token": token}).status_code == 303


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)", "probe"])
def test_no_open_redirect(site: Site, target: str) -> None:
    signed = site.sign_in("leser", next=target)
    assert signed.status_code == 303 and signed.headers["Location"] == "/"
    assert "evil" not in site.client.get(f"/anmelden?next={target}").get_data(as_text=True)


def test_rehashes_an_outdated_hash(site: Site) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    site.users_file.write_text(json.dumps({"users": {"leser": {"hash": weak}}}))
    assert site.sign_in("leser").status_code == 303
    stored = json.loads(site.users_file.read_text())["users"]["leser"]["hash"]
    assert stored != weak and not PasswordHasher().check_needs_rehash(stored)


# -- proxy ---------------------------------------------------------------------------------


def test_proxy_header_from_a_trusted_address(tmp_path: Path, built: Built) -> None:
    site = make_site(tmp_path, built.database, auth="proxy", pruefer=("amt\\pruefer",))
    client = site.client
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    answer = client.get("/probe", headers={"X-Remote-User": "amt\\pruefer"})
    assert answer.get_data(as_text=True) == "amt\\pruefer pruefer"
    other = client.get("/probe", headers={"X-Remote-User": "m.muster"})
    assert other.get_data(as_text=True) == "m.muster leser"
    assert client.get("/probe").status_code == 403  # no header: nobody signed in
    assert client.get("/anmelden?next=/probe").headers["Location"] == "/probe"


def test_proxy_header_from_elsewhere_is_refused(tmp_path: Path, built: Built) -> None:
    site = make_site(tmp_path, built.database, auth="proxy", pruefer=("pruefer",))
    site.client.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    refused = site.client.get("/probe", headers={"X-Remote-User": "pruefer"})
    assert refused.status_code == 403
    assert "Reverse-Proxy" in refused.get_data(as_text=True)


# -- CSRF and roles ------------------------------------------------------------------------


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(site: Site) -> None:
    site.sign_in("pruefer")
    ids = [str(e["id"]) for e in site.events()[:1]]
    for token in ({}, {"csrf_token": "falsch"}, {"csrf_token": ""}):
        refused = site.client.post("/aenderungen/quittieren", data={"id": ids, **token})
        assert refused.status_code == 403
        assert "Formular" in refused.get_data(as_text=True)
    site.client.get("/anmelden")
    assert site.client.post("/anmelden", data={"username": "pruefer",
                                               "password": PASSWORD}).status_code == 403
    assert site.client.post("/abmelden").status_code == 403
    assert all(e["status"] != "acknowledged" for e in site.events())


def test_a_leser_cannot_act(site: Site) -> None:
    site.sign_in("leser")
    ids = [str(e["id"]) for e in site.events()[:1]]
    refused = site.post("/aenderungen/quittieren", {"id": ids})
    assert refused.status_code == 403 and "Prüfer" in refused.get_data(as_text=True)
    assert site.post("/erwartungen", {"key": "x"}).status_code == 403
    assert site.post("/erwartungen/1/zuruecknehmen", {}).status_code == 403


# -- actions -------------------------------------------------------------------------------


def verified(site: Site) -> None:
    result = site.cli("verify")
    assert result.exit_code == 0, result.output


def test_a_pruefer_acknowledges_two_events(site: Site) -> None:
    site.sign_in("pruefer")
    first, second = [e["id"] for e in site.events() if e["status"] == "untracked"][:2]
    done = site.post("/aenderungen/quittieren", {"id": [str(first), str(second)],
                                                 "note": "mit Fachdienst abgestimmt",
                                                 "next": "/probe?seite=2"})
    assert done.status_code == 303 and done.headers["Location"] == "/probe?seite=2"
    with site.client.session_transaction() as session:
        assert ("erfolg", "2 Änderung(en) quittiert.") in session["_flashes"]
    status = {e["id"]: e["status"] for e in site.events()}
    assert status[first] == status[second] == "acknowledged"
    with sqlite3.connect(site.database) as conn:
        rows = conn.execute("SELECT DISTINCT a.by, a.note FROM acknowledgements a JOIN changes c "
                            "ON c.id = a.change_id WHERE c.event_id IN (?, ?)",
                            [first, second]).fetchall()
    assert rows == [("pruefer", "mit Fachdienst abgestimmt")]
    verified(site)


def test_unknown_ids_are_a_german_400(site: Site) -> None:
    site.sign_in("pruefer")
    unknown = site.post("/aenderungen/quittieren", {"id": ["999999"]})
    assert unknown.status_code == 400
    assert "Keine Änderung mit der Nummer 999999" in unknown.get_data(as_text=True)
    assert site.post("/aenderungen/quittieren", {"id": ["zwölf"]}).status_code == 400
    assert site.post("/aenderungen/quittieren", {"note": "x"}).status_code == 400


def a_key(site: Site) -> str:
    result = site.cli("state", "--at", "now", "--kind", "leistung", "--json")
    key: str = json.loads(result.output)[0]["key"]
    return key


def test_expect_records_and_refuses_a_wrong_field_or_date(site: Site) -> None:
    site.sign_in("pruefer")
    key = a_key(site)
    wrong = site.post("/erwartungen", {"key": key, "field": "Lieblingsfarbe",
                                       "value": "blau", "until": "31.12.2026"})
    assert wrong.status_code == 400 and "Lieblingsfarbe" in wrong.get_data(as_text=True)
    bad_date = site.post("/erwartungen", {"key": key, "field": "Volltext", "value": "neu",
                                          "until": "bald"})
    assert bad_date.status_code == 400
    assert ACCEPTED_FORMS.split(",")[0] in bad_date.get_data(as_text=True)
    made = site.post("/erwartungen", {"key": key, "field": "Volltext", "value": "neu",
                                      "until": "31.12.2026", "note": "Ticket 1",
                                      "next": "/probe"})
    assert made.status_code == 303 and made.headers["Location"] == "/probe"
    listed = json.loads(site.cli("expectations", "--json").output)
    assert [(e["key"], e["by"], e["note"], e["until"][:10]) for e in listed] == [
        (key, "pruefer", "Ticket 1", "2026-12-31")]
    verified(site)


def test_withdraw_an_expectation(site: Site) -> None:
    site.sign_in("pruefer")
    site.post("/erwartungen", {"key": a_key(site), "field": "Volltext", "value": "neu",
                               "until": "31.12.2026"})
    number = json.loads(site.cli("expectations", "--json").output)[0]["id"]
    done = site.post(f"/erwartungen/{number}/zuruecknehmen", {"note": "abgesagt"})
    assert done.status_code == 303
    listed = json.loads(site.cli("expectations", "--status", "withdrawn", "--json").output)
    assert [(e["id"], e["status"]) for e in listed] == [(number, "withdrawn")]
    with sqlite3.connect(site.database) as conn:
        assert conn.execute("SELECT expectation_id, by, note FROM withdrawals").fetchall() == [
            (number, "pruefer", "abgesagt")]
        assert conn.execute("SELECT event FROM ledger ORDER BY id DESC LIMIT 1").fetchone() == (
            "withdrawal",)
    verified(site)
    again = site.post(f"/erwartungen/{number}/zuruecknehmen", {})
    assert again.status_code == 400 and "withdrawn" in again.get_data(as_text=True)
    assert site.post("/erwartungen/424242/zuruecknehmen", {}).status_code == 400
    with sqlite3.connect(site.database) as conn:
        conn.execute("UPDATE withdrawals SET note = 'anders'")
    assert site.cli("verify").exit_code == 1


def test_withdraw_on_the_command_line(site: Site) -> None:
    made = site.cli("expect", a_key(site), "--field", "Volltext", "--until", "2099-01-01",
                    "--by", "M. Muster")
    assert made.exit_code == 0, made.output
    assert site.cli("withdraw", "1", "--by", "M. Muster", "--note", "x").output == (
        "expectation 1 withdrawn\n")
    assert "withdrawn" in site.cli("expectations").output
    assert site.cli("withdraw", "1", "--by", "M. Muster").exit_code == 1
    verified(site)


def test_a_write_on_a_busy_database_is_retried(site: Site, monkeypatch) -> None:
    real = triage.acknowledge
    calls: list[int] = []

    def busy_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(triage, "acknowledge", busy_once)
    site.sign_in("pruefer")
    first = next(e["id"] for e in site.events() if e["status"] == "untracked")
    assert site.post("/aenderungen/quittieren", {"id": [str(first)]}).status_code == 303
    assert len(calls) == 2
    assert {e["id"]: e["status"] for e in site.events()}[first] == "acknowledged"


def test_retrying_gives_up_and_ignores_other_errors() -> None:
    tries: list[int] = []

    def always_busy() -> None:
        tries.append(1)
        raise sqlite3.OperationalError("database is busy")

    with pytest.raises(sqlite3.OperationalError):
        retrying(always_busy)
    assert len(tries) == 5

    def broken() -> None:
        tries.append(1)
        raise sqlite3.OperationalError("no such table: events")

    tries.clear()
    with pytest.raises(sqlite3.OperationalError):
        retrying(broken)
    assert len(tries) == 1


# -- secrets -------------------------------------------------------------------------------


def test_secret_and_password_never_in_the_log(tmp_path: Path, built: Built,
                                              monkeypatch, caplog) -> None:
    secret = "s3cr3t-" + "x" * 40
    monkeypatch.setenv("ZUFIWATCH_WEB_KEY", secret)
    caplog.set_level(logging.DEBUG)
    users_file = tmp_path / "users.json"
    add_user(users_file, "pruefer", PASSWORD)
    settings = Settings(database=built.database, web=WebSettings(
        users_file=str(users_file), secret_key_env="ZUFIWATCH_WEB_KEY", secure_cookies=False))
    app = create_app(settings, clock=FakeClock(NOW))
    assert app.config["SECRET_KEY"] == secret.encode()
    client = app.test_client()
    client.get("/anmelden")
    for password in ("falsch-geheim-9", PASSWORD):
        with client.session_transaction() as session:
            token = session["csrf"]
        client.post("/anmelden", data={"username": "pruefer", "password": password,
                                       "csrf_token": token})
    assert "signed in" in caplog.text and "failed sign-in" in caplog.text
    for leak in (secret, PASSWORD, "falsch-geheim-9", "$argon2"):
        assert leak not in caplog.text


def test_a_configured_secret_key_that_cannot_be_read_stops_the_start(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    settings = Settings(database=tmp_path / "h.db",
                        web=WebSettings(secret_key_credential="web-secret"))
    with pytest.raises(ConfigError, match=r"web\.secret_key_credential"):
        create_app(settings)
    monkeypatch.setenv("KURZ", "zu-kurz")
    with pytest.raises(ConfigError, match="too short"):
        create_app(Settings(database=tmp_path / "h.db",
                            web=WebSettings(secret_key_env="KURZ")))
    assert len(create_app(Settings(database=tmp_path / "h.db")).config["SECRET_KEY"]) == 32


# -- the command line ----------------------------------------------------------------------


def config_file(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "zufiwatch.toml"
    config.write_text(f'database = "h.db"\n[web]\nusers_file = "users.json"\n'
                      f'pruefer = ["mmuster"]\n{extra}', encoding="utf-8")
    return config


def test_user_add_passwd_remove_list(tmp_path: Path) -> None:
    config = config_file(tmp_path)

    def run(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(cli, ["--config", str(config), "user", *args], input=stdin)

    added = run("add", "mmuster", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert run("add", "lleser", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    assert run("add", "mmuster", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 1
    assert run("add", "kurz", "--password-stdin", stdin="kurz\n").exit_code == 1
    assert run("add", "böse name", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 1
    users_file = tmp_path / "users.json"
    assert stat.S_IMODE(os.stat(users_file).st_mode) == 0o600
    data = json.loads(users_file.read_text())
    assert sorted(data["users"]) == ["lleser", "mmuster"]
    assert all(set(e) == {"hash"} and e["hash"].startswith("$argon2id$")
               for e in data["users"].values())
    assert PASSWORD not in users_file.read_text()
    old = data["users"]["mmuster"]["hash"]
    changed = run("passwd", "mmuster", "--password-stdin", stdin="ganz-neu-geheim\n")
    assert changed.exit_code == 0 and "ganz-neu-geheim" not in changed.output
    new = json.loads(users_file.read_text())["users"]["mmuster"]["hash"]
    assert new != old and PasswordHasher().verify(new, "ganz-neu-geheim")
    assert stat.S_IMODE(os.stat(users_file).st_mode) == 0o600
    assert run("passwd", "niemand", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 1
    listed = run("list")
    assert listed.output == "lleser\tleser\nmmuster\tpruefer\n"
    assert run("remove", "lleser").exit_code == 0
    assert run("remove", "lleser").exit_code == 1
    assert run("list").output == "mmuster\tpruefer\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_user_add_prompts_twice_without_echo(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    added = CliRunner().invoke(cli, ["--config", str(config), "user", "add", "mmuster"],
                               input=f"{PASSWORD}\n{PASSWORD}\n")
    assert added.exit_code == 0, added.output
    assert PASSWORD not in added.output and "Password" in added.output


def test_serve_checks_the_configuration_and_starts_waitress(tmp_path: Path,
                                                            monkeypatch) -> None:
    import waitress

    served: list[dict[str, Any]] = []

    class Server:
        def __init__(self, app: Any, **options: Any) -> None:
            served.append({"app": app, **options})

        def run(self) -> None:
            served[-1]["ran"] = True

    monkeypatch.setattr(waitress, "create_server", Server)
    config = config_file(tmp_path)

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(config), "serve", *args])

    empty = run()
    assert empty.exit_code == 1 and "zufiwatch user add" in empty.output and not served
    add_user(tmp_path / "users.json", "mmuster", PASSWORD)
    assert run("--listen", "nirgends").exit_code == 1
    started = run("--listen", "127.0.0.1:8999")
    assert started.exit_code == 0, started.output
    assert "http://127.0.0.1:8999/" in started.output
    assert served[0]["listen"] == "127.0.0.1:8999" and served[0]["threads"] == 8
    assert isinstance(served[0]["app"], Flask) and served[0]["ran"]


def test_check_config_names_the_web_sign_in_and_session_key(tmp_path: Path,
                                                            monkeypatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    config = config_file(tmp_path, 'secret_key_credential = "web-secret"\n')

    def check(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(config), "check-config", *args])

    said = check()
    assert said.exit_code == 0, said.output
    assert f"web sign-in: user file {tmp_path / 'users.json'} (0 user(s)" in said.output
    assert "web session key: from the systemd credential 'web-secret'" in said.output
    strict = check("--strict")
    assert strict.exit_code == 1 and "web.secret_key_credential" in strict.output
    (tmp_path / "creds").mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    other_unit = check("--strict")  # the crawl or daemon unit: it does not load the key
    assert other_unit.exit_code == 0, other_unit.output
    assert "'web-secret' is not loaded in this unit" in other_unit.output
    (tmp_path / "creds" / "web-secret").write_text("y" * 40)
    found = check("--strict")
    assert "web session key: found (not shown)" in found.output and "y" * 40 not in found.output
    proxy = config_file(tmp_path, 'auth = "proxy"\n')
    assert "web sign-in: reverse proxy header X-Remote-User, trusted from 127.0.0.1, ::1" in (
        CliRunner().invoke(cli, ["--config", str(proxy), "check-config"]).output)
    assert "a random key per start" in CliRunner().invoke(
        cli, ["--config", str(proxy), "check-config"]).output


def test_lock_out_is_relative_to_the_injected_clock_only() -> None:
    from zufiwatch.web.ratelimit import Throttle

    throttle, start = Throttle(), datetime(2026, 1, 1, tzinfo=UTC)
    for minute in range(0, 20, 4):  # five failures over 16 minutes: never five in 15
        throttle.fail(["user:a"], start + timedelta(minutes=minute))
    assert not throttle.blocked(["user:a"], start + timedelta(minutes=16))
