"""Failed sign-ins slow an attacker down, without sleeping: after :data:`LIMIT` failures
for a user name or an address within :data:`WINDOW`, further attempts are refused until
:data:`WINDOW` after the last failure. Kept in memory (one process, waitress threads)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

__all__ = ["LIMIT", "WINDOW", "Throttle"]

LIMIT = 5
WINDOW = timedelta(minutes=15)


class Throttle:
    def __init__(self, limit: int = LIMIT, window: timedelta = WINDOW) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, list[datetime]] = {}
        self._lock = threading.Lock()

    def blocked(self, keys: Iterable[str], now: datetime) -> bool:
        """Whether any of ``keys`` (``"user:…"``, ``"addr:…"``) is locked out at ``now``."""
        with self._lock:
            self._forget(now)
            return any(len(self._failures.get(key, ())) >= self.limit for key in keys)

    def fail(self, keys: Iterable[str], now: datetime) -> None:
        with self._lock:
            for key in keys:
                times = [t for t in self._failures.get(key, ()) if now - t < self.window]
                self._failures[key] = [*times, now][-self.limit:]

    def succeed(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _forget(self, now: datetime) -> None:
        """Keys whose last failure is older than the window are released."""
        for key in [k for k, times in self._failures.items() if now - times[-1] >= self.window]:
            del self._failures[key]
