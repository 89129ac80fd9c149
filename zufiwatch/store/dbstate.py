"""The state of the database file before anything is written: damaged, newer than this
program, locked, read-only or on a full disk — each told in one line, saying what and where.

Every check here only reads; :class:`~zufiwatch.store.history.History` runs them before it
switches the journal mode or applies a migration, so a database in a bad state is left
exactly as it was found.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from pathlib import Path

from sqlite_utils import Database

from ..errors import StoreError
from .schema import MIGRATIONS

__all__ = ["DamagedDatabase", "NewerDatabase", "check_integrity", "create_private",
           "describe", "private_mode", "refuse_newer"]

log = logging.getLogger(__name__)

#: At most this many problems of ``PRAGMA quick_check`` are named.
_PROBLEMS_SHOWN = 3


class DamagedDatabase(StoreError):
    """``PRAGMA quick_check`` found the database file damaged."""


class NewerDatabase(StoreError):
    """The database was upgraded by a newer zufiwatch than this one."""


def describe(path: Path | str, exc: sqlite3.Error) -> str:
    """One line for an SQLite error: what happened to which file, and what to do."""
    message = str(exc)
    lowered = message.lower()
    if _damage(message):
        return (f"{path}: the database file is damaged ({message}); nothing was written. "
                "Restore the last backup ('zufiwatch backup' makes them) and crawl again.")
    if "locked" in lowered or "busy" in lowered:
        return (f"{path}: the database is locked by another process ({message}); nothing "
                "was written. Try again when that process has finished.")
    if "readonly" in lowered or "read-only" in lowered:
        return (f"{path}: the database cannot be written ({message}): the file or its "
                "folder is read-only for this user; nothing was written.")
    if "disk is full" in lowered or "disk full" in lowered:
        return (f"{path}: the disk is full ({message}); the last transaction was rolled "
                "back and nothing stored was changed. Free space and run again.")
    if "unable to open" in lowered:
        return (f"{path}: the database file cannot be opened ({message}): does its folder "
                "exist and may this user write there?")
    if "disk i/o" in lowered:
        return f"{path}: the disk reported an I/O error ({message}); nothing was written."
    return f"{path}: cannot use the history database: {message}"


def _damage(message: str) -> bool:
    lowered = message.lower()
    return "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered


def check_integrity(conn: sqlite3.Connection, path: Path | str) -> None:
    """``PRAGMA quick_check``; :class:`DamagedDatabase` naming the first problems."""
    try:
        rows = [row[0] for row in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        if not _damage(str(exc)):
            raise StoreError(describe(path, exc)) from exc  # locked, unreadable, …
        rows = [str(exc)]  # too damaged for the check to finish
    if rows == ["ok"]:
        return
    problems = [line.strip() for row in rows for line in str(row).splitlines()
                if line.strip() and not line.startswith("***")]
    shown = "; ".join(problems[:_PROBLEMS_SHOWN])
    more = (f" (+{len(problems) - _PROBLEMS_SHOWN} more)"
            if len(problems) > _PROBLEMS_SHOWN else "")
    raise DamagedDatabase(f"{path}: the database file is damaged (quick_check: {shown}{more}); "
                          "nothing was written. Restore the last backup ('zufiwatch backup' "
                          "makes them) and crawl again.")


def refuse_newer(db: Database, path: Path | str) -> None:
    """:class:`NewerDatabase` when the database holds migrations this program does not know."""
    known = {migration.name for migration in MIGRATIONS._migrations}
    unknown = [m.name for m in MIGRATIONS.applied(db) if m.name not in known]
    if unknown:
        from .. import __version__

        raise NewerDatabase(
            f"{path}: the database was upgraded by a newer zufiwatch (schema "
            f"{', '.join(unknown)}, unknown to version {__version__}); nothing was written. "
            "Install that version again, or restore a backup made before the upgrade.")


def private_mode(mode: int) -> int:
    """``mode`` without any permission for others."""
    return stat.S_IMODE(mode) & ~0o007


def create_private(path: Path) -> None:
    """Create an empty database file readable only by its owner (and group, if the umask
    allows), whatever the umask says about others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)


def restrict(path: Path) -> None:
    """Take away what others may do with an existing database file (and its WAL and shared
    memory files): the history and its archive are not for every user of the server."""
    for candidate in (path, path.with_name(path.name + "-wal"),
                      path.with_name(path.name + "-shm")):
        try:
            mode = candidate.stat().st_mode
        except FileNotFoundError:
            continue
        if stat.S_IMODE(mode) & 0o007:
            try:
                os.chmod(candidate, private_mode(mode))
            except OSError as exc:
                log.warning("%s is readable by every user and cannot be changed: %s",
                            candidate, exc.strerror)
                continue
            log.warning("%s was readable by every user; removed the permissions for others",
                        candidate)
