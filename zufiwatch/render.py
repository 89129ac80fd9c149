"""Pure formatting of history rows for people (tables) and programs (JSON, CSV)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from . import weburl
from .labels import CODE_LABELS, FIELD_LABELS, ROLE_LABELS, SUB_LABELS
from .normalize import thavel_instance

__all__ = ["change_pair", "change_row", "content_rows", "link_rows", "link_text",
           "short_value", "text_delta"]


def short_value(value: Any, width: int = 0) -> str:
    """A JSON value as one readable line: a link shows its URL, an office its name."""
    if value is None:
        return "—"
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "ja" if value else "nein"
    elif isinstance(value, dict):
        text = _dict_text(value)
    elif isinstance(value, list):
        text = "; ".join(short_value(v) for v in value) or "—"
    else:
        text = str(value)
    text = " ".join(text.split())
    if width and len(text) > width:
        text = text[: width - 1] + "…"
    return text


def text_delta(old: str, new: str, context: int = 6) -> tuple[str, str]:
    """The part of two texts that differs, with a few words of context on each side.

    ``("… Bearbeitung. Die Stadt …", "… Bearbeitung. Neu: Termine online. Die Stadt …")``
    """
    a, b = old.split(), new.split()
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    blocks = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    if not blocks:
        return old, new
    a_start, a_end = blocks[0][1], blocks[-1][2]
    b_start, b_end = blocks[0][3], blocks[-1][4]
    lead = max(0, a_start - context)
    a_tail, b_tail = min(len(a), a_end + context), min(len(b), b_end + context)
    b_lead = max(0, b_start - (a_start - lead))

    def snippet(words: list[str], start: int, end: int) -> str:
        text = " ".join(words[start:end])
        return ("… " if start > 0 else "") + text + (" …" if end < len(words) else "")

    return snippet(a, lead, a_tail), snippet(b, b_lead, b_tail)


def change_pair(old: Any, new: Any, width: int = 0) -> tuple[str, str]:
    """Old and new value as people compare them: long texts cut to what differs."""
    if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > 60:
        old, new = text_delta(old, new, context=3 if 0 < width <= 60 else 6)
    return short_value(old, width), short_value(new, width)


def _dict_text(value: dict[str, Any]) -> str:
    if "url" in value:
        return str(value["url"])
    if "wert" in value:
        return f"{value.get('kanal', '')}: {value['wert']}".strip(": ")
    if "strasse" in value:
        return (f"{value.get('strasse', '')} {value.get('hausnummer', '')}, "
                f"{value.get('plz', '')} {value.get('ort', '')}").strip(" ,")
    if "rolle" in value and "name" in value:
        return f"{value['name']} ({value.get('id', '')})"
    if "text" in value:
        title = value.get("titel", "")
        return f"{title}: {value['text']}" if title else str(value["text"])
    if "name" in value:
        return _summary_text(value)
    if "betrag" in value:
        return _fee_text(value)
    if "datum" in value and "stelle" in value:  # the fachliche Freigabe
        return ", ".join(p for p in (date_text(value["datum"]), str(value["stelle"] or ""))
                         if p)
    if "von" in value or "bis" in value:  # a validity
        return _period_text(value)
    return _fields_text(value)


_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def date_text(value: Any) -> str:
    """An ISO date as the working group writes it (``2026-03-12`` → ``12.03.2026``); any
    other value as text."""
    text = "" if value is None else str(value)
    match = _ISO_DATE.match(text)
    return f"{match.group(3)}.{match.group(2)}.{match.group(1)}" if match else text


def _period_text(value: dict[str, Any]) -> str:
    """``gültig 01.01.2024 – 31.12.2026`` (with the extra periods, if any)."""
    start = date_text(value.get("von") or value.get("gueltig_von"))
    end = date_text(value.get("bis") or value.get("gueltig_bis"))
    text = f"gültig {start or '…'} – {end or '…'}" if start or end else ""
    periods = [p for p in value.get("zeitraeume") or value.get("gueltigkeitszeitraeume") or []
               if p]
    if periods:
        text += ("; " if text else "") + "Zeiträume: " + "; ".join(short_value(p)
                                                                   for p in periods)
    rest = {k: v for k, v in value.items()
            if k not in ("von", "bis", "gueltig_von", "gueltig_bis", "zeitraeume",
                         "gueltigkeitszeitraeume")}
    if rest:
        text += ("; " if text else "") + _fields_text(rest)
    return text or "—"


def _fee_text(value: dict[str, Any]) -> str:
    """``Gebühr: 10,00 EUR (fest; Jena; gültig ab 01.01.2024; Vorkasse)``."""
    head = f"{value.get('bezeichnung') or 'Gebühr'}: {value.get('betrag') or '—'}"
    facts = [str(value[k]) for k in ("art", "gebiet") if value.get(k)]
    if value.get("gueltig_von") or value.get("gueltig_bis"):
        start, end = date_text(value.get("gueltig_von")), date_text(value.get("gueltig_bis"))
        facts.append(f"gültig ab {start}" + (f" bis {end}" if end else "") if start
                     else f"gültig bis {end}")
    if value.get("vorkasse"):
        facts.append("Vorkasse")
    if value.get("hinweis"):
        facts.append(str(value["hinweis"]))
    return head + (f" ({'; '.join(facts)})" if facts else "")


def _fields_text(value: dict[str, Any]) -> str:
    """Any other structure as ``Label: value; Label: value`` (never JSON); empty facts are
    left out."""
    parts = []
    for key, item in value.items():
        if item in (None, "", [], {}):
            continue
        label = SUB_LABELS.get(key, key) or key
        text = date_text(item) if isinstance(item, str) else short_value(item)
        parts.append(f"{label}: {text}")
    return "; ".join(parts) or "—"


def link_text(link: dict[str, Any]) -> str:
    """A link with its ThAVEL instance: ``https://thavelp…/go/a/5741 (ThAVEL go/a/5741)``."""
    instance = thavel_instance(link.get("thavel")) if isinstance(link.get("thavel"), dict) \
        else ""
    return f"{link.get('url', '')} (ThAVEL {instance})" if instance else str(link.get("url", ""))


