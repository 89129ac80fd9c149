#!/usr/bin/env python3
"""The screenshots in docs/: the web application on the demo's database, at 1280 × 800
(the first screen), in the system's Chromium.

    python docs/screenshots.py [--out docs/screenshots]

Runs the demo (7 days, 150 Leistungen) into a temporary directory, serves
``zufiwatch serve``'s application on 127.0.0.1 with waitress, signs in a pruefer through a
session cookie, and writes start.png, leistung.png, link.png and office.png.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import waitress
from playwright.sync_api import sync_playwright

from zufiwatch.config import Settings, WebSettings
from zufiwatch.demo import run_demo
from zufiwatch.web import create_app

#: The demo's last day, noon (its events are on 2026-09-23 … 29).
NOW = datetime(2026, 9, 29, 12, 0, tzinfo=UTC)
GERA = "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc"
PAGES = {
    "start.png": "/",
    "leistung.png": "/eintrag/leistung:354790",
    "link.png": f"/link?url={quote(GERA, safe='')}",
    "office.png": "/eintrag/organisationseinheit:20006",
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zufiwatch-screenshots-") as tmp:
        run_demo(days=7, size=150, keep=Path(tmp), echo=lambda line: None)
        settings = Settings(database=Path(tmp) / "zufiwatch.db",
                            web=WebSettings(pruefer=("m.muster",), secure_cookies=False))
        app = create_app(settings, clock=lambda: NOW, secret_key=b"screenshots" * 3)
        server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        cookie = app.session_interface.get_signing_serializer(app).dumps(  # type: ignore
            {"user": "m.muster"})
        base = f"http://127.0.0.1:{server.effective_port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                     args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.context.add_cookies([{"name": "zufiwatch_session", "value": cookie,
                                           "url": base}])
                for name, path in PAGES.items():
                    page.goto(base + path)
                    page.screenshot(path=str(args.out / name))
                    print(f"{args.out / name}: {base}{path}")
                browser.close()
        finally:
            server.close()


if __name__ == "__main__":
    main()
