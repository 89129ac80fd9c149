"""ZuFi charges (``charges[]`` of a Leistung) in German form, pure.

``{type: FIX | VARIABLE, restrictedArea, name, note, prepayment, currency, paymentNumber,
chargeSpecificationUrl, validFrom, validTo, amount (FIX), lowerLimit, upperLimit
(VARIABLE)}`` (seen) becomes ``{"bezeichnung", "art": "fest" | "variabel", "betrag":
"12,00 EUR" | "20,00–80,00 EUR" | "ab 20,00 EUR" | "bis 80,00 EUR", "hinweis",
"gueltig_von", "gueltig_bis", "vorkasse", "gebiet"}``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ...model import canonical_json
from .._payload import text as _text
from ._common import area, plain, type_key

__all__ = ["format_charge", "parse_charges"]

DEFAULT_CURRENCY = "EUR"
#: ``charges[].type`` keys (seen) and how the record names them.
CHARGE_KINDS = {"FIX": "fest", "VARIABLE": "variabel"}
EN_DASH = "\u2013"


def parse_charges(charges: list[Any]) -> list[dict[str, Any]]:
    """The fees, sorted; a name repeated in the same area gets "#2", "#3" (in content
    order, so the order the API lists them in never matters)."""
    values = sorted((_charge(c) for c in charges if isinstance(c, dict)), key=canonical_json)
    values.sort(key=lambda c: (c["bezeichnung"], c["gebiet"]))
    seen: dict[tuple[str, str], int] = {}
    for value in values:
        key = (value["bezeichnung"], value["gebiet"])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            value["bezeichnung"] = f"{value['bezeichnung']}#{seen[key]}"
    return values


def _charge(charge: dict[str, Any]) -> dict[str, Any]:
    key = type_key(charge.get("type")).upper()
    amount, lower, upper = (charge.get(f) for f in ("amount", "lowerLimit", "upperLimit"))
    if key in CHARGE_KINDS:
        art = CHARGE_KINDS[key]
    else:  # unknown or missing type: what the amounts say
        art = "variabel" if amount is None and (lower is not None or upper is not None) \
            else "fest"
    currency = _text(charge.get("currency")) or DEFAULT_CURRENCY
    _area_id, area_name = area(charge.get("restrictedArea"))
    return {
        "bezeichnung": _text(charge.get("name")),
        "art": art,
        "betrag": format_charge(amount, lower, upper, currency),
        "hinweis": plain(charge.get("note")),
        "gueltig_von": _text(charge.get("validFrom")),
        "gueltig_bis": _text(charge.get("validTo")),
        "vorkasse": charge.get("prepayment") is True,
        "gebiet": area_name,
    }


def format_charge(amount: Any, lower: Any = None, upper: Any = None,
                  currency: str = DEFAULT_CURRENCY) -> str:
    """A fee in German form: "12,00 EUR", "20,00–80,00 EUR", "ab 20,00 EUR",
    "bis 80,00 EUR" ("" when it names no amount). An amount that is no number is kept as
    text, without the currency."""
    fixed, low, high = _money(amount), _money(lower), _money(upper)
    if fixed:
        text = fixed
    elif low and high:
        text = low if low == high else f"{low}{EN_DASH}{high}"
    elif low:
        text = f"ab {low}"
    elif high:
        text = f"bis {high}"
    else:
        return ""
    numeric = all(_NUMBER.match(part) for part in (fixed, low, high) if part)
    return f"{text} {currency}" if numeric else text


_GERMAN_NUMBER = re.compile(r"^-?\d{1,3}(\.\d{3})*(,\d+)?$|^-?\d+(,\d+)?$")
_PLAIN_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_NUMBER = re.compile(r"^-?\d{1,3}(\.\d{3})*,\d\d$")  # what _money makes of a number


def _money(value: Any) -> str:
    """An amount as "1.234,50" ("" for none); text that is not a number stays as it is."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        number = Decimal(str(value))
    elif isinstance(value, str):
        text = value.strip()
        try:
            if _PLAIN_NUMBER.match(text):
                number = Decimal(text)
            elif _GERMAN_NUMBER.match(text):
                number = Decimal(text.replace(".", "").replace(",", "."))
            else:
                return _text(text)
        except InvalidOperation:
            return _text(text)
    else:
        return ""
    if not number.is_finite():
        return ""
    try:
        rounded = f"{number.quantize(Decimal('0.01')):,.2f}"
    except InvalidOperation:  # too many digits for the context: not an amount
        return _text(value)
    return rounded.replace(",", "_").replace(".", ",").replace("_", ".")