def _summary_text(value: dict[str, Any]) -> str:
    """What an added record's change shows (see ``differ.added_value``), on one line."""
    parts = [str(value.get("name") or "")]
    if value.get("zustaendige_stelle"):
        parts.append(f"zuständig: {value['zustaendige_stelle']}")
    links = [item for item in value.get("onlinedienste", value.get("links")) or []
             if isinstance(item, dict)]
    if links:
        parts.append("Links: " + "; ".join(link_text(item) for item in links))
    elif "onlinedienste" in value or "links" in value:
        parts.append("kein Link")
    addresses = [a for a in value.get("anschriften") or [] if isinstance(a, dict)]
    if addresses:
        parts.append("; ".join(_dict_text(a) for a in addresses))
    contacts = [c for c in value.get("kommunikation") or [] if isinstance(c, dict)]
    if contacts:
        parts.append("; ".join(_dict_text(c) for c in contacts))
    return " — ".join(part for part in parts if part)


def change_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored change with its old and new values decoded from JSON."""
    result = dict(row)
    if isinstance(result.get("reasons"), str):
        result["reasons"] = json.loads(result["reasons"])
    for column in ("old_value", "new_value"):
        raw = result.get(column)
        result[column] = None if raw is None else json.loads(raw)
    return result


def content_rows(kind: str, content: dict[str, Any], *,
                 full: bool = False) -> list[tuple[str, str]]:
    """A record's content as (label, value) lines, for ``show`` and the exports: every
    value readable text (structures as words, never JSON). A list gives one line per item.
    ``full`` keeps the line breaks of multi-line texts (otherwise each value is one line)."""
    labels = FIELD_LABELS.get(kind, {})
    rows: list[tuple[str, str]] = []

    def text(value: Any) -> str:
        if full and isinstance(value, str):
            lines = [" ".join(line.split()) for line in value.splitlines()]
            return "\n".join(line for line in lines if line) or "—"
        return short_value(value)

    for name, value in content.items():
        label = labels.get(name, name)
        if name == "texte" and isinstance(value, dict):
            for code, module in value.items():
                title = CODE_LABELS.get(code.split("#")[0], module.get("titel") or code)
                rows.append((title, text(module.get("text")) if module.get("text") else ""))
                for detail in module.get("details", []):
                    rows.append((f"{title} › {detail.get('titel', '')}",
                                 text(detail.get("text"))))
                for link in module.get("links", []):
                    rows.append((f"{title} › Link", short_value(link)))
        elif name == "zustaendigkeiten" and isinstance(value, list):
            for office in value:
                role = ROLE_LABELS.get(office.get("rolle", ""), office.get("rollenname", ""))
                rows.append((role or label, short_value(office)))
        elif isinstance(value, list):
            rows.extend((label, text(item)) for item in value)
            if not value:
                rows.append((label, "—"))
        else:
            rows.append((label, text(value)))
    return rows


def host_of(url: str) -> str:
    """The host a browser opens for a link ("" for anything else): ``127.0.0.1`` for
    ``http://127.0.0.1:1\\@thavel.thueringen.de/``, not thavel.thueringen.de."""
    return weburl.host_of(url)


