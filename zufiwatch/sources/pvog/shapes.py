"""The PVOG endpoints zufiwatch reads and the keys their answers are known to carry.

A shape lists every key that ``sources.md`` names for an answer, seen or reconstructed,
also the keys the parser does not store, so that only really new keys count as unknown
(shape drift). A nested mapping is the shape of a dict value, or of each dict item of a
list value; ``None`` is a leaf that is not inspected further. The detail's modules are
recursive: a ``_moduleDetail`` carries sub-modules in ``details[]`` of the same shape.
"""

from __future__ import annotations

__all__ = [
    "CSV_COLUMNS",
    "CSV_SHAPE",
    "DETAIL_SHAPE",
    "EP_CSV",
    "EP_DETAIL",
    "EP_LISTING",
    "EP_OFFICE",
    "EP_ONLINE",
    "EP_TITLES",
    "LISTING_SHAPE",
    "MODULE_LINK_SHAPE",
    "MODULE_SHAPE",
    "OFFICE_SHAPE",
    "ONLINESERVICES_SHAPE",
    "ONLINE_SERVICE_LINK_SHAPE",
    "SHAPES",
    "TITLES_SHAPE",
    "Shape",
]

#: Known keys of an answer; a nested mapping is the shape of a dict value, or of each
#: dict item of a list value; None = a leaf (not inspected further).
Shape = dict[str, "Shape | None"]

#: Endpoint names as the manifest records them (one per kind of answer, ids left out).
EP_LISTING = "/v7/servicedescriptions"
EP_CSV = "/v5/servicedescriptions/csv"
EP_DETAIL = "/v6/servicedescriptions/detail"
EP_TITLES = "/v2/organisationunits/titles"
EP_OFFICE = "/v5/organisationunits/detail"
EP_ONLINE = "/v1beta2/onlineservices"

#: ``validityPeriods[]`` of a Leistung and of an online-service link (seen).
_PERIOD: Shape = {"validFrom": None, "validTo": None}

#: ``links[]`` of a module (seen).
MODULE_LINK_SHAPE: Shape = {"uri": None, "title": None, "description": None, "replace": None,
                            "dynamicParameters": None}

#: ``details[]`` of a detail, and ``details[]`` of a ``_moduleDetail`` (seen; ``date`` of
#: module 93 is reconstructed from a public client).
MODULE_SHAPE: Shape = {
    "@type": None, "code": None, "title": None, "text": None, "links": MODULE_LINK_SHAPE,
    "filled": None, "placeholder": None, "replace": None, "xZufiCategory": None,
    "additionalInformation": None, "date": None,
}
MODULE_SHAPE["details"] = MODULE_SHAPE

#: ``onlineServiceLinks[]`` of a detail (seen in the verbatim answer).
ONLINE_SERVICE_LINK_SHAPE: Shape = {
    "id": None, "uri": None, "title": None, "replace": None, "dynamicParameters": None,
    "validFrom": None, "validTo": None, "validityPeriods": _PERIOD,
    "levelOfConfidence": None, "identificationMethods": None, "paymentMethods": None,
    "executionLanguages": None, "executionNationalities": None, "helpLinks": None,
}

#: ``GET /v6/servicedescriptions/{lbid}/detail`` (seen; v6 may add keys).
DETAIL_SHAPE: Shape = {
    "id": None, "name": None, "description": None, "leikakeys": None, "ars": None,
    "arsFederalstate": None, "languageCode": None, "languageComplete": None,
    "availableLanguages": None, "timestamp": None, "lastUpdate": None,
    "externalLastUpdate": None, "validFrom": None, "validTo": None,
    "validityPeriods": _PERIOD, "synonyms": None, "addressees": None,
    "sourcePortals": {"title": None, "uri": None, "replace": None},
    "organisationIds": None, "onlineServiceLinks": ONLINE_SERVICE_LINK_SHAPE,
    "forms": None, "typing": None, "personalMatters": None, "sdgInformation": None,
    "suggest": None, "details": MODULE_SHAPE,
}

#: ``GET /v7/servicedescriptions/{ars}`` (items seen; the Spring page fields around
#: ``content`` reconstructed).
LISTING_SHAPE: Shape = {
    "serviceDescriptions": {
        "content": {"id": None, "title": None, "description": None, "lastUpdate": None},
        "totalElements": None, "totalPages": None, "number": None, "size": None,
        "numberOfElements": None, "first": None, "last": None, "empty": None,
        "pageable": None, "sort": None,
    },
}

#: ``GET /v2/organisationunits/titles``: the answer is a list; this is each item (seen).
TITLES_SHAPE: Shape = {"id": None, "title": None, "role": {"code": None, "name": None}}

#: ``GET /v5/organisationunits/detail`` (seen in public clients and the documentation's key
#: list; ``communications[].code`` is read as a fallback channel, ``name`` is seen).
OFFICE_SHAPE: Shape = {
    "id": None, "title": None, "name": None, "lastUpdate": None, "languages": None,
    "languageComplete": None, "role": None, "forms": None, "employees": None,
    "bankAccounts": None, "communicationSystems": None,
    "internetAddresses": {"uri": None},
    "location": {
        "addresses": {"type": None, "street": None, "houseNumber": None, "zip": None,
                      "city": None, "geo": {"latitude": None, "longitude": None}},
        "communications": {"name": None, "code": None, "value": None},
    },
    "additionalInformation": {"type": None, "text": None},
}

#: ``GET /v1beta2/onlineservices`` (reconstructed).
ONLINESERVICES_SHAPE: Shape = {
    "totalHits": None, "nextPageToken": None,
    "onlineservices": {"id": None, "name": None, "links": {"uri": None, "title": None},
                       "serviceDescriptions": {"id": None, "ars": None}},
}

#: ``GET /v5/servicedescriptions/csv?ars=`` header (seen, verbatim sample).
CSV_COLUMNS = ("ID-LB", "Leikaschlüssel", "Name", "Name2", "Updatedatum", "ID-OD",
               "Bezeichnung OD", "Links")
#: The CSV header as a shape: check it as ``dict.fromkeys(columns)``.
CSV_SHAPE: Shape = dict.fromkeys(CSV_COLUMNS)

SHAPES: dict[str, Shape] = {
    EP_LISTING: LISTING_SHAPE,
    EP_CSV: CSV_SHAPE,
    EP_DETAIL: DETAIL_SHAPE,
    EP_TITLES: TITLES_SHAPE,
    EP_OFFICE: OFFICE_SHAPE,
    EP_ONLINE: ONLINESERVICES_SHAPE,
}
