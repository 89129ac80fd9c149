"""Progress a person can see: the model (counts, rate, time left from an injected clock),
the bars of `zufiwatch crawl` on a terminal (a real pseudo-terminal), the summary lines
without one, and the daemon's progress line at most once a minute."""

from __future__ import annotations

import io
import logging
import os
import pty
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import Crawler, FakeClock
from zufiwatch.cli import cli
from zufiwatch.cli.progressbars import crawl_bars, wants_bars
from zufiwatch.config import load_settings
from zufiwatch.daemon import Daemon
from zufiwatch.model import Record
from zufiwatch.progress import (
    CrawlProgress,
    ProgressTracker,
    Throttle,
    format_left,
    log_line,
)
from zufiwatch.sources.base import (
    Confirmed,
    Listing,
    Observed,
    Progress,
    Strike,
    Unobserved,
    Vouched,
)

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 10, 1, 4, 0, tzinfo=UTC)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def leistung(n: int) -> Observed:
    return Observed((Record("leistung", f"LB.{n}", {"name": f"L{n}"}),))


# --------------------------------------------------------------------------- the model


def test_the_total_is_unknown_until_the_listing_and_the_rate_counts_from_there() -> None:
    clock = FakeClock(START)
    tracker = ProgressTracker("pvog", clock)
    clock.advance(seconds=30)  # the listing pages: no measure of the details after them
    first = tracker.snapshot(requests=20, bytes_received=1000)
    assert first.total is None and first.done == 0
    assert first.left is None and first.fraction is None and first.elapsed == 30
    tracker.take(Listing("leistungen", expected=100, received=100))
    for n in range(10):
        clock.advance(seconds=2)
        tracker.take(leistung(n))
    now = tracker.snapshot(requests=40, bytes_received=5000)
    assert (now.total, now.done, now.errors, now.requests) == (100, 10, 0, 40)
    assert now.rate == pytest.approx(10 / 20)  # 10 entries in the 20 s since the listing
    assert now.left == pytest.approx(90 / 0.5)  # 3 minutes for the 90 left
    assert now.fraction == pytest.approx(0.1)
    assert format_left(now.left) == "3:00"


def test_every_kind_of_entry_is_counted_once_and_failures_are_errors() -> None:
    clock = FakeClock(START)
    tracker = ProgressTracker("pvog", clock)
    tracker.take(Listing("leistungen", expected=5, received=5))
    tracker.take(leistung(1))
    tracker.take(Confirmed("leistung:LB.2", "f"))
    tracker.take(Vouched("leistung:LB.3"))
    tracker.take(Unobserved("leistung:LB.4", "HTTP 500"))
    tracker.take(Strike("leistung:LB.5", "timeout"))
    tracker.take(Observed((Record("organisationseinheit", "OE.1", {}),)))
    tracker.take(Unobserved("organisationseinheit:OE.2", "HTTP 500"))
    tracker.take(Observed(tuple(Record("onlinedienst", f"OD.{n}", {}) for n in range(3))))
    tracker.take(Listing("onlinedienste", expected=3, received=3))  # not the total
    state = tracker.snapshot(0, 0)
    assert (state.done, state.total, state.errors, state.other) == (5, 5, 3, 5)
    assert state.left == 0


def test_a_source_reporting_its_own_progress_is_not_counted_twice() -> None:
    clock = FakeClock(START)
    tracker = ProgressTracker("links", clock)
    tracker.take(Progress(0, 40))
    clock.advance(seconds=10)
    tracker.take(Progress(10, 40, errors=2))
    during = tracker.snapshot(12, 3000)
    assert (during.done, during.total, during.errors) == (10, 40, 2)
    assert during.left == pytest.approx(30)
    tracker.take(Progress(40, 40, errors=3))
    for n in range(40):  # the conclusions after the checks: already counted
        tracker.take(Observed((Record("link", f"https://x.test/{n}", {}),)))
    tracker.take(Listing("link", 40, 40))
    end = tracker.snapshot(45, 9000)
    assert (end.done, end.total, end.errors, end.other) == (40, 40, 3, 0)


