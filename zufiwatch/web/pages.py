"""The pages the working group reads: the start page, the changes, a record, a link, the
expected-change register, the crawls, the feed and the CSV export.

Every page is German. Crawled content is text to the templates (autoescaped, never marked
safe); only http(s) URLs become links (:func:`safe_href`). The forms of the actions
(``actions``) appear only for the role ``pruefer`` and carry ``csrf_field()``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, render_template, request, url_for
from werkzeug.routing import BuildError

from .. import queries, triage
from ..cli.questions import event_export_row
from ..crosscheck import open_disagreements
from ..errors import ZufiwatchError
from ..export import EVENT_TABLE, encode_table
from ..health import evaluate
from ..model import KIND_LABELS
from ..render import host_of
from ..report.site import atom_feed, host_class, safe_href
from ..timeutil import parse_when, stored
from . import views
from .app import history, settings

blueprint = Blueprint("pages", __name__)

#: Where the actions live until their blueprint registers them (``actions``).
_FALLBACK_PATHS = {"actions.acknowledge": "/aenderungen/quittieren",
                   "actions.expect": "/erwartungen",
                   "actions.withdraw": "/erwartungen/{expectation_id}/zuruecknehmen",
                   "auth.sign_out": "/abmelden"}


#: The forms :func:`parse_when` accepts (``timeutil.ACCEPTED_FORMS``), in German.
ACCEPTED_FORMS_DE = ("ein Datum wie 2026-12-15 oder 15.12.2026 (bei „bis“ und „Stand“ das "
                     "Ende dieses Tages), eine Zeit wie „2026-12-15 14:30“ oder "
                     "„15.12.2026 14:30“, eine ISO-8601-Zeit mit Zeitzone "
                     "(2026-12-15T14:30+01:00), jetzt/now, heute/today, gestern/yesterday, "
                     "morgen/tomorrow oder ein Alter wie 7d (Tage), 12h (Stunden), "
                     "2w (Wochen), 30m (Minuten)")


def action_url(endpoint: str, **values: Any) -> str:
    """The URL of an action endpoint, or its agreed path while it is not registered."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return _FALLBACK_PATHS[endpoint].format(**values)


def _now() -> datetime:
    moment: datetime = current_app.config["CLOCK"]()
    return moment


def _tz() -> str:
    return settings().timezone


@blueprint.app_context_processor
def _page_globals() -> dict[str, Any]:
    return {"action_url": action_url, "safe_href": safe_href, "word": views.word,
            "kind_labels": KIND_LABELS, "current_path": request.full_path.rstrip("?"),
            "is_pruefer": g.get("role") == "pruefer"}


@blueprint.app_template_filter("zeit")
def _local_time(value: str | None) -> str:
    return views.local_time(value, _tz())


def _when(name: str, *, end_of_day: bool) -> str | None:
    """A time from the query string in stored form; 400 with the accepted forms if bad."""
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return stored(parse_when(text, tz=_tz(), now=_now(), end_of_day=end_of_day))
    except (ValueError, ZufiwatchError):
        abort(400, f"„{text}“ ist keine Zeitangabe, die zufiwatch versteht. "
                   f"Möglich sind: {ACCEPTED_FORMS_DE}")


@blueprint.route("/")
def start() -> str:
    now = _now()
    return render_template(
        "start.html", groups=views.week_open(history(), now, _tz()),
        sources=views.source_states(history(), settings(), now),
        disagreements=open_disagreements(history()))


@blueprint.route("/aenderungen")
def changes() -> str:
    chosen = views.EventFilter(request.args, _when("seit", end_of_day=False),
                               _when("bis", end_of_day=True))
    events, total = views.filtered_events(history(), chosen, _tz())
    pages = max(1, -(-total // views.PAGE_SIZE))
    return render_template("changes.html", events=events, total=total, chosen=chosen,
                           pages=pages, args=request.args, sources=views.source_states(
                               history(), settings(), _now()))


@blueprint.route("/eintrag/<path:key>")
def record(key: str) -> str:
    found, sources = views.find_record(history(), key, request.args.get("quelle") or None)
    if found is None:
        if not sources:
            abort(404, f"Einen Eintrag „{key}“ gibt es in der Historie nicht.")
        return render_template("choose_source.html", key=key, sources=sources)
    return render_template("record.html", **_record_context(found))


def _record_context(found: dict[str, Any]) -> dict[str, Any]:
    at = stored(_now())
    stand = _when("stand", end_of_day=True)
    versions = history().versions(found["id"])
    shown = history().version_at(found["id"], stand or at) if versions else None
    content = json.loads(shown["content"]) if shown else {}
    diff = None
    if request.args.get("von") and request.args.get("bis"):
        try:
            diff = views.version_diff(history(), found, int(request.args["von"]),
                                      int(request.args["bis"]))
        except ValueError:
            diff = None
        if diff is None:
            abort(400, "Diese Versionen gehören nicht zu diesem Eintrag.")
    return {
        "r": found, "stand": stand, "shown": shown, "versions": versions,
        "content": views.readable_content(found["kind"], content),
        "offices": views.responsible(content), "diff": diff,
        "links": views.record_links(history(), content, stand or at),
        "duties": views.office_duties(history(), found, content, stand or at)
        if found["kind"] == "organisationseinheit" else [],
        "events": [views.event_view(e, _tz()) for e in queries.events(
            history(), key=found["key"], source=found["source"], newest_first=True)],
        "fields": triage.record_fields(history(), found),
        "expectations": [x for x in triage.expectations(history())
                         if x["key"] == found["key"]],
    }


@blueprint.route("/link")
def link() -> str:
    url = request.args.get("url", "")
    at = stored(_now())
    row = next((r for r in queries.links(history(), at=at) if r["url"] == url), None)
    check = queries.link_checks(history(), at=at).get(url)
    if row is None and check is None:
        abort(404, "Diesen Link kennt zufiwatch nicht.")
    found, _ = views.find_record(history(), f"link:{url}", None)
    events = queries.events(history(), key=found["key"], source=found["source"],
                            newest_first=True) if found else []
    return render_template("link.html", url=url, href=safe_href(url), row=row, check=check,
                           host_class=host_class(host_of(url)), record=found,
                           events=[views.event_view(e, _tz()) for e in events])


@blueprint.route("/erwartungen")
def expectations() -> str:
    return render_template("expectations.html",
                           expectations=triage.expectations(history()))


@blueprint.route("/crawls")
def crawls() -> str:
    return render_template("crawls.html", crawls=history().crawls(limit=100),
                           health=evaluate(settings(), history(), _now()),
                           labels=queries.source_labels(history()))


@blueprint.route("/feed.atom")
def feed() -> Response:
    events = queries.events(history(), newest_first=True, limit=200)
    body = atom_feed(events, language="de", timezone=_tz(), at=stored(_now()),
                     self_href=url_for("pages.feed"), alternate_href=url_for("pages.start"))
    return Response(body, mimetype="application/atom+xml")


@blueprint.route("/export/aenderungen.csv")
def export_changes() -> Response:
    rows = [event_export_row(e, _tz(), "de") for e in queries.events(history())]
    body = encode_table(rows, EVENT_TABLE, "csv-de", timezone=_tz())
    return Response(body, mimetype="text/csv; charset=utf-8", headers={
        "Content-Disposition": "attachment; filename=aenderungen.csv"})
