"""A simulated TSA Infodienste REST API v4 (the ZuFi's own API) on 127.0.0.1.

It serves the same :class:`~zufiwatch.sim.dataset.Directory` as the simulated PVOG,
converted to the TSA's seen shapes (sources.md, "Source 2"; :mod:`.convert`), one day
ahead: on simulated day ``d`` it serves the scenario's directory of ``d + lead_days``,
because the PVOG receives the ZuFi's data only about once a day.

Endpoints (under ``/rest/v4``; every request needs the header ``api_key``)::

    GET /ou/{id}                                    one OrganisationalUnit, 404 if unknown
    GET /ou/find?parentId=P[&offset=N]&limit=K      the children of P, sorted by id
    GET /ouCompetence/{ouId}?areaId=A[&offset=][&limit=]  the Leistungen the office is
                                                    the zuständige Stelle (role "01") for
    GET /pst/{id}?areaId=A                          one PublicServiceType, 404 if unknown
                                                    or of another area
    GET /os/findByCompetence?pstId=P&areaId=A[&offset=][&limit=]  its online services

Search answers are ``{"count": <results on this page>, "totalCount": <all>, "results":
[{"score", "object"}]}``. ``offset`` is the 0-based index of the first result and "must
be > 0": the first page is asked for without it, ``offset=0`` is answered 400. ``limit``
defaults to 20; a page holds at most ``page_cap`` results (default 100; a larger ``limit``
is capped silently).

Ids: a Leistung ``S1600001.LB.354790`` is pst 354790, an office ``S1600001.OE.20006`` is
ou 20006. The offices hang below a made-up tree: the root :data:`ROOT_OU` ("Stadtverwaltung
Jena") has three departments (19001-19003), and every office sits below the department
chosen by a stable hash of its PVOG id; ``extra_offices`` ZuFi-only Bürgerbüros can hang
directly below the root. A missing ``areaId`` means the served area.

ZuFi-only edits that never reach the PVOG can be made while serving
(:meth:`SimulatedTSA.set_links`, ``set_responsible``, ``set_charge``,
``set_specialisation``, ``set_address``, and any change through ``edit_pst`` /
``edit_ou``), and faults can be injected per path substring (:meth:`SimulatedTSA.inject`),
among them the paging faults "overlap", "gap", "short" and "drift".
"""

from __future__ import annotations

from .convert import (
    AREA_ID,
    DEPARTMENTS,
    EXTRA_OFFICE_BASE,
    ROOT_OU,
    SYNTHETIC_OS_BASE,
    TsaData,
    department_of,
    synthetic_service_id,
    tsa_type,
    tsa_view,
)
from .server import DEFAULT_LIMIT, FAULT_KINDS, MAX_LIMIT, PAGING_FAULTS, SimulatedTSA

__all__ = [
    "AREA_ID",
    "DEFAULT_LIMIT",
    "DEPARTMENTS",
    "EXTRA_OFFICE_BASE",
    "FAULT_KINDS",
    "MAX_LIMIT",
    "PAGING_FAULTS",
    "ROOT_OU",
    "SYNTHETIC_OS_BASE",
    "SimulatedTSA",
    "TsaData",
    "department_of",
    "synthetic_service_id",
    "tsa_type",
    "tsa_view",
]
