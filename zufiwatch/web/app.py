"""The application factory and what every request shares: the signed-in user and role,
the history (opened per request), error pages.

Contract for the blueprints (``auth``, ``actions``, ``pages``):

- ``g.user`` is the signed-in user's name and ``g.role`` ``"leser"`` or ``"pruefer"``;
  every view but sign-in requires a signed-in user (:func:`_require_sign_in`).
- :func:`history` is the request's :class:`History` (closed at the end of the request).
  Reads never block a crawl (SQLite WAL); a write waits on a busy database
  (``busy_timeout``) and retries (see ``actions``).
- ``app.config["ZUFIWATCH"]`` holds the :class:`Settings`, ``app.config["CLOCK"]`` the clock.
- Templates call ``csrf_field()`` in every form (from ``auth``).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, render_template

from ..config import Settings
from ..store import History
from ..timeutil import Clock, system_clock

__all__ = ["create_app", "history", "settings"]


def create_app(settings: Settings, *, database: Path | None = None,
               clock: Clock = system_clock, secret_key: bytes | None = None) -> Flask:
    """The web application over ``database`` (default: the configured one)."""
    from . import actions, auth, pages

    app = Flask(__name__)
    app.config.update(
        ZUFIWATCH=settings, DATABASE=Path(database or settings.database), CLOCK=clock,
        SECRET_KEY=secret_key or auth.secret_key(settings) or secrets.token_bytes(32),
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.web.secure_cookies,
        SESSION_COOKIE_NAME="zufiwatch_session", MAX_CONTENT_LENGTH=64 * 1024,
        PERMANENT_SESSION_LIFETIME=auth.SESSION_LIFETIME)
    app.jinja_env.autoescape = True
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(actions.blueprint)
    app.register_blueprint(pages.blueprint)
    app.teardown_appcontext(_close_history)
    for status in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(status, _error_page)
    return app


def settings() -> Settings:
    value: Settings = current_app.config["ZUFIWATCH"]
    return value


def history() -> History:
    """The history for this request, opened on first use."""
    if "history" not in g:
        # The integrity check ran when 'zufiwatch serve' started; not once per request.
        g.history = History(current_app.config["DATABASE"], check=False)
    value: History = g.history
    return value


def _close_history(_exc: BaseException | None) -> None:
    opened = g.pop("history", None)
    if opened is not None:
        opened.close()


def _error_page(error: Any) -> tuple[str, int]:
    code = getattr(error, "code", 500) or 500
    return render_template("error.html", code=code,
                           description=getattr(error, "description", "")), code
