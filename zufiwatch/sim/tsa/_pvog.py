"""Reading the simulated PVOG's Directory objects, in their older and their seen shapes.

The simulated TSA converts the same :class:`~zufiwatch.sim.dataset.Directory` the simulated
PVOG serves. Its objects follow the PVOG's answers, and those come in two shapes: the
older one (``openingHours``, communications by numeric ``code``, an ``organisations`` array
in the detail) and the seen one (opening hours as ``additionalInformation[type =
INFO_TIMES]``, communications by ``name``, modules with ``@type``, ``filled``,
``placeholder``, ``xZufiCategory``, offices only through the titles). These accessors read
both, so the converter depends on neither.
"""

from __future__ import annotations

import re
from typing import Any

from ..dataset import Directory, titles_for

__all__ = [
    "address_parts",
    "channel",
    "communications",
    "internet_addresses",
    "module_code",
    "module_text",
    "module_title",
    "modules",
    "office_addresses",
    "office_hours",
    "office_stamp",
    "office_title",
    "online_links",
    "responsible_offices",
    "sub_modules",
]

#: Channel names by the numeric codes the older simulated PVOG used.
CHANNELS_BY_CODE = {"01": "Telefon", "02": "Mobiltelefon", "03": "Fax", "04": "E-Mail"}
ROLE_RESPONSIBLE = "01"
_HOUSE_NUMBER = re.compile(r"^(?P<street>.*\S)\s+(?P<number>\d+\s?[a-zA-Z]?(?:[-/]\d+)?)$")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# offices


def office_title(office: dict) -> str:
    return _text(office.get("title")) or _text(office.get("name"))


def office_stamp(office: dict) -> str:
    return _text(office.get("lastUpdate"))


def office_hours(office: dict) -> str:
    """The opening hours (HTML): ``openingHours``, else ``additionalInformation`` of type
    ``INFO_TIMES``."""
    hours = _text(office.get("openingHours"))
    if hours:
        return hours
    for info in office.get("additionalInformation") or []:
        if isinstance(info, dict) and info.get("type") == "INFO_TIMES":
            return _text(info.get("text"))
    return ""


def office_addresses(office: dict) -> list[dict]:
    location = office.get("location") or {}
    return [a for a in location.get("addresses") or [] if isinstance(a, dict)]


def address_parts(address: dict) -> tuple[str, str]:
    """``(street, house number)``; a house number written into the street is split off."""
    street = _text(address.get("street")).strip()
    number = _text(address.get("houseNumber")).strip()
    if not number:
        match = _HOUSE_NUMBER.match(street)
        if match:
            street, number = match.group("street"), match.group("number")
    return street, number


def channel(entry: dict) -> str:
    """The channel of a communication: its ``name``, else what its code stands for, else
    what its value looks like."""
    name = _text(entry.get("name")).strip()
    if name:
        return name
    code = _text(entry.get("code")).strip()
    if code in CHANNELS_BY_CODE:
        return CHANNELS_BY_CODE[code]
    return "E-Mail" if "@" in _text(entry.get("value")) else "Telefon"


def communications(office: dict) -> list[tuple[str, str]]:
    """``(channel, value)`` of each communication of an office."""
    location = office.get("location") or {}
    return [(channel(entry), _text(entry.get("value")))
            for entry in location.get("communications") or [] if isinstance(entry, dict)]


def internet_addresses(office: dict) -> list[str]:
    return [entry["uri"] for entry in office.get("internetAddresses") or []
            if isinstance(entry, dict) and _text(entry.get("uri"))]


# Leistungen


def modules(detail: dict) -> list[dict]:
    return [m for m in detail.get("details") or [] if isinstance(m, dict)]


def sub_modules(module: dict) -> list[dict]:
    return [m for m in module.get("details") or [] if isinstance(m, dict)]


def module_code(module: dict) -> str:
    return _text(module.get("code"))


def module_title(module: dict) -> str:
    return _text(module.get("title"))


def module_text(module: dict) -> str:
    """The HTML text of a module; "" for a placeholder (its filler text says "nothing")."""
    if module.get("placeholder") is True or module.get("filled") is False:
        return ""
    return _text(module.get("text"))


def online_links(detail: dict) -> list[tuple[str, str, str]]:
    """``(uri, title, levelOfConfidence)`` of each online-service link of a Leistung."""
    return [(_text(link.get("uri")), _text(link.get("title")),
             _text(link.get("levelOfConfidence")))
            for link in detail.get("onlineServiceLinks") or []
            if isinstance(link, dict) and _text(link.get("uri"))]


def responsible_offices(directory: Directory, lbid: str, detail: dict) -> list[str]:
    """The PVOG ids of the offices that are the zuständige Stelle for a Leistung: from the
    directory's titles answer, else from the detail (:func:`titles_for`)."""
    titles = directory.titles.get(lbid)
    if titles is None:
        titles = titles_for(detail)
    found = []
    for entry in titles:
        role = entry.get("role")
        code = role.get("code") if isinstance(role, dict) else role
        if code == ROLE_RESPONSIBLE and _text(entry.get("id")):
            found.append(entry["id"])
    return found
