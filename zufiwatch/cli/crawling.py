"""Commands that crawl and re-derive the history, and list crawls."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from ..archive import Archive
from ..errors import ConfigError
from ..timeutil import show_time
from .root import App, cli, emit, handle_errors, output_options, pass_app


@cli.command()
@click.option("--source", "sources", multiple=True, help="Crawl only this source (repeatable).")
@click.option("--init-archive", is_flag=True,
              help="Start a new, empty snapshots folder although the history has archived "
                   "crawls (after a lost archive; without it a missing folder is an error).")
@pass_app
@handle_errors
def crawl(app: App, sources: tuple[str, ...], init_archive: bool) -> None:
    """Crawl the configured sources once and store what changed.

    Exit status 1 when a crawl failed or was partial. A missing snapshots folder is an
    error when the history has archived crawls (an unmounted volume?), unless
    --init-archive starts a new one on purpose.

    \b
    Example:
      zufiwatch crawl --source pvog-jena
    """
    from ..alerts import Alerts
    from ..runner import crawl_sources

    settings = app.settings
    if not settings.sources:
        raise ConfigError(f"{settings.origin}: no [[sources]] configured")
    chosen = [settings.source(name) for name in sources] or list(settings.sources)
    with app.history(must_exist=False) as history:
        archive = Archive.for_history(settings.snapshots, history.archived_crawls(),
                                      init=init_archive)
        results = crawl_sources(settings, chosen, history=history, archive=archive,
                                clock=app.clock,
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
    from ..runner import rebaseline

    settings = app.settings
    chosen = [settings.source(name) for name in sources] or list(settings.sources)
    if not chosen:
        raise ConfigError(f"{settings.origin}: no [[sources]] configured")
    with app.history() as history:
        archive = Archive.for_history(settings.snapshots, history.archived_crawls())
        for source in chosen:
            result = rebaseline(source, history=history, archive=archive, clock=app.clock,
                                crawl_id=crawl_id)
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
    from ..sources.drift import format_drift  # the sources are heavy to import

    try:
        shapes = json.loads(row.get("shapes") or "{}")
    except ValueError:
        shapes = {}
    shapes = shapes if isinstance(shapes, dict) else {}
    return {**row, "shapes": shapes, "unknown_keys": format_drift(shapes)}