def test_time_left_reads_as_minutes_or_hours() -> None:
    assert format_left(None) == "-:--"
    assert format_left(0) == "0:00"
    assert format_left(245.4) == "4:05"
    assert format_left(3725) == "1:02:05"


def test_the_log_line_names_source_counts_requests_and_errors() -> None:
    state = CrawlProgress("pvog-jena", START, START + timedelta(minutes=2), total=2000,
                          done=1200, errors=2, other=40, requests=3456,
                          counting_since=START + timedelta(seconds=20))
    assert log_line(state) == ("crawl of pvog-jena under way: 1,200 of 2,000 (+40 other "
                               "entries) done, 3,456 requests, 2 errors, 1:07 left")
    unknown = CrawlProgress("zufi", START, START)
    assert log_line(unknown) == ("crawl of zufi under way: 0 of ? done, 0 requests, "
                                 "0 errors, -:-- left")


def test_the_throttle_lets_one_report_through_a_minute() -> None:
    throttle = Throttle(60)
    due = [throttle.due(CrawlProgress("s", START, START + timedelta(seconds=s)))
           for s in (0, 30, 59, 60, 61, 100, 119, 120, 300)]
    assert due == [False, False, False, True, False, False, False, True, True]


# --------------------------------------------------------------------------- the terminal


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("environ", "quiet", "bars"), [
    ({}, False, True),
    ({}, True, False),
    ({"JOURNAL_STREAM": "8:1234"}, False, False),
    ({"INVOCATION_ID": "abc"}, False, False),
    ({"CI": "true"}, False, False),
    ({"CI": ""}, False, True),
])
def test_bars_only_for_a_person_at_a_terminal(environ: dict, quiet: bool, bars: bool) -> None:
    assert wants_bars(_Tty(), environ, quiet=quiet) is bars
    assert wants_bars(io.StringIO(), environ, quiet=quiet) is False


def test_the_bars_show_each_source_with_counts_requests_errors_and_time_left() -> None:
    screen = _Tty()
    with crawl_bars(screen) as show:
        show(CrawlProgress("pvog-jena", START, START, requests=3))
        show(CrawlProgress("pvog-jena", START, START + timedelta(seconds=60), total=200,
                           done=50, errors=1, requests=120,
                           counting_since=START + timedelta(seconds=10)))
        show(CrawlProgress("links", START, START, total=None, requests=0))
    text = ANSI.sub("", screen.getvalue())
    assert "pvog-jena" in text and "links" in text
    assert "50 of 200" in text and "120 requests" in text and "1 errors" in text
    assert "2:30 left" in text  # 150 left at one a second
    assert "0 of ?" in text


