"""The command line: click commands over the library, nothing else.

Library errors (:class:`ZufiwatchError`) become one line on stderr and exit status 1;
usage errors exit 2 (click's convention).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import click

from . import __version__
from .archive import Archive
from .config import Settings, find_config, load_settings
from .errors import ConfigError, StoreError, ZufiwatchError
from .model import KINDS
from .render import change_pair, content_rows, short_value
from .store import History
from .timeutil import Clock, parse_when, show_time, stored, system_clock

__all__ = ["cli", "main"]


@dataclass
class App:
    """What every command may need, built lazily from the global options."""

    config_path: str | None
    database: str | None
    clock: Clock = system_clock
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            path = find_config(self.config_path)
            if path is None:
                if self.database:
                    self._settings = Settings(database=Path(self.database))
                    return self._settings
                raise ConfigError(
                    "no configuration found: pass --config FILE, set ZUFIWATCH_CONFIG, or "
                    "create ./zufiwatch.toml (see config/zufiwatch.example.toml)")
            self._settings = load_settings(path)
        return self._settings

    @property
    def timezone(self) -> str:
        return self.settings.timezone

    def database_path(self) -> Path:
        return Path(self.database) if self.database else self.settings.database

    def history(self, *, must_exist: bool = True) -> History:
        path = self.database_path()
        if must_exist and not path.exists():
            raise StoreError(f"{path}: no history database here yet (run 'zufiwatch crawl' "
                             "first, or pass --database)")
        return History(path)

    @overload
    def when(self, text: str, *, end_of_day: bool = ...) -> str: ...
    @overload
    def when(self, text: None, *, end_of_day: bool = ...) -> None: ...
    @overload
    def when(self, text: str | None, *, end_of_day: bool = ...) -> str | None: ...

    def when(self, text: str | None, *, end_of_day: bool = True) -> str | None:
        if text is None:
            return None
        try:
            return stored(parse_when(text, tz=self.timezone, now=self.clock(),
                                     end_of_day=end_of_day))
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None


pass_app = click.make_pass_decorator(App)


def output_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--json`` and ``--csv`` for a query command (a table is the default)."""
    command = click.option("--csv", "fmt", flag_value="csv",
                           help="Print CSV (comma separated, UTF-8).")(command)
    command = click.option("--json", "fmt", flag_value="json",
                           help="Print JSON (field names in the README).")(command)
    return command


def emit(rows: Sequence[dict[str, Any]], fmt: str | None, columns: Sequence[str],
         headers: Sequence[str] | None = None, *, json_value: Any = None) -> None:
    """Print rows as a table (``columns`` only), CSV or JSON (everything)."""
    if fmt == "json":
        click.echo(json.dumps(rows if json_value is None else json_value,
                              ensure_ascii=False, indent=2))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _csv_value(row.get(c)) for c in columns})
    elif rows:
        from tabulate import tabulate  # only tables need it; keeps --json start-up short

        table = [[short_value(row.get(c), 60) for c in columns] for row in rows]
        click.echo(tabulate(table, headers=list(headers or columns), tablefmt="simple"))
    else:
        click.echo("(nothing)")


