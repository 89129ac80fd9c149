"""What a day-1 crawl costs the archive (issue 19): one index lookup per new payload, the
bases of its deltas read in a few reads and checked, every guarantee kept (a damaged base is
an ArchiveError naming its file, a delta that would not rebuild its payload is not kept)."""

from __future__ import annotations

import hashlib
import re
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.test_archive_warc import PAYLOADS, crawl_files, moved, put_crawl, recorded
from zufiwatch.archive import Archive, delta, warc, windows
from zufiwatch.errors import ArchiveError

DETAIL = PAYLOADS / "pvog" / "v6_detail_bewohnerparkausweis.json"
URL = "https://api.example/detail"


class Counted:
    """Counts the calls of a function it stands in for."""

    def __init__(self, function: Any) -> None:
        self.function, self.calls = function, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.function(*args, **kwargs)


def day_one(tmp_path: Path) -> tuple[Archive, dict[str, bytes], set[str]]:
    """An archive with a first crawl of the recorded payloads, the same payloads with
    their volatile values moved (the day-1 case), and the digests of the first crawl."""
    archive = Archive(tmp_path / "snapshots")
    bodies = {f"https://api.example/{p.name}": p.read_bytes() for p in recorded()}
    first = put_crawl(archive, 1, bodies)
    return (Archive(archive.root), {url: moved(body, 2) for url, body in bodies.items()},
            set(first.values()))


def test_a_day_one_crawl_asks_the_index_once_and_reads_bases_in_windows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive, later, first = day_one(tmp_path)
    lookups = Counted(archive.index.files_with)
    monkeypatch.setattr(archive.index, "files_with", lookups)
    reads = Counted(windows.read_range)
    monkeypatch.setattr(windows, "read_range", reads)
    batched = Counted(archive.index.known_prefixes)
    monkeypatch.setattr(archive.index, "known_prefixes", batched)
    digests = put_crawl(archive, 2, later)
    # The base of each delta is found in the previous crawl's catalogue, read once; whether
    # a delta-stored payload is in the archive already is asked once for all, at the end;
    # only a payload stored in full is looked up on its own.
    asked = lookups.calls
    fresh = Archive(archive.root)
    full = [d for d in digests.values() if d not in first and fresh.keyframe(d) == d]
    assert asked <= len(full) and batched.calls == 1
    assert reads.calls <= 3  # the catalogue and the bases: one window of the first file
    deltas = [d for d in digests.values() if archive.keyframe(d) != d]
    assert len(deltas) > len(later) / 2
    for url, digest in digests.items():
        assert Archive(archive.root).get(digest) == later[url]


def test_a_value_that_went_back_is_not_stored_again(tmp_path: Path) -> None:
    """A payload the archive has in an older crawl's file, received again for another
    request whose earlier payload it resembles, is not stored again as a delta."""
    archive = Archive(tmp_path / "snapshots")
    body = DETAIL.read_bytes()
    put_crawl(archive, 1, {"https://api.example/v": moved(body, 2)})
    put_crawl(archive, 2, {URL: body})
    digest = put_crawl(archive, 3, {URL: moved(body, 2)})[URL]
    third = crawl_files(archive)[2]
    assert [r.kind for r in warc.records(third)] == ["warcinfo", "metadata"]  # no deltas
    fresh = Archive(archive.root)
    assert fresh.previous_crawl("s").catalogue.stored == {}  # type: ignore[union-attr]
    assert fresh.get(digest) == moved(body, 2)


def test_reading_delta_stored_payloads_asks_the_index_once_per_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive, later, _ = day_one(tmp_path)
    digests = put_crawl(archive, 2, later)
    fresh = Archive(archive.root)  # the day after: 304s answered from the archive
    lookups = Counted(fresh.index.files_with)
    monkeypatch.setattr(fresh.index, "files_with", lookups)
    assert {url: fresh.get(digest) for url, digest in digests.items()} == later
    assert lookups.calls <= 2  # the day-2 file with the deltas, the day-1 file with bases


