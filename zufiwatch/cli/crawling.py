"""Commands that crawl and re-derive the history, and list crawls."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from ..archive import Archive
from ..errors import ConfigError
from ..timeutil import show_time
from .root import App, emit, handle_errors, output_options, pass_app

if TYPE_CHECKING:
    from ..progress import CrawlProgress
    from ..runner import CrawlResult


@click.command()
@click.option("--source", "sources", multiple=True, help="Crawl only this source (repeatable).")
@click.option("--init-archive", is_flag=True,
              help="Start a new, empty snapshots folder although the history has archived "
                   "crawls (after a lost archive; without it a missing folder is an error).")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bars, only the summary line of each source.")
@pass_app
@handle_errors
def crawl(app: App, sources: tuple[str, ...], init_archive: bool, quiet: bool) -> None:
    """Crawl the configured sources once and store what changed.

    On a terminal a progress bar per source shows entries done of those listed, requests,
    errors and time left; under systemd, in CI (CI set) or with --quiet only the summary
    line of each source is printed. Exit status 1 when a crawl failed or was partial. A
    missing snapshots folder is an error when the history has archived crawls (an
    unmounted volume?), unless --init-archive starts a new one on purpose.

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
        with _progress_display(quiet) as progress:
            results = crawl_sources(settings, chosen, history=history, archive=archive,
                                    clock=app.clock, alerts=Alerts(settings),
                                    progress=progress)
    for result in results:
        click.echo(_summary(result))
    if any(r.outcome != "complete" for r in results):
        sys.exit(1)


@contextlib.contextmanager
def _progress_display(quiet: bool) -> Iterator[Callable[[CrawlProgress], None] | None]:
    """Progress bars on stderr for a person at a terminal; nothing otherwise."""
    from .progressbars import crawl_bars, wants_bars

    if not wants_bars(sys.stderr, os.environ, quiet=quiet):
        yield None
        return
    with crawl_bars(sys.stderr) as show:
        yield show


def _summary(result: CrawlResult) -> str:
    """The line that sums up the crawl of one source."""
    if not result.crawl_id:
        return f"{result.source}: not crawled — {result.reason}"
    reason = f" — {result.reason}" if result.reason else ""
    stats = result.stats
    return (f"{result.source}: crawl {result.crawl_id} {result.outcome}: "
            f"{stats['observed']} records observed, {stats['changes']} changes, "
            f"{stats['requests']} requests ({_size(stats['bytes_received'])}){reason}")


def _size(count: int) -> str:
    """Bytes as people read them: ``840 B``, ``12.5 KiB``, ``3.2 MiB``."""
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / 1024 / 1024:.1f} MiB"


@click.command()
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


@click.command()
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
