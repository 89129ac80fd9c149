"""The archive sized by change (issue 19): one WARC file per crawl, payloads stored once, a
payload that differs in a few volatile values stored as a delta, every payload rebuilt
byte for byte; archives of the old layout read as they are."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import Crawler
from tests.legacy import archive_1
from zufiwatch.archive import Archive, read_manifest, warc
from zufiwatch.archive.delta import diff, patch
from zufiwatch.archive.index import INDEX_NAME
from zufiwatch.errors import ArchiveError
from zufiwatch.model import Outcome
from zufiwatch.runner import rebaseline
from zufiwatch.store.ledger import verify

PAYLOADS = Path(__file__).parent / "payloads"
REALDATA = Path(__file__).resolve().parent.parent / "zufiwatch" / "sim" / "data"
DETAIL = "/v6/servicedescriptions/detail"


def recorded() -> list[Path]:
    found = sorted(p for p in PAYLOADS.rglob("*") if p.suffix in (".json", ".csv"))
    found += sorted(p for p in REALDATA.glob("*") if p.suffix in (".json", ".csv"))
    assert len(found) >= 10
    return found


def moved(body: bytes, day: int) -> bytes:
    """``body`` with its volatile values moved: ISO dates and times, German dates."""
    body = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?",
                  f"2031-0{day}-1{day}T0{day}:3{day}:00.{day}{day}{day}".encode(), body)
    return re.sub(rb"\d\d\.\d\d\.\d{4} \d\d:\d\d", f"1{day}.0{day}.2031 0{day}:0{day}".encode(),
                  body)


def edited(body: bytes) -> bytes:
    middle = len(body) // 2
    return body[:middle] + b"an edit, " + body[middle + 3:]


def stored_records(path: Path) -> list[warc.Record]:
    return [r for r in warc.records(path) if r.kind in ("response", "resource")
            and r.content_type != warc.DELTAS_TYPE]


def crawl_files(archive: Archive) -> list[Path]:
    return sorted((archive.root / "crawls").rglob("*.warc.gz"))


def current_contents(crawler: Crawler) -> dict[str, str]:
    return dict(crawler.history.db.execute(
        "SELECT r.key, v.content FROM records r JOIN versions v ON v.id = r.current_version"))


# -- deltas, pure ------------------------------------------------------------------------


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.name)
def test_a_delta_rebuilds_a_real_payload_byte_for_byte(path: Path) -> None:
    body = path.read_bytes()
    for new in (moved(body, 1), moved(body, 2) + b"\n", edited(body), body[::-1], b"", body):
        delta = diff(body, new)
        assert patch(body, delta) == new
    if moved(body, 1) != body and len(body) > 1000:
        assert len(diff(body, moved(body, 1))) < len(body) / 10  # only the moved values


def test_a_delta_applied_to_another_base_is_refused() -> None:
    from zufiwatch.archive.delta import DeltaError

    with pytest.raises(DeltaError):
        patch(b"short", diff(b"a much longer base, longer than the other", b"a much longer"))


# -- one file per crawl, stored by change ------------------------------------------------


def put_crawl(archive: Archive, crawl_id: int, bodies: dict[str, bytes]) -> dict[str, str]:
    with archive.open_manifest("s", crawl_id, f"2026-10-0{crawl_id}T04:00:00") as manifest:
        digests = {}
        for url, body in bodies.items():
            digest = manifest.put(body, url=url, status=200, content_type="application/json")
            manifest.add(url=url, endpoint="e", key=url, sha256=digest, status=200,
                         parser_version="p-1")
            digests[url] = digest
    return digests


def test_recorded_payloads_are_stored_once_or_as_deltas_and_read_back_exactly(
        tmp_path: Path) -> None:
    archive = Archive(tmp_path / "snapshots")
    bodies = {f"https://api.example/{p.name}": p.read_bytes() for p in recorded()}
    first = put_crawl(archive, 1, bodies)
    later = {url: moved(body, 2) for url, body in bodies.items()}
    second = put_crawl(archive, 2, later)
    third = put_crawl(archive, 3, {url: moved(body, 3) for url, body in bodies.items()})
    again = put_crawl(archive, 4, later)  # the same answers as crawl 2
    assert again == second
    one, two, _, four = crawl_files(archive)
    assert len(stored_records(one)) == len(set(first.values()))
    changed = {url for url in bodies if later[url] != bodies[url]}
    assert changed and len(stored_records(two)) < len(changed)  # the rest are deltas
    assert stored_records(four) == []
    fresh = Archive(archive.root)  # another process reads them
    for crawl, digests in ((bodies, first), (later, second)):
        for url, digest in digests.items():
            assert fresh.get(digest) == crawl[url]
            assert hashlib.sha256(fresh.get(digest)).hexdigest() == digest
    deltas = [d for d in second.values() if fresh.keyframe(d) != d]
    assert deltas and all(fresh.keyframe(d) in first.values() for d in deltas)
    # Deltas of a third crawl are against the full copy too: never a chain of deltas.
    assert all(fresh.keyframe(d) in first.values() for d in third.values()
               if fresh.keyframe(d) != d)


def test_a_delta_that_would_not_rebuild_the_payload_is_stored_in_full(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zufiwatch.archive import delta

    archive = Archive(tmp_path / "snapshots")
    body = (PAYLOADS / "pvog" / "v6_detail_bewohnerparkausweis.json").read_bytes()
    put_crawl(archive, 1, {"u": body})
    monkeypatch.setattr(delta, "patch", lambda base, data: base)  # a faulty delta
    digest = put_crawl(archive, 2, {"u": moved(body, 2)})["u"]
    assert archive.keyframe(digest) == digest  # stored in full
    assert len(stored_records(crawl_files(archive)[1])) == 1
    monkeypatch.undo()
    assert Archive(archive.root).get(digest) == moved(body, 2)


def test_a_payload_the_same_as_the_previous_crawls_is_not_diffed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer the previous crawl received unchanged, stored in an earlier file, is
    known without reading a base: no delta is made of a payload against itself."""
    archive = Archive(tmp_path / "snapshots")
    body = (PAYLOADS / "pvog" / "v6_detail_bewohnerparkausweis.json").read_bytes()
    put_crawl(archive, 1, {"u": body, "same": b"an answer that never changes"})
    put_crawl(archive, 2, {"u": moved(body, 2), "same": b"an answer that never changes"})
    reads: list[str] = []
    fresh = Archive(archive.root)
    base_for = fresh.base_for
    monkeypatch.setattr(fresh, "base_for", lambda d, p: reads.append(d) or base_for(d, p))
    third = put_crawl(fresh, 3, {"u": moved(body, 3), "same": b"an answer that never changes"})
    assert len(reads) == 1  # the base of "u" only
    assert stored_records(crawl_files(fresh)[2]) == []
    assert Archive(archive.root).get(third["same"]) == b"an answer that never changes"
    assert Archive(archive.root).get(third["u"]) == moved(body, 3)


