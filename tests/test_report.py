"""The static overview: counts, record pages, the Atom feed, escaping, and a real browser."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import Crawler
from zufiwatch import queries
from zufiwatch.config import Settings
from zufiwatch.model import Change, ChangeType, Outcome, canonical_json
from zufiwatch.report import build_overview, host_class, record_file_name
from zufiwatch.report.site import _all_histories, safe_href
from zufiwatch.store import CommitPlan, NewVersion
from zufiwatch.timeutil import stored

ATOM = "{http://www.w3.org/2005/Atom}"
SCRIPT = "<script>alert(1)</script>"
EVIL_URL = "javascript:alert(1)"


def _inject_markup(crawler: Crawler) -> str:
    """A crawl whose Leistung carries markup in its name and a javascript: link, written
    through the store like any crawl; returns the record's key."""
    history = crawler.history
    key, content = next(
        (row["key"], json.loads(row["content"])) for row in history.state_at(
            stored(crawler.clock()), kind="leistung"))
    old_name = content["name"]
    content["name"] = SCRIPT
    content["onlinedienste"] = [{"url": EVIL_URL, "titel": f"Titel {SCRIPT}"}]
    at = stored(crawler.clock())
    crawl = history.begin_crawl(crawler.source.name, at, "pvog-test")
    plan = CommitPlan(
        new_versions=[NewVersion(key, "leistung", SCRIPT, "injected-hash",
                                 canonical_json(content), "{}")],
        changes=[(key, Change(ChangeType.MODIFIED, "name", "Name der Leistung", old_name,
                              SCRIPT))],
        annotations=[{"severity": "critical", "reasons": [], "status": "untracked"}],
        seen=[key])
    history.commit_crawl(crawl, crawler.source.name, at, "pvog-test", plan,
                         outcome=Outcome.COMPLETE, finished_at=at, reason="", stats={})
    crawler.clock.advance(hours=1)
    return key


@pytest.fixture
def site(crawler: Crawler, tmp_path: Path) -> dict:
    for day in range(8):
        crawler.day(day)
    key = _inject_markup(crawler)
    settings = Settings(sources=(crawler.source,))
    now = crawler.clock()
    index = build_overview(crawler.history, settings, tmp_path / "site", now=now)
    return {"index": index, "key": key, "now": now, "settings": settings,
            "history": crawler.history, "html": index.read_text(encoding="utf-8")}


def test_index_shows_sources_links_and_changes(site: dict) -> None:
    html, history = site["html"], site["history"]
    links = queries.links(history, at=stored(site["now"]))
    assert links
    assert html.count('<tr class="link">') == len(links)
    assert f'<span id="link-count">{len(links)}</span>' in html
    # One row per event (an edit with what its witnesses saw), not per field change.
    total = history.db.execute("SELECT count(*) FROM events").fetchone()[0]
    assert 1 < total < history.db.execute("SELECT count(*) FROM changes").fetchone()[0]
    assert html.count('<tr class="change">') == min(total, 100)
    assert f"/ {total} gesamt" in html
    assert html.count('<tr class="source">') == 1
    untracked = history.db.execute(
        "SELECT count(*) FROM events WHERE status = 'untracked'").fetchone()[0]
    assert f'<td class="untracked">{untracked}</td>' in html
    assert "vollständig" in html and "Letzte Änderungen" in html
    # Static: no scripts, no remote resources.
    assert "<script" not in html.lower()
    assert not re.search(r"<(link|img|iframe|object|embed)\b|\ssrc=|@import|url\(", html)
    assert "<svg" in html and html.count("<title>") > 52
    # The chart counts every event of the last 52 weeks.
    assert f"{total}</title>" in html


def test_record_pages_hold_each_records_history(site: dict) -> None:
    history, pages = site["history"], site["index"].parent / "records"
    histories = _all_histories(history)
    assert len(list(pages.glob("*.html"))) == len(histories)
    assert html_links_to_records(site["html"]) == {p.name for p in pages.glob("*.html")}
    for entry in histories:  # the bulk queries answer what record_history answers
        assert entry == queries.record_history(history, entry["key"], source=entry["source"])
    changed = history.db.execute(
        "SELECT r.key, count(*) FROM changes c JOIN records r ON r.id = c.record_id "
        "GROUP BY r.key ORDER BY 2 DESC LIMIT 1").fetchone()
    page = (pages / record_file_name(changed[0])).read_text(encoding="utf-8")
    assert page.count('<tr class="change">') == changed[1]
    assert 'href="../index.html"' in page


def html_links_to_records(html: str) -> set[str]:
    return set(re.findall(r'href="records/([^"]+)"', html))


def test_feed_is_atom_with_the_latest_changes(site: dict) -> None:
    feed = site["index"].parent / "feed.atom"
    root = ET.parse(feed).getroot()
    assert root.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{tag}").text
    assert root.find(f"{ATOM}author/{ATOM}name").text == "zufiwatch"
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == "feed.atom"
    entries = root.findall(f"{ATOM}entry")
    total = site["history"].db.execute("SELECT count(*) FROM events").fetchone()[0]
    assert len(entries) == min(total, 200)
    ids = [e.find(f"{ATOM}id").text for e in entries]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"tag:zufiwatch,2026:event/\d+", i) for i in ids)
    for entry in entries:
        assert entry.find(f"{ATOM}title").text
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry.find(f"{ATOM}updated").text)
        assert entry.find(f"{ATOM}content").get("type") == "text"
    # Newest first: the injected change leads, its markup is text.
    assert SCRIPT in entries[0].find(f"{ATOM}content").text
    raw = feed.read_text(encoding="utf-8")
    assert "&lt;script&gt;" in raw and "<script" not in raw


