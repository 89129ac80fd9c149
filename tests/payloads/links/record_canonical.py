"""Record what the URL normaliser makes of every real link (run from the repository root).

    python tests/payloads/links/record_canonical.py | gzip -n -9 \
        > tests/payloads/links/canonical-before-issue18.json.gz

The file was written with the normaliser of main at 3bf0818 (before links were read as a
browser reads them, issue 18). ``tests/test_link_lookalike.py`` checks that today's
normaliser gives exactly the same canonical URL and ThAVEL identity for each input, so
stored histories show no spurious change.

Inputs: every http(s) URL in the recorded payloads (``tests/payloads``), the package's real
data (``zufiwatch/sim/data``), the old history database ``history-before-events.db.gz`` and
the simulated directory of 150 Leistungen; plus, for each real link, the noise the
normaliser removes (upper case, default port, fragment, session parameters, trailing dot,
surrounding spaces) and a few values that are no http(s) URL.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
import sys
import tempfile
from pathlib import Path

from zufiwatch.normalize import canonical_url, link
from zufiwatch.sim.dataset import build_directory

URL = re.compile(r"""https?://[^\s"'<>\\]+""", re.IGNORECASE)
ROOT = Path(__file__).resolve().parents[3]


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def found_in(texts: list[str]) -> set[str]:
    urls: set[str] = set()
    for text in texts:
        urls.update(URL.findall(text))
        if text.strip().lower().startswith(("http://", "https://")):
            urls.add(text)
    return urls


def real_links() -> set[str]:
    texts: list[str] = []
    for folder in (ROOT / "tests" / "payloads", ROOT / "zufiwatch" / "sim" / "data"):
        for path in sorted(folder.rglob("*")):
            if path.parent == Path(__file__).parent:
                continue  # this recording itself
            if path.suffix == ".json":
                texts.extend(strings(json.loads(path.read_text(encoding="utf-8"))))
            elif path.suffix == ".csv":
                texts.append(path.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "history.db"
        db_path.write_bytes(gzip.decompress(
            (ROOT / "tests" / "payloads" / "history-before-events.db.gz").read_bytes()))
        db = sqlite3.connect(db_path)
        for table in ("records", "versions", "changes"):
            for row in db.execute(f"SELECT * FROM {table}"):
                texts.extend(v for v in row if isinstance(v, str))
        db.close()
    directory = build_directory(size=150)
    for part in (directory.leistungen, directory.offices, directory.onlineservices):
        texts.extend(strings(json.loads(json.dumps(part))))
    return found_in(texts)


def variants(url: str) -> list[str]:
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    port = ":443" if scheme.lower() == "https" else ":80"
    path_part = slash + path
    query = "&" if "?" in path_part else "?"
    return [
        f"{scheme.upper()}://{host.upper()}{path_part}",
        f"{scheme}://{host}{port}{path_part}",
        f"{url}#abschnitt",
        f"  {url}\t",
        f"{scheme}://{host}.{path_part}",
        f"{url}{query}_flowExecutionKey=e1s2&jsessionid=ABC",
    ]


def main() -> None:
    real = real_links()
    inputs = set(real)
    for url in real:
        inputs.update(variants(url))
    inputs.update(["mailto:buergerservice@jena.de", "http://[broken", " kein Link ", "",
                   "/relativ/pfad", "ftp://ftp.example.org/datei"])
    # One input a line: [input, canonical URL, ThAVEL identity or null].
    sys.stdout.write("[\n")
    for n, url in enumerate(sorted(inputs)):
        entry = [url, canonical_url(url), link(url).get("thavel")]
        comma = "," if n < len(inputs) - 1 else ""
        sys.stdout.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + comma + "\n")
    sys.stdout.write("]\n")


if __name__ == "__main__":
    main()
