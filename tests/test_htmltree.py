"""Text modules parsed without BeautifulSoup (issue 19): :mod:`zufiwatch.htmltree` builds the
tree BeautifulSoup's lxml builder builds, so the clean text and links of every snippet stay
exactly what they were (``tests/legacy/normalize_bs4.py`` is the normaliser before; a
difference would make every stored version with such a text change on the next crawl)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.legacy import normalize_bs4 as before
from zufiwatch import normalize
from zufiwatch.htmltree import Element, parse
from zufiwatch.sim import build_directory
from zufiwatch.sim.scenario import Scenario
from zufiwatch.sim.tsa.convert import tsa_view

ROOT = Path(__file__).resolve().parents[1]
#: The reference parses with BeautifulSoup, which warns about snippets that look like URLs.
pytestmark = pytest.mark.filterwarnings("ignore::bs4.MarkupResemblesLocatorWarning")


def strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def snippets_of(value: object) -> list[str]:
    return list(dict.fromkeys(s for s in strings(value) if "<" in s or "&" in s))


def recorded() -> list[str]:
    found: list[str] = []
    for path in sorted([*(ROOT / "tests" / "payloads").rglob("*.json"),
                        ROOT / "zufiwatch" / "sim" / "data" / "jena_rows.json"]):
        found += snippets_of(json.loads(path.read_text(encoding="utf-8")))
    return list(dict.fromkeys(found))


def simulated() -> list[str]:
    scenario = Scenario(build_directory(400))
    found: list[str] = []
    for day in range(8):
        directory = scenario.directory_for(day)
        found += snippets_of([directory.leistungen, directory.offices,
                              directory.onlineservices])
    tsa = tsa_view(scenario.directory_for(7))
    found += snippets_of([tsa.ous, tsa.psts, tsa.online])
    return list(dict.fromkeys(found))


#: Markup that BeautifulSoup's tree and a naive one would read differently.
TRICKY = [
    "<p>eins</p><p>zwei<br>drei</p><ul><li>a</li><li>b<ul><li>c</li></ul></li></ul>",
    '<a href="https://a.de/x">A<!-- c -->B<b>C</b><rt>ruby<b>r</b></rt>D</a>',
    '<a href=" https://a.de/y ">  </a><a href="">leer</a><a>ohne</a>',
    "<pre>  eingerückt\n   bleibt  </pre> <textarea> \n </textarea>\n\n<p> </p>",
    "<table><tr><td>a<td>b<tr><td>c</table>text danach",
    "<p>offen <b>fett <i>kursiv</p> weiter</b> danach</i>",
    "</p></div>nur Endtags</a></zufiwatch-part>",
    '<zufiwatch-part n="0">verirrt</zufiwatch-part> <zufiwatch-part n=9>x',
    "<script>var x = '<a href=y>';</script><style>p{}</style><template>t</template>sichtbar",
    '<a href="https://b.de">mit <script>s</script><style>t</style><template>u</template></a>',
    "<?php echo 1; ?>vor<!DOCTYPE html>nach<![CDATA[ roh ]]>ende",
    "\ufeff<p>mit BOM</p>",
    "&amp; &lt;b&gt; &nbsp; &#x2028; &unknown; &#0; &#xD800;",
    "<title>Titel</title><head><meta charset=latin-1></head><body>Körper</body>",
    '<p>a\r\nb\x85c\u2028d\x1ee</p><a href="https://c.de/?x=1&amp;y=2#f">  z  \n z</a>',
    "<div><p>verschachtelt<div>block</div></p></div><blockquote>zitat</blockquote>",
    "<h1>H</h1><section>S</section><ol><li>1<li>2</ol>",
    "<!-- nur ein Kommentar -->",
    "<br><br/><br />",
    "<a href='https://d.de'><a href='https://e.de'>innen</a>außen</a>",
    "<svg><a href='https://f.de'>svg</a></svg><math>m</math>",
    "<rp>(</rp><rt>lesen</rt><p>text</p>",
    "&",
    "a < b & c > d",
    "<p",
    "<<<>>>",
    "<a href=https://g.de>ungeschlossen",
    "<html><body><html><body>doppelt</body></html>",
    "<noscript>ns</noscript><iframe>if</iframe><object>ob</object>",
]

ALPHABET = ["<p>", "</p>", "<b>", "</b>", "<a href='https://h.de/x'>", "</a>", "<br>", "<li>",
            "<ul>", "</ul>", "<!-- k -->", "<pre>", "</pre>", "<script>", "</script>",
            "<rt>", "</rt>", "&amp;", "&nbsp;", "<table>", "<td>", "</table>", " ", "\n",
            "\t", "Wort", "ä", "<", ">", "&", "\"", "<zufiwatch-part n=0>",
            "</zufiwatch-part>", "<div>", "<template>", "</template>", "<?x y?>"]


def generated(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 30)))
            for _ in range(count)]


def same_texts(snippets: list[str]) -> None:
    for snippet in snippets:
        assert normalize.html_to_text(snippet) == before.html_to_text(snippet), snippet
    assert normalize.html_to_texts(snippets) == before.html_to_texts(snippets)


def test_every_recorded_and_real_snippet_reads_as_before() -> None:
    snippets = recorded()
    assert len(snippets) > 50
    same_texts(snippets)


def test_every_simulated_snippet_of_every_day_reads_as_before() -> None:
    snippets = simulated()
    assert len(snippets) > 100
    same_texts(snippets)


@pytest.mark.parametrize("snippet", TRICKY)
def test_tricky_markup_reads_as_before(snippet: str) -> None:
    assert normalize.html_to_text(snippet) == before.html_to_text(snippet)
    assert normalize.html_to_texts([snippet, "<p>x</p>"]) == \
        before.html_to_texts([snippet, "<p>x</p>"])


@pytest.mark.parametrize("seed", range(4))
def test_generated_broken_markup_reads_as_before(seed: int) -> None:
    snippets = generated(300, seed)
    same_texts(snippets)
    for start in range(0, len(snippets), 7):  # batches that share one document
        batch = snippets[start:start + 7]
        assert normalize.html_to_texts(batch) == before.html_to_texts(batch)


def test_strings_split_where_beautifulsoup_splits_them() -> None:
    root = parse("<p>a<!-- c -->b <i>c</i>\n\n<rt>r</rt></p>")
    paragraph = root.find("p")
    assert isinstance(paragraph, Element)
    assert [str(c) if not isinstance(c, Element) else c.name
            for c in paragraph.children] == ["a", "b ", "i", "\n", "rt"]
    assert paragraph.text("|") == "a|b |c|\n"


def test_a_crawl_parsing_changed_leistungen_loads_neither_bs4_nor_soupsieve() -> None:
    script = ("import sys\n"
              "from zufiwatch.normalize import html_to_texts\n"
              "html_to_texts(['<p>a <a href=\"https://x.de\">b</a></p>', '<ul><li>c</ul>'])\n"
              "print(sorted(m for m in ('bs4', 'soupsieve', 'charset_normalizer')"
              " if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
