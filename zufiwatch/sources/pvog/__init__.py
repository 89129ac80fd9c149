"""The PVOG Suchdienst REST API: Leistungen, Organisationseinheiten and Onlinedienste.

- :mod:`.shapes`: the endpoints and the keys their answers are known to carry;
- :mod:`.parse`: pure parsing of one JSON answer into records (parser version ``pvog-2``);
- :mod:`.csvlisting`: the CSV listing and its cross-check with the paged listing (pure);
- :mod:`.walk`: the crawl: paging, concurrency, completeness, replay of archived crawls.

The crawl calls ``parse_leistung`` through this package, so replacing it here (an upgrade
test, a counting test) replaces it for the crawl.
"""

from __future__ import annotations

from .._concurrency import ordered_map
from .csvlisting import CsvListing, CsvRow, compare_listings, parse_csv_listing
from .parse import (
    PARSER_VERSION,
    ListingPage,
    OnlineServicePage,
    leistung_office_ids,
    parse_leistung,
    parse_listing,
    parse_office,
    parse_onlineservices,
)
from .shapes import (
    EP_CSV,
    EP_DETAIL,
    EP_LISTING,
    EP_OFFICE,
    EP_ONLINE,
    EP_TITLES,
    SHAPES,
    Shape,
)
from .walk import PvogSource

__all__ = [
    "EP_CSV",
    "EP_DETAIL",
    "EP_LISTING",
    "EP_OFFICE",
    "EP_ONLINE",
    "EP_TITLES",
    "PARSER_VERSION",
    "SHAPES",
    "CsvListing",
    "CsvRow",
    "ListingPage",
    "OnlineServicePage",
    "PvogSource",
    "Shape",
    "compare_listings",
    "leistung_office_ids",
    "ordered_map",
    "parse_csv_listing",
    "parse_leistung",
    "parse_listing",
    "parse_office",
    "parse_onlineservices",
]
