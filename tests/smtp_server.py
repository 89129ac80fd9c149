"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd in a thread), with optional TLS and login.

::

    with SmtpServer(starttls=True, auth=("zufiwatch", "geheim")) as server:
        transport = SmtpTransport(server.settings(), "geheim", ssl_context=server.client_context)
        transport.send(message)
        assert server.wait_for(1)
        server.messages[0]["Subject"]

The server keeps its port across ``stop()`` and ``start()``, so a test can simulate an
outage and bring the same server back.
"""

from __future__ import annotations

import dataclasses
import email.parser
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from zufiwatch.config import SmtpSettings

__all__ = ["HOST", "ReceivedEnvelope", "SmtpServer"]

HOST = "127.0.0.1"
_PARSER = email.parser.BytesParser(policy=email.policy.default)


@dataclass(frozen=True)
class ReceivedEnvelope:
    """What the client said around one accepted message."""

    #: The address given in ``MAIL FROM``.
    mail_from: str
    #: The accepted ``RCPT TO`` addresses (refused ones are not here).
    rcpt_tos: tuple[str, ...]
    #: The user name the client logged in with, or None.
    login: str | None
    #: Whether the session was encrypted (STARTTLS or implicit TLS).
    tls: bool


class _Handler:
    """aiosmtpd hooks: refuse the configured recipients, hand accepted mail to the owner."""

    def __init__(self, owner: SmtpServer) -> None:
        self._owner = owner

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if self._owner.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.lower() in self._owner.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        tls = self._owner.implicit_tls or session.ssl is not None
        self._owner._collect(envelope, login=_login_name(session), tls=tls)
        return "250 2.0.0 Message accepted for delivery"


def _login_name(session: Session) -> str | None:
    if not session.authenticated or not isinstance(session.auth_data, LoginPassword):
        return None
    return session.auth_data.login.decode("utf-8", "replace")


class SmtpServer:
    """A real SMTP server on 127.0.0.1 and a free port; a context manager.

    - ``starttls``: offer STARTTLS with a certificate of a throwaway CA (trustme) for
      127.0.0.1 and localhost; ``client_context`` trusts that CA.
    - ``implicit_tls``: speak TLS from the first byte (port-465 style).
    - ``auth``: (user, password) accepted by AUTH PLAIN/LOGIN; mail then needs a login.
      With STARTTLS, AUTH is only offered after it; with implicit TLS and without TLS it
      is offered at once.
    - ``refuse``: recipient addresses answered with 550 (case-insensitive).
    """

    def __init__(self, *, starttls: bool = False, implicit_tls: bool = False,
                 auth: tuple[str, str] | None = None, refuse: Iterable[str] = ()) -> None:
        if starttls and implicit_tls:
            raise ValueError("choose either starttls or implicit_tls")
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.auth = auth
        #: Recipients refused with 550; may be changed while the server runs.
        self.refuse: set[str] = {address.lower() for address in refuse}
        self.host = HOST
        self.port = _free_port()
        self.ca = trustme.CA()
        self._server_context = _server_context(self.ca)
        #: Trusts the test CA and verifies host names: hand it to the transport.
        self.client_context = ssl.create_default_context()
        self.ca.configure_trust(self.client_context)
        #: Every accepted message, parsed, in order of arrival.
        self.messages: list[EmailMessage] = []
        #: The envelope of each message, same order as ``messages``.
        self.envelopes: list[ReceivedEnvelope] = []
        self._arrived = threading.Condition()
        self._controller: Controller | None = None

    # -- running ----------------------------------------------------------------------

    def start(self) -> None:
        """Listen (again) on the same host and port."""
        if self._controller is not None:
            return
        controller = Controller(_Handler(self), hostname=self.host, port=self.port,
                                server_hostname="localhost", **self._smtp_options())
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening; connections are refused until ``start()``."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _smtp_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.implicit_tls:
            options["ssl_context"] = self._server_context
        if self.starttls:
            options["tls_context"] = self._server_context
        if self.auth is not None:
            # Mail needs a login: handle_MAIL answers 530 without one.
            options["authenticator"] = self._authenticate
            # aiosmtpd only counts STARTTLS as encryption; implicit TLS is encrypted too.
            options["auth_require_tls"] = self.starttls
        return options

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        assert self.auth is not None
        user, password = self.auth
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == user.encode() and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    # -- what arrived -----------------------------------------------------------------

    def _collect(self, envelope: Envelope, *, login: str | None, tls: bool) -> None:
        content = envelope.original_content or b""
        message = _PARSER.parsebytes(content)
        assert isinstance(message, EmailMessage)
        received = ReceivedEnvelope(mail_from=envelope.mail_from or "",
                                    rcpt_tos=tuple(envelope.rcpt_tos), login=login, tls=tls)
        with self._arrived:
            self.messages.append(message)
            self.envelopes.append(received)
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10) -> bool:
        """Wait until at least ``count`` messages arrived; False when ``timeout`` passed first."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)

    def clear(self) -> None:
        """Forget the messages received so far."""
        with self._arrived:
            self.messages.clear()
            self.envelopes.clear()

    # -- for the client side ----------------------------------------------------------

    @property
    def security(self) -> str:
        """The ``smtp.security`` setting that matches this server."""
        if self.implicit_tls:
            return "tls"
        return "starttls" if self.starttls else "plain"

    @property
    def password(self) -> str | None:
        return self.auth[1] if self.auth else None

    def settings(self, **overrides: Any) -> SmtpSettings:
        """``SmtpSettings`` for this server (login when ``auth``), short timeout."""
        values: dict[str, Any] = {
            "host": self.host, "port": self.port, "security": self.security,
            "username": self.auth[0] if self.auth else "", "timeout": 5.0,
        }
        values.update(overrides)
        return dataclasses.replace(SmtpSettings(), **values)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context
