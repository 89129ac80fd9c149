"""``zufiwatch daemon``: the schedule and the signals, nothing else.

APScheduler 3 runs the jobs in background threads; the main thread waits on an event and
handles signals:

- a crawl per source on its cron ``schedule``, with jitter, followed by delivering what the
  crawl queued;
- the link watch of each PVOG source on its ``link_watch_schedule`` (default hourly; one
  request for the CSV listing), followed by delivering what it queued;
- ``notify`` every ``notify_every_minutes``: digest, reminder, stale-source notices when
  due, and delivery of the outbox;
- one instance of a job at a time; runs missed while the service was down coalesce into
  one catch-up run if they are at most ``misfire_grace_seconds`` late.

A running crawl logs how far it has got (entries done of those listed, requests, errors,
time left) at most once a minute.

SIGTERM and SIGINT stop cleanly: a running crawl finishes its current step and is stored
as partial; the exit status is 0. SIGHUP reloads the configuration, keeping the old one
when the new one is invalid. A second daemon on the same database refuses to start. Under
systemd (Type=notify) it reports READY, pings the watchdog and says STOPPING.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .archive import Archive
from .config import Settings, load_settings
from .errors import ConfigError, StoreError, ZufiwatchError
from .schedules import cron_trigger
from .store import History
from .systemd import Notifier
from .timeutil import Clock, system_clock

if TYPE_CHECKING:
    from .progress import CrawlProgress

__all__ = ["Daemon", "DaemonLock", "progress_log"]

log = logging.getLogger(__name__)

#: A running crawl's progress is logged at most this often.
PROGRESS_EVERY_SECONDS = 60.0


class DaemonLock:
    """One daemon per database: an ``flock`` on a file next to it, holding our pid."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(f"{database.name}.daemon.lock")
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise StoreError(f"another zufiwatch daemon (pid {holder}) is running on "
                             f"{self.database}; stop it first") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


