"""Sign-in, sessions, roles and CSRF tokens.

The contract the pages rely on:

- ``session["user"]`` holds the signed-in user's name; ``g.user`` is that name and
  ``g.role`` its role, derived on every request from ``[web] pruefer`` / ``leser``
  (:func:`role_of`). A request without a signed-in user is sent to ``auth.sign_in``.
- ``csrf_field()`` (a Jinja global) is the hidden input every form carries;
  ``session["csrf"]`` holds the token. Every POST without it is refused (403).

Sign-in (``[web] auth``): ``"users"`` checks name and password against the user file
(:mod:`.users`), failures throttled per name and address (:mod:`.ratelimit`); ``"proxy"``
takes the name from ``proxy_header``, only from a ``trusted_proxies`` address. A session
lasts :data:`SESSION_LIFETIME` (by the injected clock) and is renewed at sign-in.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape

from ..config import Settings, WebSettings
from ..credentials import read_secret
from ..errors import ConfigError
from . import users
from .ratelimit import Throttle

__all__ = ["SESSION_LIFETIME", "blueprint", "csrf_token", "role_of", "safe_next",
           "secret_key"]

log = logging.getLogger(__name__)

blueprint = Blueprint("auth", __name__)

#: How long a sign-in lasts.
SESSION_LIFETIME = timedelta(hours=8)
#: The shortest session key accepted from the configuration.
_MIN_KEY = 32


def secret_key(settings: Settings) -> bytes | None:
    """The configured key that signs session cookies; None when none is configured.
    ConfigError (naming the key, never the value) when it cannot be read or is short."""
    web = settings.web
    key = read_secret(what="session key", env_key="web.secret_key_env", env=web.secret_key_env,
                      file_key="web.secret_key_file", file=web.secret_key_file,
                      credential_key="web.secret_key_credential",
                      credential=web.secret_key_credential)
    if key is None:
        return None
    if len(key) < _MIN_KEY:
        raise ConfigError(f"web.secret_key_*: the session key is too short (at least "
                          f"{_MIN_KEY} characters; e.g. 'openssl rand -hex 32')")
    return key.encode()


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


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    return default if parts.scheme or parts.netloc else target


@blueprint.app_context_processor
def _globals() -> dict[str, object]:
    return {"csrf_field": lambda: Markup(
        f'<input type="hidden" name="csrf_token" value="{escape(csrf_token())}">')}


def _web() -> WebSettings:
    value: WebSettings = current_app.config["ZUFIWATCH"].web
    return value


def _now() -> datetime:
    now: datetime = current_app.config["CLOCK"]()
    return now


def _throttle() -> Throttle:
    throttle: Throttle = current_app.extensions.setdefault("zufiwatch_throttle", Throttle())
    return throttle


@blueprint.before_app_request
def _check_csrf() -> None:
    """Every POST carries the session's CSRF token."""
    if request.method != "POST":
        return
    expected = session.get("csrf")
    given = request.form.get("csrf_token", "")
    if not expected or not hmac.compare_digest(str(expected).encode(), given.encode()):
        abort(403, "Das Formular ist abgelaufen oder stammt nicht von zufiwatch. Bitte laden "
                   "Sie die Seite neu und versuchen Sie es noch einmal.")


@blueprint.before_app_request
def _require_sign_in() -> ResponseReturnValue | None:
    if request.endpoint in ("auth.sign_in", "static") or request.endpoint is None:
        return None
    web = _web()
    if web.auth == "proxy":
        _sign_in_by_proxy(web)
    user = session.get("user")
    since = session.get("since")  # set at sign-in; the cookie's own signature expires too
    if user and since and _now() - datetime.fromisoformat(since) >= SESSION_LIFETIME:
        session.clear()
        user = None
    if user and session.get("via") == "users" and (
            web.auth != "users" or user not in users.load_users(Path(web.users_file))):
        session.clear()  # removed from the user file ('zufiwatch user remove')
        user = None
    if not user:
        return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
    role = role_of(web, str(user))
    if role is None:
        abort(403, "Dieser Benutzer darf zufiwatch nicht verwenden.")
    g.user, g.role = str(user), role
    return None


def _sign_in_by_proxy(web: WebSettings) -> None:
    """The user the reverse proxy names, trusted only from ``trusted_proxies``."""
    if request.remote_addr not in web.trusted_proxies:
        log.warning("request from %s refused: not a trusted proxy", request.remote_addr)
        abort(403, "Zugriff nur über den Reverse-Proxy der Stadtverwaltung.")
    name = request.headers.get(web.proxy_header, "").strip()
    if not name:
        abort(403, "Der Reverse-Proxy hat keinen angemeldeten Benutzer übermittelt.")
    if session.get("user") != name:
        _start_session(name)


def _start_session(name: str) -> None:
    """A new session for ``name`` (nothing of the session before is kept: no fixation)."""
    session.clear()
    session.permanent = True
    session["user"] = name
    session["since"] = _now().isoformat()
    session["csrf"] = secrets.token_urlsafe(32)


@blueprint.route("/anmelden", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    web = _web()
    target = safe_next(request.values.get("next"))
    if web.auth == "proxy":
        return redirect(target)
    error, status, name = "", 200, ""
    if request.method == "POST":
        name = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        address = request.remote_addr or "-"
        keys = [f"user:{name.casefold()}", f"addr:{address}"]
        throttle, now = _throttle(), _now()
        if throttle.blocked(keys, now):
            log.warning("sign-in as %r from %s refused: too many failed attempts", name, address)
            abort(429, "Zu viele fehlgeschlagene Anmeldungen. Bitte versuchen Sie es in "
                       "15 Minuten noch einmal.")
        if name and password and users.check_password(Path(web.users_file), name, password):
            throttle.succeed(keys[0])
            log.info("%r signed in from %s", name, address)
            _start_session(name)
            session["via"] = "users"
            return redirect(target, code=303)
        throttle.fail(keys, now)
        log.warning("failed sign-in as %r from %s", name, address)
        error, status = "Benutzername oder Passwort ist falsch.", 401
    return render_template("sign_in.html", error=error, name=name,
                           next=safe_next(request.values.get("next"), "")), status


@blueprint.route("/abmelden", methods=["POST"])
def sign_out() -> ResponseReturnValue:
    log.info("%r signed out", g.get("user"))
    session.clear()
    return redirect(url_for("auth.sign_in"), code=303)
