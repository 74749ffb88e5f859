"""Identify → a ``PersonUpdate`` (docs/mapping.md, section 3).

Traits become person attributes (v1: the body of ``PUT /api/v1/customers/{id}``;
v2: a ``person``/``identify`` item, see the renderers). Traits naming an
object (``objectId``, optional ``objectTypeId`` and ``relationshipAttributes``)
also relate the person to it: a ``PersonRelationship`` after the update.
"""

from __future__ import annotations

from transforms import lookups
from transforms.errors import MappingError
from transforms.models import FITS, Identify, validate
from transforms.operations import PersonRelationship, PersonUpdate, resolve_person
from transforms.relationships import RELATIONSHIP_TRAITS, identify_relationship
from transforms.request import FOLLOW_UP
from transforms.settings import Settings
from transforms.timestamps import convert_timestamps
from transforms.times import to_unix

EXCLUDED_TRAITS = frozenset(("address", "createdAt", "userId", "anonymousId"))
ADDRESS_KEYS = ("city", "country", "postalCode", "state", "street")
_new = object.__new__
_fits = FITS[Identify]


def identify_attributes(event: dict) -> dict:
    """The attributes of section 3: traits, address parts, legacy user_properties, created_at.

    The event time and the anonymous id travel apart (``PersonUpdate``): each
    API version places them its own way.
    """
    traits = lookups.traits(event)
    if traits:
        # A copy less the excluded keys keeps the traits' order, like a filtering
        # comprehension, at a fraction of its cost (identify traits are many).
        body = dict(traits)
        for key in EXCLUDED_TRAITS:
            body.pop(key, None)
        address = traits.get("address")
        if isinstance(address, dict):
            for key in ADDRESS_KEYS:
                if key in address:
                    body[key] = address[key]
    else:
        body = {}
    legacy = event.get("user_properties")
    if legacy:
        body.update(legacy)
    created_at = to_unix(lookups.created_at(event))
    if created_at is not None:
        body["created_at"] = created_at
    return body


def map_identify(raw: dict, settings: Settings) -> list:
    event = lookups.unmap_destination(raw)
    if not _fits(event):  # validate()'s fast path, one call less per identify
        validate(Identify, event)
    user_id = lookups.user_id(event)
    email = lookups.email(event) if user_id is None else None
    if user_id is None and email is None:
        raise MappingError("userId or email is not present")
    seconds = lookups.event_seconds(event)
    attributes = identify_attributes(event)
    if settings.convert_timestamps:
        attributes = convert_timestamps(attributes)
    who, key = resolve_person(user_id, email, None)
    message_id = lookups.message_id(event)
    # PersonUpdate(key, message_id, seconds, "identify", who, attributes, anonymous id),
    # field by field: cheaper than calling the dataclass (see the CioRequest in
    # transforms/build.py), and identify calls are many.
    update = _new(PersonUpdate)
    update.key = key
    update.message_id = message_id
    update.seconds = seconds
    update.source = "identify"
    update.who = who
    update.attributes = attributes
    update.anonymous_id = lookups.anonymous_id(event)
    if "objectId" not in attributes:  # the usual identify: no object named
        return [update]
    # Traits naming an object also relate the person to it, after the update
    # (transforms.relationships); what describes the relationship is not an attribute.
    entry = identify_relationship(lookups.traits(event))
    if entry is None:
        return [update]
    for trait in RELATIONSHIP_TRAITS:
        attributes.pop(trait, None)
    if settings.convert_timestamps and "relationship_attributes" in entry:
        entry["relationship_attributes"] = convert_timestamps(entry["relationship_attributes"])
    return [update, PersonRelationship(key, message_id, seconds, "identify" + FOLLOW_UP, who, [entry])]
