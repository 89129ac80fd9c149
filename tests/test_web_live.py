"""The web application served by waitress on 127.0.0.1 while the crawler writes the same
history: reads never block the crawl, a write waits for it, neither side fails."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import waitress

from tests.conftest import Crawler, run_until_closed
from zufiwatch.config import Settings, WebSettings
from zufiwatch.model import Outcome
from zufiwatch.web import create_app

USER = "m.muster"




def serve(crawler: Crawler) -> tuple[waitress.server.BaseWSGIServer, str, dict[str, str]]:
    """The application over the crawler's history on a free port, and a signed-in cookie."""
    settings = Settings(database=crawler.history.path, sources=(crawler.source,),
                        web=WebSettings(pruefer=(USER,), secure_cookies=False))
    app = create_app(settings, clock=crawler.clock, secret_key=b"live-test" * 4)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8)
    threading.Thread(target=run_until_closed, args=(server,), daemon=True).start()
    cookie = app.session_interface.get_signing_serializer(app).dumps(  # type: ignore[attr-defined]
        {"user": USER, "csrf": "token"})
    return server, f"http://127.0.0.1:{server.effective_port}", {"zufiwatch_session": cookie}


def test_a_crawl_and_twenty_concurrent_page_loads_run_at_once(crawler: Crawler,
                                                              tmp_path: Path) -> None:
    for day in range(3):
        crawler.day(day)
    event = crawler.history.db.execute("SELECT min(id) FROM events").fetchone()[0]
    server, base, cookies = serve(crawler)
    crawling = threading.Event()
    done = threading.Event()
    pages = ["/", "/aenderungen", "/aenderungen?schwere=high", "/erwartungen", "/crawls"]

    def load(worker: int) -> list[int]:
        statuses = []
        crawling.wait(timeout=30)
        while not done.is_set() or not statuses:  # at least one load, more while crawling
            url = base + pages[worker % len(pages)]
            statuses.append(requests.get(url, cookies=cookies, timeout=60,
                                         allow_redirects=False).status_code)
        return statuses

    def acknowledge() -> int:
        crawling.wait(timeout=30)
        return requests.post(f"{base}/aenderungen/quittieren", cookies=cookies, timeout=60,
                             data={"id": str(event), "note": "geprüft",
                                   "csrf_token": "token", "next": "/"},
                             allow_redirects=False).status_code

    try:
        with ThreadPoolExecutor(21) as pool:
            loads = [pool.submit(load, worker) for worker in range(20)]
            write = pool.submit(acknowledge)
            crawling.set()
            try:
                result = crawler.day(3)
            finally:
                done.set()
            statuses = [status for future in loads for status in future.result()]
            written = write.result()
    finally:
        server.close()
    assert result.outcome is Outcome.COMPLETE, result.reason
    assert statuses and set(statuses) == {200}, statuses
    assert written == 303
    status = crawler.history.db.execute("SELECT status FROM events WHERE id = ?",
                                        [event]).fetchone()[0]
    assert status == "acknowledged"


def test_the_readme_commands_add_a_user_and_serve(tmp_path: Path) -> None:
    """The two commands of the README's "The web application", as written there."""
    import re
    import socket
    import subprocess
    import sys

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## The web application\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    commands = [line.split() for line in block.group(1).strip().splitlines()]
    assert [c[0] for c in commands] == ["zufiwatch", "zufiwatch"]
    assert commands[0][-3:] == ["user", "add", "m.muster"] and commands[1][-1] == "serve"
    with socket.socket() as probe:  # a free port for the server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "zufiwatch.toml").write_text(
        f'database = "h.db"\n[web]\nlisten = "127.0.0.1:{port}"\nusers_file = "users.json"\n'
        'pruefer = ["m.muster"]\nsecure_cookies = false\n', encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    run = [sys.executable, "-m", "zufiwatch.cli"]
    added = subprocess.run([*run, *commands[0][1:]], cwd=tmp_path, env=env, text=True,
                           input="ein-gutes-passwort\nein-gutes-passwort\n",
                           capture_output=True, timeout=60)
    assert added.returncode == 0, added.stderr
    assert "ein-gutes-passwort" not in (tmp_path / "users.json").read_text(encoding="utf-8")
    server = subprocess.Popen([*run, *commands[1][1:]], cwd=tmp_path, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # printed once the socket listens
        assert f"http://127.0.0.1:{port}/" in line, line + (server.stderr.read()
                                                            if server.poll() else "")
        page = requests.get(f"http://127.0.0.1:{port}/anmelden", timeout=30)
        assert page.status_code == 200 and "Anmelden" in page.text
    finally:
        server.terminate()
        server.wait(timeout=30)

