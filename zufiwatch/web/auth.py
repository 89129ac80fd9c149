"""Sign-in, sessions, roles and CSRF tokens.

Skeleton (the contract the pages rely on; sign-in itself is still to be built):

- ``session["user"]`` holds the signed-in user's name; ``g.user`` is that name and
  ``g.role`` its role, derived on every request from ``[web] pruefer`` / ``leser``
  (:func:`role_of`). A request without a signed-in user is sent to ``auth.sign_in``.
- ``csrf_field()`` (a Jinja global) is the hidden input every form carries;
  ``session["csrf"]`` holds the token.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape

from ..config import Settings, WebSettings

__all__ = ["blueprint", "csrf_token", "role_of", "secret_key"]

blueprint = Blueprint("auth", __name__)


def secret_key(settings: Settings) -> bytes | None:
    """The configured key that signs session cookies; None when none is configured."""
    return None


def role_of(web: WebSettings, user: str) -> str | None:
    """"pruefer", "leser", or None for a user who may not use the application."""
    if user in web.pruefer:
        return "pruefer"
    if not web.leser or user in web.leser:
        return "leser"
    return None


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


@blueprint.app_context_processor
def _globals() -> dict[str, object]:
    return {"csrf_field": lambda: Markup(
        f'<input type="hidden" name="csrf_token" value="{escape(csrf_token())}">')}


@blueprint.before_app_request
def _require_sign_in() -> ResponseReturnValue | None:
    from .app import settings

    if request.endpoint in ("auth.sign_in", "static") or request.endpoint is None:
        return None
    user = session.get("user")
    if not user:
        return redirect(url_for("auth.sign_in", next=request.full_path))
    role = role_of(settings().web, str(user))
    if role is None:
        abort(403, "Dieser Benutzer darf zufiwatch nicht verwenden.")
    g.user, g.role = str(user), role
    return None


@blueprint.route("/anmelden", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    abort(501, "Die Anmeldung ist noch nicht gebaut.")
