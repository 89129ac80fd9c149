"""What the simulated link targets do on each scenario day (the link checker's scenario).

The directory's own edits (:class:`~zufiwatch.sim.scenario.Scenario`) change what the
links say; these events change what the links lead to, with the links themselves
unchanged — what only a link checker can see:

- always: Gera's ThAVEL instance ``go/a/5741`` (which day 2 of the scenario puts into a
  Jena entry) names "Stadtverwaltung Gera";
- from day 3: one of Jena's ``go/a`` links is dead (404);
- from day 4: another ``go/a`` link redirects to a host outside the allow-list;
- from day 5: a ``zs`` start page names another authority;
- from day 6: an ``a3start`` link redirects from https to http.

The links are picked from the base directory, so every directory size has them where it
has links of that shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..normalize import canonical_url, thavel_identity, thavel_instance
from .dataset import Directory
from .scenario import GERA_THAVEL_LINK, JENA_THAVEL_LINK
from .web import SimulatedWeb

__all__ = ["OTHER_AUTHORITY", "OWN_AUTHORITY", "LinkEvent", "LinkTargets"]

OWN_AUTHORITY = "Stadtverwaltung Jena"
GERA_AUTHORITY = "Stadtverwaltung Gera"
OTHER_AUTHORITY = "Landratsamt Saale-Holzland-Kreis"
FOREIGN_HOST = "antraege.example.com"


@dataclass(frozen=True)
class LinkEvent:
    """From ``day`` on, ``url`` behaves as ``finding`` says."""

    day: int
    url: str
    #: "dead", "foreign-host", "other-authority" or "https-to-http".
    finding: str
    description: str


class LinkTargets:
    """The day-by-day behaviour of the link targets of one base directory."""

    def __init__(self, base: Directory) -> None:
        links = sorted({canonical_url(link["uri"]) for detail in base.leistungen.values()
                        for link in detail["onlineServiceLinks"]})
        by_form: dict[str, list[str]] = {}
        for url in links:
            identity = thavel_identity(url)
            if identity and url != canonical_url(JENA_THAVEL_LINK):
                by_form.setdefault(identity["form"], []).append(url)
        go, zs, a3 = by_form.get("go", []), by_form.get("zs", []), by_form.get("a3start", [])
        events = []
        if go:
            events.append(LinkEvent(3, go[0], "dead", f"{go[0]} answers 404 from now on"))
        if len(go) > 1:
            events.append(LinkEvent(4, go[1], "foreign-host",
                                    f"{go[1]} redirects to {FOREIGN_HOST}"))
        if zs:
            events.append(LinkEvent(5, zs[0], "other-authority",
                                    f"{zs[0]} leads to a start page of {OTHER_AUTHORITY}"))
        if a3:
            events.append(LinkEvent(6, a3[0], "https-to-http",
                                    f"{a3[0]} redirects to plain http"))
        self.events = tuple(events)
        #: The city's own ThAVEL instances ("go/a/<n>", "zs/<n>", "verfahren/<n>").
        self.own_instances = tuple(sorted(
            instance for url in links if (instance := thavel_instance(url))))

    def apply(self, web: SimulatedWeb, day: int) -> list[LinkEvent]:
        """Make ``web`` serve what the targets do on ``day``; returns the active events."""
        web.set_authority(thavel_instance(GERA_THAVEL_LINK), GERA_AUTHORITY)
        active = []
        for event in self.events:
            prefix = _prefix(event.url)
            instance = thavel_instance(event.url)
            if event.day > day:
                web.restore(prefix)
                if event.finding == "other-authority":
                    web.set_authority(instance, OWN_AUTHORITY)
                continue
            active.append(event)
            if event.finding == "dead":
                web.break_link(prefix, 404)
            elif event.finding == "foreign-host":
                web.redirect(prefix, f"https://{FOREIGN_HOST}/formular/{instance.split('/')[-1]}")
            elif event.finding == "other-authority":
                web.set_authority(instance, OTHER_AUTHORITY)
            elif event.finding == "https-to-http":
                web.redirect(prefix, "http://thavelp.thueringen.de/thavelp/portal/antrag/"
                             f"verfahren-{instance.split('/')[-1]}/start")
        return active

    def started(self, day: int) -> list[LinkEvent]:
        """The events that begin on ``day``."""
        return [event for event in self.events if event.day == day]


def _prefix(url: str) -> str:
    """The URL up to its path (matches the link with any query, ``?c=bc``); an a3start
    link, whose identity is in its query, entirely (the checker asks for the canonical
    URL the records hold)."""
    parts = urlsplit(url)
    if (thavel_identity(url) or {}).get("form") == "a3start":
        return url
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
