"""Commands that answer questions about the past: changes, history, show, state, links,
diff, disagreements."""

from __future__ import annotations

from typing import Any

import click

from ..export import CHANGE_TABLE, EVENT_TABLE
from ..model import KINDS
from ..render import change_pair, content_rows, short_value
from ..timeutil import show_time
from .root import App, emit, handle_errors, output_options, pass_app


@click.command()
@click.option("--all", "include_resolved", is_flag=True,
              help="Also the differences that ended (by default only the open ones).")
@output_options
@pass_app
@handle_errors
def disagreements(app: App, include_resolved: bool, fmt: str | None) -> None:
    """List where the ZuFi (a tsa source) and the PVOG disagree about a Leistung.

    A difference is reported once it outlasts the tsa source's sync_window_hours; before
    that it may be the PVOG's daily import catching up.

    \b
    Example:
      zufiwatch disagreements --all
    """
    from ..crosscheck import open_disagreements

    with app.history() as history:
        rows = open_disagreements(history, include_resolved=include_resolved)
    if fmt is None:
        rows = [{**row, "since": show_time(row["first_seen"], app.timezone),
                 "reported": show_time(row["reported_at"], app.timezone)
                 if row["reported_at"] else "not yet (sync window)",
                 "ended": show_time(row["resolved_at"], app.timezone)
                 if row["resolved_at"] else "",
                 "zufi": "; ".join(row["zufi_value"]) or "—",
                 "pvog": "; ".join(row["pvog_value"]) or "—"} for row in rows]
    columns = ["zufi_id", "title", "aspect_label", "zufi", "pvog", "since", "reported",
               "ended"] if fmt is None else [
        "id", "tsa_source", "pvog_source", "zufi_id", "title", "office", "aspect",
        "aspect_label", "zufi_value", "pvog_value", "tsa_key", "pvog_key", "first_seen",
        "last_seen", "severity", "reported_at", "resolved_at"]
    emit(rows, fmt, columns, ["ZuFi id", "Leistung", "what", "in the ZuFi", "in the PVOG",
                              "since", "reported", "ended"] if fmt is None else None)


#: Columns of ``changes --by-source --csv``: one row per change of a source.
CHANGE_COLUMNS = [column.key for column in CHANGE_TABLE]


#: Columns of ``changes --csv``: one row per event.
EVENT_COLUMNS = [column.key for column in EVENT_TABLE]
_SEVERITIES = ["low", "medium", "high", "critical"]


@click.command()
@click.option("--since", help="Only changes detected at or after this time (e.g. 2026-03-01, "
                              "15.03.2026, gestern, 7d).")
@click.option("--until", help="Only changes detected up to this time.")
@click.option("--kind", type=click.Choice(KINDS), help="Only changes of records of this kind.")
@click.option("--record", "key", metavar="KEY", help="Only changes of this record.")
@click.option("--source", help="Only changes this source saw.")
@click.option("--status", type=click.Choice(["untracked", "expected", "acknowledged"]),
              help="Only changes with this triage status.")
@click.option("--severity", type=click.Choice(_SEVERITIES),
              help="Only changes of at least this severity.")
@click.option("--each-flap", is_flag=True,
              help="With --by-source: list every step of a back-and-forth, not just its "
                   "first change with the sequence.")
@click.option("--office", metavar="NAME",
              help="Only changes whose zuständige Stelle contains NAME (case-insensitive): "
                   "a Leistung's, an office's own name, the office of the Leistung holding "
                   "a link.")
@click.option("--by-source", is_flag=True,
              help="Every source's own field changes, one row each (the operator's view), "
                   "instead of one row per edit.")
@output_options
@pass_app
@handle_errors
def changes(app: App, since: str | None, until: str | None, kind: str | None,
            key: str | None, source: str | None, status: str | None, severity: str | None,
            each_flap: bool, fmt: str | None, office: str | None = None,
            by_source: bool = False) -> None:
    """List what changed, oldest first: one row per edit (an event), with the witnesses
    that saw it — the ZuFi, the PVOG when it imported the edit, the link check. The id is
    what 'zufiwatch ack' takes.

    With --by-source, every source's own field changes instead, one row each; a field that
    went back and forth (flapping) is then one row with the sequence of values.

    \b
    Example:
      zufiwatch changes --since 2026-03-01 --kind leistung
      zufiwatch changes --office Standesamt --severity high
    """
    from .. import queries

    start, end = app.when(since, end_of_day=False), app.when(until)
    with app.history() as history:
        if by_source:
            rows = queries.changes(history, since=start, until=end, kind=kind, key=key,
                                   source=source)
            if office:
                kept = {c for e in queries.events(history, office=office)
                        for c in e["change_ids"]}
                rows = [r for r in rows if r["id"] in kept]
        else:
            rows = queries.events(history, since=start, until=end, kind=kind, key=key,
                                  source=source, office=office)
    if status:
        rows = [r for r in rows if r["status"] == status]
    if severity:
        rows = [r for r in rows
                if _SEVERITIES.index(r["severity"]) >= _SEVERITIES.index(severity)]
    if by_source:
        _emit_changes(rows, fmt, app.timezone, each_flap)
    elif fmt == "json":
        emit(rows, fmt, [])
    elif fmt == "csv":
        emit([event_export_row(r, app.timezone) for r in rows], fmt, EVENT_COLUMNS)
    else:
        emit([_readable_event(r, app.timezone) for r in rows], fmt,
             ["id", "detected", "subject", "title", "change_type", "field", "old", "new",
              "severity", "status", "witnesses"],
             ["id", "detected", "record", "title", "change", "field", "old", "new",
              "severity", "status", "seen by"], wide=("witnesses",))