def test_a_manifest_is_read_with_blank_lines_and_values_orjson_refuses(
        tmp_path: Path) -> None:
    from zufiwatch.archive.catalogue import parse_catalogue

    lines = [{"url": "u", "sha256": "a" * 64, "stored": [0, 10], "size": 10},
             {"url": "v", "sha256": "b" * 64, "size": 2 ** 70}]
    text = "\n".join(json.dumps(line) for line in lines).encode() + b"\n"
    assert parse_catalogue(tmp_path, text).stored == {"a" * 64: [0, 10]}
    catalogue = parse_catalogue(tmp_path, text.replace(b"\n", b"\n\n  \n"))
    assert [e["size"] for e in catalogue.entries] == [10, 2 ** 70]
    assert parse_catalogue(tmp_path, b"").entries == []
    with pytest.raises(ArchiveError, match="more than one value"):
        parse_catalogue(tmp_path, b'{"sha256": "c"}, {"sha256": "d"}\n')
    with pytest.raises(ArchiveError, match="cannot be read"):
        parse_catalogue(tmp_path, b'{"sha256": "c"\n')


def test_one_file_per_crawl_and_an_unchanged_crawl_adds_one_small_file(
        crawler: Crawler) -> None:
    root = crawler.archive.root
    crawler.day(0)
    assert sorted(p.name for p in root.iterdir()) == ["crawls", INDEX_NAME]
    crawler.day(1)  # lastUpdate and timestamp of some entries move
    crawler.pvog.not_modified = 0
    again = crawler.crawl()  # nothing changed
    day0, day1, unchanged = crawl_files(crawler.archive)
    assert not list(root.rglob("objects"))
    assert len(stored_records(day1)) < len(stored_records(day0)) / 10
    assert "deltas" in " ".join(r.uri for r in warc.records(day1))
    assert [r.kind for r in warc.records(unchanged)] == ["warcinfo", "metadata"]
    # The budget of an unchanged day is 0.3 MiB at N = 2,000 (about 2,100 payloads), the
    # database's growth included: the archive's share is well under 100 bytes a payload.
    assert unchanged.stat().st_size < 100 * again.stats["requests"]
    entries = list(read_manifest(unchanged))
    assert len(entries) == again.stats["requests"]
    assert all(set(e) >= {"url", "endpoint", "key", "sha256", "status", "parser_version"}
               for e in entries)


def test_a_304_is_answered_from_a_delta_stored_payload(crawler: Crawler) -> None:
    crawler.day(0)
    crawler.day(1)
    cached = crawler.history.cached_answers(crawler.source.name)
    archive = Archive(crawler.archive.root)
    deltas = {url for url, (_, _, sha, _) in cached.items() if archive.keyframe(sha) != sha}
    assert deltas  # day 1's details are stored as deltas against day 0's
    crawler.pvog.not_modified = 0
    before = current_contents(crawler)
    again = crawler.crawl()
    assert again.outcome is Outcome.COMPLETE and again.changes == []
    assert crawler.pvog.not_modified == again.stats["requests"]
    assert again.stats["bytes_received"] == 0
    assert current_contents(crawler) == before


