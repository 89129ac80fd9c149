"""The ZuFi itself: the TSA Infodienste REST API v4 (needs an api_key).

:mod:`.parse` reads one answer (pure), :mod:`.walk` crawls: the office tree below the
city's root office, the competences of each office, each Leistung and its online services
(paged by ``totalCount``, checked for overlaps and gaps), live or from the archive.

Records: ``leistung:<pstId>`` (with ``zufi_id`` and ``leika``, so that the PVOG's entry of
the same Leistung can be matched through its ZuFi deep link; texts with each area's
specialisation, fees, periods, documents, trust level, online services and the responsible
offices), ``organisationseinheit:<ouId>`` (addresses, communications, opening hours,
appointment, payment methods), ``onlinedienst:<osId>``.
"""

from __future__ import annotations

from .pages import Listed, ordered_map, read_pages
from .parse import (
    EP_COMPETENCE,
    EP_FIND,
    EP_OS,
    EP_OU,
    EP_PST,
    PARSER_VERSION,
    SHAPES,
    Page,
    Service,
    Shape,
    format_charge,
    parse_competences,
    parse_ou,
    parse_page,
    parse_pst,
    parse_services,
    service_records,
    type_key,
    type_name,
    unwrap,
)
from .payloads import RejectedKey, load_api_key
from .walk import TsaSource

__all__ = [
    "EP_COMPETENCE",
    "EP_FIND",
    "EP_OS",
    "EP_OU",
    "EP_PST",
    "PARSER_VERSION",
    "SHAPES",
    "Listed",
    "Page",
    "RejectedKey",
    "Service",
    "Shape",
    "TsaSource",
    "format_charge",
    "load_api_key",
    "ordered_map",
    "parse_competences",
    "parse_ou",
    "parse_page",
    "parse_pst",
    "parse_services",
    "read_pages",
    "service_records",
    "type_key",
    "type_name",
    "unwrap",
]