def event_export_row(event: dict[str, Any], tz: str, language: str = "en") -> dict[str, Any]:
    """An event as a row of text cells (CSV): who saw it and when (``de``: in German, times
    as TT.MM.JJJJ HH:MM), its other fields."""
    from ..events import witness_text

    def when(at: str) -> str:
        shown = show_time(at, tz)[:16]
        return f"{shown[8:10]}.{shown[5:7]}.{shown[:4]} {shown[11:]}" if language == "de" \
            else shown

    more = " | ".join(f"{f['label']}: " + " → ".join(change_pair(f["old_value"],
                                                                  f["new_value"]))
                      for f in event["fields"][1:])
    return {**event, "more_fields": more,
            "witnesses": witness_text(event["witnesses"], when, language),
            "change_ids": " ".join(str(i) for i in event["change_ids"])}


def _readable_event(event: dict[str, Any], tz: str) -> dict[str, Any]:
    from ..events import WITNESS_NAMES

    old, new = change_pair(event.get("old_value"), event.get("new_value"), 50)
    kind = event["change_type"] + (" (parser)" if event.get("cause") == "parser" else "")
    if event["flap_sequence"]:
        kind += f" (flapping: {len(event['flap_sequence']) - 1} changes)"
        new = " → ".join(short_value(v, 40) for v in event["flap_sequence"][1:])
    others = len(event["fields"]) - 1
    field = event["field"] + (f" (+{others} more)" if others > 0 else "")
    names = WITNESS_NAMES["en"]
    seen = ", ".join(f"{names.get(w['source_kind'], w['source'])} "
                     f"{show_time(w['at'], tz)[5:16]}" for w in event["witnesses"])
    return {**event, "detected": show_time(event.get("opened_at"), tz), "old": old,
            "new": new, "change_type": kind, "field": field, "witnesses": seen}


def _emit_changes(rows: list[dict[str, Any]], fmt: str | None, tz: str,
                  each_flap: bool) -> None:
    """Every source's own changes (``changes --by-source``)."""
    if fmt == "json":
        emit(rows, fmt, [])
    elif fmt == "csv":
        emit(rows, fmt, CHANGE_COLUMNS)
    else:
        steps: dict[int, list[Any]] = {}
        for row in rows:
            if row.get("flap_of"):
                steps.setdefault(row["flap_of"], []).append(row["new_value"])
        shown = [_readable_change(row, tz, steps.get(row["id"]))
                 for row in rows if each_flap or not row.get("flap_of")]
        emit(shown, fmt,
             ["id", "detected", "source", "key", "title", "change_type", "label", "old",
              "new", "severity", "status"],
             ["id", "detected", "source", "record", "title", "change", "field", "old", "new",
              "severity", "status"])


def _readable_change(row: dict[str, Any], tz: str,
                     flaps: list[Any] | None = None) -> dict[str, Any]:
    old, new = change_pair(row.get("old_value"), row.get("new_value"), 50)
    kind = row["change_type"] + (" (parser)" if row.get("cause") == "parser" else "")
    if row.get("flap_of"):
        kind += f" (flapping, see {row['flap_of']})"
    if flaps:
        kind += f" (flapping: {len(flaps) + 1} changes)"
        new = " → ".join(short_value(v, 40) for v in [row["new_value"], *flaps])
    return {**row, "detected": show_time(row.get("detected_at"), tz), "old": old, "new": new,
            "change_type": kind}


