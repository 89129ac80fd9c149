"""The daemon as a subprocess against the simulated PVOG, with a fake NOTIFY_SOCKET."""

from __future__ import annotations

import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from zufiwatch.sim import JENA_ARS, Scenario, SimulatedPVOG, build_directory

ROOT = Path(__file__).resolve().parent.parent


class Running:
    """A daemon process, its stderr lines and the datagrams it sends to systemd."""

    def __init__(self, config: Path, notify: Path, *, watchdog_usec: int = 1_000_000) -> None:
        self.notify_path = notify
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(notify))
        self.sock.settimeout(20)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": str(notify),
               "WATCHDOG_USEC": str(watchdog_usec)}
        env.pop("WATCHDOG_PID", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zufiwatch.cli", "--config", str(config), "daemon"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))

    def datagram(self) -> str:
        return self.sock.recv(4096).decode()

    def wait_for_datagram(self, wanted: str) -> None:
        while wanted not in self.datagram().splitlines():
            pass

    def wait_for_line(self, text: str, timeout: float = 20) -> str:
        while True:
            line = self.lines.get(timeout=timeout)
            if text in line:
                return line

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=10)
        self.sock.close()
        return code


@pytest.fixture(scope="module")
def slow_pvog() -> Iterator[SimulatedPVOG]:
    with SimulatedPVOG(Scenario(build_directory(1500))) as server:
        yield server


def _config(tmp_path: Path, pvog: SimulatedPVOG, *, schedule: str = "*/1 * * * * *",
            interval: float = 0.0) -> Path:
    path = tmp_path / "zufiwatch.toml"
    path.write_text(f"""
database = "{tmp_path / 'h.db'}"
snapshots = "{tmp_path / 'snap'}"
[http]
retries = 0
[daemon]
jitter_seconds = 0
notify_every_minutes = 60
[[sources]]
name = "sim"
kind = "pvog"
base_url = "{pvog.base_url}"
ars = "{JENA_ARS}"
page_size = 100
max_concurrency = 2
min_interval = {interval}
schedule = "{schedule}"
""", encoding="utf-8")
    return path


def test_jobs_fire_and_systemd_hears_ready_and_watchdog(tmp_path: Path, pvog) -> None:
    daemon = Running(_config(tmp_path, pvog), tmp_path / "notify")
    try:
        daemon.wait_for_datagram("READY=1")
        daemon.wait_for_datagram("WATCHDOG=1")
        start = pvog.request_count
        assert pvog.wait_for_requests(start + 50, timeout=30)  # a scheduled crawl runs
        daemon.wait_for_line("crawl 1 of sim: complete")
    finally:
        assert daemon.stop() == 0
    with sqlite3.connect(tmp_path / "h.db") as db:
        assert db.execute("SELECT outcome FROM crawls WHERE id = 1").fetchone() == ("complete",)


def test_sigterm_during_a_crawl_exits_0_with_a_consistent_database(
        tmp_path: Path, slow_pvog: SimulatedPVOG) -> None:
    daemon = Running(_config(tmp_path, slow_pvog, interval=0.005), tmp_path / "notify")
    try:
        daemon.wait_for_datagram("READY=1")
        start = slow_pvog.request_count
        assert slow_pvog.wait_for_requests(start + 200, timeout=30)  # mid-crawl
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(timeout=10) == 0
        daemon.wait_for_datagram("STOPPING=1")
    finally:
        daemon.stop()
    with sqlite3.connect(tmp_path / "h.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        outcome, reason = db.execute("SELECT outcome, reason FROM crawls ORDER BY id DESC"
                                     ).fetchone()
        assert outcome == "partial" and "stopped: the service was shutting down" in reason
        assert db.execute("SELECT count(*) FROM crawls WHERE outcome = 'running'"
                          ).fetchone() == (0,)


def test_a_second_daemon_on_the_same_database_refuses(tmp_path: Path, pvog) -> None:
    config = _config(tmp_path, pvog, schedule="0 3 1 1 *")
    first = Running(config, tmp_path / "notify")
    try:
        first.wait_for_datagram("READY=1")
        second = subprocess.run(
            [sys.executable, "-m", "zufiwatch.cli", "--config", str(config), "daemon"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
            text=True, timeout=30)
        assert second.returncode == 1
        assert "another zufiwatch daemon" in second.stderr
        assert f"(pid {first.process.pid})" in second.stderr
    finally:
        assert first.stop() == 0


def test_sighup_with_a_broken_file_keeps_running_on_the_old_configuration(
        tmp_path: Path, pvog) -> None:
    config = _config(tmp_path, pvog, schedule="0 3 1 1 *")
    daemon = Running(config, tmp_path / "notify")
    try:
        daemon.wait_for_datagram("READY=1")
        good = config.read_text(encoding="utf-8")
        config.write_text(good + "\nbogus_key = 1\n", encoding="utf-8")
        daemon.process.send_signal(signal.SIGHUP)
        line = daemon.wait_for_line("keeping the old configuration")
        assert "unknown key 'sources[0].bogus_key'" in line or "bogus_key" in line
        assert daemon.process.poll() is None
        config.write_text(good.replace("0 3 1 1 *", "0 4 1 1 *"), encoding="utf-8")
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_for_line("configuration reloaded")
        assert daemon.process.poll() is None
    finally:
        assert daemon.stop() == 0


def test_check_config_says_valid_or_names_the_key(tmp_path: Path, pvog) -> None:
    config = _config(tmp_path, pvog)
    run = [sys.executable, "-m", "zufiwatch.cli", "--config", str(config), "check-config"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0 and "valid; sources: sim" in ok.stdout
    config.write_text(config.read_text(encoding="utf-8").replace(
        'schedule = "*/1 * * * * *"', 'schedule = "every day"'), encoding="utf-8")
    bad = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1 and "sources[0].schedule" in bad.stderr


def test_a_crawl_missed_while_down_runs_once_at_start(tmp_path: Path, pvog) -> None:
    from datetime import UTC, datetime, timedelta

    from zufiwatch.archive import Archive
    from zufiwatch.config import HttpSettings, load_settings
    from zufiwatch.fetch import Fetcher
    from zufiwatch.runner import run_crawl
    from zufiwatch.store import History

    config = _config(tmp_path, pvog, schedule="*/30 * * * *")
    settings = load_settings(config)
    # Within the last half hour a slot of "*/30" passed unseen, at most 40 min ago (< grace).
    earlier = datetime.now(UTC) - timedelta(minutes=40)
    with History(settings.database) as history, Fetcher(HttpSettings(retries=0)) as fetcher:
        run_crawl(settings.sources[0], history=history, archive=Archive(settings.snapshots),
                  fetcher=fetcher, clock=lambda: earlier)
    daemon = Running(config, tmp_path / "notify")
    try:
        daemon.wait_for_line("was missed; catching up now")
        daemon.wait_for_line("crawl 2 of sim: complete")
    finally:
        assert daemon.stop() == 0
