"""``zufiwatch demo``: the simulated directory on localhost, crawled day by day.

Starts the simulated PVOG on 127.0.0.1, crawls it once per simulated day into a
temporary (or kept) database, and prints what each day changed, then what one entry
looked like before its ThAVEL link was replaced. No configuration, no network.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from . import queries
from .archive import Archive
from .config import HttpSettings, SourceSettings
from .fetch import Fetcher
from .model import Change
from .render import change_pair
from .runner import run_crawl
from .sim import JENA_ARS, Scenario, SimulatedPVOG, build_directory
from .store import History
from .timeutil import show_time, stored

__all__ = ["run_demo"]

TZ = "Europe/Berlin"


def run_demo(*, days: int, size: int, keep: Path | None,
             echo: Callable[[str], None] = print) -> Path:
    """Run the demo; returns the directory holding its database and snapshots."""
    workdir = keep if keep else Path(tempfile.mkdtemp(prefix="zufiwatch-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        _run(workdir, days=days, size=size, echo=echo)
        database = workdir / "zufiwatch.db"
        echo("")
        if keep is None:
            echo("The demo's database is removed now; run 'zufiwatch demo --keep DIR' to keep "
                 "it and ask it yourself.")
        else:
            echo(f"History database: {database}")
            echo("Ask it yourself, e.g.:")
            echo(f"  zufiwatch --database {database} changes")
            echo(f"  zufiwatch --database {database} links --host thavel")
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return workdir


def _run(workdir: Path, *, days: int, size: int, echo: Callable[[str], None]) -> None:
    scenario = Scenario(build_directory(size))
    database = workdir / "zufiwatch.db"
    echo(f"zufiwatch demo: a simulated PVOG for Jena (ARS {JENA_ARS}) with "
         f"{size} Leistungen on 127.0.0.1, {days} simulated days")
    link_change: tuple[str, Change, str] | None = None
    with SimulatedPVOG(scenario) as server, History(database) as history, \
            Fetcher(HttpSettings(), retries=0) as fetcher:
        source = SourceSettings(name="pvog-jena-sim", kind="pvog", base_url=server.base_url,
                                ars=JENA_ARS, page_size=50, max_concurrency=4, min_interval=0)
        archive = Archive(workdir / "snapshots")
        for day in range(days + 1):
            server.set_day(day)
            moment = _crawl_time(scenario.date_of(day))
            result = run_crawl(source, history=history, archive=archive, fetcher=fetcher,
                               clock=lambda moment=moment: moment)
            echo("")
            echo(f"Day {day} ({show_time(stored(moment), TZ)[:10]}): "
                 f"{_without_day_prefix(scenario.describe(day))}")
            echo(f"  crawl {result.outcome}: {result.stats['observed']} records observed, "
                 f"{result.stats['requests']} requests, {len(result.changes)} changes")
            for key, change in result.changes[:12]:
                old, new = change_pair(change.old, change.new, 90)
                echo(f"  • {key} [{change.change_type}] {change.label}: {old} → {new}")
                if link_change is None and change.label.startswith("Online-Dienst"):
                    link_change = (key, change, stored(moment - timedelta(seconds=1)))
        if link_change:
            _show_before_after(history, *link_change, echo=echo)


def _without_day_prefix(text: str) -> str:
    head, sep, rest = text.partition(": ")
    return rest if sep and head.startswith("day ") else text


def _crawl_time(edited: datetime) -> datetime:
    """Crawls run some hours after the day's edits."""
    return edited + timedelta(hours=3)


def _show_before_after(history: History, key: str, change: Change, before: str, *,
                       echo: Callable[[str], None]) -> None:
    then = queries.show(history, key, at=before)
    now = queries.show(history, key, at=stored(datetime.now().astimezone()
                                               + timedelta(days=3650)))
    echo("")
    echo(f"What {key} ('{then['title']}') looked like before the link changed:")
    for link in then["content"]["onlinedienste"]:
        echo(f"  before ({show_time(then['version']['valid_from'], TZ)}): {link['url']}")
    for link in now["content"]["onlinedienste"]:
        echo(f"  now    ({show_time(now['version']['valid_from'], TZ)}): {link['url']}")
