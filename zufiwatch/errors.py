"""The one exception tree of zufiwatch.

Every error the library raises on purpose is a ``ZufiwatchError``; the CLI turns it into
one line and exit status 1. Third-party exceptions (requests, sqlite3, json, tomllib) are
translated at the edge where they happen, with ``raise … from exc``.

::

    ZufiwatchError
    ├── ConfigError            a configuration file is missing, unreadable or invalid
    ├── FetchError             a request failed: connection, timeout, HTTP status, size
    │   └── HTTPStatusError    the server answered with an error status (``status``)
    ├── PayloadError           a payload is not what the endpoint promises
    │   ├── MalformedPayload   not JSON, truncated JSON, an HTML page instead of JSON
    │   └── MissingField       a required field is absent or of the wrong type
    ├── ArchiveError           the raw-payload archive cannot be read or written
    ├── StoreError             the history database cannot be used
    │   └── CrawlInProgress    another process is crawling the same source into it
    └── QueryError             a question about the history cannot be answered
        └── UnknownRecord      no record has the given key
"""

from __future__ import annotations

__all__ = [
    "ArchiveError",
    "ConfigError",
    "CrawlInProgress",
    "FetchError",
    "HTTPStatusError",
    "MalformedPayload",
    "MissingField",
    "PayloadError",
    "QueryError",
    "StoreError",
    "UnknownRecord",
    "ZufiwatchError",
]


class ZufiwatchError(Exception):
    """Base of every error zufiwatch raises on purpose."""


class ConfigError(ZufiwatchError):
    """A configuration file is missing, unreadable or invalid."""


class FetchError(ZufiwatchError):
    """A request could not be completed."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, message: str, *, url: str = "", status: int = 0) -> None:
        super().__init__(message, url=url)
        self.status = status


class PayloadError(ZufiwatchError):
    """A payload is not what its endpoint promises."""

    def __init__(self, message: str, *, endpoint: str = "") -> None:
        super().__init__(message)
        self.endpoint = endpoint


class MalformedPayload(PayloadError):
    """The payload is not valid JSON of the expected shape (or not JSON at all)."""


class MissingField(PayloadError):
    """A required field is absent or has the wrong type."""

    def __init__(self, endpoint: str, field: str, expected: str = "") -> None:
        detail = f" (expected {expected})" if expected else ""
        super().__init__(f"{endpoint}: required field {field!r} is missing{detail}",
                         endpoint=endpoint)
        self.field = field


class ArchiveError(ZufiwatchError):
    """The raw-payload archive cannot be read or written."""


class StoreError(ZufiwatchError):
    """The history database cannot be used."""


class CrawlInProgress(StoreError):
    """Another process is crawling the same source into the same history."""


class QueryError(ZufiwatchError):
    """A question about the history cannot be answered."""


class UnknownRecord(QueryError):
    """No record has the given key."""
