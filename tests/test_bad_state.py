"""A database or archive in a bad state: one clear line, nothing written.

Damaged (one corrupt page), written by a newer zufiwatch, locked by another writer, on a
full disk, read-only; a snapshots folder that went missing; and the modes of the files
zufiwatch writes (history and archive private, the overview for a configured group)."""

from __future__ import annotations

import contextlib
import errno
import grp
import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
import sqlite_utils.plugins
from click.testing import CliRunner, Result

from tests.conftest import Crawler, snapshot_tables
from zufiwatch.archive import writer as archive_writer
from zufiwatch.cli import cli
from zufiwatch.store import History
from zufiwatch.store import history as history_module

SQLITE_MIGRATIONS = "_sqlite_migrations"


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def one_line_error(result: Result) -> str:
    """The error a command printed: exactly one line, no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def crawled(crawler: Crawler, tmp_path: Path) -> Iterator[tuple[Crawler, Path]]:
    """One complete crawl of the simulated PVOG, stored and archived; the history closed
    (its WAL checkpointed) so that the database file alone holds everything."""
    assert crawler.day(0).outcome == "complete"
    config = crawler.write_config(tmp_path / "zufiwatch.toml")
    crawler.history.close()
    yield crawler, config


def reopen_tables(path: Path) -> dict[str, list[tuple]]:
    with History(path) as history:
        return snapshot_tables(history)


# -- a database written by a newer zufiwatch --------------------------------------------


def test_a_newer_database_is_refused_before_anything_is_written(crawled) -> None:
    crawler, config = crawled
    db = crawler.history.path
    with sqlite3.connect(db) as conn:
        conn.execute(f"INSERT INTO {SQLITE_MIGRATIONS} (migration_set, name, applied_at) "
                     "VALUES ('zufiwatch', 'm099_from_the_future', '2027-01-01')")
    conn.close()
    before = digest(db)
    for command in (["crawl"], ["state", "--at", "now"], ["changes"], ["verify"]):
        line = one_line_error(run(config, *command))
        assert "newer zufiwatch" in line and "m099_from_the_future" in line, line
        assert str(db) in line
    assert digest(db) == before
    assert not db.with_name(db.name + "-wal").exists()


def test_health_is_critical_for_a_newer_database(crawled) -> None:
    crawler, config = crawled
    with sqlite3.connect(crawler.history.path) as conn:
        conn.execute(f"INSERT INTO {SQLITE_MIGRATIONS} (migration_set, name, applied_at) "
                     "VALUES ('zufiwatch', 'm099_from_the_future', '2027-01-01')")
    conn.close()
    result = run(config, "health")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("ZUFIWATCH CRITICAL - ")
    assert "newer zufiwatch" in result.output


# -- a damaged database -------------------------------------------------------------------


def damage_one_page(db: Path) -> None:
    """Overwrite the cell pointers of one leaf page of the versions table: the file still
    opens, most queries still work, ``PRAGMA quick_check`` finds it."""
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [row[0] for row in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = 'versions' AND pagetype = 'leaf'")]
    conn.close()
    assert pages, "the versions table has leaf pages"
    with db.open("r+b") as handle:
        handle.seek((pages[len(pages) // 2] - 1) * page_size + 8)
        handle.write(b"\xff" * 64)


def test_a_damaged_database_is_refused_by_every_command(crawled) -> None:
    crawler, config = crawled
    db = crawler.history.path
    damage_one_page(db)
    before = digest(db)
    for command in (["crawl"], ["state", "--at", "now"], ["changes"], ["show", "leistung:1"],
                    ["verify"],
                    ["backup", str(db.with_name("copy.db"))]):
        line = one_line_error(run(config, *command))
        assert "damaged" in line and str(db) in line, (command, line)
    assert digest(db) == before
    assert not db.with_name("copy.db").exists()


def test_health_is_critical_for_a_damaged_database(crawled) -> None:
    crawler, config = crawled
    damage_one_page(crawler.history.path)
    result = run(config, "health")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("ZUFIWATCH CRITICAL - ")
    assert "damaged" in result.output and "quick_check" in result.output
    assert len(result.output.strip().splitlines()) == 1


# -- locked, full, read-only --------------------------------------------------------------


def test_a_database_locked_by_another_writer_is_one_line(crawled, monkeypatch) -> None:
    crawler, config = crawled
    db = crawler.history.path
    monkeypatch.setattr(history_module, "BUSY_TIMEOUT_MS", 50)
    before = reopen_tables(db)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writes
    try:
        line = one_line_error(run(config, "crawl"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "locked by another process" in line and str(db) in line
    assert reopen_tables(db) == before
    assert run(config, "crawl").exit_code == 0  # and the next crawl runs


def test_a_full_disk_while_storing_a_crawl_is_one_line_and_stores_nothing(
        crawled, monkeypatch) -> None:
    crawler, config = crawled
    db = crawler.history.path
    crawler.pvog.set_day(crawler.pvog.scenario.days)  # changes to store
    before = reopen_tables(db)
    opened = History.__init__

    def full_disk(self: History, *args, **kwargs) -> None:
        opened(self, *args, **kwargs)
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        self.db.execute(f"PRAGMA max_page_count = {pages}")  # not one page more

    monkeypatch.setattr(History, "__init__", full_disk)
    result = run(config, "crawl")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "crawl 2 failed" in lines[0], result.output
    assert "disk is full" in lines[0] and str(db) in lines[0]
    monkeypatch.undo()
    after = reopen_tables(db)
    assert {k: v for k, v in after.items() if k != "crawls"} == \
        {k: v for k, v in before.items() if k != "crawls"}
    with History(db) as history:
        assert history.crawl(2)["outcome"] == "failed"  # recorded, not left running


def test_a_full_disk_in_the_archive_is_one_line(crawled, monkeypatch) -> None:
    crawler, config = crawled
    crawler.pvog.set_day(1)

    def no_space(fh: object, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(archive_writer, "_append", no_space)
    result = run(config, "crawl")
    assert "Traceback" not in result.output
    assert result.exit_code == 1
    assert "No space left on device" in result.output
    assert ".warc.gz" in result.output  # the file named
    with History(crawler.history.path) as history:
        last = history.crawls(limit=1)[0]
    assert last["outcome"] in ("partial", "failed")  # nothing unarchived is concluded
    assert "No space left on device" in last["reason"]


def test_a_full_disk_when_the_manifest_is_finished_fails_the_crawl_in_one_line(
        crawled, monkeypatch) -> None:
    """The crawl's archive file is synced when its manifest is written: a full disk may
    show only there (a traceback before)."""
    crawler, config = crawled

    def sync_on_a_full_disk(fh: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    before = reopen_tables(crawler.history.path)
    monkeypatch.setattr(archive_writer, "_sync", sync_on_a_full_disk)
    result = run(config, "crawl")
    monkeypatch.undo()
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "cannot finish manifest" in result.output
    assert "No space left on device" in result.output
    after = reopen_tables(crawler.history.path)
    assert {k: v for k, v in after.items() if k != "crawls"} == \
        {k: v for k, v in before.items() if k != "crawls"}
    with History(crawler.history.path) as history:
        last = history.crawls(limit=1)[0]
    assert last["outcome"] == "failed" and "cannot finish manifest" in last["reason"]
    assert run(config, "crawl").exit_code == 0  # the next crawl runs


def test_a_manifest_that_cannot_be_finished_is_an_archive_error(tmp_path: Path,
                                                                monkeypatch) -> None:
    from zufiwatch.archive import Archive
    from zufiwatch.errors import ArchiveError

    manifest = Archive(tmp_path / "snapshots").open_manifest("s", 1, "2026-12-06T08:00:00")
    manifest.add(url="https://example.org/", sha256="0" * 64)

    def no_space() -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(manifest._fh, "close", no_space)
    with pytest.raises(ArchiveError, match=r"cannot finish manifest .*No space left"):
        manifest.close()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` cannot be written, also by root (who ignores file modes): immutable."""
    if os.geteuid() != 0:
        os.chmod(path, 0o444)
        yield
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True,
                          check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot make a file read-only for root here: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_database_is_one_line(crawled) -> None:
    crawler, config = crawled
    db = crawler.history.path
    before = digest(db)
    with read_only(db):
        line = one_line_error(run(config, "crawl"))
        assert str(db) in line
        assert "read-only" in line or "cannot be opened" in line, line
        assert digest(db) == before


