"""The link watch by hand: ``zufiwatch watch``."""

from __future__ import annotations

import sys

import click

from ..archive import Archive
from ..errors import ConfigError
from .root import App, handle_errors, pass_app


@click.command()
@click.option("--source", "sources", multiple=True,
              help="Watch only this PVOG source (repeatable; default: every PVOG source with "
                   "a link_watch_schedule).")
@pass_app
@handle_errors
def watch(app: App, sources: tuple[str, ...]) -> None:
    """Run the link watch once: one request for each PVOG source's CSV listing.

    Reports a replaced, added or removed online-service link and an added or removed
    Leistung as the next full crawl would; that crawl joins the events instead of
    reporting them again. The runs are stored as crawls of the source "<name>:links".
    The daemon runs the watch on each source's link_watch_schedule (default hourly).
    Exit status 1 when a run failed or was partial.

    \b
    Example:
      zufiwatch watch --source pvog-jena
    """
    from ..alerts import Alerts
    from ..watching import run_link_watches, watched_sources

    settings = app.settings
    chosen = watched_sources(settings, sources)
    if not chosen:
        raise ConfigError(f"{settings.origin}: no pvog source with a link_watch_schedule")
    with app.history(must_exist=False) as history:
        archive = Archive.for_history(settings.snapshots, history.archived_crawls())
        results = run_link_watches(settings, chosen, history=history, archive=archive,
                                   clock=app.clock, alerts=Alerts(settings))
    for result in results:
        reason = f" — {result.reason}" if result.reason else ""
        if not result.crawl_id:
            click.echo(f"{result.source}: not run — {result.reason}")
            continue
        click.echo(f"{result.source}: run {result.crawl_id} {result.outcome}: "
                   f"{result.stats['observed']} Leistungen listed, "
                   f"{result.stats['changes']} changes, {result.stats['requests']} requests"
                   f"{reason}")
    if any(r.outcome != "complete" for r in results):
        sys.exit(1)
