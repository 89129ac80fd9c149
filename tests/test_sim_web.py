"""The simulated web of link targets: ThAVEL redirects and start pages, controls, TLS, log."""

from __future__ import annotations

import os
import re
import socket
import ssl
import time
from collections.abc import Iterator

import pytest
import urllib3
from urllib3.exceptions import ReadTimeoutError

from zufiwatch.sim.web import SIM_HOSTS, SimulatedWeb

THAVELP = "thavelp.thueringen.de"
GO_A = "/thavelp/go/a/4711?c=bc"
ZS = "/thavelp/portal/zs/251234/start?pe=5678"
A3START = (
    "/thavelp/portal/a3start/0/client/index.html?verfahrenId=1234&startAPI="
    "https%253A%252F%252Fthavelp.thueringen.de%252Fthavelp%252Fa3start%252F231234%252F#/intro"
)


@pytest.fixture(scope="module")
def shared() -> Iterator[SimulatedWeb]:
    """One server for the read-only tests (creating a CA costs a little)."""
    with SimulatedWeb() as web:
        yield web


@pytest.fixture
def web() -> Iterator[SimulatedWeb]:
    with SimulatedWeb() as server:
        yield server


def _https(web: SimulatedWeb, host: str = THAVELP) -> urllib3.HTTPSConnectionPool:
    assert web.https_port is not None
    return urllib3.HTTPSConnectionPool(
        "127.0.0.1", web.https_port, server_hostname=host, assert_hostname=host,
        ca_certs=web.ca_file, cert_reqs="CERT_REQUIRED", retries=False, timeout=10,
    )


def _http(web: SimulatedWeb) -> urllib3.HTTPConnectionPool:
    return urllib3.HTTPConnectionPool("127.0.0.1", web.http_port, retries=False, timeout=10)


def get(web: SimulatedWeb, url: str, *, method: str = "GET") -> urllib3.BaseHTTPResponse:
    """``url`` fetched from the simulated web without following redirects."""
    parts = urllib3.util.parse_url(url)
    assert parts.host is not None
    pool = _https(web, parts.host) if parts.scheme == "https" else _http(web)
    with pool:
        return pool.request(method, parts.request_uri, headers={"Host": parts.host},
                            redirect=False)


def text(response: urllib3.BaseHTTPResponse) -> str:
    return response.data.decode("utf-8")


# ThAVEL shapes


@pytest.mark.parametrize(
    ("path", "location"),
    [
        (GO_A, "/thavelp/portal/antrag/go-a-4711/start"),
        ("/thavelp/go/a/4711", "/thavelp/portal/antrag/go-a-4711/start"),
        (ZS, "/thavelp/portal/antrag/zs-251234/start?pe=5678"),
        (A3START.split("#")[0], "/thavelp/portal/antrag/verfahren-1234/start"),
    ],
)
def test_each_thavel_shape_redirects_to_its_start_page(
    shared: SimulatedWeb, path: str, location: str
) -> None:
    response = get(shared, f"https://{THAVELP}{path}")
    assert response.status == 302
    assert response.headers["Location"] == f"https://{THAVELP}{location}"
    assert response.headers["Content-Length"] == str(len(response.data))
    start = get(shared, response.headers["Location"])
    assert start.status == 200
    assert start.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Zuständige Stelle: Stadtverwaltung Jena" in text(start)


def test_start_page_names_the_default_or_the_set_authority(web: SimulatedWeb) -> None:
    page = text(get(web, f"https://{THAVELP}/thavelp/portal/antrag/go-a-4711/start"))
    assert "<title>ThAVEL – Antrag go-a-4711</title>" in page
    assert '<meta name="zustaendige-stelle" content="Stadtverwaltung Jena">' in page
    assert '<div class="zustaendige-stelle">Zuständige Stelle: Stadtverwaltung Jena</div>' in page

    web.set_authority("go/a/4711", "Stadtverwaltung Gera & Co")
    web.set_authority("zs/251234", "Landratsamt Saale-Holzland-Kreis")
    web.set_authority("verfahren/1234", "Stadt Weimar")
    page = text(get(web, f"https://{THAVELP}/thavelp/portal/antrag/go-a-4711/start"))
    assert '<meta name="zustaendige-stelle" content="Stadtverwaltung Gera &amp; Co">' in page
    assert "Zuständige Stelle: Stadtverwaltung Gera &amp; Co" in page
    page = text(get(web, f"https://{THAVELP}/thavelp/portal/antrag/zs-251234/start?pe=5678"))
    assert "Zuständige Stelle: Landratsamt Saale-Holzland-Kreis" in page
    page = text(get(web, f"https://{THAVELP}/thavelp/portal/antrag/verfahren-1234/start"))
    assert "Zuständige Stelle: Stadt Weimar" in page
    # Other instances keep the default.
    page = text(get(web, f"https://{THAVELP}/thavelp/portal/antrag/go-a-4712/start"))
    assert "Zuständige Stelle: Stadtverwaltung Jena" in page


