"""The systemd protocols the service speaks, without a dependency.

- ``sd_notify``: READY=1, WATCHDOG=1, RELOADING=1, STOPPING=1 and STATUS=… as datagrams to
  ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace). Without the
  variable (not under systemd) every call does nothing.
- The watchdog interval from ``$WATCHDOG_USEC`` (when ``$WATCHDOG_PID`` is unset or ours).
- Log lines with ``<N>`` syslog priority prefixes when stderr goes to the journal
  (``$JOURNAL_STREAM``), so journald keeps the levels.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["JournalFormatter", "Notifier", "configure_logging"]


class Notifier:
    """Talks to the service manager; silent when there is none."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        watchdog = int(usec) if usec.isdigit() and (not pid or pid == str(os.getpid())) \
            else None
        return cls(environ.get("NOTIFY_SOCKET") or None, watchdog)

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings: half the interval systemd enforces."""
        return self.watchdog_usec / 2_000_000 if self.watchdog_usec else None

    def send(self, *assignments: str) -> None:
        if not self.address:
            return
        address = self.address
        if address.startswith("@"):
            address = "\0" + address[1:]
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto("\n".join(assignments).encode(), address)
            except OSError as exc:
                logging.getLogger(__name__).warning("cannot notify systemd: %s", exc)

    def ready(self, status: str = "") -> None:
        self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def reloading(self) -> None:
        self.send("RELOADING=1")

    def stopping(self) -> None:
        self.send("STOPPING=1")


_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4),
               (logging.INFO, 6), (logging.DEBUG, 7))


class JournalFormatter(logging.Formatter):
    """``<priority>logger: message``, each continuation line prefixed too."""

    def format(self, record: logging.LogRecord) -> str:
        priority = next((p for level, p in _PRIORITIES if record.levelno >= level), 7)
        text = super().format(record)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def configure_logging(level: int, environ: Mapping[str, str] = os.environ) -> None:
    """stderr logging; with journald priorities when stderr is the journal."""
    handler = logging.StreamHandler()
    if environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: "
                                               "%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
