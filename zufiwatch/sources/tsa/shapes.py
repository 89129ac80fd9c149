"""The keys the ZuFi's answers are known to carry, per endpoint (shape drift).

Every key sources.md names for an answer ("Source 2", seen in the typed models of a public
client) is listed, also those the parser does not store, so that only keys that are really
new count as unknown. Item shapes sources.md does not name (``periods[]``,
``servicePeriods[]``, ``documents[]``, ``bankaccounts[]``, ...) are leaves.
"""

from __future__ import annotations

__all__ = ["EP_COMPETENCE", "EP_FIND", "EP_OS", "EP_OU", "EP_PST", "SHAPES", "Shape",
           "search_shape"]

EP_OU = "/ou"
EP_FIND = "/ou/find"
EP_COMPETENCE = "/ouCompetence"
EP_PST = "/pst"
EP_OS = "/os/findByCompetence"

#: Known keys of an answer; a nested mapping is the shape of a dict value, or of each
#: dict item of a list value; None = a leaf (not inspected further).
Shape = dict[str, "Shape | None"]

TYPE_SHAPE: Shape = {"id": None, "name": None, "description": None, "key": None,
                     "notPublic": None}
AREA_SHAPE: Shape = {"id": None, "name": None}
REFERENCE_SHAPE: Shape = {"id": None, "name": None}
EXTERNAL_LINK_SHAPE: Shape = {"url": None, "name": None, "note": None}
ADDRESS_SHAPE: Shape = {
    "street": None, "houseNumber": None, "area": AREA_SHAPE, "mailbox": None,
    "zipcode": None, "comment": None, "geoLocation": None, "type": TYPE_SHAPE,
    "addressDescriptionLink": None, "transportationStops": None, "parkingLots": None,
    "elevator": None, "wheelchairAccessible": None, "accessibleInfo": None,
}
COMMUNICATION_SHAPE: Shape = {"type": TYPE_SHAPE, "title": None, "note": None, "value": None}
OU_SHAPE: Shape = {
    "id": None, "name": None, "optionalName": None, "synonyms": None, "description": None,
    "shortDescription": None, "parentId": None, "placename": None, "generalized": None,
    "textgeneralized": None, "openingHours": None, "appointmentRequired": None,
    "onlineAppointment": {"link": None}, "addresses": ADDRESS_SHAPE, "bankaccounts": None,
    "communications": COMMUNICATION_SHAPE, "misc": None, "images": None,
    "specialInfoServiceCenter": None, "communicationSystems": None,
    "paymentMethods": TYPE_SHAPE, "lastUpdated": None, "position": None,
    "organisationalUnitStructures": None, "organisationalUnitCategories": None,
}
SPECIALISATION_SHAPE: Shape = {"restrictedArea": AREA_SHAPE, "text": None,
                               "externalLinks": EXTERNAL_LINK_SHAPE, "legalNorms": None}
TEXT_BLOCK_SHAPE: Shape = {"type": TYPE_SHAPE, "text": None,
                           "externalLinks": EXTERNAL_LINK_SHAPE,
                           "specialisations": SPECIALISATION_SHAPE}
CHARGE_SHAPE: Shape = {
    "type": None, "restrictedArea": AREA_SHAPE, "name": None, "note": None,
    "prepayment": None, "currency": None, "paymentNumber": None,
    "chargeSpecificationUrl": None, "validFrom": None, "validTo": None, "amount": None,
    "lowerLimit": None, "upperLimit": None,
}
PST_SHAPE: Shape = {
    "id": None, "type": None, "leikaKeys": None, "name": None, "teaser": None,
    "textBlocks": TEXT_BLOCK_SHAPE, "periods": None, "servicePeriods": None,
    "charges": CHARGE_SHAPE, "documents": None, "synonyms": None, "lastUpdated": None,
    "restrictedAreas": AREA_SHAPE, "relatedPublicServiceTypes": None,
    "writtenFormRequired": None, "trustLevel": TYPE_SHAPE,
    "sdgInformationAreas": TYPE_SHAPE, "receivers": TYPE_SHAPE,
    "singlePointOfContact": None, "department": REFERENCE_SHAPE,
    "furtherPstObjectsWithActivity": None, "furtherPstObjectsWithActivityAndDetail": None,
}
COMPETENCE_SHAPE: Shape = {"areas": AREA_SHAPE, "publicServiceTypes": REFERENCE_SHAPE,
                           "organisationalUnit": REFERENCE_SHAPE}
SERVICE_SHAPE: Shape = {
    "id": None, "name": None, "description": None, "link": None, "linkTitle": None,
    "trustLevel": None, "gdprText": None, "onlinePaymentRequired": None,
    "supportedLanguages": None,
}


def search_shape(item: Shape) -> Shape:
    """The shape of a search answer whose ``results[].object`` has the shape ``item``."""
    return {"count": None, "totalCount": None,
            "results": {"score": None, "object": item}}


SHAPES: dict[str, Shape] = {
    EP_OU: OU_SHAPE,
    EP_FIND: search_shape(OU_SHAPE),
    EP_COMPETENCE: search_shape(COMPETENCE_SHAPE),
    EP_PST: PST_SHAPE,
    EP_OS: search_shape(SERVICE_SHAPE),
}
