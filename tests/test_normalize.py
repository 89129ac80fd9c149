"""Normal forms of text and links, checked on every real Thuringian link we have."""

from __future__ import annotations

import csv
import io
import json
from importlib import resources

import pytest

from zufiwatch.normalize import canonical_url, html_to_text, link, thavel_identity


def real_rows() -> list[dict[str, str]]:
    data = resources.files("zufiwatch.sim") / "data"
    rows = json.loads((data / "jena_rows.json").read_text(encoding="utf-8"))["rows"]
    text = (data / "thueringen_onlinelinks.csv").read_text(encoding="utf-8")
    rows += list(csv.DictReader(io.StringIO(text), delimiter=";"))
    return rows


REAL_LINKS = sorted({r["onlineDienst"] for r in real_rows() if r["onlineDienst"]})
REAL_DEEPLINKS = sorted({r["quelle"] for r in real_rows() if r["quelle"]})


def test_real_data_is_all_there() -> None:
    assert len(real_rows()) == 64 + 26
    assert len(REAL_LINKS) > 30


@pytest.mark.parametrize("url", REAL_LINKS + REAL_DEEPLINKS)
def test_every_real_link_has_a_stable_canonical_form(url: str) -> None:
    canonical = canonical_url(url)
    assert canonical.startswith("https://")
    assert canonical_url(canonical) == canonical
    assert "#" not in canonical
    assert "_flowExecutionKey" not in canonical


def test_every_real_thavel_link_carries_its_identity() -> None:
    forms = {}
    for url in REAL_LINKS:
        identity = thavel_identity(canonical_url(url))
        if "thavel" in url:
            assert identity is not None, url
            assert identity["form"] != "other", url
            forms.setdefault(identity["form"], []).append(identity)
        else:
            assert identity is None, url
    assert set(forms) == {"aid", "go", "zs", "a3start"}


@pytest.mark.parametrize(("url", "identity"), [
    ("https://thavel.thueringen.de/thavel/portal?f=leistung&aid=354822",
     {"form": "aid", "aid": "354822", "instanz": "thavel.thueringen.de/thavel"}),
    ("https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc",
     {"form": "go", "antrag": "1273", "instanz": "thavelp.thueringen.de/thavelp"}),
    ("https://thavelp.thueringen.de/thavelp/portal/zs/252533/start?pe=2838",
     {"form": "zs", "zs": "252533", "pe": "2838"}),
    ("https://thavelp.thueringen.de/thavelp/portal/a3start/0/client/index.html?verfahrenId=1416"
     "&startAPI=https%253A%252F%252Fthavelp.thueringen.de%252Fthavelp%252Fportal%252Fa3start"
     "%252F232666%252Fapi1#/intro",
     {"form": "a3start", "verfahrenId": "1416",
      "startAPI": "https://thavelp.thueringen.de/thavelp/portal/a3start/232666/api1"}),
])
def test_thavel_shapes_from_real_data(url: str, identity: dict[str, str]) -> None:
    found = link(url)["thavel"]
    assert {k: found[k] for k in identity} == identity


def test_a3start_startapi_encoded_once_or_twice_is_the_same_link() -> None:
    twice = ("https://thavelp.thueringen.de/thavelp/portal/a3start/0/client/index.html?"
             "verfahrenId=1416&startAPI=https%253A%252F%252Fthavelp.thueringen.de%252Fapi1#/intro")
    once = ("https://thavelp.thueringen.de/thavelp/portal/a3start/0/client/index.html?"
            "startAPI=https%3A%2F%2Fthavelp.thueringen.de%2Fapi1&verfahrenId=1416")
    assert canonical_url(twice) == canonical_url(once)


@pytest.mark.parametrize(("a", "b"), [
    ("https://ajproxy.jena.de/olav/olav.htm?_flowId=parkausweisbeantragen-flow"
     "&_flowExecutionKey=e1s1",
     "https://ajproxy.jena.de/olav/olav.htm?_flowId=parkausweisbeantragen-flow"
     "&_flowExecutionKey=e2s7"),
    ("HTTPS://WWW.Elster.DE/eportal/start", "https://www.elster.de/eportal/start"),
    ("https://www.elster.de:443/eportal/start", "https://www.elster.de/eportal/start#top"),
    ("http://example.org:80", "http://example.org/"),
    ("https://a.de/x?b=2&a=1", "https://a.de/x?a=1&b=2"),
    ("  https://a.de/x;jsessionid=ABC123  ", "https://a.de/x"),
])
def test_noise_never_makes_two_links_differ(a: str, b: str) -> None:
    assert canonical_url(a) == canonical_url(b)


