"""What a link target's page says: title, named authority, meta refresh (pure)."""

from __future__ import annotations

from zufiwatch.config import DEFAULT_AUTHORITY_PATTERN, DEFAULT_AUTHORITY_SELECTORS
from zufiwatch.linkpage import page_facts, valid_selector

HTML = "text/html; charset=utf-8"


def facts(body: str | bytes, content_type: str = HTML, **kwargs):
    data = body.encode("utf-8") if isinstance(body, str) else body
    options = {"selectors": DEFAULT_AUTHORITY_SELECTORS, "pattern": DEFAULT_AUTHORITY_PATTERN}
    options.update(kwargs)
    return page_facts(data, content_type, **options)


def test_thavel_start_page_names_title_and_authority_from_meta() -> None:
    page = ('<html><head><title> ThAVEL –\n Antrag  go-a-1273 </title>'
            '<meta name="zustaendige-stelle" content="Stadtverwaltung Jena"></head>'
            '<body><div class="zustaendige-stelle">Zuständige Stelle: Falsch</div></body></html>')
    result = facts(page)
    assert result.title == "ThAVEL – Antrag go-a-1273"
    assert result.authority == "Stadtverwaltung Jena"


def test_element_text_is_reduced_by_the_pattern() -> None:
    page = ('<html><body><div class="zustaendige-stelle">Zuständige Stelle:  '
            '<b>Stadtverwaltung Gera</b></div></body></html>')
    assert facts(page).authority == "Stadtverwaltung Gera"


def test_pattern_over_the_text_is_the_fallback() -> None:
    page = "<html><body><p>Behörde: Landratsamt Saale-Holzland-Kreis</p></body></html>"
    assert facts(page).authority == "Landratsamt Saale-Holzland-Kreis"


def test_configured_selector_wins_and_unknown_pages_name_nobody() -> None:
    page = '<html><body><span id="amt">Stadt Weimar</span></body></html>'
    assert facts(page).authority == ""
    assert facts(page, selectors=("#amt",)).authority == "Stadt Weimar"


def test_charset_from_the_header_decodes_latin1() -> None:
    body = "<html><head><title>Gebühren</title></head></html>".encode("latin-1")
    assert facts(body, "text/html; charset=ISO-8859-1").title == "Gebühren"


def test_non_html_answers_say_nothing() -> None:
    assert facts(b"%PDF-1.7 ...", "application/pdf").title == ""
    assert facts(b'{"title": "x"}', "application/json").title == ""
    assert facts(b"", HTML).title == ""


def test_meta_refresh_target_is_found() -> None:
    page = ('<html><head><meta http-equiv="Refresh" content="0; URL=\'/portal/start\'">'
            "</head></html>")
    assert facts(page).refresh == "/portal/start"
    assert facts("<html><head><title>x</title></head></html>").refresh == ""


def test_hostile_page_cannot_make_long_values() -> None:
    page = f"<html><head><title>{'A' * 100_000}</title></head></html>"
    assert len(facts(page).title) == 300


def test_valid_selector() -> None:
    assert valid_selector(".zustaendige-stelle")
    assert valid_selector("meta[name='x']")
    assert not valid_selector("div[")
    assert not valid_selector("")
