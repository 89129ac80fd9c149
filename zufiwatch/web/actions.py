"""Acknowledge changes, record and withdraw expected changes.

Each action needs the role ``pruefer``, records ``by=g.user``, lands in the evidence
chain (through :mod:`zufiwatch.triage`) and redirects to the local ``next`` with a German
message. A write that meets a busy database is retried (:func:`retrying`).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from flask import Blueprint, abort, current_app, flash, g, redirect, request
from flask.typing import ResponseReturnValue

from .. import triage
from ..errors import ZufiwatchError
from ..timeutil import ACCEPTED_FORMS, parse_when
from .app import history, settings
from .auth import safe_next

__all__ = ["blueprint", "retrying"]

log = logging.getLogger(__name__)

blueprint = Blueprint("actions", __name__)

T = TypeVar("T")
#: Tries of a write on a busy database (each waits ``busy_timeout`` in SQLite first).
TRIES = 5


def retrying(write: Callable[[], T], tries: int = TRIES) -> T:
    """``write()``, tried again when SQLite reports the database locked or busy."""
    for attempt in range(1, tries + 1):
        try:
            return write()
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or attempt == tries:
                raise
            log.warning("database busy, try %d of %d", attempt + 1, tries)
    raise AssertionError("unreachable")


@blueprint.before_request
def _require_pruefer() -> None:
    if g.get("role") != "pruefer":
        abort(403, "Nur Prüferinnen und Prüfer ([web] pruefer) dürfen Änderungen quittieren "
                   "und Erwartungen eintragen oder zurücknehmen.")


def _now() -> datetime:
    now: datetime = current_app.config["CLOCK"]()
    return now


def _back(message: str) -> ResponseReturnValue:
    flash(message, "erfolg")
    return redirect(safe_next(request.form.get("next")), code=303)  # POST, then GET


@blueprint.route("/aenderungen/quittieren", methods=["POST"])
def acknowledge() -> ResponseReturnValue:
    texts = request.form.getlist("id")
    if not texts or not all(t.strip().isdigit() for t in texts):
        abort(400, "Bitte wählen Sie die Änderungen aus (Nummern, wie die Liste sie zeigt).")
    ids = [int(t) for t in texts]
    unknown = triage.unknown_events(history(), ids)
    if unknown:
        abort(400, f"Keine Änderung mit der Nummer {', '.join(map(str, unknown))}.")
    note = request.form.get("note", "").strip()
    fresh = retrying(lambda: triage.acknowledge(history(), ids, by=g.user, note=note,
                                                now=_now()))
    log.info("%r acknowledged events %s", g.user, fresh)
    already = len(set(ids)) - len(fresh)
    return _back(f"{len(fresh)} Änderung(en) quittiert" +
                 (f", {already} waren es schon." if already else "."))


@blueprint.route("/erwartungen", methods=["POST"])
def expect() -> ResponseReturnValue:
    form = request.form
    try:
        until = parse_when(form.get("until", ""), tz=settings().timezone, now=_now(),
                           end_of_day=True)
    except ValueError:
        abort(400, f"Das Datum {form.get('until', '')!r} ist nicht lesbar. Möglich sind: "
                   f"{ACCEPTED_FORMS}")
    try:
        number = retrying(lambda: triage.expect(
            history(), key=form.get("key", "").strip(), field=form.get("field", ""),
            value=form.get("value", ""), until=until, by=g.user,
            note=form.get("note", "").strip(), now=_now()))
    except ZufiwatchError as exc:
        abort(400, str(exc))
    log.info("%r recorded expectation %d", g.user, number)
    return _back(f"Erwartung {number} eingetragen.")


@blueprint.route("/erwartungen/<int:expectation_id>/zuruecknehmen", methods=["POST"])
def withdraw(expectation_id: int) -> ResponseReturnValue:
    note = request.form.get("note", "").strip()
    try:
        retrying(lambda: triage.withdraw(history(), expectation_id, by=g.user, note=note,
                                         now=_now()))
    except ZufiwatchError as exc:
        abort(400, str(exc))
    log.info("%r withdrew expectation %d", g.user, expectation_id)
    return _back(f"Erwartung {expectation_id} zurückgenommen.")
