"""Sign-in, sessions, roles and CSRF tokens (to be built: see the module contract in app.py)."""

from __future__ import annotations

from flask import Blueprint

from ..config import Settings

blueprint = Blueprint("auth", __name__)


def secret_key(settings: Settings) -> bytes | None:
    """The configured key that signs session cookies; None when none is configured."""
    return None
