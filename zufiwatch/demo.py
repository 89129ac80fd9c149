"""``zufiwatch demo``: the simulated directory on localhost, crawled day by day.

Starts the simulated PVOG, the simulated ZuFi (TSA API, a day ahead of the PVOG) and the
simulated link targets (ThAVEL and other hosts) on 127.0.0.1. Each simulated day it
crawls the PVOG, then the ZuFi and compares the two, then checks every online-service
link, into a temporary (or kept) database, and prints what each day changed and what was
found; at the end, what one entry looked like before its ThAVEL link was replaced. No
configuration, no network.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from . import queries
from .alerts import Alerts
from .archive import Archive
from .config import HttpSettings, RulesSettings, Settings, SourceSettings
from .crosscheck import open_disagreements
from .fetch import Fetcher
from .model import Change
from .render import change_pair
from .runner import CrawlResult, crosscheck_after, run_crawl
from .sim import JENA_ARS, Scenario, SimulatedPVOG, build_directory
from .sim.targets import OWN_AUTHORITY, LinkTargets
from .sim.tsa import AREA_ID, ROOT_OU, SimulatedTSA
from .sim.web import SimulatedWeb
from .store import History
from .timeutil import Clock, show_time, stored

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


#: A ZuFi-only edit (day, ZuFi Leistung id, new online link) that never reaches the PVOG:
#: the cross-check reports it once it outlasts the 48-hour sync window.
ZUFI_ONLY_EDIT = (3, "354824",
                  "https://ajproxy.jena.de/olav/olav.htm?_flowId=gewerbeanmeldung-flow")


def _run(workdir: Path, *, days: int, size: int, echo: Callable[[str], None]) -> None:
    scenario = Scenario(build_directory(size))
    targets = LinkTargets(scenario.directory_for(0))
    database = workdir / "zufiwatch.db"
    echo(f"zufiwatch demo: a simulated PVOG and ZuFi for Jena (ARS {JENA_ARS}) with "
         f"{size} Leistungen and simulated link targets on 127.0.0.1, {days} simulated days")
    link_change: tuple[str, Change, str] | None = None
    with SimulatedPVOG(scenario) as server, SimulatedWeb() as web, \
            SimulatedTSA(scenario) as zufi_server, History(database) as history, \
            Fetcher(HttpSettings(), retries=0) as fetcher:
        source = SourceSettings(name="pvog-jena-sim", kind="pvog", base_url=server.base_url,
                                ars=JENA_ARS, page_size=50, max_concurrency=4, min_interval=0)
        zufi = _zufi_source(zufi_server, workdir, crosscheck=source.name)
        links = _link_checker(web, watch=source.name)
        settings = Settings(sources=(source, zufi, links), rules=RulesSettings(
            own_thavel=targets.own_instances, own_authorities=(OWN_AUTHORITY,)))
        alerts = Alerts(settings)
        archive = Archive(workdir / "snapshots")
        for day in range(days + 1):
            server.set_day(day)
            zufi_server.set_day(day)
            targets.apply(web, day)
            if day == ZUFI_ONLY_EDIT[0]:
                zufi_server.set_links(ZUFI_ONLY_EDIT[1], [ZUFI_ONLY_EDIT[2]])
            moment = _crawl_time(scenario.date_of(day))
            result = run_crawl(source, history=history, archive=archive, fetcher=fetcher,
                               clock=_fixed_clock(moment), alerts=alerts)
            crosscheck_after(settings, source, history=history,
                             clock=_fixed_clock(moment), alerts=alerts)
            echo("")
            echo(f"Day {day} ({show_time(stored(moment), TZ)[:10]}): "
                 f"{_without_day_prefix(scenario.describe(day))}")
            for event in targets.started(day):
                echo(f"  link targets: {event.description}")
            if day == ZUFI_ONLY_EDIT[0]:
                echo(f"  in the ZuFi only: Leistung {ZUFI_ONLY_EDIT[1]} now has only the online "
                     f"link {ZUFI_ONLY_EDIT[2]} (it never reaches the PVOG)")
            echo(f"  PVOG crawl {result.outcome}: {result.stats['observed']} records observed, "
                 f"{result.stats['requests']} requests, {len(result.changes)} changes")
            for key, change in result.changes[:12]:
                old, new = change_pair(change.old, change.new, 90)
                echo(f"  • {key} [{change.change_type}] {change.label}: {old} → {new}")
                if link_change is None and change.label.startswith("Online-Dienst"):
                    link_change = (key, change, stored(moment - timedelta(seconds=1)))
            zufi_at = moment + timedelta(minutes=30)
            _zufi_day(history, settings, zufi, archive, fetcher, alerts, zufi_at, echo)
            checked_at = moment + timedelta(hours=1)
            checked = run_crawl(links, history=history, archive=archive, fetcher=fetcher,
                                clock=_fixed_clock(checked_at), alerts=alerts)
            _echo_link_check(history, checked, echo)
        if link_change:
            _show_before_after(history, *link_change, echo=echo)


def _zufi_source(server: SimulatedTSA, workdir: Path, *, crosscheck: str) -> SourceSettings:
    """The simulated ZuFi, its api_key in a file of the demo's directory."""
    key_file = workdir / "tsa-api-key"
    key_file.write_text(server.api_key + "\n", encoding="utf-8")
    key_file.chmod(0o600)
    return SourceSettings(name="zufi-jena-sim", kind="tsa", base_url=server.base_url,
                          root_ou=str(ROOT_OU), area_id=AREA_ID, api_key_file=str(key_file),
                          page_size=50, max_concurrency=4, min_interval=0,
                          crosscheck=crosscheck)