def _crawl_on_a_terminal(config: Path, *args: str, options: tuple[str, ...] = (),
                         **environ: str) -> tuple[str, str, int]:
    """``zufiwatch [options] crawl [args]`` with stderr on a pseudo-terminal: (terminal,
    stdout, status)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CI", "JOURNAL_STREAM", "INVOCATION_ID")}
    env.update(PYTHONPATH=str(ROOT), TERM="xterm-256color", COLUMNS="160", **environ)
    main, secondary = pty.openpty()
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:  # EIO: the other side is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "zufiwatch.cli", "--config", str(config), *options,
             "crawl", *args],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=secondary, text=True, timeout=120, check=False)
    finally:
        os.close(secondary)
        reader.join(timeout=30)
        os.close(main)
    return ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")), done.stdout, \
        done.returncode


def test_a_crawl_on_a_terminal_shows_a_bar_and_ends_with_the_summary(
        crawler: Crawler, tmp_path: Path) -> None:
    config = crawler.write_config(tmp_path / "zufiwatch.toml")
    terminal, stdout, status = _crawl_on_a_terminal(config)
    assert status == 0, terminal
    listed = crawler.history.crawls(limit=1)[0]["listed"]
    assert listed > 0
    assert "pvog-test" in terminal and f"{listed} of {listed}" in terminal
    assert "requests" in terminal and "errors" in terminal and "left" in terminal
    lines = stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pvog-test: crawl 1 complete:")


def test_log_lines_with_verbose_go_above_the_bars_not_through_them(
        crawler: Crawler, tmp_path: Path) -> None:
    config = crawler.write_config(tmp_path / "zufiwatch.toml")
    terminal, _stdout, status = _crawl_on_a_terminal(config, options=("-v",))
    assert status == 0, terminal
    pieces = re.split(r"[\r\n]+", terminal)
    assert any(p.startswith("INFO zufiwatch.runner: crawl 1 of pvog-test complete")
               for p in pieces), terminal
    listed = crawler.history.crawls(limit=1)[0]["listed"]
    assert any(p.startswith("pvog-test ") and f"{listed} of {listed}" in p for p in pieces)


@pytest.mark.parametrize(("args", "environ"), [(("--quiet",), {}), ((), {"CI": "true"}),
                                               ((), {"JOURNAL_STREAM": "8:99"})])
def test_quiet_in_ci_or_under_systemd_the_terminal_gets_no_bar(
        crawler: Crawler, tmp_path: Path, args: tuple[str, ...], environ: dict) -> None:
    config = crawler.write_config(tmp_path / "zufiwatch.toml")
    terminal, stdout, status = _crawl_on_a_terminal(config, *args, **environ)
    assert status == 0, terminal
    assert terminal.strip() == ""
    assert stdout.startswith("pvog-test: crawl 1 complete:") and stdout.count("\n") == 1


def test_without_a_terminal_only_the_summary_line(crawler: Crawler, tmp_path: Path) -> None:
    config = crawler.write_config(tmp_path / "zufiwatch.toml")
    result = CliRunner().invoke(cli, ["--config", str(config), "crawl"])
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert "\n" not in line
    row = crawler.history.crawls(limit=1)[0]
    assert re.fullmatch(rf"pvog-test: crawl 1 complete: {row['observed']} records observed, "
                        rf"0 changes, {row['requests']} requests \([0-9.]+ (KiB|MiB|B)\)"
                        r" — baseline: .*", line)


# --------------------------------------------------------------------------- the daemon


class TickingClock(FakeClock):
    """Moves on a few seconds every time it is read: a crawl of many minutes, at once."""

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=3)
        return self.now


def test_the_daemon_logs_progress_at_most_once_a_minute(
        crawler: Crawler, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = crawler.write_config(tmp_path / "zufiwatch.toml")
    clock = TickingClock(START)
    daemon = Daemon(config, load_settings(config), clock=clock)
    heard: list[tuple[datetime, str]] = []

    class Listen(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "under way" in record.getMessage():
                heard.append((clock.now, record.getMessage()))

    listener = Listen(logging.INFO)
    logger = logging.getLogger("zufiwatch.daemon")
    logger.addHandler(listener)
    caplog.set_level(logging.INFO, logger="zufiwatch.daemon")
    began = clock.now
    try:
        daemon._crawl_job("pvog-test")
    finally:
        logger.removeHandler(listener)
    ended = clock.now
    assert len(heard) >= 2, caplog.text
    times = [began] + [at for at, _ in heard]
    assert all((b - a).total_seconds() >= 60 for a, b in pairwise(times))
    assert len(heard) <= (ended - began).total_seconds() // 60
    assert re.fullmatch(r"crawl of pvog-test under way: [\d,]+ of ([\d,]+|\?)"
                        r"( \(\+[\d,]+ other entries\))? done, [\d,]+ requests, "
                        r"\d+ errors, [-\d:]+ left", heard[-1][1])
    summary = [r.getMessage() for r in caplog.records if "crawl 1 of pvog-test:" in
               r.getMessage()]
    row = crawler.history.crawls(limit=1)[0]
    assert summary and f"complete, {row['requests']} requests" in summary[0]
