"""The export command: the directory at a time, or changes in a range, for spreadsheets."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import ZufiwatchError
from .questions import event_export_row
from .root import App, _progress, handle_errors, pass_app


@click.command()
@click.option("--at", "at_text", help="The directory as it was at this time (default: now).")
@click.option("--changes", "with_changes", is_flag=True,
              help="Export the changes detected in a range instead of the directory.")
@click.option("--since", help="With --changes: changes detected at or after this time.")
@click.option("--until", help="With --changes: changes detected up to this time.")
@click.option("--format", "fmt", type=click.Choice(["csv", "csv-de", "json"]), default="csv",
              show_default=True,
              help="csv: comma, UTF-8. csv-de: for German spreadsheet programs (semicolon, "
                   "UTF-8 with BOM, CRLF). json: a list of objects.")
@click.option("--output", type=click.Path(dir_okay=False),
              help="Write to this file (replaced atomically) instead of stdout.")
@pass_app
@handle_errors
def export(app: App, at_text: str | None, with_changes: bool, since: str | None,
           until: str | None, fmt: str, output: str | None) -> None:
    """Export the whole directory at a time, or the changes in a range, for spreadsheets.

    Directory rows: source, key, kind, title, valid_from and, for Leistungen, LeiKa,
    zuständige Stelle, online links (joined with " | ") and the fees text; csv-de adds one
    column per field of the content. Change rows (one per edit) have the columns of
    'changes --csv'. csv and json are machine formats (English keys, UTC ISO times, JSON
    values); csv-de has German headers, local times (TT.MM.JJJJ HH:MM), German words and
    readable values. A progress bar is shown on stderr when it is a terminal.

    \b
    Example:
      zufiwatch export --at 2026-03-01 --format csv-de --output verzeichnis.csv
      zufiwatch export --changes --since 2026-03-01 --until 2026-03-31 --format json
    """
    from .. import queries
    from ..export import (
        EVENT_TABLE,
        STATE_TABLE,
        content_fields,
        encode_table,
        field_columns,
        state_row,
        write_atomic,
    )

    if with_changes and at_text:
        raise click.UsageError("--at exports the directory; with --changes use --since/--until")
    if not with_changes and (since or until):
        raise click.UsageError("--since/--until need --changes")
    with app.history() as history:
        if with_changes:
            rows = queries.events(history, since=app.when(since, end_of_day=False),
                                  until=app.when(until))
            if fmt != "json":  # a cell holds text: who saw it and when, the other fields
                language = "de" if fmt == "csv-de" else "en"
                rows = [event_export_row(row, app.timezone, language) for row in rows]
            columns = EVENT_TABLE
        else:
            states = queries.directory_state(history, at=app.when(at_text or "now"))
            with _progress(states, "Exporting records") as items:
                rows = [state_row(state) for state in items]
            columns = STATE_TABLE
            if fmt == "csv-de":  # one column per field of the content, as show names it
                for row, state in zip(rows, states, strict=True):
                    row.update({f"field:{label}": value for label, value in
                                content_fields(state["kind"], state["content"]).items()})
                columns = [*STATE_TABLE, *field_columns(
                    rows, taken=[c.header_de for c in STATE_TABLE])]
    data = encode_table(rows, columns, fmt, timezone=app.timezone)
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        write_atomic(Path(output), data)
    except OSError as exc:
        raise ZufiwatchError(f"{output}: cannot write the export: "
                             f"{exc.strerror or exc}") from exc
    what = "changes" if with_changes else "records"
    click.echo(f"{len(rows)} {what} written to {output}")
