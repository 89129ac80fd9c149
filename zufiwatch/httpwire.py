"""HTTP/1.1 on the wire, for the direct transport: the head of a GET written as
:class:`http.client.HTTPConnection` writes it, and an answer's head read as
:class:`http.client.HTTPResponse` reads it, at less cost.

:mod:`http.client` parses every answer's header fields with the :mod:`email` package's
feed parser, and checks and writes a request's fields one call at a time; on the simulated
directory that is about half of the CPU a kept-alive GET costs (``bench/transport_bench.py``).
Here:

- :func:`request_head` refuses what ``HTTPConnection.request`` refuses (a target with a
  control character or a space, a field name or value that could split the head, text that
  does not encode) with the same exceptions, and writes the same bytes: the request line,
  ``Host`` (unless given), ``Accept-Encoding: identity`` (unless one is given), then the
  fields in their order.
- :class:`Response` is :class:`http.client.HTTPResponse` (its body framing untouched: length,
  chunks, the end of a connection) whose head is read by :func:`read_fields`: an ordinary
  field line (a name of visible characters, a colon, a value without CR or LF) is taken as
  the feed parser takes it; a head with anything else (a folded line, a stray CR, a line
  that is no field, a head cut off) is handed to the feed parser whole, so the result is
  the standard library's in every case.
"""

from __future__ import annotations

import email.parser
import http.client
import re
from collections.abc import Mapping
from typing import BinaryIO

__all__ = ["Response", "host_field", "read_fields", "request_head"]

#: http.client's limits on an answer's head (``_MAXLINE``, ``_MAXHEADERS``).
MAX_LINE = 65536
MAX_FIELDS = 100

#: What ``HTTPConnection.putrequest`` refuses in a target (``_contains_disallowed_url_pchar_re``).
_TARGET_REFUSED = re.compile("[\x00-\x20\x7f]")
#: ``http.client._is_legal_header_name`` and ``_is_illegal_header_value``.
_LEGAL_NAME = re.compile(rb"[^:\s][^:\r\n]*")
_ILLEGAL_VALUE = re.compile(rb"\n(?![ \t])|\r(?![ \t\n])")
#: A field line the feed parser takes as name and value with nothing else to it: the
#: name's characters are those of the email package's ``headerRE``, the value holds no
#: CR or LF (the feed parser breaks lines at a lone CR too).
_PLAIN_FIELD = re.compile(rb"([\x21-\x39\x3b-\x7e]+):[ \t]*([^\r\n]*)\r?\n")
_END_OF_HEAD = (b"\r\n", b"\n", b"")


def host_field(host: str, port: int, default_port: int) -> bytes:
    """The ``Host`` value http.client sends for a connection to ``host`` and ``port``."""
    try:
        encoded = host.encode("ascii")
    except UnicodeEncodeError:
        encoded = host.encode("idna")
    if b":" in encoded:  # an IPv6 address (RFC 2732)
        encoded = b"[" + encoded + b"]"
    return encoded if port == default_port else encoded + b":%d" % port


def request_head(target: str, host: bytes, fields: Mapping[str, str]) -> bytes:
    """The head of a GET of ``target`` on a connection to ``host`` (its ``Host`` value),
    with ``fields``. Raises :class:`http.client.InvalidURL` or :class:`ValueError` (a
    :class:`UnicodeEncodeError` among them) as ``HTTPConnection.request`` does."""
    target = target or "/"
    refused = _TARGET_REFUSED.search(target)
    if refused:
        raise http.client.InvalidURL(f"URL can't contain control characters. {target!r} "
                                     f"(found at least {refused.group()!r})")
    lines = [f"GET {target} HTTP/1.1".encode("ascii")]
    names = {name.lower() for name in fields}
    if "host" not in names:
        lines.append(b"Host: " + host)
    if "accept-encoding" not in names:
        lines.append(b"Accept-Encoding: identity")
    for name, value in fields.items():
        encoded_name = name.encode("ascii")
        if not _LEGAL_NAME.fullmatch(encoded_name):
            raise ValueError(f"Invalid header name {encoded_name!r}")
        encoded = value.encode("latin-1")
        if _ILLEGAL_VALUE.search(encoded):
            raise ValueError(f"Invalid header value {encoded!r}")
        lines.append(encoded_name + b": " + encoded)
    lines.append(b"\r\n")
    return b"\r\n".join(lines)


def read_fields(fp: BinaryIO) -> http.client.HTTPMessage:
    """The header fields of an answer, read from ``fp`` up to the empty line: what
    ``http.client.parse_headers(fp)`` returns, and the same errors (a line over
    :data:`MAX_LINE` bytes, more than :data:`MAX_FIELDS` lines)."""
    lines = []
    while True:
        line = fp.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > MAX_FIELDS:
            raise http.client.HTTPException(f"got more than {MAX_FIELDS} headers")
        if line in _END_OF_HEAD:
            break
    message = http.client.HTTPMessage()
    for line in lines[:-1]:
        plain = _PLAIN_FIELD.fullmatch(line)
        if plain is None:
            text = b"".join(lines).decode("iso-8859-1")
            return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(text)
        message.set_raw(plain[1].decode("ascii"), plain[2].decode("iso-8859-1"))
    return message


class Response(http.client.HTTPResponse):
    """An answer to a GET whose head is read by :func:`read_fields`; the rest is
    :class:`http.client.HTTPResponse`. ``begin`` is the standard library's (Python 3.11 to
    3.13, where it is the same), with the head's fields read by :func:`read_fields`."""

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:  # an interim 100 (Continue) answer is skipped, fields and all
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            read_fields(self.fp)
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = read_fields(self.fp)
        coding = self.headers.get("transfer-encoding")
        self.chunked = bool(coding and coding.lower() == "chunked")
        if self.chunked:
            self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if (status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED)
                or 100 <= status < 200 or self._method == "HEAD"):
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True