def link_rows(states: list[dict[str, Any]],
              source_labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every online-service link in a directory state, one row per URL (in the canonical
    form the sources store), with the Leistungen that use it and their zuständige Stellen.

    The same link is held by a Leistung and its Onlinedienst, in the ZuFi and in the PVOG:
    one row names them all. ``leistung`` and ``zustaendige_stelle`` join the distinct
    names (across sources), ``sources`` the sources holding it (``source_labels`` turns a
    source name into what people call it, "ZuFi" or "PVOG"), ``records`` lists every record
    with the link. ``key`` is the first Leistung with it (or the Onlinedienst, when no
    Leistung carries it). Links of Onlinedienste inherited from Land or Bund (``geerbt``)
    count only where a Leistung of the city carries them.
    """
    labels = dict(source_labels or {})
    holders: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    order = {"leistung": 0, "onlinedienst": 1}
    for state in sorted(states, key=lambda s: (order.get(s["kind"], 2), s["source"], s["key"])):
        content = state["content"]
        if state["kind"] == "leistung":
            links = content.get("onlinedienste", [])
        elif state["kind"] == "onlinedienst" and not content.get("geerbt"):
            links = content.get("links", [])
        else:
            continue
        for link in links:
            if isinstance(link, dict) and link.get("url"):
                holders.setdefault(link["url"], []).append((state, link))
    rows = [_link_row(url, held, labels) for url, held in holders.items()]
    return sorted(rows, key=lambda r: (r["host"], r["url"], r["key"]))


def _link_row(url: str, held: list[tuple[dict[str, Any], dict[str, Any]]],
              labels: Mapping[str, str]) -> dict[str, Any]:
    records = []
    for state, _link in held:
        content = state["content"]
        office = next((o for o in content.get("zustaendigkeiten", [])
                       if o.get("rolle") == "01"), None) if state["kind"] == "leistung" else None
        records.append({
            "source": state["source"], "key": state["key"], "kind": state["kind"],
            "name": content.get("name", ""),
            "zustaendige_stelle": office["name"] if office else "",
            "zustaendige_stelle_id": office["id"] if office else "",
        })
    leistungen = [r for r in records if r["kind"] == "leistung"]
    link = next((link for _state, link in held if link.get("thavel")), held[0][1])
    thavel = link.get("thavel") or {}
    identity = {k: v for k, v in thavel.items() if k not in ("host", "instanz", "form")}

    def distinct(values: Iterable[str]) -> str:
        return "; ".join(dict.fromkeys(v for v in values if v))

    return {
        "key": (leistungen or records)[0]["key"],
        "leistung": distinct(r["name"] for r in leistungen),
        "zustaendige_stelle": distinct(r["zustaendige_stelle"] for r in leistungen),
        "zustaendige_stelle_id": distinct(r["zustaendige_stelle_id"] for r in leistungen),
        "url": url,
        "titel": next((str(lk["titel"]) for _s, lk in held if lk.get("titel")), ""),
        "host": host_of(url),
        "thavel_form": thavel.get("form", ""),
        "thavel_id": ", ".join(f"{k}={v}" for k, v in identity.items()),
        "sources": ", ".join(sorted({labels.get(r["source"], r["source"]) for r in records},
                                    key=lambda name: (name != "ZuFi", name))),
        "records": records,
    }