@click.command()
@click.argument("key")
@click.option("--source", help="The source, when the key exists in several.")
@output_options
@pass_app
@handle_errors
def history(app: App, key: str, source: str | None, fmt: str | None) -> None:
    """Show every version of one record and what changed between them.

    \b
    Example:
      zufiwatch history leistung:S1600001.LB.354822
    """
    from .. import queries

    with app.history() as store:
        result = queries.record_history(store, key, source=source)
    rows = []
    for number, version in enumerate(result["versions"], start=1):
        for change in version["changes"] or [{}]:
            rows.append({"version": number, "valid_from": version["valid_from"],
                         "valid_to": version["valid_to"], **change})
    for change in result["removals"]:
        rows.append({"version": "", "valid_from": change["detected_at"], **change})
    tz = app.timezone
    for row in rows:
        row["from"] = show_time(row.get("valid_from"), tz)
        row["to"] = show_time(row.get("valid_to"), tz) or "(current)"
        row["old"], row["new"] = change_pair(row.get("old_value"), row.get("new_value"), 50)
    if fmt == "json":
        emit([], fmt, [], json_value=result)
        return
    if fmt is None:
        click.echo(f"{result['key']} — {result['title']} ({result['source']}, "
                   f"{result['status']}, last confirmed {show_time(result['last_seen_at'], tz)})")
        for gap in result["not_observed"]:
            click.echo(f"  not observed in crawl {gap['crawl_id']} "
                       f"({show_time(gap['started_at'], tz)}): {gap['reason']}")
    if fmt == "csv":
        emit(rows, fmt, ["version", "valid_from", "valid_to", "change_type", "path", "label",
                         "old_value", "new_value"])
    else:
        emit(rows, fmt, ["version", "from", "to", "change_type", "label", "old", "new"],
             ["version", "valid from", "valid to", "change", "field", "old", "new"])


@click.command()
@click.argument("key")
@click.option("--at", "at_text", help="Show the version valid at this time (default: now).")
@click.option("--source", help="The source, when the key exists in several.")
@click.option("--full", is_flag=True,
              help="Print every value whole (multi-line texts as lines) instead of a table "
                   "of values cut to one line.")
@output_options
@pass_app
@handle_errors
def show(app: App, key: str, at_text: str | None, source: str | None, fmt: str | None,
         full: bool = False) -> None:
    """Show one record as it is now, or as it was at a time.

    Times are local; --json keeps the stored UTC times.

    \b
    Example:
      zufiwatch show leistung:S1600001.LB.354822 --at 2026-03-01
      zufiwatch show leistung:S1600001.LB.354822 --full
    """
    from .. import queries

    tz = app.timezone
    at = app.when(at_text or "now")
    with app.history() as history:
        result = queries.show(history, key, at=at, source=source, tz=tz)
    if fmt == "json":
        emit([], fmt, [], json_value=result)
        return
    version = result["version"]
    rows = [{"field": label, "value": value} for label, value in
            content_rows(result["kind"], result["content"], full=full or fmt == "csv")]
    if fmt == "csv":
        for row in rows:
            row.update(valid_from=show_time(version["valid_from"], tz),
                       valid_to=show_time(version["valid_to"], tz))
        emit(rows, fmt, ["field", "value", "valid_from", "valid_to"])
        return
    click.echo(f"{result['key']} — {result['title']}")
    click.echo(f"at {show_time(at, tz)}: version valid from "
               f"{show_time(version['valid_from'], tz)} to "
               f"{show_time(version['valid_to'], tz) or '(current)'}; "
               f"last confirmed {show_time(result['last_seen_at'], tz)}")
    if result["status"] == "missing":
        click.echo(f"missing since {show_time(result['missing_since'], tz)} "
                   "(not yet concluded removed)")
    if not full:
        emit(rows, fmt, ["field", "value"])
        return
    for row in rows:
        lines = row["value"].splitlines() or [""]
        if len(lines) == 1:
            click.echo(f"{row['field']}: {lines[0]}".rstrip())
        else:
            click.echo(f"{row['field']}:")
            for line in lines:
                click.echo(f"  {line}")


@click.command()
@click.option("--at", "at_text", required=True, help="The time (e.g. 2026-03-01).")
@click.option("--kind", type=click.Choice(KINDS), help="Only records of this kind.")
@click.option("--source", help="Only this source.")
@output_options
@pass_app
@handle_errors
def state(app: App, at_text: str, kind: str | None, source: str | None,
          fmt: str | None) -> None:
    """Show the whole directory as it was at a time.

    --csv has one column per field of the content (the labels of 'show'; several values
    joined with " | "); --json keeps the content as it is stored.

    \b
    Example:
      zufiwatch state --at 2026-03-01 --kind leistung --csv > leistungen.csv
    """
    from .. import queries

    with app.history() as history:
        rows = queries.directory_state(history, at=app.when(at_text), source=source, kind=kind)
    if fmt == "csv":  # one column per field, as show names it; no JSON in a cell
        from ..export import content_fields, field_columns

        flat = [{**{k: v for k, v in row.items() if k != "content"},
                 **{f"field:{label}": value for label, value in
                    content_fields(row["kind"], row["content"]).items()}} for row in rows]
        fields = field_columns(flat)
        emit([{**row, **{c.header_de: row.get(c.key, "") for c in fields}} for row in flat],
             fmt, ["source", "key", "kind", "title", "valid_from", "valid_to",
                   *(c.header_de for c in fields)])
        return
    if fmt is None:
        rows = [{**row, "since": show_time(row["valid_from"], app.timezone)} for row in rows]
    emit(rows, fmt, ["key", "kind", "title", "since"] if fmt is None
         else ["source", "key", "kind", "title", "valid_from", "valid_to", "content"])


