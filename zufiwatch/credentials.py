"""Secrets (the SMTP password, the TSA api_key) from where the configuration names them:
an environment variable, a file (its first line) or a systemd credential
(``$CREDENTIALS_DIRECTORY/<name>``). Never from the TOML file; errors name the source and
why it failed, never the value.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from .errors import ConfigError

__all__ = ["CREDENTIALS_ENV", "read_secret"]

log = logging.getLogger(__name__)

#: Where systemd puts the credentials of a unit with LoadCredential=.
CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
#: A secret is one line; more than this is not read.
_MAX_LINE = 4096


def read_secret(*, what: str, env_key: str, env: str = "", file_key: str, file: str = "",
                credential_key: str, credential: str = "",
                environ: Mapping[str, str] = os.environ) -> str | None:
    """The secret from the one source named; ``None`` when none is named. ``what`` says
    what it is in messages ("SMTP password"); the ``*_key`` are the configuration keys
    naming each source, for the error messages."""
    if env:
        return _from_env(what, env_key, env, environ)
    if file:
        return _first_line(what, file_key, Path(file).expanduser())
    if credential:
        return _from_credential(what, credential_key, credential, environ)
    return None


def _from_env(what: str, key: str, name: str, environ: Mapping[str, str]) -> str:
    if name not in environ:
        raise ConfigError(f"{key}: environment variable {name} is not set")
    if not environ[name]:
        raise ConfigError(f"{key}: environment variable {name} is empty")
    log.debug("%s read from environment variable %s", what, name)
    return environ[name]


def _from_credential(what: str, key: str, name: str, environ: Mapping[str, str]) -> str:
    if "/" in name or name in (".", ".."):
        raise ConfigError(f"{key}: {name!r} is not a credential name (no '/' allowed)")
    directory = environ.get(CREDENTIALS_ENV, "")
    if not directory:
        raise ConfigError(f"{key}: {CREDENTIALS_ENV} is not set (run zufiwatch as a systemd "
                          f"service with LoadCredential={name}:<file>)")
    return _first_line(what, key, Path(directory) / name)


def _first_line(what: str, key: str, path: Path) -> str:
    """The first line of ``path``, stripped; ConfigError when unreadable or empty."""
    try:
        with path.open(encoding="utf-8") as fh:
            line = fh.readline(_MAX_LINE)
    except UnicodeDecodeError:
        # ``from None``: the decode error quotes a byte of the secret.
        raise ConfigError(f"{key}: {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc.strerror or exc}") from exc
    secret = line.strip()
    if not secret:
        raise ConfigError(f"{key}: {path} is empty (the {what} is its first line)")
    log.debug("%s read from %s", what, path)
    return secret
