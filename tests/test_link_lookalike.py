"""Links that look like ThAVEL and lead elsewhere (issue 18): every decision about which host
a link goes to takes the host a browser opens (WHATWG URL standard), not ``urlsplit``'s.

``http://127.0.0.1:1\\@thavel.thueringen.de/go/a/1273`` was allow-listed and checked as
thavel.thueringen.de and stored as ``http://127.0.0.1@thavel…``; a browser opens 127.0.0.1
port 1 (the backslash is a path separator). Ordinary links must not change at all: their
canonical form and ThAVEL identity are compared with what the normaliser gave before.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import urllib3.util.connection

from zufiwatch import weburl
from zufiwatch.config import RulesSettings
from zufiwatch.differ import diff_records
from zufiwatch.model import Change, ChangeType
from zufiwatch.normalize import canonical_url, link, thavel_identity
from zufiwatch.notify.messages import Mail, immediate_alert
from zufiwatch.notify.model import ChangeNotice
from zufiwatch.render import host_of, link_rows
from zufiwatch.report.site import host_class, safe_href
from zufiwatch.rules import classify
from zufiwatch.safehttp import LinkRefused, SafeClient, SafetyPolicy
from zufiwatch.sources.links import Check, Target, link_content

GOLDEN = Path(__file__).parent / "payloads" / "links" / "canonical-before-issue18.json.gz"
RULES = RulesSettings(allowed_hosts=("thavel.thueringen.de", "thavelp.thueringen.de",
                                     "*.jena.de"),
                      own_thavel=("go/a/1273",), own_authorities=("Stadtverwaltung Jena",))
JENA = "https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc"
EXAMPLE = "http://127.0.0.1:1\\@thavel.thueringen.de/go/a/1273"

#: (link as written, what a browser opens, the host it seems to name)
LOOKALIKES = [
    (EXAMPLE, "127.0.0.1:1", "thavel.thueringen.de"),
    ("http://evil.example:1\\@thavel.thueringen.de/go/a/1273", "evil.example:1",
     "thavel.thueringen.de"),
    ("https://evil.example\\@thavelp.thueringen.de/thavelp/go/a/1273?c=bc", "evil.example",
     "thavelp.thueringen.de"),
    ("https://thavel.thueringen.de@evil.example/", "evil.example", "thavel.thueringen.de"),
    ("https://thavelp.thueringen.de:443@evil.example/thavelp/go/a/1273", "evil.example",
     "thavelp.thueringen.de"),
    ("https://evil.example\\thavel.thueringen.de", "evil.example", "thavel.thueringen.de"),
    ("https://thavel.thueringen.de\n.evil.example/go/a/1273",
     "thavel.thueringen.de.evil.example", ""),  # a reader sees "thavel.thueringen.de" end a line
    ("https://thavelp.thueringen.de\t@evil.example/go/a/1273", "evil.example",
     "thavelp.thueringen.de"),
    ("http://0x7f.1/go/a/1273", "127.0.0.1", "0x7f.1"),
    ("http://2130706433/go/a/1273", "127.0.0.1", "2130706433"),
]


def hiding(opens: str, appears: str) -> str:
    """The reason text for a link that opens ``opens`` and seems to name ``appears``."""
    if appears:
        return f"verschleierte Adresse: öffnet {opens}, nicht {appears}"
    return f"verschleierte Adresse: öffnet {opens} (Steuerzeichen in der Adresse)"


def reasons_of(url: str, kind: ChangeType = ChangeType.MODIFIED) -> tuple[str, tuple[str, ...]]:
    """Severity and reasons of an online-service link that changes to ``url``."""
    old = None if kind is ChangeType.ADDED else link(JENA)
    change = Change(kind, "onlinedienste", "Online-Dienst › Link", old, link(url))
    result = classify("leistung", change, RULES)
    return result.severity, result.reasons


# -- what a browser opens ------------------------------------------------------------------


@pytest.mark.parametrize(("url", "opens", "appears"), LOOKALIKES)
def test_the_host_is_the_one_a_browser_opens(url: str, opens: str, appears: str) -> None:
    seen = weburl.parse(url)
    assert seen is not None
    assert (seen.opens, seen.appears) == (opens, appears)
    assert seen.hidden
    assert host_of(url) == seen.host == opens.partition(":")[0]


def test_the_example_from_the_issue() -> None:
    seen = weburl.parse(EXAMPLE)
    assert seen is not None
    assert (seen.scheme, seen.host, seen.port, seen.path) == (
        "http", "127.0.0.1", 1, "/@thavel.thueringen.de/go/a/1273")
    assert seen.hidden == (weburl.USERINFO, weburl.BACKSLASH)
    assert seen.written_host == "thavel.thueringen.de"  # what urlsplit (and a reader) sees


@pytest.mark.parametrize(("url", "host"), [
    ("https://THAVELP.Thueringen.DE./thavelp/go/a/1273", "thavelp.thueringen.de"),
    ("https://thavelp.thueringen.de:443/thavelp/go/a/1273", "thavelp.thueringen.de"),
    ("https://www.bücher.de/", "www.xn--bcher-kva.de"),
    ("https://thavelp。thueringen。de/thavelp/go/a/1273", "thavelp.thueringen.de"),
])
def test_case_trailing_dot_default_port_and_idna_hide_nothing(url: str, host: str) -> None:
    seen = weburl.parse(url)
    assert seen is not None
    assert (seen.host, seen.hidden, seen.appears) == (host, (), "")


@pytest.mark.parametrize("url", [
    "https://thävelp.thueringen.de/thavelp/go/a/1273",  # a with umlaut
    "https://th\u0430velp.thueringen.de/thavelp/go/a/1273",  # Cyrillic a
])
def test_idna_lookalikes_stay_what_they_are(url: str) -> None:
    host = host_of(url)
    assert host.startswith("xn--") and host.endswith(".thueringen.de")
    assert thavel_identity(url) is None
    assert "thavel" not in link(url)
    assert not weburl.obfuscated(url)
    severity, reasons = reasons_of(url)
    assert severity == "critical"
    assert reasons[0] == f"Host nicht freigegeben: {host}"
    assert not any(reason.startswith("verschleierte Adresse") for reason in reasons)


# -- the rules compare that host, and say what is hidden ----------------------------------


def test_the_example_is_critical_with_the_host_it_really_opens() -> None:
    severity, reasons = reasons_of(EXAMPLE)
    assert severity == "critical"
    assert reasons[:2] == ("verschleierte Adresse: öffnet 127.0.0.1:1, nicht "
                           "thavel.thueringen.de", "Host nicht freigegeben: 127.0.0.1")


@pytest.mark.parametrize(("url", "opens", "appears"), LOOKALIKES)
@pytest.mark.parametrize("kind", [ChangeType.ADDED, ChangeType.MODIFIED])
def test_a_lookalike_link_is_critical_when_added_or_changed(url, opens, appears, kind) -> None:
    severity, reasons = reasons_of(url, kind)
    assert severity == "critical"
    assert reasons[0] == hiding(opens, appears)
    assert "ThAVEL-Antrag einer anderen Stelle: go/a/1273" not in reasons


def test_a_lookalike_in_a_new_leistung_is_critical_at_its_first_appearance() -> None:
    (added,) = diff_records("leistung", None, {"name": "Neu", "onlinedienste": [link(EXAMPLE)],
                                               "zustaendigkeiten": []})
    result = classify("leistung", added, RULES)
    assert result.severity == "critical"
    assert result.reasons[0] == ("verschleierte Adresse: öffnet 127.0.0.1:1, nicht "
                                 "thavel.thueringen.de")


@pytest.mark.parametrize(("url", "why"), [
    ("https://admin:geheim@thavelp.thueringen.de/thavelp/go/a/1273",
     "öffnet thavelp.thueringen.de (Anmeldedaten vor dem Host)"),
    ("https://thavelp.thuer\tingen.\nde/thavelp/go/a/1273",
     "öffnet thavelp.thueringen.de (Steuerzeichen in der Adresse)"),
    ("https:thavelp.thueringen.de/thavelp/go/a/1273",
     "öffnet thavelp.thueringen.de (kein Host nach „//“)"),
])
def test_hiding_on_an_allowed_host_is_still_critical(url: str, why: str) -> None:
    severity, reasons = reasons_of(url)
    assert (severity, reasons[0]) == ("critical", f"verschleierte Adresse: {why}")
    assert not any(reason.startswith("Host nicht freigegeben") for reason in reasons)


def test_https_to_http_compares_the_hosts_a_browser_opens() -> None:
    old = link("https://thavel.thueringen.de/x")
    new = link("http://127.0.0.1:1\\@thavel.thueringen.de/x")
    change = Change(ChangeType.MODIFIED, "x", "Online-Dienst › Link", old, new)
    assert "https → http" not in classify("leistung", change, RULES).reasons  # another host
    old = link("https://thavel.thueringen.de/x")
    new = link("http://a@thavel.thueringen.de/x")
    change = Change(ChangeType.MODIFIED, "x", "Online-Dienst › Link", old, new)
    assert "https → http" in classify("leistung", change, RULES).reasons


def test_allowed_hosts_in_unicode_match_the_browsers_host() -> None:
    rules = RulesSettings(allowed_hosts=("*.bücher.de",))
    change = Change(ChangeType.ADDED, "x", "Online-Dienst › Link", None,
                    link("https://www.BÜCHER.de/antrag"))
    assert classify("leistung", change, rules).severity == "high"


# -- what is stored --------------------------------------------------------------------


@pytest.mark.parametrize(("url", "opens", "appears"), LOOKALIKES)
def test_the_stored_link_opens_what_the_link_opens(url: str, opens: str, appears: str) -> None:
    stored = link(url)
    assert "thavel" not in stored  # no ThAVEL identity: the browser's host is not ThAVEL
    seen = weburl.parse(stored["url"])
    assert seen is not None and seen.opens == opens
    assert stored["url"] == url  # kept as written: the evidence of what the directory holds


def test_the_example_is_not_stored_as_a_link_to_thavel() -> None:
    assert canonical_url(EXAMPLE) == EXAMPLE
    assert canonical_url(f"  {EXAMPLE}\n") == EXAMPLE
    assert "127.0.0.1@thavel" not in canonical_url(EXAMPLE)


def test_a_thavel_link_with_userinfo_keeps_its_identity_and_is_flagged() -> None:
    url = "https://x@thavelp.thueringen.de/thavelp/go/a/5741?c=bc"
    assert link(url)["thavel"]["antrag"] == "5741"
    severity, reasons = reasons_of(url)
    assert severity == "critical"
    assert "ThAVEL-Antrag einer anderen Stelle: go/a/5741" in reasons


def recorded() -> list[tuple[str, str, dict[str, str] | None]]:
    rows = json.loads(gzip.decompress(GOLDEN.read_bytes()))
    return [(url, canonical, identity) for url, canonical, identity in rows]


def test_every_ordinary_link_normalises_exactly_as_before() -> None:
    """Over every real link (payloads, the package's real rows, an old history, the
    simulated directory) and its noisy variants: the same canonical URL and ThAVEL
    identity as the normaliser before issue 18 gave (recorded by
    ``tests/payloads/links/record_canonical.py``)."""
    rows = recorded()
    assert len(rows) > 4000
    assert sum(1 for _, _, identity in rows if identity) > 400
    changed = [(url, canonical, canonical_url(url)) for url, canonical, _ in rows
               if canonical_url(url) != canonical]
    assert changed == []
    moved = [(url, identity, link(url).get("thavel")) for url, _, identity in rows
             if link(url).get("thavel") != identity]
    assert moved == []
    assert not any(weburl.obfuscated(url) for url, _, _ in rows if url.strip())


# -- the link checker -------------------------------------------------------------------


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith("/weiter"):
            self.send_response(302)
            self.send_header("Location", "/\\evil.example/antrag")
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def thavel() -> Iterator[ThreadingHTTPServer]:
    """A stand-in for thavel.thueringen.de on 127.0.0.1, where the old reading went."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every connection urllib3 opens; none may leave 127.0.0.1."""
    calls: list[tuple[str, int]] = []
    real = urllib3.util.connection.create_connection

    def record(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        calls.append(address)
        if not address[0].startswith("127."):
            pytest.fail(f"the client tried to connect to {address}")
        return real(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib3.util.connection, "create_connection", record)
    return calls


def checker(server: ThreadingHTTPServer, asked: list[tuple[str, int]]) -> SafeClient:
    """thavel.thueringen.de and evil.example resolve to 127.0.0.1 and 10.0.0.1; the
    stand-in server is allowed, nothing else on this machine."""
    port = server.server_address[1]
    answers = {"thavel.thueringen.de": ["127.0.0.1"], "evil.example": ["10.0.0.1"]}

    def resolve(host: str, at: int) -> list[str]:
        asked.append((host, at))
        return answers[host]

    return SafeClient(SafetyPolicy(min_interval=0, allow_local=(f"127.0.0.1:{port}",),
                                   connect_to=((f"thavel.thueringen.de:{port}",
                                                f"127.0.0.1:{port}"),)),
                      resolver=resolve)


def test_the_checker_connects_to_the_host_a_browser_opens(thavel, connections) -> None:
    port = thavel.server_address[1]
    asked: list[tuple[str, int]] = []
    with checker(thavel, asked) as safe:
        assert safe.get(f"http://thavel.thueringen.de:{port}/go/a/1273").status == 200
        with pytest.raises(LinkRefused) as refused:
            safe.get(f"http://127.0.0.1:1\\@thavel.thueringen.de:{port}/go/a/1273")
    assert refused.value.category == "address"
    assert "127.0.0.1:1" in str(refused.value) and "loopback" in str(refused.value)
    assert thavel.seen == ["/go/a/1273"]  # only the honest link reached "thavel"
    assert connections == [("127.0.0.1", port)]
    assert asked == []  # an IP literal: nothing to resolve


@pytest.mark.parametrize(("url", "address"), [
    ("http://0x7f.1/", "127.0.0.1:80"),
    ("http://2130706433:8080/", "127.0.0.1:8080"),
    ("https://thavel.thueringen.de@evil.example/", "10.0.0.1:443"),
    ("https://evil.example\\thavel.thueringen.de/", "10.0.0.1:443"),
])
def test_lookalikes_of_private_hosts_are_refused_without_a_connection(
        thavel, connections, url: str, address: str) -> None:
    asked: list[tuple[str, int]] = []
    with checker(thavel, asked) as safe, pytest.raises(LinkRefused) as refused:
        safe.get(url)
    assert refused.value.category == "address"
    assert address in str(refused.value)
    assert "thavel.thueringen.de" not in {host for host, _ in asked}
    assert connections == []


def test_a_backslash_location_goes_where_a_browser_goes(thavel, connections) -> None:
    port = thavel.server_address[1]
    asked: list[tuple[str, int]] = []
    with checker(thavel, asked) as safe, pytest.raises(LinkRefused) as refused:
        safe.get(f"http://thavel.thueringen.de:{port}/weiter")
    assert refused.value.category == "address"
    assert refused.value.url == "http://evil.example/antrag"
    assert refused.value.hops[0].location == "http://evil.example/antrag"
    assert thavel.seen == ["/weiter"]
    assert asked == [("evil.example", 80)]


def no_dns(host: str, port: int) -> list[str]:
    raise OSError(f"no name is resolved in this test ({host})")


def test_the_link_record_of_the_example_is_refused_and_critical(connections) -> None:
    with SafeClient(SafetyPolicy(min_interval=0), resolver=no_dns) as safe, \
            pytest.raises(LinkRefused) as refused:
        safe.get(canonical_url(EXAMPLE))
    content = link_content(Check(Target(canonical_url(EXAMPLE), ()), error=refused.value))
    assert (content["url"], content["zustand"], content["fehler"]) == (
        EXAMPLE, "gesperrt", "Nicht öffentliche Adresse: 127.0.0.1")
    (added,) = diff_records("link", None, content)
    result = classify("link", added, RULES, content)
    assert result.severity == "critical"
    assert "verschleierte Adresse: öffnet 127.0.0.1:1, nicht thavel.thueringen.de" \
        in result.reasons


def test_a_lookalike_the_checker_reaches_is_critical_as_a_new_link_record() -> None:
    url = "https://thavelp.thueringen.de@evil.example/thavelp/go/a/1273"
    content = {"url": url, "zustand": "erreichbar", "status": 200, "fehler": "",
               "weiterleitungen": [], "ziel": "https://evil.example/thavelp/go/a/1273",
               "zielhost": "evil.example", "stelle": "Stadtverwaltung Jena", "thavel": ""}
    (added,) = diff_records("link", None, content)
    result = classify("link", added, RULES, content)
    assert result.severity == "critical"
    assert result.reasons[:2] == (
        "verschleierte Adresse: öffnet evil.example, nicht thavelp.thueringen.de",
        "Link-Ziel auf nicht freigegebenem Host: evil.example")


# -- what people read: mails and pages -----------------------------------------------------


def test_a_mail_shows_the_host_really_opened_and_why_it_is_critical() -> None:
    severity, reasons = reasons_of(EXAMPLE)
    change = ChangeNotice(
        change_id=7, detected_at="2026-03-02T05:12:00+00:00", source="pvog-jena",
        key="leistung:S1600001.LB.354790", kind="leistung", title="Geburtsurkunde beantragen",
        leika=(), office="Standesamt Jena", change_type="modified",
        label="Online-Dienst › Link", old=link(JENA), new=link(EXAMPLE), severity=severity,
        reasons=reasons, deeplink="")
    mail = Mail(sender="zufiwatch@jena.de", recipients=("ag-ozg@jena.de",))
    now = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)
    message = BytesParser(policy=policy.default).parsebytes(bytes(
        immediate_alert([change], mail, now=now, source="pvog-jena")))
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    page = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "KRITISCH" in text
    assert "verschleierte Adresse: öffnet 127.0.0.1:1, nicht thavel.thueringen.de" in \
        " ".join(text.split())
    assert "Host:" in text and "thavelp.thueringen.de → 127.0.0.1" in text
    assert ">127.0.0.1</b>" in page  # the host marked is the one opened …
    assert ">thavel.thueringen.de</b>" not in page  # … not the one it seems to name
    shown = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "http://127.0.0.1:1\\@thavel.thueringen.de/go/a/1273" in shown
    assert 'href="http://127.0.0.1' not in page


def test_pages_class_the_host_opened_and_do_not_make_a_lookalike_a_link() -> None:
    assert safe_href(EXAMPLE) == ""
    assert safe_href(JENA) == JENA
    assert host_class(host_of(EXAMPLE)) == "other"
    assert host_class(host_of("https://thavel.thueringen.de@evil.example/")) == "other"
    rows = link_rows([{"kind": "leistung", "source": "pvog", "key": "leistung:1",
                       "content": {"name": "Geburtsurkunde", "onlinedienste": [link(EXAMPLE)],
                                   "zustaendigkeiten": []}}])
    assert [(row["url"], row["host"]) for row in rows] == [(EXAMPLE, "127.0.0.1")]