class Daemon:
    """The background service over the same library functions the CLI uses."""

    def __init__(self, config_path: Path, settings: Settings, *,
                 clock: Clock = system_clock, notifier: Notifier | None = None) -> None:
        self.config_path = config_path
        self.settings = settings
        self.clock = clock
        self.notifier = notifier or Notifier.from_environment()
        self.stop = threading.Event()
        self._wake = threading.Event()
        self._reload = False
        self._scheduler = BackgroundScheduler(timezone=settings.timezone)

    # -- jobs -------------------------------------------------------------------------------

    def _crawl_job(self, source_name: str) -> None:
        from .alerts import Alerts
        from .runner import crawl_sources

        settings = self.settings
        try:
            source = settings.source(source_name)
            with History(settings.database) as history:
                archive = Archive.for_history(settings.snapshots, history.archived_crawls())
                results = crawl_sources(settings, [source], history=history,
                                        archive=archive, clock=self.clock,
                                        alerts=Alerts(settings), stop=self.stop,
                                        progress=progress_log(PROGRESS_EVERY_SECONDS))
            for result in results:
                log.info("crawl %s of %s: %s, %d requests, %d bytes received%s",
                         result.crawl_id, result.source, result.outcome,
                         result.stats["requests"], result.stats["bytes_received"],
                         f" — {result.reason}" if result.reason else "")
            if not self.stop.is_set():
                self._deliver(settings)
        except ZufiwatchError as exc:
            log.error("crawl job for %s: %s", source_name, exc)

    def _watch_job(self, source_name: str) -> None:
        """The link watch of one PVOG source (one request), then delivery of what it
        queued."""
        from .alerts import Alerts
        from .watching import run_link_watches

        settings = self.settings
        try:
            source = settings.source(source_name)
            with History(settings.database) as history:
                archive = Archive.for_history(settings.snapshots, history.archived_crawls())
                results = run_link_watches(settings, [source], history=history,
                                           archive=archive, clock=self.clock,
                                           alerts=Alerts(settings), stop=self.stop)
            for result in results:
                log.info("link watch %s of %s: %s %s", result.crawl_id, result.source,
                         result.outcome, result.reason)
            if not self.stop.is_set() and any(result.changes for result in results):
                self._deliver(settings)
        except ZufiwatchError as exc:
            log.error("link watch job for %s: %s", source_name, exc)

    def _notify_job(self) -> None:
        try:
            self._deliver(self.settings, due_work=True)
        except ZufiwatchError as exc:
            log.error("notify job: %s", exc)

    def _deliver(self, settings: Settings, *, due_work: bool = False) -> None:
        from .alerts import Alerts, deliver, run_notify
        from .notify.smtp import SmtpTransport, load_password

        if not settings.smtp.host:
            return
        transport = SmtpTransport(settings.smtp, load_password(settings.smtp))
        alerts = Alerts(settings)
        with History(settings.database) as history:
            report = (run_notify(history, alerts, transport.send, self.clock) if due_work
                      else deliver(history, alerts, transport.send, self.clock))
        if report.sent or report.failed:
            log.info("notify: sent %d, not delivered %d", report.sent, report.failed)
        for error in report.errors:
            log.warning("not delivered: %s", error)

    def _catch_up(self, settings: Settings) -> None:
        """A crawl missed while the service was down runs once now (if not too late)."""
        from apscheduler.triggers.date import DateTrigger

        now = self.clock()
        grace = timedelta(seconds=settings.daemon.misfire_grace_seconds)
        with History(settings.database) as history:
            for source in settings.sources:
                last = history.db.execute(
                    "SELECT max(started_at) FROM crawls WHERE source = ? AND mode != 'reparse'",
                    [source.name]).fetchone()[0]
                if last is None:
                    continue
                trigger = cron_trigger(source.schedule, settings.timezone)
                due = trigger.get_next_fire_time(None, datetime.fromisoformat(last))
                if due is not None and due <= now and now - due <= grace:
                    log.info("crawl of %s due at %s was missed; catching up now", source.name,
                             due.isoformat(timespec="seconds"))
                    self._scheduler.add_job(self._crawl_job, DateTrigger(now),
                                            args=[source.name], id=f"catch-up:{source.name}",
                                            name=f"catch-up crawl {source.name}")

    def _schedule(self, settings: Settings) -> None:
        grace = settings.daemon.misfire_grace_seconds
        defaults: dict[str, Any] = {"coalesce": True, "max_instances": 1,
                                    "misfire_grace_time": grace, "replace_existing": True}
        for source in settings.sources:
            trigger = cron_trigger(source.schedule, settings.timezone,
                                   settings.daemon.jitter_seconds or None)
            self._scheduler.add_job(self._crawl_job, trigger, args=[source.name],
                                    id=f"crawl:{source.name}", name=f"crawl {source.name}",
                                    **defaults)
            if source.kind == "pvog" and source.link_watch_schedule:
                trigger = cron_trigger(source.link_watch_schedule, settings.timezone,
                                       settings.daemon.jitter_seconds or None)
                self._scheduler.add_job(self._watch_job, trigger, args=[source.name],
                                        id=f"watch:{source.name}",
                                        name=f"link watch {source.name}", **defaults)
        self._scheduler.add_job(self._notify_job,
                                IntervalTrigger(minutes=settings.daemon.notify_every_minutes),
                                id="notify", name="notify", **defaults)

    # -- signals and the main loop ------------------------------------------------------------

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping after the current step", signal.Signals(signum).name)
        self.stop.set()
        self._wake.set()

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self._reload = True
        self._wake.set()

    def _reload_settings(self) -> None:
        self._reload = False
        self.notifier.reloading()
        try:
            fresh = load_settings(self.config_path)
        except ConfigError as exc:
            log.error("SIGHUP: keeping the old configuration, the new one is invalid: %s", exc)
            self.notifier.ready("running (configuration reload failed)")
            return
        if fresh.database != self.settings.database:
            log.warning("SIGHUP: a new database path needs a restart; keeping %s",
                        self.settings.database)
            fresh = _with_database(fresh, self.settings)
        self._scheduler.remove_all_jobs()
        self.settings = fresh
        self._schedule(fresh)
        log.info("SIGHUP: configuration reloaded from %s", self.config_path)
        self.notifier.ready("running")

    def run(self, on_ready: Callable[[], None] | None = None) -> int:
        lock = DaemonLock(self.settings.database)
        lock.acquire()
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT,
                                                           signal.SIGHUP)}
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)
        try:
            with History(self.settings.database) as history:  # migrations run on start
                Archive.for_history(self.settings.snapshots, history.archived_crawls())
            self._schedule(self.settings)
            self._catch_up(self.settings)
            self._scheduler.start()
            jobs = ", ".join(job.name for job in self._scheduler.get_jobs())
            log.info("zufiwatch daemon running: %s", jobs)
            self.notifier.ready("running")
            if on_ready:
                on_ready()
            interval = self.notifier.watchdog_interval or 30.0
            while not self.stop.is_set():
                self._wake.wait(timeout=interval)
                self._wake.clear()
                if self._reload and not self.stop.is_set():
                    self._reload_settings()
                self.notifier.watchdog()
            self.notifier.stopping()
            self._scheduler.shutdown(wait=True)
            log.info("zufiwatch daemon stopped")
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            lock.release()


def progress_log(interval: float) -> Callable[[CrawlProgress], None]:
    """Logs a running crawl's progress (one INFO line) at most once per ``interval``
    seconds of the crawl's clock, the first after ``interval`` seconds."""
    from .progress import Throttle, log_line

    throttle = Throttle(interval)

    def note(progress: CrawlProgress) -> None:
        if throttle.due(progress):
            log.info("%s", log_line(progress))

    return note


def _with_database(fresh: Settings, current: Settings) -> Settings:
    import dataclasses

    return dataclasses.replace(fresh, database=current.database)
