"""Messages to the AG OZG and the operators: content, language, headers and HTML safety."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from zufiwatch.differ import diff_records
from zufiwatch.normalize import link
from zufiwatch.notify import messages
from zufiwatch.notify.messages import Mail, ack_command, digest, immediate_alert, reminder
from zufiwatch.notify.model import ChangeNotice, CrawlProblem, OverdueExpectation

NOW = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)
MAIL = Mail(sender="zufiwatch@jena.de", recipients=("ag-ozg@jena.de", "it-betrieb@jena.de"))
MAIL_EN = dataclasses.replace(MAIL, language="en")

OLD_LINK = "https://thavelp.thueringen.de/thavelp/go/a/1273?c=bc"
NEW_LINK = "https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc"
DEEPLINK = "https://buerger.thueringen.de/portaldeeplink/?tsa_leistung_id=724923&tsa_sprache=de_DE"
VOLLTEXT = ("Die Geburtsurkunde stellt das Standesamt des Geburtsortes aus. Sie benötigen einen "
            "gültigen Personalausweis oder Reisepass. Die Urkunde kostet pro Exemplar eine "
            "Gebühr, die bei Abholung fällig wird.")
NEW_SENTENCE = "Termine können online gebucht werden."


def notice(**values: Any) -> ChangeNotice:
    """The ThAVEL link of Geburtsurkunde beantragen, replaced by another instance."""
    fields: dict[str, Any] = {
        "change_id": 12, "detected_at": "2026-03-02T05:12:00.000000+00:00",
        "source": "pvog-jena", "key": "leistung:S1600001.LB.354790", "kind": "leistung",
        "title": "Geburtsurkunde beantragen", "leika": ("99027002012000",),
        "office": "Standesamt Jena", "change_type": "modified", "label": "Online-Dienst › Link",
        "old": {"url": OLD_LINK, "titel": "Geburtsurkunde online beantragen"},
        "new": {"url": NEW_LINK, "titel": "Geburtsurkunde online beantragen"},
        "severity": "high", "reasons": ("Online-Dienst-Link",), "deeplink": DEEPLINK,
    }
    fields.update(values)
    return ChangeNotice(**fields)


LINK = notice()
FEE = notice(change_id=13, detected_at="2026-03-01T06:10:00.000000+00:00", label="Gebühren",
             old="50,00 EUR", new="55,00 EUR", severity="medium", reasons=())
FEE_STERBE = notice(change_id=14, detected_at="2026-03-01T06:11:00.000000+00:00",
                    key="leistung:S1600001.LB.354795", title="Sterbeurkunde beantragen",
                    leika=("99027004012000",), label="Gebühren", old="50,00 EUR",
                    new="55,00 EUR", severity="medium", reasons=(), deeplink="")
TEXT = notice(change_id=15, detected_at="2026-02-20T08:00:00.000000+00:00", label="Volltext",
              old=VOLLTEXT, new=VOLLTEXT.replace("Reisepass.", f"Reisepass. {NEW_SENTENCE}"),
              severity="low", reasons=())
CRITICAL = notice(change_id=16, new={"url": "https://formulare.example.org/jena/geburt"},
                  severity="critical", reasons=("Host nicht freigegeben: formulare.example.org",))
PHONE = notice(change_id=17, key="organisationseinheit:S1600001.OE.20006",
               kind="organisationseinheit", title="Bürgerbüro Jena", leika=(),
               office="Bürgerbüro Jena", label="Kommunikation › Telefon",
               old={"kanal": "tel", "wert": "03641 49-1234"},
               new={"kanal": "tel", "wert": "03641 49-4000"}, severity="medium", reasons=(),
               deeplink="")
OVERDUE = OverdueExpectation(expectation_id=3, key="leistung:S1600001.LB.354790",
                             title="Geburtsurkunde beantragen", field="Gebühren",
                             value="55,00 EUR", until="2026-02-28", by="A. Keller",
                             note="Gebührensatzung ab 1. März")
FAILED = CrawlProblem(kind="failed", source="pvog-jena", at="2026-03-02T05:00:00.000000+00:00",
                      detail="listing: HTML page with status 200", extra={"crawl_id": 41})

BUILDERS: dict[str, Callable[[Mail], EmailMessage]] = {
    "immediate": lambda mail: immediate_alert([LINK, CRITICAL], mail, now=NOW,
                                              source="pvog-jena"),
    "digest": lambda mail: digest([LINK, FEE, FEE_STERBE, TEXT, PHONE], mail, now=NOW,
                                  period_start="2026-03-01T06:00:00+00:00",
                                  period_end="2026-03-02T06:00:00+00:00"),
    "reminder": lambda mail: reminder([FEE, TEXT], [OVERDUE], mail, now=NOW),
    "operator": lambda mail: messages.operator_alert([FAILED], mail, now=NOW),
    "test": lambda mail: messages.test_message(mail, now=NOW),
}


@dataclasses.dataclass
class Parsed:
    message: EmailMessage
    text: str
    html: str

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])


def parse(message: EmailMessage) -> Parsed:
    """The message as a mail client sees it: serialised, then parsed back."""
    parsed = BytesParser(policy=policy.default).parsebytes(bytes(message))
    assert isinstance(parsed, EmailMessage)
    text_part, html_part = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text_part is not None and html_part is not None
    return Parsed(parsed, text_part.get_content(), html_part.get_content())


@pytest.mark.parametrize("kind", BUILDERS)
def test_every_message_is_plain_text_and_html_with_the_headers_a_filter_needs(kind: str) -> None:
    result = parse(BUILDERS[kind](MAIL))
    message = result.message
    assert message.get_content_type() == "multipart/alternative"
    parts = [(p.get_content_type(), p.get_content_charset()) for p in message.iter_parts()]
    assert parts == [("text/plain", "utf-8"), ("text/html", "utf-8")]
    assert message["From"] == "zufiwatch@jena.de"
    assert [str(a) for a in message["To"].addresses] == ["ag-ozg@jena.de", "it-betrieb@jena.de"]
    assert message["Date"] == "Mon, 02 Mar 2026 06:30:00 +0000"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Zufiwatch-Kind"] == kind
    assert message["Content-Language"] == "de"
    assert re.fullmatch(rf"<zufiwatch\.{kind}\.[0-9a-f]{{24}}@zufiwatch\.local>",
                        message["Message-ID"])
    assert result.subject.startswith("[zufiwatch] ")


@pytest.mark.parametrize("kind", BUILDERS)
def test_the_html_part_loads_nothing_and_links_only_http(kind: str) -> None:
    page = parse(BUILDERS[kind](MAIL)).html.lower()
    for forbidden in ("<img", "src=", "<link", "@import", "url(", "<script", "<style",
                      "<iframe", "<object"):
        assert forbidden not in page
    assert all(href.startswith(("https://", "http://"))
               for href in re.findall(r'href="([^"]*)"', page))


@pytest.mark.parametrize("kind", BUILDERS)
def test_plain_text_fits_a_terminal_except_urls_and_commands(kind: str) -> None:
    text = parse(BUILDERS[kind](MAIL_EN)).text + parse(BUILDERS[kind](MAIL)).text
    long = [line for line in text.splitlines() if len(line) > messages.TEXT_WIDTH
            and "://" not in line and "zufiwatch ack" not in line]
    assert long == []


def test_an_immediate_alert_shows_each_change_with_everything_needed_to_judge_it() -> None:
    result = parse(immediate_alert([FEE, LINK], MAIL, now=NOW, source="pvog-jena"))
    for part in (result.text, html.unescape(result.html)):
        for expected in ("Geburtsurkunde beantragen", "Leistung", "LeiKa", "99027002012000",
                         "Zuständige Stelle", "Standesamt Jena", "Online-Dienst › Link",
                         "geändert", OLD_LINK, NEW_LINK, "Gebühren", "50,00 EUR", "55,00 EUR",
                         "hoch", "mittel", "Online-Dienst-Link", "nein (ungeklärt)", DEEPLINK,
                         "02.03.2026 06:12",  # 05:12 UTC is 06:12 in Jena in March
                         'zufiwatch ack 12 --by NAME --note "…"',
                         'zufiwatch ack 13 --by NAME --note "…"'):
            assert expected in part, expected
    # Same host: nothing to mark.
    assert "Host:" not in result.text
    # The deep link is printed, and a link only because it is https.
    assert f'<a href="{html.escape(DEEPLINK)}"' in result.html
    # Each value on its own line in the plain part.
    assert re.search(r"^  Alt: +50,00 EUR$", result.text, re.MULTILINE)
    assert re.search(r"^  Neu: +55,00 EUR$", result.text, re.MULTILINE)


def test_with_a_public_web_address_each_change_links_to_its_page() -> None:
    mail = dataclasses.replace(MAIL, web_base="https://zufiwatch.jena.de/")
    link = notice(change_id=16, key="link:https://thavelp.thueringen.de/thavelp/go/a/5741?c=bc",
                  kind="link", title=NEW_LINK, deeplink="")
    result = parse(immediate_alert([LINK, link], mail, now=NOW, source="pvog-jena"))
    page = "https://zufiwatch.jena.de/eintrag/leistung:S1600001.LB.354790"
    link_page = ("https://zufiwatch.jena.de/link?url=https%3A%2F%2Fthavelp.thueringen.de"
                 "%2Fthavelp%2Fgo%2Fa%2F5741%3Fc%3Dbc")
    assert re.search(rf"^  Im Browser: +{re.escape(page)}$", result.text, re.MULTILINE)
    assert link_page in result.text
    assert f'<a href="{html.escape(page)}"' in result.html
    # Without the address, no such line.
    assert "Im Browser" not in parse(immediate_alert([LINK], MAIL, now=NOW,
                                                     source="pvog-jena")).text


def test_high_before_medium_and_critical_first() -> None:
    text = parse(immediate_alert([FEE, LINK, CRITICAL], MAIL, now=NOW, source="pvog-jena")).text
    order = [text.index(f"zufiwatch ack {i} ") for i in (16, 12, 13)]
    assert order == sorted(order)


def test_a_link_to_another_host_shows_both_urls_and_marks_the_host() -> None:
    result = parse(immediate_alert([CRITICAL], MAIL, now=NOW, source="pvog-jena"))
    assert OLD_LINK in result.text and "https://formulare.example.org/jena/geburt" in result.text
    assert re.search(r"^  Host: +thavelp\.thueringen\.de → formulare\.example\.org$",
                     result.text, re.MULTILINE)
    assert "https://<b" in result.html and ">formulare.example.org</b>/jena/geburt" in result.html
    assert ">thavelp.thueringen.de</b>/thavelp/go/a/1273?c=bc" in result.html
    assert "KRITISCH" in result.text and "Host nicht freigegeben" in result.text


def test_a_long_text_shows_what_differs_in_context() -> None:
    result = parse(immediate_alert([TEXT], MAIL, now=NOW, source="pvog-jena"))
    flat = " ".join(result.text.split())
    assert f"Neu: … benötigen einen gültigen Personalausweis oder Reisepass. {NEW_SENTENCE}" in flat
    assert "Alt: … benötigen einen gültigen Personalausweis oder Reisepass. Die Urkunde" in flat
    assert NEW_SENTENCE in result.html
    assert "Die Geburtsurkunde stellt" not in flat  # cut to the difference


def test_english_on_request_with_the_users_german_terms() -> None:
    result = parse(immediate_alert([FEE, LINK], MAIL_EN, now=NOW, source="pvog-jena"))
    assert result.message["Content-Language"] == "en"
    assert result.subject == "[zufiwatch] 2 untracked changes (1 high, 1 medium) – pvog-jena"
    for expected in ("Old:", "New:", "changed", "high", "medium", "no (untracked)",
                     "Acknowledge with:", "Detected:", "2026-03-02 06:12", "Leistung:",
                     "Zuständige Stelle:", "LeiKa:", "50,00 EUR", "55,00 EUR"):
        assert expected in result.text, expected
    for german in ("Alt:", "geändert", "ungeklärt", "Quittieren"):
        assert german not in result.text


@pytest.mark.parametrize(("changes", "mail", "subject"), [
    ([CRITICAL, LINK, notice(change_id=18)], MAIL,
     "[zufiwatch] 3 ungeklärte Änderungen (1 kritisch, 2 hoch) – pvog-jena"),
    ([LINK], MAIL, "[zufiwatch] 1 ungeklärte Änderung (1 hoch) – pvog-jena"),
    ([LINK], MAIL_EN, "[zufiwatch] 1 untracked change (1 high) – pvog-jena"),
    ([CRITICAL, LINK, FEE], MAIL_EN,
     "[zufiwatch] 3 untracked changes (1 critical, 1 high, 1 medium) – pvog-jena"),
])
def test_immediate_subjects_count_by_severity(changes: list[ChangeNotice], mail: Mail,
                                              subject: str) -> None:
    message = immediate_alert(changes, mail, now=NOW, source="pvog-jena")
    assert parse(message).subject == subject
    # Folded within 78 characters a line, without doubling a space.
    head = bytes(message).split(b"\n\n", 1)[0]
    assert all(len(line) <= 78 for line in head.splitlines())


def test_other_subjects() -> None:
    def subject(kind: str, mail: Mail = MAIL) -> str:
        return parse(BUILDERS[kind](mail)).subject

    assert subject("digest") == ("[zufiwatch] Zusammenfassung: 5 Änderungen "
                                 "vom 01.03. bis 02.03.2026")
    assert subject("digest", MAIL_EN) == ("[zufiwatch] Digest: 5 changes "
                                          "from 2026-03-01 to 2026-03-02")
    assert subject("reminder") == ("[zufiwatch] Erinnerung: 2 Änderungen weiterhin ungeklärt, "
                                   "1 Erwartung überfällig")
    assert subject("reminder", MAIL_EN) == ("[zufiwatch] Reminder: 2 changes still untracked, "
                                            "1 expectation overdue")
    assert subject("operator") == "[zufiwatch] Betrieb: Crawl von pvog-jena fehlgeschlagen"
    assert subject("operator", MAIL_EN) == "[zufiwatch] Operations: Crawl of pvog-jena failed"
    assert subject("test") == "[zufiwatch] Testnachricht"
    assert subject("test", MAIL_EN) == "[zufiwatch] Test message"
    one = digest([FEE], MAIL, now=NOW, period_start="2026-03-01", period_end="2026-03-01")
    assert parse(one).subject == "[zufiwatch] Zusammenfassung: 1 Änderung am 01.03.2026"
    later = reminder([FEE], [OVERDUE, dataclasses.replace(OVERDUE, expectation_id=4)], MAIL,
                     now=NOW)
    assert parse(later).subject == ("[zufiwatch] Erinnerung: 1 Änderung weiterhin ungeklärt, "
                                    "2 Erwartungen überfällig")
    only_overdue = reminder([], [OVERDUE], MAIL_EN, now=NOW)
    assert parse(only_overdue).subject == "[zufiwatch] Reminder: 1 expectation overdue"


def test_message_id_depends_on_the_content_only() -> None:
    first = immediate_alert([LINK, FEE], MAIL, now=NOW, source="pvog-jena")
    rebuilt = immediate_alert([FEE, LINK], MAIL, now=datetime(2026, 3, 2, 7, tzinfo=UTC),
                              source="pvog-jena")
    other = immediate_alert([LINK], MAIL, now=NOW, source="pvog-jena")
    assert first["Message-ID"] == rebuilt["Message-ID"]
    assert first["Message-ID"] != other["Message-ID"]
    elsewhere = immediate_alert([LINK], dataclasses.replace(MAIL, domain="zufiwatch.jena.de"),
                                now=NOW, source="pvog-jena")
    assert elsewhere["Message-ID"].endswith("@zufiwatch.jena.de>")
    # A reminder of the same changes a week later is a new message.
    week_later = reminder([FEE], [], MAIL, now=datetime(2026, 3, 9, 6, 30, tzinfo=UTC))
    assert reminder([FEE], [], MAIL, now=NOW)["Message-ID"] != week_later["Message-ID"]
    assert (messages.operator_alert([FAILED], MAIL, now=NOW)["Message-ID"]
            == messages.operator_alert([FAILED], MAIL_EN, now=NOW)["Message-ID"])


def test_crawled_markup_is_escaped_in_html_and_plain_in_text() -> None:
    hostile = notice(title="<script>alert(1)</script>", old="<b>x</b>",
                     new='"><img src=x onerror=alert(1)>', label="Gebühren",
                     office="Standesamt <i>Jena</i>", reasons=("<u>Grund</u>",),
                     deeplink='javascript:alert("ZuFi")')
    result = parse(immediate_alert([hostile], MAIL, now=NOW, source="pvog-jena"))
    assert "<script>" not in result.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in result.html
    assert "&lt;b&gt;x&lt;/b&gt;" in result.html and "<b>x</b>" not in result.html
    assert "<img" not in result.html and "<i>" not in result.html and "<u>" not in result.html
    # A deep link that is not http(s) is shown, not linked.
    assert "javascript:" not in re.findall(r'href="([^"]*)"', result.html)
    assert "javascript:alert(&#34;ZuFi&#34;)" in result.html
    for raw in ("<script>alert(1)</script>", "<b>x</b>", '"><img src=x onerror=alert(1)>',
                "Standesamt <i>Jena</i>", 'javascript:alert("ZuFi")'):
        assert raw in result.text


def test_a_back_and_forth_shows_its_values_once() -> None:
    flapping = notice(flap_sequence=({"url": OLD_LINK}, {"url": NEW_LINK}, {"url": OLD_LINK}))
    result = parse(immediate_alert([flapping], MAIL, now=NOW, source="pvog-jena"))
    flat = " ".join(result.text.split())
    assert f"hin und her: {OLD_LINK} → {NEW_LINK} → {OLD_LINK}" in flat
    assert flat.count(NEW_LINK) == 1
    assert f"hin und her: {OLD_LINK} → {NEW_LINK} → {OLD_LINK}" in html.unescape(result.html)


def test_an_expected_change_names_who_expected_it_and_needs_no_ack() -> None:
    expected = notice(status="expected", expected_by="A. Keller",
                      expected_note="Neue Antragsstrecke")
    result = parse(immediate_alert([expected], MAIL, now=NOW, source="pvog-jena"))
    assert "ja, eingetragen von A. Keller: Neue Antragsstrecke" in result.text
    assert "zufiwatch ack" not in result.text


def test_the_digest_groups_by_office_and_kind_and_collapses_identical_changes() -> None:
    result = parse(BUILDERS["digest"](MAIL))
    text = result.text
    # Offices in order, each once, with its kinds under it.
    assert text.index("# Bürgerbüro Jena") < text.index("# Standesamt Jena")
    assert text.count("# Standesamt Jena") == 1
    assert text.index("Organisationseinheiten") < text.index("# Standesamt Jena")
    standesamt = text[text.index("# Standesamt Jena"):]
    assert standesamt.index("Leistungen") < standesamt.index("Online-Dienst › Link")
    # The fee change of two Leistungen is one block with one ack command for both.
    assert text.count("50,00 EUR") == 1 and text.count("55,00 EUR") == 1
    assert "Betroffen:            2 Leistungen" in text
    block = text[text.index("MITTEL – Gebühren"):]
    block = block[:block.index("zufiwatch ack")]
    for expected in ("Geburtsurkunde beantragen", "99027002012000", "Sterbeurkunde beantragen",
                     "99027004012000", "leistung:S1600001.LB.354795"):
        assert expected in block
    assert 'zufiwatch ack 13 14 --by NAME --note "…"' in text
    assert "zufiwatch ack 13 --by" not in text
    page = html.unescape(result.html)
    assert page.count("50,00 EUR") == 1
    assert 'zufiwatch ack 13 14 --by NAME --note "…"' in page
    assert "<h2" in result.html and "Sterbeurkunde beantragen" in page


def test_the_digest_keeps_different_changes_apart() -> None:
    other_fee = dataclasses.replace(FEE_STERBE, new="60,00 EUR")
    text = parse(digest([FEE, other_fee], MAIL, now=NOW, period_start="2026-03-01",
                        period_end="2026-03-02")).text
    assert 'zufiwatch ack 13 --by NAME --note "…"' in text
    assert 'zufiwatch ack 14 --by NAME --note "…"' in text


def test_the_reminder_lists_old_changes_with_their_age_and_overdue_expectations() -> None:
    result = parse(reminder([FEE, TEXT], [OVERDUE], MAIL, now=NOW))
    text = result.text
    assert text.index("zufiwatch ack 15 ") < text.index("zufiwatch ack 13 ")  # oldest first
    assert re.search(r"^  Ungeklärt seit: +9 Tagen$", text, re.MULTILINE)
    assert re.search(r"^  Ungeklärt seit: +1 Tag$", text, re.MULTILINE)
    overdue = text[text.index("Überfällige Erwartungen"):]
    for expected in ("Geburtsurkunde beantragen", "Gebühren", "55,00 EUR", "28.02.2026",
                     "A. Keller", "Gebührensatzung ab 1. März"):
        assert expected in overdue
        assert expected in html.unescape(result.html)
    english = parse(reminder([FEE], [OVERDUE], MAIL_EN, now=NOW)).text
    assert "Untracked for:" in english and "1 day" in english
    assert "Overdue expectations" in english and "2026-02-28" in english


def test_operator_alert_says_what_broke_and_what_to_do() -> None:
    stale = CrawlProblem(kind="stale", source="pvog-jena", at="2026-03-02T05:00:00+00:00",
                         detail="36 Stunden ohne vollständigen Crawl",
                         extra={"last_complete": "2026-02-28T05:00:00+00:00"})
    suspicious = CrawlProblem(kind="suspicious", source="pvog-jena",
                              at="2026-03-02T05:00:00+00:00", detail="42 % weniger Leistungen")
    undeliverable = CrawlProblem(kind="undeliverable", source="smtp", at=NOW.isoformat(),
                                 detail="550 5.1.1 mailbox unavailable")
    result = parse(messages.operator_alert([FAILED, stale, suspicious, undeliverable], MAIL,
                                           now=NOW))
    assert result.subject == ("[zufiwatch] Betrieb: Crawl von pvog-jena fehlgeschlagen "
                              "(und 3 weitere Probleme)")
    for part in (result.text, html.unescape(result.html)):
        for expected in ("Crawl fehlgeschlagen", "listing: HTML page with status 200",
                         "zufiwatch crawls --source pvog-jena", "Grund ansehen mit",
                         "Kein vollständiger Crawl seit 28.02.2026 06:00",
                         "Crawl verdächtig gestoppt", "E-Mail nicht zustellbar",
                         "550 5.1.1 mailbox unavailable", "crawl_id", "41",
                         "02.03.2026 06:00"):
            assert expected in part, expected
    english = parse(messages.operator_alert([stale], MAIL_EN, now=NOW))
    assert english.subject == ("[zufiwatch] Operations: No complete crawl of pvog-jena "
                               "since 2026-02-28 06:00")
    assert "Check that the service runs" in english.text
    never = dataclasses.replace(stale, extra={})
    assert (parse(messages.operator_alert([never], MAIL, now=NOW)).subject
            == "[zufiwatch] Betrieb: Kein vollständiger Crawl von pvog-jena")


def test_the_test_message_names_sender_recipients_and_language() -> None:
    result = parse(messages.test_message(MAIL_EN, now=NOW))
    for expected in ("Test message from zufiwatch", "zufiwatch@jena.de", "ag-ozg@jena.de",
                     "it-betrieb@jena.de", "English (en)", "2026-03-02 07:30"):
        assert expected in result.text


def test_ack_command() -> None:
    assert ack_command([13, 12, 13]) == 'zufiwatch ack 12 13 --by NAME --note "…"'
    with pytest.raises(ValueError):
        ack_command([])


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        Mail(sender="zufiwatch@jena.de", recipients=("ag-ozg@jena.de",), language="fr")
    with pytest.raises(ValueError, match="recipients"):
        Mail(sender="zufiwatch@jena.de", recipients=())
    with pytest.raises(ValueError, match="aware"):
        immediate_alert([LINK], MAIL, now=datetime(2026, 3, 2, 6, 30), source="pvog-jena")
    with pytest.raises(ValueError):
        immediate_alert([], MAIL, now=NOW, source="pvog-jena")


@pytest.mark.parametrize(("mail", "words"), [
    (MAIL, ["Online-Dienst › Link (neu)", "Online-Dienst › Link (entfernt)",
            "HOCH – Leistung wieder vorhanden\n"]),
    (MAIL_EN, ["Online-Dienst › Link (added)", "Online-Dienst › Link (removed)",
               "HIGH – Leistung wieder vorhanden (reappeared)"]),
])
def test_change_types_in_words(mail: Mail, words: list[str]) -> None:
    changes = [notice(change_id=20, change_type="added", old=None),
               notice(change_id=21, change_type="removed", new=None),
               notice(change_id=22, change_type="reappeared", label="Leistung wieder vorhanden",
                      old=None, new="Geburtsurkunde beantragen")]
    text = parse(immediate_alert(changes, mail, now=NOW, source="pvog-jena")).text
    for expected in words:
        assert expected in text
    # An added link shows its host, since there was none before.
    assert "— → thavelp.thueringen.de" in text


def test_an_added_onlinedienst_shows_its_links_with_the_thavel_identity() -> None:
    content = {"name": "Geburtsurkunde online", "leistungen": [{"id": "S1600001.LB.354790"}],
               "links": [link(NEW_LINK, "Antrag")]}
    (added,) = diff_records("onlinedienst", None, content)
    new = notice(change_id=18, key="onlinedienst:S1600001.OD.9", kind="onlinedienst",
                 title="Geburtsurkunde online", leika=(), change_type="added",
                 label=added.label, old=None, new=added.new, severity="high", reasons=())
    result = parse(immediate_alert([new], MAIL, now=NOW, source="pvog-jena"))
    for part in (result.text, html.unescape(result.html)):
        flat = " ".join(part.split())
        assert "Onlinedienst neu" in flat
        assert f"Geburtsurkunde online — Links: {NEW_LINK} (ThAVEL go/a/5741)" in flat
