"""The link checker's pure parts: which links are followed, what a check records, and the
meta refresh it follows (with a stand-in client)."""

from __future__ import annotations

from zufiwatch.config import SourceSettings
from zufiwatch.safehttp import Hop, LinkAnswer, LinkFailed, LinkRefused
from zufiwatch.sources.links import Check, LinkSource, Target, collect_links, link_content

LEISTUNG = {
    "name": "Geburtsurkunde beantragen",
    "onlinedienste": [{"url": "https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc",
                       "titel": "Antrag"}],
    "texte": {"07": {"text": "…", "links": [{"url": "https://landesrecht.thueringen.de/x",
                                             "titel": "Gesetz"}]}},
    "ursprungsportal": [{"url": "https://buerger.thueringen.de/portaldeeplink/?tsa_leistung_id=1",
                         "titel": "ZuFi"}],
    "zustaendigkeiten": [{"id": "S1.OE.6", "name": "Standesamt Jena", "rolle": "01"}],
}
DIENST = {"name": "Online", "links": [{"url": "https://thavelp.thueringen.de/thavelp/go/a/"
                                              "1273?c=bc", "titel": "x"},
                                      {"url": "javascript:alert(1)", "titel": "evil"},
                                      {"url": "/relative/path", "titel": "no scheme"}]}
OFFICE = {"name": "Standesamt Jena", "internetadressen": ["https://www.jena.de/standesamt"]}
RECORDS = [("pvog", "leistung:S1.LB.1", "leistung", LEISTUNG),
           ("pvog", "onlinedienst:S1.OD.9", "onlinedienst", DIENST),
           ("pvog", "organisationseinheit:S1.OE.6", "organisationseinheit", OFFICE)]


def test_online_service_links_are_followed_with_the_records_holding_them() -> None:
    targets = collect_links(RECORDS)
    assert [t.url for t in targets] == ["https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc",
                                        "javascript:alert(1)"]
    thavel = targets[0]
    assert thavel.used_by == (("leistung:S1.LB.1", "Geburtsurkunde beantragen",
                               "Standesamt Jena"),
                              ("onlinedienst:S1.OD.9", "Online", ""))


def test_text_links_add_text_modules_portal_and_office_addresses() -> None:
    urls = {t.url for t in collect_links(RECORDS, text_links=True)}
    assert {"https://landesrecht.thueringen.de/x",
            "https://buerger.thueringen.de/portaldeeplink/?tsa_leistung_id=1"} <= urls
    assert "https://www.jena.de/standesamt" in urls  # office web addresses are plain strings
    assert "https://www.jena.de/standesamt" not in {t.url for t in collect_links(RECORDS)}


def answer(url: str, final: str, status: int = 200, body: bytes = b"",
           hops: tuple[Hop, ...] = ()) -> LinkAnswer:
    return LinkAnswer(url=url, hops=hops or (Hop(final, status, "93.184.216.34:443"),),
                      status=status, final_url=final, content_type="text/html", body=body,
                      truncated=False)


class StandInClient:
    """Answers from a table, like SafeClient.get."""

    def __init__(self, answers: dict[str, LinkAnswer | Exception]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def get(self, url: str) -> LinkAnswer:
        self.asked.append(url)
        found = self.answers[url]
        if isinstance(found, Exception):
            raise found
        return found


def test_a_meta_refresh_is_followed_once_and_its_hops_are_kept() -> None:
    first = "https://thavelp.thueringen.de/start"
    second = "https://thavelp.thueringen.de/portal/antrag/go-a-1/start"
    client = StandInClient({
        first: answer(first, first, body=b'<html><head><meta http-equiv="refresh" '
                                         b'content="0; url=/portal/antrag/go-a-1/start">'
                                         b'</head></html>'),
        second: answer(second, second, body=b'<html><head><title>Antrag</title><meta '
                                            b'name="zustaendige-stelle" content="Stadt Jena">'
                                            b'</head></html>'),
    })
    source = LinkSource(SourceSettings(name="links", kind="links"))
    check = source._read_page(client, Target(first, ()), client.get(first))
    content = link_content(check)
    assert client.asked == [first, second]
    assert content["ziel"] == second and content["stelle"] == "Stadt Jena"
    assert [h["url"] for h in content["weiterleitungen"]] == [first]


def test_what_a_failed_or_refused_check_records() -> None:
    target = Target("https://a.example/x", ())
    redirect = Hop("https://a.example/x", 302, "93.184.216.34:443", "http://10.0.0.1/")
    refused = link_content(Check(target, error=LinkRefused(
        "refused", category="address", url="http://10.0.0.1/", hops=(redirect,))))
    assert refused == {"url": "https://a.example/x", "zustand": "gesperrt",
                       "fehler": "Nicht öffentliche Adresse: 10.0.0.1",
                       "weiterleitungen": [{"url": "https://a.example/x", "status": 302}],
                       "ziel": "http://10.0.0.1/", "zielhost": "10.0.0.1"}
    failed = link_content(Check(target, error=LinkFailed("slow", category="timeout",
                                                         url="https://a.example/x")))
    assert failed == {"url": "https://a.example/x", "zustand": "nicht erreichbar",
                      "fehler": "Zeitüberschreitung"}
    gone = link_content(Check(target, answer=answer("https://a.example/x",
                                                    "https://a.example/x", 410)))
    assert (gone["zustand"], gone["fehler"], gone["status"]) == ("nicht erreichbar",
                                                                 "HTTP 410", 410)


def test_a_link_no_parser_can_read_is_checked_not_a_crash() -> None:
    """``http://[broken`` made ``urlsplit`` raise inside collect_links (issue 18)."""
    records = [("pvog", "leistung:S1.LB.2", "leistung",
                {"name": "Kaputt", "onlinedienste": [{"url": "http://[broken", "titel": "x"}]})]
    assert [t.url for t in collect_links(records)] == ["http://[broken"]


def test_a_meta_refresh_with_a_backslash_goes_where_a_browser_goes() -> None:
    first = "https://thavelp.thueringen.de/start"
    client = StandInClient({
        first: answer(first, first, body=b'<meta http-equiv="refresh" '
                                         b'content="0; url=/\\evil.example/antrag">'),
        "https://evil.example/antrag": LinkRefused(
            "refused", category="address", url="https://evil.example/antrag"),
    })
    source = LinkSource(SourceSettings(name="links", kind="links"))
    content = link_content(source._read_page(client, Target(first, ()), client.get(first)))
    assert client.asked == [first, "https://evil.example/antrag"]
    assert (content["zustand"], content["zielhost"]) == ("gesperrt", "evil.example")
