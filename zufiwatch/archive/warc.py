"""WARC records (ISO 28500, through ``warcio``): written one gzip member each, read back by
offset, or all in turn.

A crawl's file holds a ``warcinfo`` record, a ``response`` record for each payload stored in
full (``resource`` when its request is not known) and, at the end, the crawl's deltas and
its manifest (see :mod:`zufiwatch.archive.writer`). Every gzip member is one record, so a
record is read by its offset and length without reading the file before it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ..errors import ArchiveError
from .windows import read_range

__all__ = ["DELTAS_TYPE", "MANIFEST_TYPE", "Record", "decompress_member", "info_record",
           "payload_record", "read_payload", "read_record", "records", "resource_record",
           "sha256_label"]

#: The content type of the record with the crawl's manifest: JSON lines.
MANIFEST_TYPE = "application/x-ndjson; profile=zufiwatch-manifest"
#: The content type of the record with the crawl's deltas (see :mod:`.delta`).
DELTAS_TYPE = "application/octet-stream; profile=zufiwatch-deltas"
#: Compression level of the records: a good ratio at a fraction of level 9's time.
LEVEL = 6

_READ_ERRORS = (OSError, EOFError, ValueError, zlib.error, ArchiveLoadFailed, StopIteration)


@dataclass(frozen=True)
class Record:
    """One record read from a file."""

    kind: str
    uri: str
    content_type: str
    payload: bytes
    at: int
    length: int


def sha256_label(digest_hex: str) -> str:
    """The WARC form of a SHA-256: ``sha256:`` and base 32 (as ``warcio`` writes digests)."""
    return "sha256:" + base64.b32encode(bytes.fromhex(digest_hex)).decode("ascii")


def info_record(fields: dict[str, str]) -> bytes:
    writer = _writer()
    return _member(writer, writer.create_warcinfo_record("", fields))


def payload_record(url: str, body: bytes, digest_hex: str, *, status: int | None,
                   content_type: str) -> bytes:
    """A ``response`` record of an HTTP answer (with a minimal HTTP header: status line,
    type, length), or a ``resource`` record when it is not known what answered."""
    writer = _writer()
    headers = {"WARC-Payload-Digest": sha256_label(digest_hex)}
    if url.startswith(("http://", "https://")) and status:
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        http = StatusAndHeaders(f"{status} {phrase}".strip(), [
            ("Content-Type", content_type or "application/octet-stream"),
            ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
        record = writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                           length=len(body), http_headers=http,
                                           warc_headers_dict=headers)
        return _member(writer, record)
    return resource_record(url or f"urn:sha256:{digest_hex}", body,
                           content_type or "application/octet-stream", headers)


def resource_record(uri: str, payload: bytes, content_type: str,
                    headers: dict[str, str] | None = None) -> bytes:
    writer = _writer()
    digest = hashlib.sha256(payload).hexdigest()
    record = writer.create_warc_record(
        uri, "resource", payload=io.BytesIO(payload), length=len(payload),
        warc_content_type=content_type,
        warc_headers_dict={"WARC-Block-Digest": sha256_label(digest),
                           "WARC-Payload-Digest": sha256_label(digest), **(headers or {})})
    return _member(writer, record)


def metadata_record(uri: str, payload: bytes, content_type: str) -> bytes:
    writer = _writer()
    digest = sha256_label(hashlib.sha256(payload).hexdigest())
    record = writer.create_warc_record(
        uri, "metadata", payload=io.BytesIO(payload), length=len(payload),
        warc_content_type=content_type,
        warc_headers_dict={"WARC-Block-Digest": digest, "WARC-Payload-Digest": digest})
    return _member(writer, record)


#: Reads ``length`` bytes of a file from byte ``at`` (fewer at its end).
Reader = Callable[[Path, int, int], bytes]


def read_record(path: Path, at: int, length: int, read: Reader = read_range) -> Record:
    """The record at byte ``at`` (its gzip member ``length`` bytes long) of ``path``."""
    data = _read_member(path, at, length, read)
    try:
        record = _parse_record(data)
    except _READ_ERRORS as exc:
        raise ArchiveError(f"archive file {path} cannot be read at byte {at}: "
                           f"{_reason(exc)}") from exc
    return Record(*record[:4], at, length)


def read_payload(path: Path, at: int, length: int, digest_hex: str,
                 read: Reader = read_range) -> bytes:
    """The payload of the record at byte ``at`` of ``path``, checked against its SHA-256.

    A record this module wrote is found by its framing alone (WARC header, for a response
    an HTTP header, the payload, the record's end); one that does not fit it, or whose
    payload does not match, is read by the full parse. A damaged file is an
    :class:`ArchiveError` naming it."""
    data = _read_member(path, at, length, read)
    payload = _framed_payload(data)
    if payload is not None and hashlib.sha256(payload).hexdigest() == digest_hex:
        return payload
    try:
        payload = _parse_record(data)[3]
    except _READ_ERRORS as exc:
        raise ArchiveError(f"archive file {path} cannot be read at byte {at}: "
                           f"{_reason(exc)}") from exc
    if hashlib.sha256(payload).hexdigest() != digest_hex:
        raise ArchiveError(f"payload {digest_hex} in {path} does not match its SHA-256: "
                           "the file is damaged")
    return payload


def _read_member(path: Path, at: int, length: int, read: Reader) -> bytes:
    """The decompressed gzip member at byte ``at`` of ``path``, ``length`` bytes long."""
    try:
        raw = read(path, at, length)
        if len(raw) != length:
            raise EOFError(f"the file ends {length - len(raw)} bytes early")
        return zlib.decompress(raw, 31)
    except FileNotFoundError as exc:
        raise ArchiveError(f"archive file {path} is missing") from exc
    except _READ_ERRORS as exc:
        raise ArchiveError(f"archive file {path} cannot be read at byte {at}: "
                           f"{_reason(exc)}") from exc


def _framed_payload(data: bytes) -> bytes | None:
    """The payload of a decompressed record as :func:`payload_record` and
    :func:`resource_record` frame it, without parsing its headers; ``None`` when the
    framing is not found. Only a payload that matches its SHA-256 is taken."""
    head = data.find(b"\r\n\r\n")
    if head < 0 or not data.startswith(b"WARC/") or not data.endswith(b"\r\n\r\n"):
        return None
    start = head + 4
    if data.find(b"\r\nWARC-Type: response\r\n", 0, head + 2) >= 0:
        http = data.find(b"\r\n\r\n", start, len(data) - 4)
        if http < 0:
            return None
        start = http + 4
    return data[start:len(data) - 4]


def records(path: Path) -> Iterator[Record]:
    """Every record of ``path`` in turn; a damaged or truncated file is an
    :class:`ArchiveError` naming it."""
    try:
        with open(path, "rb") as fh:
            iterator = ArchiveIterator(fh, check_digests=False)
            for record in iterator:
                kind, uri, content_type, payload = _fields(record)
                yield Record(kind, uri, content_type, payload, iterator.get_record_offset(),
                             iterator.get_record_length())
    except FileNotFoundError as exc:
        raise ArchiveError(f"archive file {path} is missing") from exc
    except _READ_ERRORS as exc:
        raise ArchiveError(f"archive file {path} cannot be read: {_reason(exc)}") from exc


def decompress_member(raw: bytes) -> bytes:
    return zlib.decompress(raw, 31)


def _parse_record(data: bytes) -> tuple[str, str, str, bytes]:
    """One record of a decompressed gzip member, read directly (a record this module
    wrote: WARC headers, the block of ``Content-Length`` bytes, for a response an HTTP
    header first); what :class:`ArchiveIterator` reads too, without its generality."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8").split("\r\n")
    if not sep or not lines[0].startswith("WARC/"):
        raise ValueError("not a WARC record")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    if length < 0 or len(rest) < length:
        raise EOFError(f"a record of {length} bytes holds {len(rest)}")
    block, kind = rest[:length], headers.get("warc-type", "")
    content_type = headers.get("content-type", "")
    if kind == "response" and content_type.startswith("application/http"):
        http, sep, payload = block.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("a response record without an HTTP header")
        content_type = next((line.partition(b":")[2].strip().decode("latin-1")
                             for line in http.split(b"\r\n")[1:]
                             if line.lower().startswith(b"content-type:")), "")
        return kind, headers.get("warc-target-uri", ""), content_type, payload
    digest = headers.get("warc-block-digest", "")
    if digest.startswith("sha256:") and \
            digest != sha256_label(hashlib.sha256(block).hexdigest()):
        raise ValueError(f"a {kind} record does not match its digest")
    return kind, headers.get("warc-target-uri", ""), content_type, block


