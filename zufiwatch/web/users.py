"""The local user file (``[web] auth = "users"``): ``{"users": {name: {"hash": …}}}``.

Only Argon2id hashes (argon2-cffi's :class:`PasswordHasher`) are stored; the file is
written atomically (a new file, then renamed) with mode 0600. ``zufiwatch user`` manages
it; the sign-in checks it (:func:`check_password`) and rehashes a password whose hash
uses weaker parameters than the current ones.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import ConfigError

__all__ = ["MIN_PASSWORD", "add_user", "check_password", "load_users", "remove_user",
           "set_password", "valid_name"]

#: The shortest password accepted.
MIN_PASSWORD = 10
_NAME = re.compile(r"[\w.@+-]{1,64}")
_HASHER = PasswordHasher()
#: Verified for unknown users, so that a sign-in takes as long for them as for others.
_DUMMY = _HASHER.hash(secrets.token_hex(16))


def valid_name(name: str) -> bool:
    """Letters, digits and ``. _ @ + -``, at most 64 characters."""
    return bool(_NAME.fullmatch(name))


def load_users(path: Path) -> dict[str, dict[str, Any]]:
    """name → entry; an absent file has no users. ConfigError for a broken file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the user file: {exc}") from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("hash"), str) for v in users.values()):
        raise ConfigError(f"{path}: not a zufiwatch user file "
                          '({"users": {name: {"hash": …}}})')
    return users


def _save(path: Path, users: dict[str, dict[str, Any]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"users": dict(sorted(users.items()))}, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _check_new(name: str, password: str) -> None:
    if not valid_name(name):
        raise ConfigError(f"{name!r} is not a user name (letters, digits and . _ @ + -, "
                          "at most 64)")
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"the password is too short (at least {MIN_PASSWORD} characters)")


def add_user(path: Path, name: str, password: str) -> None:
    _check_new(name, password)
    users = load_users(path)
    if name in users:
        raise ConfigError(f"user {name} exists ('zufiwatch user passwd {name}' changes "
                          "the password)")
    users[name] = {"hash": _HASHER.hash(password)}
    _save(path, users)


def set_password(path: Path, name: str, password: str) -> None:
    _check_new(name, password)
    users = load_users(path)
    if name not in users:
        raise ConfigError(f"no user {name} in {path}")
    users[name] = {**users[name], "hash": _HASHER.hash(password)}
    _save(path, users)


def remove_user(path: Path, name: str) -> None:
    users = load_users(path)
    if name not in users:
        raise ConfigError(f"no user {name} in {path}")
    del users[name]
    _save(path, users)


def check_password(path: Path, name: str, password: str) -> bool:
    """Whether ``password`` is ``name``'s; rehashes it when the parameters are outdated."""
    entry = load_users(path).get(name)
    try:
        _HASHER.verify(entry["hash"] if entry else _DUMMY, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if entry is None:
        return False
    if _HASHER.check_needs_rehash(entry["hash"]):
        users = load_users(path)
        if name in users:
            users[name] = {**users[name], "hash": _HASHER.hash(password)}
            _save(path, users)
    return True