@click.command()
@click.option("--at", "at_text", help="Links as they were at this time (default: now).")
@click.option("--host", help="Only links whose host contains this text (e.g. thavel).")
@click.option("--source", help="Only this source.")
@output_options
@pass_app
@handle_errors
def links(app: App, at_text: str | None, host: str | None, source: str | None,
          fmt: str | None) -> None:
    """List every online-service link with its Leistung and zuständige Stelle, and what
    the link checker last found at its target.

    One row per URL: the Leistungen using it (across the ZuFi and the PVOG) and the sources
    holding it; --json lists every record with the link under "records".

    \b
    Example:
      zufiwatch links --host thavel
    """
    from .. import queries

    with app.history() as history:
        rows = queries.links(history, at=app.when(at_text or "now"), host=host, source=source)
    if fmt == "csv":  # the records holding a link as text, no JSON in a cell
        rows = [{**row, "records": "; ".join(f"{r['source']}:{r['key']}"
                                             for r in row["records"])} for row in rows]
    emit(rows, fmt, ["leistung", "zustaendige_stelle", "sources", "host", "url", "thavel_form",
                     "thavel_id", "check", "check_authority"]
         if fmt is None else list(rows[0]) if rows else ["url"],
         ["Leistung", "zuständige Stelle", "sources", "host", "url", "ThAVEL", "identity",
          "link check", "target names"] if fmt is None else None)


@click.command()
@click.argument("key")
@click.option("--from", "from_text", required=True, help="The earlier time (e.g. 2026-03-01).")
@click.option("--to", "to_text", default="now", show_default=True, help="The later time.")
@click.option("--source", help="The source, when the key exists in several.")
@output_options
@pass_app
@handle_errors
def diff(app: App, key: str, from_text: str, to_text: str, source: str | None,
         fmt: str | None) -> None:
    """Show what differs in one record between the versions valid at two times.

    A date means the end of that day. When the record did not exist at one of the times,
    the difference is that it appeared or was removed; when it existed at neither, that is
    an error.

    \b
    Example:
      zufiwatch diff leistung:S1600001.LB.354790 --from 2026-10-02 --to 2026-10-03
    """
    from .. import queries
    from ..errors import QueryError
    from ..export import diff_rows

    at_from, at_to = app.when(from_text), app.when(to_text)
    tz = app.timezone
    with app.history() as history:
        record = history.find_record(key, source)
        states: list[dict[str, Any] | None] = []
        for at in (at_from, at_to):
            try:
                states.append(queries.show(history, key, at=at, source=record["source"]))
            except QueryError:
                states.append(None)
    old, new = states
    if old is None and new is None:
        raise QueryError(f"{key} did not exist at {show_time(at_from, tz)} nor at "
                         f"{show_time(at_to, tz)} (its history: 'zufiwatch history {key}')")
    rows = diff_rows(record["kind"], old and old["content"], new and new["content"])
    if fmt == "json":
        def side(at: str, state: dict[str, Any] | None) -> dict[str, Any]:
            return {"at": at, "version": state["version"] if state else None}

        emit([], fmt, [], json_value={
            "source": record["source"], "key": key, "kind": record["kind"],
            "title": (new or old or {}).get("title", record["title"]),
            "from": side(at_from, old), "to": side(at_to, new), "changes": rows})
        return
    if fmt == "csv":
        emit(rows, fmt, ["label", "change_type", "path", "old_value", "new_value"])
        return

    def described(at: str, state: dict[str, Any] | None) -> str:
        if state is None:
            return f"{show_time(at, tz)}: did not exist"
        return (f"{show_time(at, tz)}: version valid from "
                f"{show_time(state['version']['valid_from'], tz)}")

    click.echo(f"{key} — {(new or old or {}).get('title', record['title'])}")
    click.echo(f"from {described(at_from, old)}; to {described(at_to, new)}")
    if old and new and old["version"]["id"] == new["version"]["id"]:
        click.echo("the same version at both times: no differences")
        return
    for row in rows:
        row["old"], row["new"] = change_pair(row["old_value"], row["new_value"], 60)
    emit(rows, fmt, ["label", "change_type", "old", "new"], ["field", "change", "old", "new"])
