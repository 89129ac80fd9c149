"""What every command shares: the command group, the App with its lazily built
settings and history, output as table, CSV or JSON, and error handling."""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import logging
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import click

from .. import __version__
from ..config import Settings, find_config, load_settings
from ..errors import ConfigError, StoreError, ZufiwatchError
from ..render import short_value
from ..store import History
from ..store.dbstate import describe
from ..timeutil import Clock, parse_when, stored, system_clock
from .lazy import LazyGroup


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
         headers: Sequence[str] | None = None, *, json_value: Any = None,
         wide: Sequence[str] = ()) -> None:
    """Print rows as a table (``columns`` only; values cut at 60 characters but in the
    ``wide`` columns), CSV or JSON (everything)."""
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

        table = [[short_value(row.get(c), 0 if c in wide else 60) for c in columns]
                 for row in rows]
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
        except sqlite3.Error as exc:  # met after the database was opened: one line too
            raise click.ClickException(describe(_database_named(), exc)) from exc
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from exc

    return wrapper


def _database_named() -> str:
    """The database of the running command, for an error message."""
    context = click.get_current_context(silent=True)
    app = context.find_object(App) if context else None
    try:
        return str(app.database_path()) if app else "the history database"
    except ZufiwatchError:
        return "the history database"


#: Every command and where it is defined. A command's module is imported when the command
#: runs or its help is shown (see :class:`.lazy.LazyGroup`), so ``zufiwatch crawl`` does not
#: load the web application's, the export's or the service's commands.
COMMANDS = {
    "ack": "triage:ack",
    "backup": "service:backup",
    "changes": "questions:changes",
    "check-config": "service:check_config",
    "crawl": "crawling:crawl",
    "crawls": "crawling:crawls",
    "daemon": "service:daemon",
    "demo": "service:demo",
    "diff": "questions:diff",
    "disagreements": "questions:disagreements",
    "expect": "triage:expect",
    "expectations": "triage:expectations",
    "export": "exporting:export",
    "health": "service:health",
    "history": "questions:history",
    "links": "questions:links",
    "notify": "service:notify",
    "overview": "service:overview",
    "reparse": "crawling:reparse",
    "serve": "web:serve",
    "show": "questions:show",
    "state": "questions:state",
    "user": "web:user",
    "verify": "service:verify",
    "watch": "watching:watch",
    "withdraw": "triage:withdraw",
}


@click.group(cls=LazyGroup, lazy_subcommands={name: f"{__package__}.{where}"
                                              for name, where in COMMANDS.items()},
             context_settings={"help_option_names": ["-h", "--help"]})
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
    # A caller (a test) may pass an App as ``obj``: its clock is kept.
    clock = ctx.obj.clock if isinstance(ctx.obj, App) else system_clock
    ctx.obj = App(config_path=config_path, database=database, clock=clock)


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