def damage_payload(path: Path, at: int, length: int) -> None:
    """Alter one byte of the payload of the record at ``at`` and write the gzip member
    back valid (its checksum right, its length the same): only the SHA-256 can tell."""
    whole = path.read_bytes()
    data = bytearray(zlib.decompress(whole[at:at + length], 31))
    data[-10] ^= 0x20  # inside the payload, before the record's end
    packer = zlib.compressobj(0, zlib.DEFLATED, 31)
    member = packer.compress(bytes(data)) + packer.flush()
    assert len(member) == length
    path.write_bytes(whole[:at] + member + whole[at + length:])


def test_a_base_the_lean_reader_refuses_is_an_archive_error_naming_its_file_and_the_next_payload_is_stored_in_full(  # noqa: E501
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = Archive(tmp_path / "snapshots")
    body = DETAIL.read_bytes()
    with monkeypatch.context() as patched:
        patched.setattr(warc, "LEVEL", 0)  # stored, not deflated: a same-length rewrite
        digest = put_crawl(archive, 1, {URL: body})[URL]
    (path,) = crawl_files(archive)
    catalogue = Archive(archive.root).previous_crawl("s").catalogue
    assert catalogue is not None
    at, length = catalogue.stored[digest]
    damage_payload(path, at, length)
    with pytest.raises(ArchiveError, match=re.escape(str(path)) + ".*SHA-256"):
        Archive(archive.root).get(digest)
    new = put_crawl(Archive(archive.root), 2, {URL: moved(body, 2)})[URL]
    fresh = Archive(archive.root)
    assert fresh.keyframe(new) == new  # not a delta against a damaged base
    assert fresh.get(new) == moved(body, 2)


def test_a_delta_that_would_not_rebuild_its_payload_is_not_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive, later, _ = day_one(tmp_path)
    real = delta.patch
    monkeypatch.setattr(delta, "patch", lambda base, data: real(base, data)[:-1] + b"?")
    digests = put_crawl(archive, 2, later)
    monkeypatch.undo()
    fresh = Archive(archive.root)
    assert all(fresh.keyframe(d) == d for d in digests.values())
    assert {url: fresh.get(d) for url, d in digests.items()} == later


def test_the_lean_reader_falls_back_to_the_full_parse(tmp_path: Path) -> None:
    """A record not framed the way this version writes it (here: bytes after the record's
    end inside its member) is read by the full parse, and checked."""
    body = DETAIL.read_bytes()
    digest = hashlib.sha256(body).hexdigest()
    record = zlib.decompress(warc.payload_record("https://x/y", body, digest, status=200,
                                                 content_type="application/json"), 31)
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    member = packer.compress(record + b"trailing") + packer.flush()
    path = tmp_path / "f.warc.gz"
    path.write_bytes(member)
    assert warc._framed_payload(zlib.decompress(member, 31)) != body
    assert warc.read_payload(path, 0, len(member), digest) == body
    with pytest.raises(ArchiveError, match=re.escape(str(path))):
        warc.read_payload(path, 0, len(member), "0" * 64)


def ops(data: bytes) -> int:
    """How many operations a delta holds."""
    count = pos = 0
    while pos < len(data):
        tag = shift = 0
        while True:
            byte = data[pos]
            pos += 1
            tag |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if tag & 1:
            pos += tag >> 1
        else:
            while data[pos] & 0x80:
                pos += 1
            pos += 1
        count += 1
    return count


def test_a_listing_whose_dates_all_moved_is_an_add_and_a_copy_per_moved_run() -> None:
    lines = [f"S1600001.LB.{n}|99{n:012d}|Leistung {n}|Leistung {n}|23.09.2026 07:15|||\n"
             for n in range(300)]
    old = "".join(lines).encode()
    new = old.replace(b"23.09.2026 07:15", b"24.09.2026 15:52")
    data = delta.diff(old, new)
    assert delta.patch(old, data) == new
    assert ops(data) <= 4 * 300 + 1  # two runs a line; line by line it takes five ops