@pytest.mark.parametrize(("a", "b"), [
    ("https://thavelp.thueringen.de/thavelp/go/a/1273", "https://thavelp.thueringen.de/thavelp/go/a/5741"),
    ("https://a.de/x", "http://a.de/x"),
    ("https://a.de/x", "https://a.de:8443/x"),
    ("https://a.de/X", "https://a.de/x"),
])
def test_meaningful_differences_survive(a: str, b: str) -> None:
    assert canonical_url(a) != canonical_url(b)


def test_unparseable_or_non_http_values_are_kept() -> None:
    assert canonical_url("mailto:buergerservice@jena.de") == "mailto:buergerservice@jena.de"
    assert canonical_url("http://[broken") == "http://[broken"
    assert canonical_url(" kein Link ") == "kein Link"


def test_html_text_module_becomes_clean_text_with_links() -> None:
    text, links = html_to_text(
        "<h3>Unterlagen</h3><ul><li>Personalausweis</li><li>Formular "
        "<a href='HTTPS://www.jena.de/formular#x'>hier</a></li></ul>"
        "<p>Gebühr:&nbsp;<strong>10&nbsp;EUR</strong><br>zahlbar vor Ort</p>")
    assert text == ("Unterlagen\n- Personalausweis\n- Formular hier\n"
                    "Gebühr: 10 EUR\nzahlbar vor Ort")
    assert links == [{"url": "https://www.jena.de/formular", "titel": "hier"}]


@pytest.mark.parametrize("variant", [
    "<p>Die Anmeldung ist gebührenfrei.</p>",
    "<p>Die Anmeldung ist gebührenfrei. </p>\n",
    "<p>Die  Anmeldung\n ist <b>gebührenfrei</b>.</p>",
    "<div><p>Die Anmeldung ist gebührenfrei.</p></div>",
    "Die Anmeldung ist gebührenfrei.",
])
def test_whitespace_and_markup_that_mean_nothing_are_no_difference(variant: str) -> None:
    assert html_to_text(variant)[0] == "Die Anmeldung ist gebührenfrei."


def test_empty_html_is_empty_text() -> None:
    assert html_to_text(None) == ("", [])
    assert html_to_text("") == ("", [])
    assert html_to_text("<p> </p>") == ("", [])


def test_thavel_instance_names_what_the_city_lists_as_its_own() -> None:
    from zufiwatch.normalize import thavel_instance

    assert thavel_instance("https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc") == "go/a/1273"
    assert thavel_instance("https://thavelp.thueringen.de/thavelp/portal/zs/251251/start?pe=7"
                           ) == "zs/251251"
    assert thavel_instance("https://thavelp.thueringen.de/thavelp/portal/a3start/0/client/"
                           "index.html?verfahrenId=6914&startAPI=x") == "verfahren/6914"
    assert thavel_instance("https://thavel.thueringen.de/thavel/portal?f=leistung&aid=1") == ""
    assert thavel_instance("https://ajproxy.jena.de/olav/olav.htm") == ""
    assert thavel_instance({"form": "go", "antrag": "5741"}) == "go/a/5741"


@pytest.mark.parametrize(("url", "host"), [
    ("http://127.0.0.1:1\\@thavel.thueringen.de/go/a/1273", "127.0.0.1"),
    ("https://thavel.thueringen.de@evil.example/go/a/1273", "evil.example"),
    ("https://evil.example\\thavel.thueringen.de/go/a/1273", "evil.example"),
])
def test_a_link_that_hides_its_host_is_kept_as_written_without_thavel_identity(url, host):
    """Issue 18: the canonical form never reads as another host than the link opens
    (``http://127.0.0.1@thavel…`` would), and ThAVEL is the host a browser opens."""
    from zufiwatch.weburl import host_of

    assert canonical_url(url) == url
    assert host_of(canonical_url(url)) == host
    assert thavel_identity(url) is None and "thavel" not in link(url)