# -- the snapshots folder -----------------------------------------------------------------


def test_a_missing_snapshots_folder_is_an_error_not_a_new_archive(crawled) -> None:
    crawler, config = crawled
    snapshots = crawler.archive.root
    moved = snapshots.with_name("unmounted")
    snapshots.rename(moved)
    before = reopen_tables(crawler.history.path)
    line = one_line_error(run(config, "crawl"))
    assert str(snapshots) in line and "missing" in line and "--init-archive" in line
    assert not snapshots.exists()
    assert reopen_tables(crawler.history.path) == before  # no crawl row either
    result = run(config, "crawl", "--init-archive")
    assert result.exit_code == 0, result.output
    assert any((snapshots / "crawls").rglob("*.warc.gz"))


def test_a_first_crawl_creates_the_snapshots_folder_by_itself(tmp_path: Path,
                                                              crawler: Crawler) -> None:
    config = crawler.write_config(tmp_path / "zufiwatch.toml")
    crawler.history.close()
    shutil.rmtree(crawler.archive.root, ignore_errors=True)
    result = run(config, "crawl")
    assert result.exit_code == 0, result.output
    assert crawler.archive.root.is_dir()


# -- file modes ---------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_history_and_archive_are_private_whatever_the_umask(crawler: Crawler,
                                                           tmp_path: Path) -> None:
    config = crawler.write_config(tmp_path / "zufiwatch.toml")
    crawler.history.close()
    crawler.history.path.unlink()
    shutil.rmtree(crawler.archive.root, ignore_errors=True)
    previous = os.umask(0o022)
    try:
        assert run(config, "crawl").exit_code == 0
    finally:
        os.umask(previous)
    assert mode(crawler.history.path) == 0o600
    root = crawler.archive.root
    for path in [root, *root.rglob("*")]:
        expected = 0o700 if path.is_dir() else 0o600
        assert mode(path) == expected, (path, oct(mode(path)))


