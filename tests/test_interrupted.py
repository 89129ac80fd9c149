"""A crawl killed at any point leaves a consistent history; the next crawl completes it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Crawler
from zufiwatch.errors import CrawlInProgress
from zufiwatch.model import Outcome, record_key

ROOT = Path(__file__).resolve().parent.parent


def _config(crawler: Crawler, tmp_path: Path) -> Path:
    return crawler.write_config(tmp_path / "zufiwatch.toml", source_keys="max_concurrency = 2")


def _expected(scenario, day_from: int, day_to: int) -> set[tuple[str, str]]:
    return {(record_key(e.kind, e.id), e.change)
            for day in range(day_from + 1, day_to + 1) for e in scenario.edits(day)}


@pytest.mark.parametrize("share", [0.0, 0.5, 0.97, 1.0])
def test_sigkill_at_any_point_then_the_next_crawl_yields_exactly_the_edits(
        crawler: Crawler, scenario, tmp_path: Path, share: float) -> None:
    baseline = crawler.day(0)
    crawler.pvog.set_day(2)
    config = _config(crawler, tmp_path)
    start = crawler.pvog.request_count
    kill_after = max(1, int(baseline.stats["requests"] * share))
    process = subprocess.Popen(
        [sys.executable, "-m", "zufiwatch.cli", "--config", str(config), "crawl"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        reached = crawler.pvog.wait_for_requests(start + kill_after, timeout=60)
        if share < 1.0:
            assert reached
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    with sqlite3.connect(crawler.history.path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    result = crawler.crawl()
    assert result.outcome is Outcome.COMPLETE
    changes = crawler.history.db.execute(
        "SELECT r.key, c.change_type FROM changes c JOIN records r ON r.id = c.record_id"
    ).fetchall()
    # Every edit exactly once, whether the killed crawl got to store it or not.
    assert sorted(changes) == sorted(_expected(scenario, 0, 2))
    outcomes = [c["outcome"] for c in crawler.history.crawls()]
    assert "running" not in outcomes
    if share < 1.0:
        killed = crawler.history.crawl(baseline.crawl_id + 1)  # it ran on the real clock
        if share <= 0.5:  # killed long before it could store anything
            assert killed["outcome"] == "failed"
        if killed["outcome"] == "failed":
            assert killed["reason"].startswith("interrupted")
        else:  # killed after its one transaction: it stored everything, once
            assert killed["outcome"] == "complete" and result.changes == []


def test_a_second_crawl_of_the_same_source_waits_its_turn(crawler: Crawler) -> None:
    with crawler.history.crawl_lock(crawler.source.name), \
            pytest.raises(CrawlInProgress, match="already running"):
        crawler.crawl()
    assert crawler.crawl().outcome is Outcome.COMPLETE