# -- the old layout ----------------------------------------------------------------------


class OldArchive(archive_1.Archive):
    """The archive as released before issue 19, behind the runner of today."""

    def open_manifest(self, source: str, crawl_id: int, started_at: str) -> Any:
        manifest = super().open_manifest(source, crawl_id, started_at)
        manifest.put = lambda body, **_: self.put(body)  # type: ignore[attr-defined]
        return manifest


def test_reparse_of_old_and_new_crawls_gives_no_changes(crawler: Crawler) -> None:
    root = crawler.archive.root
    crawler.archive = OldArchive(root)  # type: ignore[assignment]
    old = crawler.day(0)
    assert (root / "objects").is_dir() and not crawl_files(Archive(root))
    crawler.archive = Archive(root)  # the upgrade: the old files stay as they are
    new = crawler.day(1)
    assert new.outcome is Outcome.COMPLETE
    day1 = crawl_files(crawler.archive)[0]
    assert len(stored_records(day1)) < new.stats["requests"] / 4  # deltas against old files
    before = current_contents(crawler)
    for crawl in (old, new):
        result = rebaseline(crawler.source, history=crawler.history, archive=Archive(root),
                            clock=crawler.clock, crawl_id=crawl.crawl_id)
        assert result is not None and result.outcome is Outcome.COMPLETE, result
        assert result.changes == []
        assert result.stats["observed"] == crawl.stats["observed"]
    assert crawler.history.crawl(old.crawl_id)["manifest"].endswith(".jsonl.gz")
    assert crawler.history.crawl(new.crawl_id)["manifest"] == str(day1)
    assert current_contents(crawler) == before
    assert verify(crawler.history.db.conn).ok


# -- damage, privacy, interruption -------------------------------------------------------


def test_a_truncated_or_damaged_file_is_an_archive_error_naming_it(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "snapshots")
    body = (PAYLOADS / "pvog" / "v6_detail_bewohnerparkausweis.json").read_bytes()
    digest = put_crawl(archive, 1, {"u": body})["u"]
    (path,) = crawl_files(archive)
    whole = path.read_bytes()
    damaged = bytearray(whole)
    record = stored_records_at(whole)
    damaged[record + 200: record + 210] = b"x" * 10
    path.write_bytes(bytes(damaged))
    with pytest.raises(ArchiveError, match=re.escape(str(path))):
        Archive(archive.root).get(digest)
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ArchiveError, match=re.escape(str(path))):
        Archive(archive.root).get(digest)
    (archive.root / INDEX_NAME).unlink()
    with pytest.raises(ArchiveError, match=re.escape(str(path))):
        list(read_manifest(path))


def stored_records_at(whole: bytes) -> int:
    """The offset of the second gzip member (the first stored payload)."""
    return whole.index(b"\x1f\x8b", 10)


def test_the_crawl_file_is_a_standard_warc(crawler: Crawler) -> None:
    crawler.day(0)
    (path,) = crawl_files(crawler.archive)
    with open(path, "rb") as fh:
        iterator = ArchiveIterator(fh, check_digests="raise")
        kinds = []
        for record in iterator:
            kinds.append(record.rec_type)
            if record.rec_type == "response":
                assert record.rec_headers.get_header("WARC-Target-URI").startswith("http")
                assert record.http_headers.get_statuscode() == "200"
                assert record.http_headers.get_header("Content-Type")
                body = record.content_stream().read()
                digest = record.rec_headers.get_header("WARC-Payload-Digest")
                assert digest == warc.sha256_label(hashlib.sha256(body).hexdigest())
            elif record.rec_type == "metadata":
                lines = record.content_stream().read().decode().splitlines()
                assert all(json.loads(line)["sha256"] for line in lines)
    assert kinds[0] == "warcinfo" and kinds[-1] == "metadata"
    assert kinds.count("response") > 10


def test_archive_files_are_private(crawler: Crawler) -> None:
    old = os.umask(0o022)
    try:
        crawler.day(0)
    finally:
        os.umask(old)
    root = crawler.archive.root
    for path in [*root.rglob("*"), root]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_a_lost_index_is_rebuilt_and_an_unfinished_file_is_left_out(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "snapshots")
    body = (PAYLOADS / "pvog" / "v5_office_ordnungsamt.json").read_bytes()
    digest = put_crawl(archive, 1, {"u": body})["u"]
    killed = archive.open_manifest("s", 2, "2026-10-02T04:00:00")  # never finished
    other = killed.put(b'{"new": 1}', url="v", status=200)
    killed._fh.close()
    (archive.root / INDEX_NAME).unlink()
    fresh = Archive(archive.root)
    assert fresh.get(digest) == body
    assert not fresh.has(other)
    with pytest.raises(ArchiveError, match="not in the archive"):
        fresh.get(other)
    assert fresh.previous_crawl("s").payloads == {"u": digest}