def _csv_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ZufiwatchError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zufiwatch")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Configuration file (default: $ZUFIWATCH_CONFIG, then ./zufiwatch.toml).")
@click.option("--database", type=click.Path(dir_okay=False),
              help="History database to use instead of the configured one.")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, database: str | None,
        verbose: bool) -> None:
    """zufiwatch keeps the history of a city's entries in the Thuringian
    Zuständigkeitsfinder (ZuFi) and shows what changed.

    \b
    Example:
      zufiwatch --config /etc/zufiwatch/zufiwatch.toml crawl
      zufiwatch changes --since 7d
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = App(config_path=config_path, database=database)


@cli.command()
@click.option("--source", "sources", multiple=True, help="Crawl only this source (repeatable).")
@pass_app
@handle_errors
def crawl(app: App, sources: tuple[str, ...]) -> None:
    """Crawl the configured sources once and store what changed.

    Exit status 1 when a crawl failed or was partial.

    \b
    Example:
      zufiwatch crawl --source pvog-jena
    """
    from .alerts import Alerts
    from .runner import crawl_sources

    settings = app.settings
    if not settings.sources:
        raise ConfigError(f"{settings.origin}: no [[sources]] configured")
    chosen = [settings.source(name) for name in sources] or list(settings.sources)
    with app.history(must_exist=False) as history:
        results = crawl_sources(settings, chosen, history=history,
                                archive=Archive(settings.snapshots), clock=app.clock,
                                alerts=Alerts(settings),
                                progress=_progress_line() if sys.stderr.isatty() else None)
    if sys.stderr.isatty():
        click.echo("", err=True)
    for result in results:
        reason = f" — {result.reason}" if result.reason else ""
        if not result.crawl_id:
            click.echo(f"{result.source}: not crawled — {result.reason}")
            continue
        click.echo(f"{result.source}: crawl {result.crawl_id} {result.outcome}: "
                   f"{result.stats['observed']} records observed, "
                   f"{result.stats['changes']} changes, {result.stats['requests']} requests"
                   f"{reason}")
    if any(r.outcome != "complete" for r in results):
        sys.exit(1)


@cli.command()
@click.option("--source", "sources", multiple=True,
              help="Only this source (repeatable; default: all configured).")
@click.option("--crawl", "crawl_id", type=int,
              help="Re-derive from this crawl's payloads (default: the last complete full "
                   "crawl of each source).")
@pass_app
@handle_errors
def reparse(app: App, sources: tuple[str, ...], crawl_id: int | None) -> None:
    """Parse archived payloads again with the current parser.

    What the current parser reads differently from the stored versions is recorded as
    changes with cause "parser", never as changes of the directory. A crawl does this by
    itself when the parser version changed; this command does it on request.

    \b
    Example:
      zufiwatch reparse --source pvog-jena
    """
    from .runner import rebaseline

    settings = app.settings
    chosen = [settings.source(name) for name in sources] or list(settings.sources)
    if not chosen:
        raise ConfigError(f"{settings.origin}: no [[sources]] configured")
    with app.history() as history:
        for source in chosen:
            result = rebaseline(source, history=history, archive=Archive(settings.snapshots),
                                clock=app.clock, crawl_id=crawl_id)
            if result is None:
                click.echo(f"{source.name}: no archived crawl to parse again")
            else:
                click.echo(f"{source.name}: crawl {result.crawl_id} {result.outcome}: "
                           f"{result.stats['observed']} records parsed again, "
                           f"{result.stats['changes']} changes by the parser")


def _progress_line() -> Callable[[str, int], None]:
    """A status line on the terminal, rewritten every 50 records."""

    def show(source: str, count: int) -> None:
        if count % 50 == 0:
            click.echo(f"\r{source}: {count} records read", nl=False, err=True)

    return show


@cli.command()
@click.option("--source", help="Only crawls of this source.")
@click.option("--limit", default=20, show_default=True, help="How many crawls, newest first.")
@output_options
@pass_app
@handle_errors
def crawls(app: App, source: str | None, limit: int, fmt: str | None) -> None:
    """List recent crawls with their outcome and reason.

    \b
    Example:
      zufiwatch crawls --limit 5
    """
    with app.history() as history:
        rows = [_with_shapes(row) for row in history.crawls(source=source, limit=limit)]
    if fmt is None:
        rows = [{**row, "started": show_time(row["started_at"], app.timezone)} for row in rows]
    emit(rows, fmt, ["id", "source", "started" if fmt is None else "started_at", "outcome",
                     "observed", "changes", "requests", "reason", "unknown_keys"],
         ["id", "source", "started" if fmt is None else "started_at", "outcome", "observed",
          "changes", "requests", "reason", "unknown keys"])


def _with_shapes(row: dict[str, Any]) -> dict[str, Any]:
    """A crawl row with its answers' shapes decoded, and the unknown keys as one line."""
    from .sources.drift import format_drift  # the sources are heavy to import

    try:
        shapes = json.loads(row.get("shapes") or "{}")
    except ValueError:
        shapes = {}
    shapes = shapes if isinstance(shapes, dict) else {}
    return {**row, "shapes": shapes, "unknown_keys": format_drift(shapes)}


@cli.command()
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
    from .crosscheck import open_disagreements

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


CHANGE_COLUMNS = ["id", "detected_at", "source", "key", "kind", "title", "change_type", "path",
                  "label", "old_value", "new_value", "cause", "flap_of", "severity", "reasons",
                  "status", "crawl_id", "version_id"]


