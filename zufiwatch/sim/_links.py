"""Online-service links and the /v1beta2 online services built from them.

Generated ThAVEL links are made from the real Erfurt/Gera/Weimar links in
``data/thueringen_onlinelinks.csv`` by replacing their numbers, so every shape
(statewide ``aid``, instance ``go/a``, ``zs/…/start``, ``a3start`` with a twice
percent-encoded ``startAPI``) matches the live data.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Iterable
from importlib import resources
from urllib.parse import quote, unquote, urlsplit

from ._common import BUND_ARS, BUND_REDAKTION, JENA_ARS, LAND_ARS, onlineservice_id

STATEWIDE = "statewide"
INSTANCE = "instance"
ZS_START = "zs"
A3START = "a3start"

_SHAPES = {
    STATEWIDE: re.compile(r"^https://thavel\.thueringen\.de/thavel/portal\?f=leistung&aid=(\d+)$"),
    INSTANCE: re.compile(r"^https://thavelp\.thueringen\.de/thavelp/go/a/(\d+)(?:\?c=bc)?$"),
    ZS_START: re.compile(
        r"^https://thavelp\.thueringen\.de/thavelp/portal/zs/(\d+)/start\?pe=(\d+)$"
    ),
    A3START: re.compile(
        r"^https://thavelp\.thueringen\.de/thavelp/portal/a3start/0/client/index\.html"
        r"\?verfahrenId=(\d+)&startAPI=([^#]+)#/intro$"
    ),
}

# Hosts whose online services are offered by the Bund or the Land and inherited by Jena.
BUND_HOSTS = frozenset(
    {
        "www.elster.de",
        "elster.de",
        "www.arbeitsagentur.de",
        "www.fuehrungszeugnis.bund.de",
        "wohnsitzanmeldung.gov.de",
        "www.bafoeg-digital.de",
        "www.elterngeld-digital.de",
        "www.bundesjustizamt.de",
        "bundesportal.gkv-spitzenverband.de",
        "www.deutsche-rentenversicherung.de",
        "id.bund.de",
        "www.rundfunkbeitrag.de",
    }
)
LAND_HOSTS = frozenset({"thavel.thueringen.de", "serviceportal.gemeinsamonline.de"})

FEDERAL_LINKS = (
    "https://www.elster.de/eportal/start",
    "https://wohnsitzanmeldung.gov.de/",
    "https://www.fuehrungszeugnis.bund.de/",
    "https://www.arbeitsagentur.de/link/ozg3-078",
    "https://serviceportal.gemeinsamonline.de/Onlinedienste/Service/Entry/WOGELAZUEA",
)

_KNOWN_NAMES = {
    "www.elster.de": "ELSTER - Ihr Online-Finanzamt",
    "wohnsitzanmeldung.gov.de": "Wohnsitzanmeldung online",
    "www.fuehrungszeugnis.bund.de": "Führungszeugnis online beantragen",
    "www.arbeitsagentur.de": "eServices der Bundesagentur für Arbeit",
    "www.bafoeg-digital.de": "BAföG Digital",
    "www.elterngeld-digital.de": "ElterngeldDigital",
    "www.bundesjustizamt.de": "Online-Antrag beim Bundesamt für Justiz",
    "bundesportal.gkv-spitzenverband.de": "Mutterschaftsgeld online",
    "www.deutsche-rentenversicherung.de": "Online-Services der Deutschen Rentenversicherung",
    "serviceportal.gemeinsamonline.de": "Serviceportal gemeinsamonline (EfA)",
}

# Federal online services offered to Jena's residents with no Jena Leistung behind them.
EXTRA_INHERITED = (
    ("BundID - Online-Ausweisfunktion", "https://id.bund.de/de", BUND_ARS),
    (
        "Rundfunkbeitrag anmelden",
        "https://www.rundfunkbeitrag.de/buergerinnen_und_buerger/",
        BUND_ARS,
    ),
    (
        "Kfz-Steuer online",
        "https://www.elster.de/eportal/formulare-leistungen/alleformulare/kfzsteuer",
        BUND_ARS,
    ),
    (
        "Thüringer Antragsservice Landeserziehungsgeld",
        "https://thavel.thueringen.de/thavel/portal?f=leistung&aid=990001",
        LAND_ARS,
    ),
)


def load_link_templates() -> dict[str, list[str]]:
    """The real ThAVEL links of the Erfurt/Gera/Weimar sample, grouped by shape."""
    raw = resources.files("zufiwatch.sim").joinpath("data/thueringen_onlinelinks.csv")
    text = raw.read_text(encoding="utf-8")
    templates: dict[str, list[str]] = {shape: [] for shape in _SHAPES}
    for row in csv.DictReader(io.StringIO(text, newline=""), delimiter=";"):
        uri = row["onlineDienst"]
        for shape, pattern in _SHAPES.items():
            if pattern.match(uri):
                templates[shape].append(uri)
    return templates


def numbers_in(uris: Iterable[str]) -> set[int]:
    """All ThAVEL numbers used by ``uris`` (so generated links can avoid them)."""
    found: set[int] = set()
    for uri in uris:
        for pattern in _SHAPES.values():
            match = pattern.match(uri)
            if match:
                found.update(int(group) for group in match.groups() if group.isdigit())
    return found


def _replace_groups(uri: str, match: re.Match[str], values: list[str]) -> str:
    """``uri`` with match groups 1..len(values) replaced (right to left keeps spans valid)."""
    for index in range(len(values), 0, -1):
        start, end = match.span(index)
        uri = uri[:start] + values[index - 1] + uri[end:]
    return uri


def _new_start_api(encoded: str, number: int) -> str:
    """Replace the process number inside a twice percent-encoded ``startAPI`` URL."""
    inner = unquote(unquote(encoded))
    inner = re.sub(r"/a3start/\d+/", f"/a3start/{number}/", inner)
    return quote(quote(inner, safe=""), safe="")


class LinkFactory:
    """Deterministic generator of online-service links in the real shapes."""

    def __init__(self, rng: random.Random, reserved: set[int]) -> None:
        self._rng = rng
        self._templates = load_link_templates()
        # Never reuse a number of the real Jena, Erfurt, Gera or Weimar links.
        self._used = set(reserved) | numbers_in(
            uri for uris in self._templates.values() for uri in uris
        )

    def _fresh(self, low: int, high: int) -> int:
        while True:
            number = self._rng.randint(low, high)
            if number not in self._used:
                self._used.add(number)
                return number

    def thavel(self, shape: str, zufi_number: int) -> str:
        """A ThAVEL link of ``shape`` for the Leistung with ZuFi id ``zufi_number``."""
        template = self._rng.choice(self._templates[shape])
        match = _SHAPES[shape].match(template)
        assert match is not None
        if shape == STATEWIDE:
            return _replace_groups(template, match, [str(zufi_number)])
        if shape == INSTANCE:
            uri = _replace_groups(template, match, [str(self._fresh(1000, 99999))])
            return uri if self._rng.random() < 0.7 else uri.split("?", 1)[0]
        if shape == ZS_START:
            values = [str(self._fresh(250000, 259999)), str(self._fresh(1000, 9999))]
            return _replace_groups(template, match, values)
        start_api = _new_start_api(match.group(2), self._fresh(230000, 239999))
        return _replace_groups(template, match, [str(self._fresh(1000, 9999)), start_api])

    def local(self, slug: str) -> str:
        """A link to one of Jena's own or regional non-ThAVEL services."""
        choice = self._rng.random()
        if choice < 0.75:
            return (
                f"https://ajproxy.jena.de/olav/olav.htm?_flowId={slug}-flow&_flowExecutionKey=e1s1"
            )
        if choice < 0.77:
            return "https://ikfz.ikfz-thueringen.de/i4/ikfz4/?LICENSEIDENTIFIER=jena_stadt"
        return (
            "https://portal-civ-efa.ekom21.de/civ-efa-sta.public/start.html"
            f"?oe=00.00.{slug[:3].upper()}.16053000&mode=cc&cc_key={slug}"
        )

    def random_link(self, zufi_number: int, slug: str) -> str:
        """One link for a generated Leistung, ThAVEL in most cases."""
        choice = self._rng.random()
        if choice < 0.75:
            shape = self._rng.choices(
                (STATEWIDE, INSTANCE, ZS_START, A3START), weights=(25, 45, 15, 15)
            )[0]
            return self.thavel(shape, zufi_number)
        if choice < 0.92:
            return self.local(slug)
        return self._rng.choice(FEDERAL_LINKS)