def test_constructor_authority_and_invalid_instance() -> None:
    with SimulatedWeb(tls=False, authority="Stadt Erfurt") as web:
        page = text(get(web, f"http://{THAVELP}/thavelp/portal/antrag/zs-1/start"))
        assert "Zuständige Stelle: Stadt Erfurt" in page
        with pytest.raises(ValueError, match="instance"):
            web.set_authority("go/b/1", "Stadt Erfurt")


def test_statewide_page_names_no_authority(shared: SimulatedWeb) -> None:
    response = get(shared, "https://thavel.thueringen.de/thavel/portal?f=leistung&aid=8736")
    assert response.status == 200
    page = text(response)
    assert "<title>ThAVEL – Leistung 8736</title>" in page
    assert "zustaendige-stelle" not in page
    assert "Zuständige Stelle" not in page
    # Nor anything the checker's fallback pattern ("Behörde: …") could take for one.
    assert not re.search(r"Behörde\s*:", page)


def test_unknown_thavel_paths_are_404(shared: SimulatedWeb) -> None:
    assert get(shared, f"https://{THAVELP}/thavelp/portal/antrag/foo/start").status == 404
    assert get(shared, "https://thavel.thueringen.de/thavel/portal?f=leistung").status == 404


def test_other_hosts_answer_a_page_with_a_session_cookie(shared: SimulatedWeb) -> None:
    url = "https://ajproxy.jena.de/olav/olav.htm?_flowId=gewerbe-flow&_flowExecutionKey=e1s1"
    response = get(shared, url)
    assert response.status == 200
    assert "<title>ajproxy.jena.de</title>" in text(response)
    assert response.headers["Set-Cookie"].startswith("JSESSIONID=")
    elster = get(shared, "https://www.elster.de/eportal/start")
    assert "<title>www.elster.de</title>" in text(elster)


def test_head_answers_headers_only(shared: SimulatedWeb) -> None:
    response = get(shared, f"https://{THAVELP}{GO_A}", method="HEAD")
    assert response.status == 302
    assert response.data == b""
    assert int(response.headers["Content-Length"]) > 0


