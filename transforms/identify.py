"""Identify → ``PUT /api/v1/customers/{id}`` (MAPPING.md section 3).

Traits become person attributes at the top level of the body; in v2 mode the
same attributes go into a ``person``/``identify`` batch item.
"""

from __future__ import annotations

from transforms import build, lookups
from transforms.errors import MappingError
from transforms.ids import check_person_id, encode_path
from transforms.models import Identify, validate
from transforms.settings import Settings
from transforms.times import to_unix, unix
from transforms.v2 import person_identifiers, person_item

EXCLUDED_TRAITS = frozenset(("address", "createdAt", "userId", "anonymousId"))
ADDRESS_KEYS = ("city", "country", "postalCode", "state", "street")


def identify_body(event: dict, seconds: float | None) -> dict:
    """The attributes of section 3: traits, address parts, legacy user_properties, reserved keys."""
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
    if seconds is not None:
        body["_timestamp"] = unix(seconds)
    anonymous_id = lookups.anonymous_id(event)
    if anonymous_id is not None:
        body["anonymous_id"] = anonymous_id
    return body


def map_identify(raw: dict, settings: Settings) -> list:
    event = validate(Identify, lookups.unmap_destination(raw))
    user_id = lookups.user_id(event)
    email = lookups.email(event) if user_id is None else None
    if user_id is None and email is None:
        raise MappingError("userId or email is not present")
    seconds = lookups.event_seconds(event)
    body = identify_body(event, seconds)
    message_id = lookups.message_id(event)
    if settings.api_version == "v2":
        identifiers, person_key = person_identifiers(user_id, email, None)
        # v2 orders attribute updates by the item's timestamp, not _timestamp.
        body.pop("_timestamp", None)
        item = person_item("identify", identifiers)
        item["attributes"] = body
        if seconds is not None:
            item["timestamp"] = unix(seconds)
        return [build.batch_item(item, settings, person_key, message_id, seconds, "identify")]
    person = user_id if user_id is not None else email
    check_person_id(str(person), "user id" if user_id is not None else "email")
    key = f"id:{user_id}" if user_id is not None else f"email:{email}"
    url = f"{settings.customers_url}{encode_path(person)}"
    return [build.request("PUT", url, body, key, message_id, seconds, "identify")]
