"""SMTP delivery against a real server on 127.0.0.1: TLS, login, refusals, outages, secrets."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.smtp_server import SmtpServer
from zufiwatch.config import SmtpSettings
from zufiwatch.errors import ConfigError, ZufiwatchError
from zufiwatch.notify.smtp import DeliveryError, SmtpTransport, load_password

USER = "zufiwatch"
PASSWORD = "Sehr-Geheim-4711"
SUBJECT = "Änderung an Gebühren"
BODY = "Die Gebühr für den Anwohnerparkausweis ändert sich: 30,70 € → 45,00 €.\n"


def make_message(to: str = "AG OZG <ag-ozg@jena.de>", cc: str = "ops@jena.de") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "zufiwatch <zufiwatch@jena.de>"
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = SUBJECT
    message.set_content(BODY)
    return message


def transport_for(server: SmtpServer, password: str | None = PASSWORD,
                  **overrides: object) -> SmtpTransport:
    return SmtpTransport(server.settings(**overrides), password,
                         ssl_context=server.client_context)


@pytest.fixture
def starttls_server() -> Iterator[SmtpServer]:
    with SmtpServer(starttls=True, auth=(USER, PASSWORD)) as server:
        yield server


# -- delivery -----------------------------------------------------------------------------


def test_starttls_with_login_delivers_message(starttls_server: SmtpServer) -> None:
    message = make_message()
    message["Bcc"] = "archiv@jena.de"
    transport_for(starttls_server).send(message)

    assert starttls_server.wait_for(1)
    envelope = starttls_server.envelopes[0]
    assert envelope.mail_from == "zufiwatch@jena.de"
    assert envelope.rcpt_tos == ("ag-ozg@jena.de", "archiv@jena.de", "ops@jena.de")
    assert envelope.login == USER
    assert envelope.tls
    received = starttls_server.messages[0]
    assert received["Subject"] == SUBJECT
    assert received["To"] == "AG OZG <ag-ozg@jena.de>"
    assert received["Cc"] == "ops@jena.de"
    assert received["Bcc"] is None
    assert received.get_content() == BODY


def test_implicit_tls_with_login_delivers() -> None:
    with SmtpServer(implicit_tls=True, auth=(USER, PASSWORD)) as server:
        transport_for(server).send(make_message())
        assert server.wait_for(1)
        assert server.envelopes[0].tls
        assert server.envelopes[0].login == USER
        assert server.messages[0].get_content() == BODY


def test_plain_to_localhost_without_login_delivers() -> None:
    with SmtpServer() as server:
        transport_for(server, password=None).send(make_message(cc=""))
        assert server.wait_for(1)
        assert server.envelopes[0].rcpt_tos == ("ag-ozg@jena.de",)
        assert not server.envelopes[0].tls
        assert server.envelopes[0].login is None


def test_plain_login_allowed_only_to_this_machine() -> None:
    with SmtpServer(auth=(USER, PASSWORD)) as server:
        transport_for(server).send(make_message())
        assert server.envelopes[0].login == USER

    remote = SmtpSettings(host="mail.example.org", port=25, security="plain", username=USER)
    with pytest.raises(DeliveryError, match="refusing to log in over a plain") as info:
        SmtpTransport(remote, PASSWORD).send(make_message())
    assert info.value.permanent


def test_server_comes_back_on_the_same_port(starttls_server: SmtpServer) -> None:
    transport = transport_for(starttls_server)
    port = starttls_server.port
    starttls_server.stop()
    with pytest.raises(DeliveryError) as info:
        transport.send(make_message())
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "cannot connect" in str(info.value)
    assert not info.value.permanent

    starttls_server.start()
    assert starttls_server.port == port
    transport.send(make_message())
    assert starttls_server.wait_for(1)


# -- failures -----------------------------------------------------------------------------


def test_wrong_password_is_permanent_and_secret(starttls_server: SmtpServer) -> None:
    wrong = "Falsch-Passwort-0815"
    with pytest.raises(DeliveryError) as info:
        transport_for(starttls_server, password=wrong).send(make_message())
    text = str(info.value)
    assert info.value.permanent
    assert f"login refused for user '{USER}' (535" in text
    assert wrong not in text and wrong not in repr(info.value)
    assert starttls_server.messages == []


def test_login_without_password_is_refused(starttls_server: SmtpServer) -> None:
    with pytest.raises(DeliveryError, match="needs a password") as info:
        transport_for(starttls_server, password=None).send(make_message())
    assert info.value.permanent


def test_server_without_starttls_gets_nothing() -> None:
    with SmtpServer(auth=(USER, PASSWORD)) as server:
        transport = transport_for(server, security="starttls")
        with pytest.raises(DeliveryError, match="does not offer STARTTLS") as info:
            transport.send(make_message())
        assert not info.value.permanent
        assert server.messages == []


def test_untrusted_certificate_is_refused(starttls_server: SmtpServer) -> None:
    transport = SmtpTransport(starttls_server.settings(), PASSWORD)  # system CAs only
    with pytest.raises(DeliveryError, match="STARTTLS failed: certificate verify failed"):
        transport.send(make_message())
    assert starttls_server.messages == []


def test_untrusted_certificate_with_implicit_tls() -> None:
    with SmtpServer(implicit_tls=True) as server:
        transport = SmtpTransport(server.settings(), None)
        with pytest.raises(DeliveryError, match="TLS failed: certificate verify failed"):
            transport.send(make_message())


def test_refused_recipient_is_named(starttls_server: SmtpServer) -> None:
    starttls_server.refuse.add("weg@jena.de")
    with pytest.raises(DeliveryError) as info:
        transport_for(starttls_server).send(make_message(to="weg@jena.de", cc=""))
    assert "recipient refused: weg@jena.de (550" in str(info.value)
    assert info.value.permanent
    assert info.value.accepted == ()
    assert starttls_server.messages == []


def test_partly_refused_recipients_say_who_got_it(starttls_server: SmtpServer) -> None:
    starttls_server.refuse.add("weg@jena.de")
    with pytest.raises(DeliveryError, match=r"weg@jena\.de") as info:
        transport_for(starttls_server).send(make_message(cc="weg@jena.de"))
    assert info.value.accepted == ("ag-ozg@jena.de",)
    assert "delivered to the other 1" in str(info.value)
    assert starttls_server.envelopes[0].rcpt_tos == ("ag-ozg@jena.de",)


def test_sending_without_login_where_one_is_needed(starttls_server: SmtpServer) -> None:
    transport = transport_for(starttls_server, password=None, username="")
    with pytest.raises(DeliveryError, match=r"sender refused: zufiwatch@jena\.de \(530 "):
        transport.send(make_message())
    assert starttls_server.messages == []


def test_silent_server_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        settings = SmtpSettings(host="127.0.0.1", port=port, security="plain", timeout=0.2)
        with pytest.raises(DeliveryError, match=r"^SMTP 127\.0\.0\.1:\d+: cannot connect "
                                                r"\(timed out\)$") as info:
            SmtpTransport(settings, None).send(make_message())
    assert not info.value.permanent


def test_implicit_tls_to_a_starttls_port(starttls_server: SmtpServer) -> None:
    transport = transport_for(starttls_server, security="tls")
    with pytest.raises(DeliveryError, match=r"TLS failed: wrong version number .*STARTTLS"):
        transport.check()


def test_message_without_recipients_is_refused_before_connecting() -> None:
    message = make_message(cc="")
    del message["To"]
    transport = SmtpTransport(SmtpSettings(host="127.0.0.1", port=1), None)
    with pytest.raises(DeliveryError, match="no recipients") as info:
        transport.send(message)
    assert info.value.permanent


def test_delivery_error_is_a_zufiwatch_error() -> None:
    assert issubclass(DeliveryError, ZufiwatchError)


# -- check() ------------------------------------------------------------------------------


def test_check_reports_each_step(starttls_server: SmtpServer) -> None:
    seen: list[str] = []
    lines = transport_for(starttls_server).check(seen.append)
    assert lines == seen
    assert lines[0] == f"connected to 127.0.0.1:{starttls_server.port} (starttls)"
    assert lines[1].startswith("STARTTLS ok (TLSv1.")
    assert "certificate verified" in lines[1]
    assert lines[2] == f"login ok as '{USER}'"
    assert starttls_server.messages == []


def test_check_without_login() -> None:
    with SmtpServer(implicit_tls=True) as server:
        lines = transport_for(server, password=None).check()
    assert lines[1].startswith("TLS ok (TLSv1.")
    assert lines[2] == "no login (smtp.username is empty)"


def test_check_fails_at_login(starttls_server: SmtpServer) -> None:
    seen: list[str] = []
    with pytest.raises(DeliveryError, match="login refused"):
        transport_for(starttls_server, password="falsch").check(seen.append)
    assert [line.split(" ")[0] for line in seen] == ["connected", "STARTTLS"]


def test_check_fails_at_starttls() -> None:
    seen: list[str] = []
    with SmtpServer() as server, pytest.raises(DeliveryError, match="STARTTLS"):
        transport_for(server, security="starttls").check(seen.append)
    assert [line.split(" ")[0] for line in seen] == ["connected"]


def test_check_fails_at_connect(starttls_server: SmtpServer) -> None:
    starttls_server.stop()
    seen: list[str] = []
    with pytest.raises(DeliveryError, match="cannot connect"):
        transport_for(starttls_server).check(seen.append)
    assert seen == []


# -- the password -------------------------------------------------------------------------


def settings_with(**source: str) -> SmtpSettings:
    return SmtpSettings(host="mail.jena.de", username=USER, **source)


def test_no_password_source_means_none() -> None:
    assert load_password(SmtpSettings(host="mail.jena.de"), {}) is None


def test_password_from_environment() -> None:
    settings = settings_with(password_env="ZUFIWATCH_SMTP_PASSWORD")
    assert load_password(settings, {"ZUFIWATCH_SMTP_PASSWORD": PASSWORD}) == PASSWORD
    with pytest.raises(ConfigError, match=r"^smtp\.password_env: environment variable "
                                          "ZUFIWATCH_SMTP_PASSWORD is not set$"):
        load_password(settings, {})
    with pytest.raises(ConfigError, match="ZUFIWATCH_SMTP_PASSWORD is empty"):
        load_password(settings, {"ZUFIWATCH_SMTP_PASSWORD": ""})


def test_password_from_file(tmp_path: Path) -> None:
    path = tmp_path / "smtp-password"
    path.write_text(f"  {PASSWORD}  \nsecond line\n", encoding="utf-8")
    assert load_password(settings_with(password_file=str(path)), {}) == PASSWORD


def test_password_file_failures(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(ConfigError, match=r"^smtp\.password_file: cannot read .*missing: "
                                          "No such file or directory$"):
        load_password(settings_with(password_file=str(missing)), {})
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^smtp\.password_file: .*empty is empty"):
        load_password(settings_with(password_file=str(empty)), {})
    binary = tmp_path / "binary"
    binary.write_bytes(PASSWORD.encode() + b"\xfc\n")
    with pytest.raises(ConfigError, match="is not UTF-8 text") as info:
        load_password(settings_with(password_file=str(binary)), {})
    assert PASSWORD not in str(info.value)
    assert info.value.__cause__ is None


def test_password_from_systemd_credential(tmp_path: Path) -> None:
    (tmp_path / "smtp").write_text(PASSWORD + "\n", encoding="utf-8")
    settings = settings_with(password_credential="smtp")
    assert load_password(settings, {"CREDENTIALS_DIRECTORY": str(tmp_path)}) == PASSWORD


def test_systemd_credential_failures(tmp_path: Path) -> None:
    settings = settings_with(password_credential="smtp")
    with pytest.raises(ConfigError, match=r"^smtp\.password_credential: CREDENTIALS_DIRECTORY "
                                          "is not set"):
        load_password(settings, {})
    with pytest.raises(ConfigError, match=r"^smtp\.password_credential: cannot read .*smtp: "
                                          "No such file or directory$"):
        load_password(settings, {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    with pytest.raises(ConfigError, match="not a credential name"):
        load_password(settings_with(password_credential="../etc/passwd"),
                      {"CREDENTIALS_DIRECTORY": str(tmp_path)})


def test_password_never_in_messages_or_logs(starttls_server: SmtpServer, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[Exception] = []
    # Loaded from each source (logged at debug level).
    (tmp_path / "pw").write_text(PASSWORD, encoding="utf-8")
    load_password(settings_with(password_env="PW"), {"PW": PASSWORD})
    load_password(settings_with(password_file=str(tmp_path / "pw")), {})
    load_password(settings_with(password_credential="pw"),
                  {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    (tmp_path / "bad").write_bytes(PASSWORD.encode() + b"\xfc")
    # Failures that have the password at hand.
    attempts = [
        lambda: load_password(settings_with(password_file=str(tmp_path / "bad")), {}),
        lambda: transport_for(starttls_server, password=PASSWORD + "x").send(make_message()),
        lambda: transport_for(starttls_server, password=PASSWORD + "ü").send(make_message()),
        lambda: transport_for(starttls_server, password=PASSWORD + "x").check(),
        lambda: SmtpTransport(starttls_server.settings(), PASSWORD).send(make_message()),
    ]
    for attempt in attempts:
        with pytest.raises((ConfigError, DeliveryError)) as info:
            attempt()
        errors.append(info.value)

    assert "smtplib sends only ASCII" in str(errors[2])
    texts = [str(error) for error in errors] + [repr(error) for error in errors]
    texts += [record.getMessage() for record in caplog.records]
    texts.append(repr(transport_for(starttls_server)))
    assert caplog.records, "the password sources are logged (without the value)"
    assert not [text for text in texts if PASSWORD in text]

