"""The command line: click commands over the library, nothing else.

Library errors (:class:`ZufiwatchError`) become one line on stderr and exit status 1;
usage errors exit 2 (click's convention).
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    from .runner import crawl_sources

    settings = app.settings
    if not settings.sources:
        raise ConfigError(f"{settings.origin}: no [[sources]] configured")
    chosen = [settings.source(name) for name in sources] or list(settings.sources)
    with app.history(must_exist=False) as history:
        results = crawl_sources(settings, chosen, history=history,
                                archive=Archive(settings.snapshots), clock=app.clock)
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
        rows = history.crawls(source=source, limit=limit)
    if fmt is None:
        rows = [{**row, "started": show_time(row["started_at"], app.timezone)} for row in rows]
    emit(rows, fmt, ["id", "source", "started" if fmt is None else "started_at", "outcome",
                     "observed", "changes", "requests", "reason"])


CHANGE_COLUMNS = ["id", "detected_at", "source", "key", "kind", "title", "change_type", "path",
                  "label", "old_value", "new_value", "cause", "flap_of", "crawl_id",
                  "version_id"]


@cli.command()
@click.option("--since", help="Only changes detected at or after this time (e.g. 2026-03-01, 7d).")
@click.option("--until", help="Only changes detected up to this time.")
@click.option("--kind", type=click.Choice(KINDS), help="Only records of this kind.")
@click.option("--record", "key", metavar="KEY", help="Only changes of this record.")
@click.option("--source", help="Only this source.")
@click.option("--each-flap", is_flag=True,
              help="In the table, list every step of a back-and-forth, not just its first "
                   "change with the sequence.")
@output_options
@pass_app
@handle_errors
def changes(app: App, since: str | None, until: str | None, kind: str | None,
            key: str | None, source: str | None, each_flap: bool, fmt: str | None) -> None:
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
             ["id", "detected", "key", "title", "change_type", "label", "old", "new"],
             ["id", "detected", "record", "title", "change", "field", "old", "new"])


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
    """List every online-service link with its Leistung and zuständige Stelle.

    \b
    Example:
      zufiwatch links --host thavel
    """
    from . import queries

    with app.history() as history:
        rows = queries.links(history, at=app.when(at_text or "now"), host=host, source=source)
    emit(rows, fmt, ["key", "leistung", "zustaendige_stelle", "host", "url", "thavel_form",
                     "thavel_id"] if fmt is None else list(rows[0]) if rows else ["url"],
         ["record", "Leistung", "zuständige Stelle", "host", "url", "ThAVEL", "identity"]
         if fmt is None else None)


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


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="zufiwatch")


if __name__ == "__main__":  # pragma: no cover
    main()