def test_a_world_readable_database_is_made_private_on_open(tmp_path: Path, caplog) -> None:
    db = tmp_path / "h.db"
    History(db).close()
    os.chmod(db, 0o644)
    History(db).close()
    assert mode(db) == 0o640
    assert "readable by every user" in caplog.text


def overview_config(crawler: Crawler, tmp_path: Path, group: str) -> Path:
    return crawler.write_config(tmp_path / "zufiwatch.toml", sections=f"""
[report]
directory = "{tmp_path / 'overview'}"
group = "{group}"
""")


@pytest.mark.parametrize("group", ["own", ""])
def test_the_overview_is_readable_by_the_configured_group(crawler: Crawler, tmp_path: Path,
                                                          group: str) -> None:
    name = grp.getgrgid(os.getgid()).gr_name if group == "own" else ""
    config = overview_config(crawler, tmp_path, name)
    crawler.history.close()
    result = run(config, "overview")
    assert result.exit_code == 0, result.output
    site = tmp_path / "overview"
    files, folders = (0o640, 0o750) if name else (0o600, 0o700)
    for path in [site, *site.rglob("*")]:
        assert mode(path) == (folders if path.is_dir() else files), (path, oct(mode(path)))
        assert path.stat().st_gid == os.getgid()


def test_an_unknown_overview_group_is_one_line(crawler: Crawler, tmp_path: Path) -> None:
    config = overview_config(crawler, tmp_path, "no-such-group-zufiwatch")
    crawler.history.close()
    line = one_line_error(run(config, "overview"))
    assert "no-such-group-zufiwatch" in line and "does not exist" in line
    assert not (tmp_path / "overview").exists()


class _ConnectionPlugin:
    """A sqlite-utils plugin as a package installed beside zufiwatch could bring."""

    def __init__(self) -> None:
        self.prepared: list[sqlite3.Connection] = []

    @sqlite_utils.hookimpl
    def prepare_connection(self, conn: sqlite3.Connection) -> None:
        self.prepared.append(conn)
        conn.execute("PRAGMA foreign_keys = OFF")


def test_sqlite_utils_plugins_installed_beside_do_not_touch_the_history(tmp_path: Path) -> None:
    plugin = _ConnectionPlugin()
    sqlite_utils.plugins.pm.register(plugin)
    try:
        History(tmp_path / "h.db")
        History(tmp_path / "h.db", readonly=True)
    finally:
        sqlite_utils.plugins.pm.unregister(plugin)
    assert plugin.prepared == []