def test_missing_host_header_is_400(shared: SimulatedWeb) -> None:
    with socket.create_connection(("127.0.0.1", shared.http_port), timeout=10) as sock:
        sock.sendall(b"GET /thavelp/go/a/1 HTTP/1.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Length: " + str(len(body)).encode() in head


# controls


@pytest.mark.parametrize("status", [404, 410])
def test_break_link_and_restore(web: SimulatedWeb, status: int) -> None:
    web.break_link(f"https://{THAVELP}/thavelp/go/a/4711", status)
    assert get(web, f"https://{THAVELP}{GO_A}").status == status
    assert get(web, f"https://{THAVELP}/thavelp/go/a/4711").status == status
    assert get(web, f"https://{THAVELP}/thavelp/go/a/4712").status == 302
    # The prefix names the scheme: the plain port is unaffected.
    assert get(web, f"http://{THAVELP}/thavelp/go/a/4711").status == 302
    web.restore(f"https://{THAVELP}/thavelp/go/a/4711")
    assert get(web, f"https://{THAVELP}{GO_A}").status == 302


def test_break_link_on_a_whole_host(web: SimulatedWeb) -> None:
    web.break_link("https://wohnsitzanmeldung.gov.de", 503)
    assert get(web, "https://wohnsitzanmeldung.gov.de/").status == 503
    assert get(web, "https://wohnsitzanmeldung.gov.de/antrag?x=1").status == 503
    assert get(web, "https://www.elster.de/").status == 200


def test_redirect_to_a_foreign_host(web: SimulatedWeb) -> None:
    target = "https://www.example.org/phishing"
    web.redirect(f"https://{THAVELP}/thavelp/go/a/4711", target, 301)
    response = get(web, f"https://{THAVELP}{GO_A}")
    assert response.status == 301
    assert response.headers["Location"] == target
    foreign = get(web, target)
    assert foreign.status == 200
    assert "<title>www.example.org</title>" in text(foreign)
    web.restore(f"https://{THAVELP}/thavelp/go/a/4711")
    assert get(web, f"https://{THAVELP}{GO_A}").headers["Location"].startswith(
        f"https://{THAVELP}/"
    )


def test_redirect_from_https_to_plain_http(web: SimulatedWeb) -> None:
    target = "http://thavelp.thueringen.de/thavelp/portal/antrag/go-a-9/start"
    web.redirect("https://thavelp.thueringen.de/thavelp/go/a/9", target)
    response = get(web, "https://thavelp.thueringen.de/thavelp/go/a/9")
    assert response.status == 302
    assert response.headers["Location"] == target
    page = get(web, target)  # over the plain port
    assert page.status == 200
    assert "Zuständige Stelle: Stadtverwaltung Jena" in text(page)
    assert web.request_urls == [
        "https://thavelp.thueringen.de/thavelp/go/a/9",
        "http://thavelp.thueringen.de/thavelp/portal/antrag/go-a-9/start",
    ]


def test_longest_prefix_wins(web: SimulatedWeb) -> None:
    web.break_link(f"https://{THAVELP}/thavelp/", 410)
    web.redirect(f"https://{THAVELP}/thavelp/go/a/1", "https://www.example.org/")
    assert get(web, f"https://{THAVELP}/thavelp/go/a/1").status == 302
    assert get(web, f"https://{THAVELP}/thavelp/go/a/2").status == 410


def test_controls_reject_bad_arguments(web: SimulatedWeb) -> None:
    with pytest.raises(ValueError, match="status"):
        web.break_link(f"https://{THAVELP}/", 200)
    with pytest.raises(ValueError, match="status"):
        web.redirect(f"https://{THAVELP}/", "https://www.example.org/", 200)
    with pytest.raises(ValueError, match="URL"):
        web.break_link("/thavelp/go/a/1")
    with pytest.raises(ValueError, match="target"):
        web.redirect(f"https://{THAVELP}/", "https://x.example.org/\r\nSet-Cookie: a=b")


# TLS


@pytest.mark.parametrize("host", [THAVELP, "ajproxy.jena.de", "www.fuehrungszeugnis.bund.de"])
def test_certificate_verifies_for_simulated_hosts(shared: SimulatedWeb, host: str) -> None:
    assert host in SIM_HOSTS
    context = ssl.create_default_context(cafile=shared.ca_file)
    assert shared.https_port is not None
    with (
        socket.create_connection(("127.0.0.1", shared.https_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        assert tls.version() is not None
        names = [value for kind, value in tls.getpeercert()["subjectAltName"] if kind == "DNS"]
    assert "*.thueringen.de" in names


def test_certificate_is_rejected_without_the_ca_and_for_other_names(shared: SimulatedWeb) -> None:
    assert shared.https_port is not None
    for context, host in (
        (ssl.create_default_context(), THAVELP),
        (ssl.create_default_context(cafile=shared.ca_file), "www.thueringen.example"),
    ):
        with (
            socket.create_connection(("127.0.0.1", shared.https_port), timeout=10) as raw,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            context.wrap_socket(raw, server_hostname=host)
    # The server survives failed handshakes.
    assert get(shared, f"https://{THAVELP}{GO_A}").status == 302


def test_extra_hosts_are_on_the_certificate() -> None:
    with SimulatedWeb(extra_hosts=["dienste.beispiel-landkreis.de"]) as web:
        response = get(web, "https://dienste.beispiel-landkreis.de/antrag")
        assert response.status == 200


def test_addresses_and_ca_file(shared: SimulatedWeb) -> None:
    http, https = shared.http_port, shared.https_port
    assert https is not None and https != http
    assert shared.connect_to() == (("*:80", f"127.0.0.1:{http}"), ("*:443", f"127.0.0.1:{https}"))
    assert shared.endpoints() == (f"127.0.0.1:{http}", f"127.0.0.1:{https}")
    with open(shared.ca_file, encoding="ascii") as pem:
        assert pem.read().startswith("-----BEGIN CERTIFICATE-----")


def test_plain_http_only_without_tls() -> None:
    web = SimulatedWeb(tls=False)
    with pytest.raises(RuntimeError, match="not running"):
        _ = web.http_port
    with web:
        assert web.ca_file == ""
        assert web.https_port is None
        assert web.connect_to() == (("*:80", f"127.0.0.1:{web.http_port}"),)
        assert web.endpoints() == (f"127.0.0.1:{web.http_port}",)
        response = get(web, f"http://{THAVELP}{ZS}")
        assert response.status == 302
        # Redirects keep the scheme of the request, so plain HTTP works end to end.
        location = response.headers["Location"]
        assert location == f"http://{THAVELP}/thavelp/portal/antrag/zs-251234/start?pe=5678"
        assert get(web, location).status == 200
        assert "Secure" not in response.headers["Set-Cookie"]


def test_ca_file_is_removed_on_stop_and_restart_works() -> None:
    web = SimulatedWeb().start()
    ca_file = web.ca_file
    assert os.path.exists(ca_file)
    web.stop()
    assert not os.path.exists(ca_file)
    web.stop()  # idempotent
    with web:
        assert os.path.exists(web.ca_file)
        assert get(web, f"https://{THAVELP}{GO_A}").status == 302


# observation


def test_requests_are_logged_with_host_path_and_headers(web: SimulatedWeb) -> None:
    get(web, f"https://{THAVELP}{GO_A}")
    get(web, "https://ajproxy.jena.de/olav/olav.htm?_flowExecutionKey=e1s1")
    with _http(web) as pool:
        pool.request("GET", "/x", headers={"Host": "www.jena.de:80", "Cookie": "JSESSIONID=1",
                                           "authorization": "Basic eDp5"})
    assert web.wait_for_requests(3, timeout=5)
    assert web.requests == [
        (THAVELP, GO_A),
        ("ajproxy.jena.de", "/olav/olav.htm?_flowExecutionKey=e1s1"),
        ("www.jena.de", "/x"),
    ]
    assert web.request_count == 3
    first = web.headers_of(0)
    assert first["Host"] == THAVELP
    assert "Cookie" not in first and "Authorization" not in first
    last = web.headers_of(-1)
    assert last["Cookie"] == "JSESSIONID=1"
    assert last["Authorization"] == "Basic eDp5"  # names are canonicalised
    assert web.method_of(0) == "GET"
    web.requests.clear()  # a copy
    assert len(web.requests) == 3
    web.reset_requests()
    assert web.requests == [] and web.request_count == 0


def test_wait_for_requests_times_out_without_requests(web: SimulatedWeb) -> None:
    assert not web.wait_for_requests(1, timeout=0.05)
    assert web.wait_for_requests(0, timeout=0.05)


def test_hang_makes_the_client_time_out_and_stop_returns_promptly() -> None:
    web = SimulatedWeb().start()
    try:
        web.hang(f"https://{THAVELP}/thavelp/go/a/")
        assert web.https_port is not None
        pool = urllib3.HTTPSConnectionPool(
            "127.0.0.1", web.https_port, server_hostname=THAVELP, assert_hostname=THAVELP,
            ca_certs=web.ca_file, cert_reqs="CERT_REQUIRED", retries=False,
            timeout=urllib3.Timeout(connect=5, read=0.3),
        )
        with pool, pytest.raises(ReadTimeoutError):
            pool.request("GET", GO_A, headers={"Host": THAVELP})
        assert web.wait_for_requests(1, timeout=5)
        assert web.requests == [(THAVELP, GO_A)]
        # Other URLs are still answered meanwhile; restore() ends the hang for new requests.
        assert get(web, f"https://{THAVELP}{ZS}").status == 302
        web.restore(f"https://{THAVELP}/thavelp/go/a/")
        assert get(web, f"https://{THAVELP}{GO_A}").status == 302
        # A second client is left hanging while stop() runs.
        web.hang(f"http://{THAVELP}/thavelp/go/a/5")
        hanging = socket.create_connection(("127.0.0.1", web.http_port), timeout=10)
        hanging.sendall(f"GET /thavelp/go/a/5 HTTP/1.1\r\nHost: {THAVELP}\r\n\r\n".encode())
        assert web.wait_for_requests(4, timeout=5)
    finally:
        started = time.monotonic()
        web.stop()
        elapsed = time.monotonic() - started
    assert elapsed < 2
    with hanging:
        assert hanging.recv(4096) == b""  # closed without an answer