def _zufi_day(history: History, settings: Settings, zufi: SourceSettings, archive: Archive,
              fetcher: Fetcher, alerts: Alerts, at: datetime,
              echo: Callable[[str], None]) -> None:
    """The ZuFi crawl (a day ahead of the PVOG) and the cross-check after it."""
    result = run_crawl(zufi, history=history, archive=archive, fetcher=fetcher,
                       clock=lambda: at, alerts=alerts)
    echo(f"  ZuFi crawl {result.outcome}: {result.stats['observed']} records, "
         f"{len(result.changes)} changes (the ZuFi is a day ahead of the PVOG)")
    for key, change in result.changes[:4]:
        old, new = change_pair(change.old, change.new, 70)
        echo(f"  • {key} [{change.change_type}] {change.label}: {old} → {new}")
    for check in crosscheck_after(settings, zufi, history=history, clock=lambda: at,
                                  alerts=alerts):
        if not check.ran:
            continue
        echo(f"  ZuFi and PVOG: {check.open} difference(s) open, {check.due} outlasted the "
             "sync window now")
        stored_at = stored(at)
        for row in open_disagreements(history, reported_only=True):
            if row["reported_at"] == stored_at:
                echo(f"  ! {row['severity']}: ZuFi und PVOG widersprechen sich: "
                     f"{row['title']} ({row['aspect_label']})")
                echo(f"      ZuFi: {'; '.join(row['zufi_value']) or '—'}")
                echo(f"      PVOG: {'; '.join(row['pvog_value']) or '—'}")


def _link_checker(web: SimulatedWeb, *, watch: str) -> SourceSettings:
    """The link checker, reaching the simulated hosts on 127.0.0.1 (only these)."""
    return SourceSettings(
        name="links-sim", kind="links", watch=(watch,), max_concurrency=4, min_interval=0,
        timeout=10, allow_local=web.endpoints(), ca_file=web.ca_file,
        connect_to=tuple(f"{host}={address}" for host, address in web.connect_to()))


def _echo_link_check(history: History, result: CrawlResult,
                     echo: Callable[[str], None]) -> None:
    broken = history.db.execute(
        "SELECT count(*) FROM records r JOIN versions v ON v.id = r.current_version "
        "WHERE r.source = ? AND json_extract(v.content, '$.zustand') != 'erreichbar'",
        [result.source]).fetchone()[0]
    failing = len(history.strikes(result.source))
    echo(f"  link check {result.outcome}: {result.stats['observed']} links checked, "
         f"{broken} broken or refused, {failing} failed this time")
    findings = history.db.execute(
        "SELECT r.key, c.label, c.new_value, c.severity, c.reasons FROM changes c "
        "JOIN records r ON r.id = c.record_id WHERE c.crawl_id = ? "
        "AND c.severity IN ('high', 'critical') ORDER BY c.id", [result.crawl_id]).fetchall()
    for key, label, new, severity, reasons in findings[:8]:
        why = "; ".join(json.loads(reasons)) or f"{label}: {json.loads(new) if new else ''}"
        echo(f"  ! {severity}: {key.removeprefix('link:')}")
        echo(f"      {why}")


def _without_day_prefix(text: str) -> str:
    head, sep, rest = text.partition(": ")
    return rest if sep and head.startswith("day ") else text


def _crawl_time(edited: datetime) -> datetime:
    """Crawls run some hours after the day's edits."""
    return edited + timedelta(hours=3)


def _fixed_clock(moment: datetime) -> Clock:
    """A clock that always reads ``moment`` (bound now, not when the loop variable changes)."""

    def clock() -> datetime:
        return moment

    return clock


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