def test_crawled_markup_is_shown_as_text(site: dict) -> None:
    html = site["html"]
    page = (site["index"].parent / "records" / record_file_name(site["key"])).read_text(
        encoding="utf-8")
    for text in (html, page):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert "<script" not in text.lower()
    assert EVIL_URL in html  # shown …
    assert f'href="{EVIL_URL}' not in html  # … but never a link
    for href in re.findall(r'<a href="([^"]+)"', html):
        assert href.startswith(("records/", "feed.atom", "http://", "https://"))
    for anchor in re.findall(r'<a href="https?://[^>]*>', html):
        assert 'rel="noopener noreferrer"' in anchor


def test_english_and_replacing_the_site_as_a_whole(site: dict) -> None:
    out = site["index"].parent
    (out / "stale.html").write_text("old", encoding="utf-8")
    index = build_overview(site["history"], site["settings"], out,
                           now=site["now"] + timedelta(days=1), language="en")
    html = index.read_text(encoding="utf-8")
    assert '<html lang="en">' in html and "Recent changes" in html
    assert not (out / "stale.html").exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".site")] == []
    with pytest.raises(ValueError, match="language"):
        build_overview(site["history"], site["settings"], out, now=site["now"], language="fr")


def test_host_classes_file_names_and_hrefs() -> None:
    assert host_class("thavelp.thueringen.de") == "thavel"
    assert host_class("thavel.thueringen.de") == "thavel"
    assert host_class("www.jena.de") == "stadt"
    assert host_class("verwaltung.bund.de") == "efa"
    assert host_class("serviceportal.gemeinsamonline.de") == "efa"
    assert host_class("www.elster.de") == "efa"
    assert host_class("example.org") == "other"
    assert host_class("notjena.de") == "other"
    assert record_file_name("leistung:S1.LB/../x y") == "leistung_S1.LB_.._x_y.html"
    assert record_file_name("..") == "_...html"
    assert safe_href("https://example.org/a") == "https://example.org/a"
    for bad in (EVIL_URL, "data:text/html,x", "https://a b", "//example.org", "", None):
        assert safe_href(bad) == ""


# ---------------------------------------------------------------------------------------
# In a real browser


def _png_pixels(path: Path) -> bytes:
    """The filtered scanlines of a PNG without their filter-type bytes."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, row = 8, b"", 0
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
            row = 1 + (width * channels * depth + 7) // 8
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    raw = zlib.decompress(idat)
    assert row and len(raw) == row * height
    return b"".join(raw[i * row + 1:(i + 1) * row] for i in range(height))


def _chromium(index: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr",
         "--v=0", *extra, index.as_uri()],
        capture_output=True, text=True, timeout=60, check=False)


def test_overview_renders_in_headless_chromium(site: dict, tmp_path: Path) -> None:
    if shutil.which("chromium") is None:
        pytest.skip("Chromium not installed (Debian package chromium; .ci/run installs it)")
    index = site["index"]
    shot = tmp_path / "shot.png"
    result = _chromium(index, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000")
    assert shot.exists(), result.stderr
    pixels = _png_pixels(shot)
    # A blank page filters to a handful of byte values (0 and the background); text,
    # anti-aliasing and the chart give many.
    assert len(set(pixels)) > 16
    problems = [line for line in result.stderr.splitlines()
                if "Uncaught" in line or ("CONSOLE" in line and "ERROR" in line.upper())]
    assert problems == []
    dom = _chromium(index, tmp_path, "--dump-dom")
    links = len(queries.links(site["history"], at=stored(site["now"])))
    assert f'<span id="link-count">{links}</span>' in dom.stdout
    assert "<script" not in dom.stdout.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom.stdout


def test_a_crawl_refreshes_the_configured_overview(tmp_path, pvog) -> None:
    from click.testing import CliRunner

    from zufiwatch.cli import cli

    config = tmp_path / "zufiwatch.toml"
    config.write_text(f"""
database = "h.db"
snapshots = "snap"
[report]
directory = "site"
[http]
retries = 0
[[sources]]
name = "sim"
kind = "pvog"
base_url = "{pvog.base_url}"
ars = "160530000000"
min_interval = 0
""", encoding="utf-8")
    assert CliRunner().invoke(cli, ["--config", str(config), "crawl"]).exit_code == 0
    index = tmp_path / "site" / "index.html"
    assert index.exists() and (tmp_path / "site" / "feed.atom").exists()
    english = CliRunner().invoke(cli, ["--config", str(config), "overview", "--language", "en",
                                       "--output", str(tmp_path / "en")])
    assert english.exit_code == 0 and (tmp_path / "en" / "index.html").exists()


def test_an_added_leistung_shows_what_is_needed_to_judge_it_in_feed_and_pages(
        site: dict) -> None:
    history = site["history"]
    ((key, new_value),) = history.db.execute(
        "SELECT r.key, c.new_value FROM changes c JOIN records r ON r.id = c.record_id "
        "WHERE c.change_type = 'added' AND r.kind = 'leistung'").fetchall()
    added = json.loads(new_value)
    office = added["zustaendige_stelle"]
    assert added["name"] and office
    shown = f"{added['name']} — zuständig: {office}"
    feed = (site["index"].parent / "feed.atom").read_text(encoding="utf-8")
    entry = next(e for e in ET.fromstring(feed).findall(f"{ATOM}entry")
                 if key in (e.find(f"{ATOM}content").text or ""))
    assert shown in " ".join(entry.find(f"{ATOM}content").text.split())
    page = (site["index"].parent / "records" / record_file_name(key)).read_text(
        encoding="utf-8")
    assert shown in " ".join(page.split())
