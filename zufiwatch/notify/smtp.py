"""SMTP delivery: the password from where the configuration says, one message per session.

- :func:`load_password` reads the password from an environment variable, a file or a
  systemd credential (``$CREDENTIALS_DIRECTORY/<name>``), whichever ``[smtp]`` names.
- :class:`SmtpTransport` sends one message with :mod:`smtplib` over STARTTLS, implicit TLS
  or (only to this machine, when logging in) a plain connection, and checks a
  configuration step by step for ``zufiwatch notify --test``.

Every failure of smtplib, ssl or the network becomes a :class:`DeliveryError` of one line
saying what failed where; ``permanent`` tells a sender whether trying again can help.
The password appears in no message and no log record.
"""

from __future__ import annotations

import email.utils
import logging
import os
import smtplib
import ssl
from collections.abc import Callable, Mapping
from email.message import EmailMessage

from ..config import SECURITY_MODES, SmtpSettings
from ..credentials import read_secret
from ..errors import ZufiwatchError

__all__ = ["LOCAL_HOSTS", "DeliveryError", "SmtpTransport", "load_password"]

log = logging.getLogger(__name__)

#: Hosts a plain (unencrypted) connection may log in to: the password stays on this machine.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class DeliveryError(ZufiwatchError):
    """A message could not be handed to the mail server (or a check of it failed).

    ``permanent`` is True when trying again cannot help without a change of configuration
    or addresses: a 5xx refusal of sender, recipient or message, a failed login. It is
    False for connection problems, TLS problems and 4xx answers. ``accepted`` names the
    recipients that did get the message when only some were refused.
    """

    def __init__(self, message: str, *, permanent: bool = False,
                 accepted: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.accepted = accepted


# -- the password -------------------------------------------------------------------------


def load_password(settings: SmtpSettings,
                  environ: Mapping[str, str] = os.environ) -> str | None:
    """The SMTP password from the source ``settings`` names; None when none is named.

    Raises :class:`ConfigError` naming the source and why it failed, never the value.
    """
    return read_secret(what="password", env_key="smtp.password_env", env=settings.password_env,
                       file_key="smtp.password_file", file=settings.password_file,
                       credential_key="smtp.password_credential",
                       credential=settings.password_credential, environ=environ)


# -- the transport ------------------------------------------------------------------------

Report = Callable[[str], None]


class SmtpTransport:
    """Sends messages through the server ``[smtp]`` names, one SMTP session per message."""

    def __init__(self, settings: SmtpSettings, password: str | None, *,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self._password = password
        self._context = ssl_context or ssl.create_default_context()

    def __repr__(self) -> str:
        user = self.settings.username or "-"
        return f"SmtpTransport({self.address}, {self.settings.security}, user={user!r})"

    @property
    def address(self) -> str:
        """``host:port`` of the server (an IPv6 address in brackets)."""
        host = self.settings.host
        host = f"[{host}]" if ":" in host else host
        return f"{host}:{self.settings.port}"

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` to its To, Cc and Bcc recipients; DeliveryError when not."""
        recipients = self._envelope_check(message)
        smtp = self._open(_ignore)
        try:
            self._deliver(smtp, message, recipients)
        finally:
            _quit(smtp)

    def check(self, report: Report | None = None) -> list[str]:
        """Connect, secure and log in as configured, without sending anything.

        Returns a line per step that worked ("connected to …", "STARTTLS ok …",
        "login ok as …"); each line also goes to ``report`` as soon as it is known.
        Raises DeliveryError at the first step that fails.
        """
        lines: list[str] = []

        def note(line: str) -> None:
            lines.append(line)
            if report is not None:
                report(line)

        _quit(self._open(note))
        return lines

    # -- session steps --------------------------------------------------------------------

    def _open(self, report: Report) -> smtplib.SMTP:
        """A connection that is encrypted and logged in as configured."""
        if not self.settings.host:
            raise self._error("mail is not configured (smtp.host is empty)", permanent=True)
        if self.settings.security not in SECURITY_MODES:  # never fall back to plain text
            raise self._error(f"unknown security {self.settings.security!r}", permanent=True)
        self._refuse_plain_login()
        smtp = self._connect()
        try:
            report(f"connected to {self.address} ({self.settings.security})")
            if self.settings.security == "tls":
                report(f"TLS ok ({self._tls_details(smtp)})")
            elif self.settings.security == "starttls":
                self._starttls(smtp)
                report(f"STARTTLS ok ({self._tls_details(smtp)})")
            self._login(smtp, report)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _refuse_plain_login(self) -> None:
        if (self.settings.security == "plain" and self.settings.username
                and self.settings.host.lower() not in LOCAL_HOSTS):
            raise self._error(
                "refusing to log in over a plain connection to another machine "
                "(use security \"starttls\" or \"tls\")", permanent=True)

    def _connect(self) -> smtplib.SMTP:
        host, port, timeout = self.settings.host, self.settings.port, self.settings.timeout
        try:
            if self.settings.security == "tls":
                return smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._context)
            return smtplib.SMTP(host, port, timeout=timeout)
        except smtplib.SMTPConnectError as exc:
            raise self._error(f"cannot connect (server answered {_reply(exc)})") from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise self._error(f"cannot connect ({_lost(exc)})") from exc
        except ssl.SSLError as exc:
            hint = (" (does this port expect STARTTLS or plain SMTP?)"
                    if exc.reason == "WRONG_VERSION_NUMBER" else "")
            raise self._error(f"TLS failed: {_ssl_reason(exc)}{hint}") from exc
        except OSError as exc:
            raise self._error(f"cannot connect ({_os_reason(exc)})") from exc

    def _starttls(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise self._error("server does not offer STARTTLS; not continuing without TLS")
            smtp.starttls(context=self._context)
        except DeliveryError:
            raise
        except smtplib.SMTPServerDisconnected as exc:
            raise self._error(f"STARTTLS failed ({_lost(exc)})") from exc
        except smtplib.SMTPHeloError as exc:
            raise self._error(f"EHLO refused ({_reply(exc)})") from exc
        except smtplib.SMTPResponseException as exc:
            raise self._error(f"STARTTLS refused ({_reply(exc)})") from exc
        except ssl.SSLError as exc:
            raise self._error(f"STARTTLS failed: {_ssl_reason(exc)}") from exc
        except OSError as exc:
            raise self._error(f"STARTTLS failed ({_os_reason(exc)})") from exc

    def _login(self, smtp: smtplib.SMTP, report: Report) -> None:
        user = self.settings.username
        if not user:
            report("no login (smtp.username is empty)")
            return
        if self._password is None:
            raise self._error(f"login as user {user!r} needs a password (name smtp.password_env, "
                              "password_file or password_credential)", permanent=True)
        try:
            smtp.login(user, self._password)
        except smtplib.SMTPAuthenticationError as exc:
            raise self._error(f"login refused for user {user!r} ({_reply(exc)})",
                              permanent=exc.smtp_code >= 500) from None
        except smtplib.SMTPNotSupportedError:
            raise self._error("server offers no login (no AUTH extension)",
                              permanent=True) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise self._error(f"login failed ({_lost(exc)})") from None
        except smtplib.SMTPResponseException as exc:
            raise self._error(f"login failed for user {user!r} ({_reply(exc)})",
                              permanent=exc.smtp_code >= 500) from None
        except smtplib.SMTPException:
            raise self._error(f"login failed for user {user!r}: the server offers no "
                              "authentication method smtplib supports", permanent=True) from None
        except UnicodeError:
            raise self._error(f"login failed for user {user!r}: smtplib sends only ASCII user "
                              "names and passwords", permanent=True) from None
        except OSError as exc:
            raise self._error(f"login failed ({_os_reason(exc)})") from None
        report(f"login ok as {user!r}")

    def _deliver(self, smtp: smtplib.SMTP, message: EmailMessage,
                 recipients: list[str]) -> None:
        try:
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise self._refused(exc.recipients, accepted=()) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise self._error(f"sender refused: {_text(exc.sender)} ({_reply(exc)})",
                              permanent=exc.smtp_code >= 500) from exc
        except smtplib.SMTPDataError as exc:
            raise self._error(f"message refused ({_reply(exc)})",
                              permanent=exc.smtp_code >= 500) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise self._error(f"message not sent: {exc}", permanent=True) from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise self._error(f"sending failed ({_lost(exc)})") from exc
        except smtplib.SMTPResponseException as exc:
            raise self._error(f"sending failed ({_reply(exc)})",
                              permanent=exc.smtp_code >= 500) from exc
        except OSError as exc:  # smtplib.SMTPException and ssl.SSLError are OSErrors
            raise self._error(f"sending failed ({_os_reason(exc)})") from exc
        except ValueError as exc:
            raise self._error(f"message cannot be sent: {exc}", permanent=True) from exc
        if refused:
            accepted = tuple(r for r in recipients if r not in refused)
            raise self._refused(refused, accepted=accepted)
        log.debug("SMTP %s accepted a message for %d recipient(s)", self.address,
                  len(recipients))

    # -- helpers --------------------------------------------------------------------------

    def _envelope_check(self, message: EmailMessage) -> list[str]:
        """The recipients smtplib will use; DeliveryError when sender or recipients are missing."""
        if not (message["Sender"] or message["From"]):
            raise self._error("message has no From address", permanent=True)
        fields = [str(message[name]) for name in ("To", "Bcc", "Cc") if message[name]]
        recipients = [address for _name, address in email.utils.getaddresses(fields) if address]
        if not recipients:
            raise self._error("message has no recipients (To, Cc, Bcc)", permanent=True)
        return recipients

    def _tls_details(self, smtp: smtplib.SMTP) -> str:
        sock = smtp.sock
        version = sock.version() if isinstance(sock, ssl.SSLSocket) else None
        verified = (self._context.verify_mode == ssl.CERT_REQUIRED
                    and self._context.check_hostname)
        checked = "certificate verified" if verified else "certificate NOT verified"
        return f"{version or 'TLS'}, {checked}"

    def _refused(self, refused: Mapping[str, tuple[int, bytes]], *,
                 accepted: tuple[str, ...]) -> DeliveryError:
        noun = "recipient" if len(refused) == 1 else "recipients"
        listed = ", ".join(f"{address} ({_reply_of(code, text)})"
                           for address, (code, text) in refused.items())
        delivered = f"; delivered to the other {len(accepted)}" if accepted else ""
        permanent = all(code >= 500 for code, _text in refused.values())
        return self._error(f"{noun} refused: {listed}{delivered}", permanent=permanent,
                           accepted=accepted)

    def _error(self, what: str, *, permanent: bool = False,
               accepted: tuple[str, ...] = ()) -> DeliveryError:
        message = f"SMTP {self.address}: {what}"
        if self._password and self._password in message:  # a server echoing it back
            message = message.replace(self._password, "***")
        return DeliveryError(message, permanent=permanent, accepted=accepted)


def _ignore(line: str) -> None:
    """A report that drops its lines (sending needs no account of the steps)."""


def _quit(smtp: smtplib.SMTP) -> None:
    """End the session politely; the outcome is already known, so a failure here is not one."""
    try:
        smtp.quit()
    except OSError:
        smtp.close()


def _text(value: bytes | str) -> str:
    """One line of text from a server reply or address."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(value.split())


def _reply_of(code: int, text: bytes | str) -> str:
    return f"{code} {_text(text)}".strip()


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return _reply_of(exc.smtp_code, exc.smtp_error)


def _ssl_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or exc.reason or ""
        return f"certificate verify failed: {detail}".rstrip(": ")
    if exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    return _text(str(exc))


def _lost(exc: smtplib.SMTPServerDisconnected) -> str:
    """Why the connection ended: smtplib reports a timeout or reset as a disconnect."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, OSError):
        return _os_reason(cause)
    return "connection closed by the server"


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return _text(exc.strerror or str(exc) or type(exc).__name__)