@cli.command()
@click.option("--since", help="Only changes detected at or after this time (e.g. 2026-03-01, 7d).")
@click.option("--until", help="Only changes detected up to this time.")
@click.option("--kind", type=click.Choice(KINDS), help="Only records of this kind.")
@click.option("--record", "key", metavar="KEY", help="Only changes of this record.")
@click.option("--source", help="Only this source.")
@click.option("--status", type=click.Choice(["untracked", "expected", "acknowledged"]),
              help="Only changes with this triage status.")
@click.option("--severity", type=click.Choice(["low", "medium", "high", "critical"]),
              help="Only changes of at least this severity.")
@click.option("--each-flap", is_flag=True,
              help="In the table, list every step of a back-and-forth, not just its first "
                   "change with the sequence.")
@click.option("--office", metavar="NAME",
              help="Only records of this office: a Leistung whose zuständige Stelle, or an "
                   "Organisationseinheit whose name, contains NAME (case-insensitive).")
@output_options
@pass_app
@handle_errors
def changes(app: App, since: str | None, until: str | None, kind: str | None,
            key: str | None, source: str | None, status: str | None, severity: str | None,
            each_flap: bool, fmt: str | None, office: str | None = None) -> None:
    """List detected changes, oldest first.

    A field that went back and forth (flapping) is one row in the table: its first change,
    with the sequence of values; --json and --csv list every step with flap_of.

    \b
    Example:
      zufiwatch changes --since 2026-03-01 --kind leistung
    """
    from . import queries

    with app.history() as history:
        rows = queries.changes(history, since=app.when(since, end_of_day=False),
                               until=app.when(until), kind=kind, key=key, source=source)
        if office:
            from .export import office_changes

            rows = office_changes(history, rows, office)
    if status:
        rows = [r for r in rows if r["status"] == status]
    if severity:
        order = ["low", "medium", "high", "critical"]
        rows = [r for r in rows if order.index(r["severity"]) >= order.index(severity)]
    if fmt == "json":
        emit(rows, fmt, [])
    elif fmt == "csv":
        emit(rows, fmt, CHANGE_COLUMNS)
    else:
        steps: dict[int, list[Any]] = {}
        for row in rows:
            if row.get("flap_of"):
                steps.setdefault(row["flap_of"], []).append(row["new_value"])
        shown = [_readable_change(row, app.timezone, steps.get(row["id"]))
                 for row in rows if each_flap or not row.get("flap_of")]
        emit(shown, fmt,
             ["id", "detected", "key", "title", "change_type", "label", "old", "new",
              "severity", "status"],
             ["id", "detected", "record", "title", "change", "field", "old", "new",
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


@cli.command()
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
    from . import queries

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


@cli.command()
@click.argument("key")
@click.option("--at", "at_text", help="Show the version valid at this time (default: now).")
@click.option("--source", help="The source, when the key exists in several.")
@output_options
@pass_app
@handle_errors
def show(app: App, key: str, at_text: str | None, source: str | None, fmt: str | None) -> None:
    """Show one record as it is now, or as it was at a time.

    \b
    Example:
      zufiwatch show leistung:S1600001.LB.354822 --at 2026-03-01
    """
    from . import queries

    at = app.when(at_text or "now")
    with app.history() as history:
        result = queries.show(history, key, at=at, source=source)
    if fmt == "json":
        emit([], fmt, [], json_value=result)
        return
    rows = [{"field": label, "value": value}
            for label, value in content_rows(result["kind"], result["content"])]
    if fmt is None:
        tz = app.timezone
        version = result["version"]
        click.echo(f"{result['key']} — {result['title']}")
        click.echo(f"version valid from {show_time(version['valid_from'], tz)} to "
                   f"{show_time(version['valid_to'], tz) or '(current)'}; "
                   f"last confirmed {show_time(result['last_seen_at'], tz)}")
        if result["status"] == "missing":
            click.echo(f"missing since {show_time(result['missing_since'], tz)} "
                       "(not yet concluded removed)")
    emit(rows, fmt, ["field", "value"])


@cli.command()
@click.option("--at", "at_text", required=True, help="The time (e.g. 2026-03-01).")
@click.option("--kind", type=click.Choice(KINDS), help="Only records of this kind.")
@click.option("--source", help="Only this source.")
@output_options
@pass_app
@handle_errors
def state(app: App, at_text: str, kind: str | None, source: str | None,
          fmt: str | None) -> None:
    """Show the whole directory as it was at a time.

    \b
    Example:
      zufiwatch state --at 2026-03-01 --kind leistung --csv > leistungen.csv
    """
    from . import queries

    with app.history() as history:
        rows = queries.directory_state(history, at=app.when(at_text), source=source, kind=kind)
    if fmt is None:
        rows = [{**row, "since": show_time(row["valid_from"], app.timezone)} for row in rows]
    emit(rows, fmt, ["key", "kind", "title", "since"] if fmt is None
         else ["source", "key", "kind", "title", "valid_from", "valid_to", "content"])


@cli.command()
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

    \b
    Example:
      zufiwatch links --host thavel
    """
    from . import queries

    with app.history() as history:
        rows = queries.links(history, at=app.when(at_text or "now"), host=host, source=source)
    emit(rows, fmt, ["key", "leistung", "zustaendige_stelle", "host", "url", "thavel_form",
                     "thavel_id", "check", "check_authority"]
         if fmt is None else list(rows[0]) if rows else ["url"],
         ["record", "Leistung", "zuständige Stelle", "host", "url", "ThAVEL", "identity",
          "link check", "target names"] if fmt is None else None)


@cli.command()
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 365),
              help="Simulated days to crawl.")
@click.option("--size", default=150, show_default=True, type=click.IntRange(60, 50000),
              help="Leistungen in the simulated directory.")
@click.option("--keep", type=click.Path(file_okay=False),
              help="Keep the demo's database and snapshots in this directory.")
@pass_app
@handle_errors
def demo(app: App, days: int, size: int, keep: str | None) -> None:
    """Run a simulated directory on localhost, crawl several days, show what changed.

    No configuration and no network needed.

    \b
    Example:
      zufiwatch demo --days 7 --keep ./demo
    """
    from .demo import run_demo

    run_demo(days=days, size=size, keep=Path(keep) if keep else None, echo=click.echo)


@cli.command()
@click.argument("key")
@click.option("--field", required=True,
              help="The field as changes name it (e.g. 'Online-Dienst › Link', 'Gebühren'), "
                   "or its start.")
@click.option("--value", default="", help="Text the new value will contain (empty: any).")
@click.option("--until", "until_text", required=True,
              help="The date by which the change should be seen.")
@click.option("--by", required=True, help="Who intends the change.")
@click.option("--note", default="", help="Why, ticket number, …")
@pass_app
@handle_errors
def expect(app: App, key: str, field: str, value: str, until_text: str, by: str,
           note: str) -> None:
    """Record a change you intend, so that it is not reported as untracked.

    \b
    Example:
      zufiwatch expect leistung:S1600001.LB.354790 --field "Online-Dienst › Link" \\
        --value go/a/5741 --until 2026-12-15 --by "M. Muster" --note "Ticket 4711"
    """
    from datetime import datetime

    from .triage import expect as record

    until = datetime.fromisoformat(app.when(until_text))
    with app.history() as history:
        number = record(history, key=key, field=field, value=value, until=until, by=by,
                        note=note, now=app.clock())
    click.echo(f"expectation {number} recorded: {key} › {field} until "
               f"{show_time(app.when(until_text), app.timezone)}")


@cli.command()
@click.argument("change_ids", nargs=-1, type=int, required=True)
@click.option("--by", required=True, help="Who reviewed the changes.")
@click.option("--note", default="", help="What was found.")
@pass_app
@handle_errors
def ack(app: App, change_ids: tuple[int, ...], by: str, note: str) -> None:
    """Mark changes as reviewed (acknowledged); they are no longer reminded.

    \b
    Example:
      zufiwatch ack 12 13 --by "M. Muster" --note "mit Fachdienst abgestimmt"
    """
    from .triage import acknowledge

    with app.history() as history:
        fresh = acknowledge(history, change_ids, by=by, note=note, now=app.clock())
    already = len(set(change_ids)) - len(fresh)
    click.echo(f"{len(fresh)} change(s) acknowledged" +
               (f", {already} already were" if already else ""))


@cli.command()
@click.option("--status", type=click.Choice(["open", "met", "overdue"]),
              help="Only expectations with this status.")
@output_options
@pass_app
@handle_errors
def expectations(app: App, status: str | None, fmt: str | None) -> None:
    """List the expected-change register.

    \b
    Example:
      zufiwatch expectations --status overdue
    """
    from .triage import expectations as register

    with app.history() as history:
        rows = register(history, status=status)
    if fmt is None:
        rows = [{**r, "until": show_time(r["until"], app.timezone)} for r in rows]
    emit(rows, fmt, ["id", "key", "field", "value", "until", "by", "status", "met_change_id",
                     "note"])


@cli.command()
@click.option("--test", "test_mail", is_flag=True,
              help="Send a test message to the recipients and operators; report each step.")
@click.option("--digest", is_flag=True, help="Queue the digest now, whenever the last was.")
@click.option("--reminder", is_flag=True, help="Queue the reminder now.")
@pass_app
@handle_errors
def notify(app: App, test_mail: bool, digest: bool, reminder: bool) -> None:
    """Queue what is due (digest, reminder, stale sources) and deliver the outbox.

    Messages about a crawl's changes are queued by the crawl itself; this sends them.
    Exit status 1 when a message could not be delivered.

    \b
    Example:
      zufiwatch notify --test
    """
    from .alerts import Alerts, run_notify
    from .notify import messages
    from .notify.smtp import SmtpTransport, load_password

    settings = app.settings
    if not settings.smtp.host:
        raise ConfigError(f"{settings.origin}: [smtp] host is not set; no mail can be sent")
    transport = SmtpTransport(settings.smtp, load_password(settings.smtp))
    alerts = Alerts(settings)
    if test_mail:
        transport.check(report=click.echo)
        everyone = tuple(dict.fromkeys((*settings.notify.recipients,
                                        *settings.notify.operators)))
        if not everyone:
            raise ConfigError(f"{settings.origin}: [notify] has no recipients or operators")
        transport.send(messages.test_message(alerts.mail(everyone), now=app.clock()))
        click.echo(f"test message sent to {', '.join(everyone)}")
        return
    with app.history() as history:
        report = run_notify(history, alerts, transport.send, app.clock, digest=digest,
                            reminder=reminder)
    queued = ", ".join(f"{n} {k}" for k, n in report.queued.items() if n) or "nothing new"
    click.echo(f"queued: {queued}; sent {report.sent}, not delivered {report.failed}")
    for error in report.errors:
        click.echo(f"  {error}", err=True)
    if report.failed:
        sys.exit(1)


@cli.command()
@pass_app
@handle_errors
def daemon(app: App) -> None:
    """Run the background service in the foreground (for systemd, see systemd/).

    Crawls each source on its schedule, delivers messages, reports to systemd; SIGTERM
    stops cleanly, SIGHUP reloads the configuration.

    \b
    Example:
      zufiwatch --config /etc/zufiwatch/zufiwatch.toml daemon
    """
    from .daemon import Daemon
    from .systemd import configure_logging

    path = find_config(app.config_path)
    if path is None:
        raise ConfigError("the daemon needs a configuration file: pass --config FILE or set "
                          "ZUFIWATCH_CONFIG")
    settings = app.settings
    configure_logging(logging.INFO)
    sys.exit(Daemon(Path(path), settings, clock=app.clock).run())


@cli.command()
@click.argument("destination", type=click.Path(dir_okay=False))
@pass_app
@handle_errors
def backup(app: App, destination: str) -> None:
    """Write a consistent copy of the history database, safe while the daemon runs.

    The raw archive (snapshots) is plain files: copy it with any backup tool.

    \b
    Example:
      zufiwatch --config /etc/zufiwatch/zufiwatch.toml backup /srv/backup/zufiwatch.db
    """
    with app.history() as history:
        history.backup(Path(destination))
    click.echo(f"backup written to {destination}")


@cli.command()
@click.pass_context
def health(ctx: click.Context) -> None:
    """Check the service for Nagios/Icinga: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

    Prints one status line with performance data: age of the last complete crawl per
    source, failed crawls in a row, undelivered messages, open untracked changes.

    \b
    Example:
      zufiwatch --config /etc/zufiwatch/zufiwatch.toml health
    """
    from . import health as check

    app = ctx.find_object(App)
    if app is None:  # the cli group always sets it; like pass_app, fail loudly otherwise
        raise RuntimeError("health needs the App object of the zufiwatch command group")
    try:
        settings = app.settings
        path = app.database_path()
        if not path.exists():
            report = check.unknown(f"no history database at {path}")
        else:
            with History(path, readonly=True) as history:
                report = check.evaluate(settings, history, app.clock())
    except ZufiwatchError as exc:
        report = check.unknown(str(exc))
    click.echo(report.line)
    sys.exit(report.state)


@cli.command()
@click.option("--output", type=click.Path(file_okay=False),
              help="Directory to write (default: [report] directory).")
@click.option("--language", type=click.Choice(["de", "en"]),
              help="Language of the pages (default: [report] language).")
@pass_app
@handle_errors
def overview(app: App, output: str | None, language: str | None) -> None:
    """Write the static overview: index.html, a page per record, feed.atom.

    Crawls write it by themselves when [report] directory is set.

    \b
    Example:
      zufiwatch overview --output /var/www/zufiwatch
    """
    from .report import build_overview

    settings = app.settings
    target = output or settings.report.directory
    if not target:
        raise ConfigError(f"{settings.origin}: no [report] directory; pass --output DIR")
    with app.history() as history:
        index = build_overview(history, settings, Path(target), now=app.clock(),
                               language=language or settings.report.language)
    click.echo(f"overview written: {index}")


@cli.command("check-config")
@pass_app
@handle_errors
def check_config(app: App) -> None:
    """Validate the configuration without starting anything.

    Exit status 0 when it is valid, 1 with the file, key and problem when not.

    \b
    Example:
      zufiwatch --config /etc/zufiwatch/zufiwatch.toml check-config
    """
    from .notify.smtp import load_password
    from .sources.tsa import load_api_key

    settings = app.settings
    names = ", ".join(s.name for s in settings.sources) or "none"
    click.echo(f"{settings.origin}: valid; sources: {names}; database: {settings.database}")
    for source in settings.sources:
        if source.kind == "tsa":
            load_api_key(source)  # a ConfigError names the source and the key
            click.echo(f"{source.name}: api_key found (not shown)")
    if settings.smtp.host:
        password = "set" if load_password(settings.smtp) else "none (no login)"
        click.echo(f"mail via {settings.smtp.host}:{settings.smtp.port} "
                   f"({settings.smtp.security}); password: {password}")
    else:
        click.echo("mail: not configured ([smtp] host is empty)")


@cli.command()
@pass_app
@handle_errors
def verify(app: App) -> None:
    """Check the evidence chain of changes, expectations and acknowledgements.

    Exit status 1 and the first break when history was rewritten.

    \b
    Example:
      zufiwatch verify
    """
    from .store.ledger import verify as check

    with app.history() as history:
        result = check(history.db.conn)
    if not result.ok:
        raise ZufiwatchError(f"evidence chain broken after {result.entries} entries: "
                             f"{result.problem}")
    click.echo(f"evidence chain intact: {result.entries} entries")



@cli.command()
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
    from . import queries
    from .errors import QueryError
    from .export import diff_rows

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


@contextlib.contextmanager
def _progress(items: Sequence[Any], label: str,
              stream: Any = None) -> Iterator[Iterable[Any]]:
    """``items`` with a progress bar on stderr when it is a terminal; quiet otherwise."""
    stream = stream if stream is not None else sys.stderr
    if not stream.isatty():
        yield items
        return
    with click.progressbar(items, label=label, file=stream) as bar:
        yield bar


@cli.command()
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
    zuständige Stelle, online links (joined with " | ") and the fees text. Change rows have
    the columns of 'changes --csv'. A progress bar is shown on stderr when it is a terminal.

    \b
    Example:
      zufiwatch export --at 2026-03-01 --format csv-de --output verzeichnis.csv
      zufiwatch export --changes --since 2026-03-01 --until 2026-03-31 --format json
    """
    from . import queries
    from .export import STATE_COLUMNS, encode, state_row, write_atomic

    if with_changes and at_text:
        raise click.UsageError("--at exports the directory; with --changes use --since/--until")
    if not with_changes and (since or until):
        raise click.UsageError("--since/--until need --changes")
    with app.history() as history:
        if with_changes:
            rows = queries.changes(history, since=app.when(since, end_of_day=False),
                                   until=app.when(until))
            columns = CHANGE_COLUMNS
        else:
            states = queries.directory_state(history, at=app.when(at_text or "now"))
            with _progress(states, "Exporting records") as items:
                rows = [state_row(state) for state in items]
            columns = STATE_COLUMNS
    data = encode(rows, columns, fmt)
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

def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="zufiwatch")


if __name__ == "__main__":  # pragma: no cover
    main()