def inherited_ars(uri: str) -> str | None:
    """``BUND_ARS``/``LAND_ARS`` for services inherited from Bund or Land, else None."""
    host = urlsplit(uri).hostname or ""
    if host in BUND_HOSTS:
        return BUND_ARS
    if host in LAND_HOSTS:
        return LAND_ARS
    return None


def link_title(uri: str) -> str:
    host = urlsplit(uri).hostname or ""
    if host.startswith("thavel"):
        return "Online-Antrag (ThAVEL)"
    return _KNOWN_NAMES.get(host, "Zum Online-Antrag")


def _service_name(uri: str, leistung_name: str) -> str:
    host = urlsplit(uri).hostname or ""
    return _KNOWN_NAMES.get(host, f"{leistung_name} - Online-Antrag")


def build_onlineservices(leistungen: dict[str, dict]) -> list[dict]:
    """One online service per distinct link, plus inherited services without Leistung.

    Ids come from their own fixed random stream, so the services of the real Leistungen
    (which come first) keep their ids whatever the size and seed of the directory.
    """
    rng = random.Random("onlineservice-ids")
    by_uri: dict[str, dict] = {}
    number = 400000
    for lbid, detail in leistungen.items():
        for link in detail["onlineServiceLinks"]:
            uri = link["uri"]
            service = by_uri.get(uri)
            if service is None:
                number += rng.randint(1, 40)
                service = {
                    "id": onlineservice_id(number),
                    "name": _service_name(uri, detail["name"]),
                    "links": [{"uri": uri, "title": link["title"]}],
                    "serviceDescriptions": [],
                }
                by_uri[uri] = service
            ars = inherited_ars(uri) or JENA_ARS
            service["serviceDescriptions"].append({"id": lbid, "ars": [ars]})
    services = list(by_uri.values())
    for index, (name, uri, ars) in enumerate(EXTRA_INHERITED):
        number += rng.randint(1, 40)
        services.append(
            {
                "id": onlineservice_id(number),
                "name": name,
                "links": [{"uri": uri, "title": name}],
                "serviceDescriptions": [
                    {"id": f"{BUND_REDAKTION}.LB.{900001 + index}", "ars": [ars]}
                ],
            }
        )
    return services