def _fields(record: object) -> tuple[str, str, str, bytes]:
    headers = record.rec_headers  # type: ignore[attr-defined]
    payload = record.raw_stream.read()  # type: ignore[attr-defined]
    length = int(headers.get_header("Content-Length") or 0)
    http = record.http_headers  # type: ignore[attr-defined]
    expected = length - (len(http.to_bytes()) if http is not None else 0)
    if http is None and len(payload) != length:
        raise EOFError(f"a record of {length} bytes holds {len(payload)}")
    block = headers.get_header("WARC-Block-Digest") or ""
    if http is None and block.startswith("sha256:") and \
            block != sha256_label(hashlib.sha256(payload).hexdigest()):
        raise ValueError(f"a {headers.get_header('WARC-Type')} record does not match its "
                         "digest")
    if http is not None and len(payload) < expected:
        raise EOFError(f"a record's payload of {expected} bytes holds {len(payload)}")
    content_type = (http.get_header("Content-Type") if http is not None else
                    headers.get_header("Content-Type")) or ""
    return (headers.get_header("WARC-Type") or "", headers.get_header("WARC-Target-URI") or "",
            content_type, payload)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, StopIteration):
        return "no record there"
    return str(exc) or type(exc).__name__


def _writer() -> WARCWriter:
    return WARCWriter(io.BytesIO(), gzip=False, warc_version="1.1")


def _member(writer: WARCWriter, record: object) -> bytes:
    """The record as one gzip member."""
    out = io.BytesIO()
    writer._write_warc_record(out, record)
    packer = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
    return packer.compress(out.getvalue()) + packer.flush()
