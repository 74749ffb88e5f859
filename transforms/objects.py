"""Group → an ``ObjectChange`` (docs/mapping.md, section 5).

Customer.io models groups (companies, accounts) as objects; a group call
identifies the object and relates the person to it. Objects exist only in
the v2 API, so group events become ``/api/v2/batch`` items in v1 mode too.
"""

from __future__ import annotations

from transforms import lookups
from transforms.errors import MappingError
from transforms.cio_ids import relationship_identifiers
from transforms.ids import id_text
from transforms.models import Group, validate
from transforms.operations import ObjectChange
from transforms.relationships import (
    DEFAULT_OBJECT_TYPE,
    anonymous_object_action,
    anonymous_relationship,
    group_relationship_attributes,
)
from transforms.settings import Settings
from transforms.timestamps import convert_timestamps

ACTIONS = frozenset(("identify", "delete", "add_relationships", "delete_relationships"))
_MISSING = (None, "")


def object_action(event: dict) -> str:
    """``traits.action``, else ``properties.action``, when valid; else ``identify``."""
    action = (event.get("traits") or {}).get("action")
    if action in _MISSING:
        action = (event.get("properties") or {}).get("action")
    return action if isinstance(action, str) and action in ACTIONS else "identify"


def relationships(event: dict) -> list:
    """The person the event is about, as ``[{"identifiers": {...}}]`` (``[]`` when none)."""
    user_id = lookups.user_id(event)
    if user_id is not None:
        return [{"identifiers": relationship_identifiers(user_id if type(user_id) is str else str(user_id))}]
    for path, value in (
        ("context.traits.email", lookups.context_part(event, "traits").get("email")),
        ("properties.email", (event.get("properties") or {}).get("email")),
        ("context.externalId.0.id", lookups.external_id(event)),
    ):
        text = id_text(value, path)
        if text is not None:
            return [{"identifiers": relationship_identifiers(text)}]
    return []


def map_group(raw: dict, settings: Settings) -> list:
    event = validate(Group, lookups.unmap_destination(raw))
    traits = event.get("traits") or {}
    object_id = id_text(event.get("groupId"), "groupId")
    if object_id is None:
        object_id = id_text(traits.get("groupId"), "traits.groupId")
    if object_id is None:
        raise MappingError("groupId is required")
    object_type = id_text(traits.get("objectTypeId"), "traits.objectTypeId") or DEFAULT_OBJECT_TYPE
    action = object_action(event)
    attributes = None
    if event.get("traits") is not None:
        attributes = dict(traits)  # a copy less one key keeps the order, cheaper than a comprehension
        attributes.pop("action", None)
        # An instruction about the membership, not a fact about the object.
        attributes.pop("relationshipAttributes", None)
        if settings.convert_timestamps:
            attributes = convert_timestamps(attributes)
    membership = group_relationship_attributes(event)
    if membership is not None and settings.convert_timestamps:
        membership = convert_timestamps(membership)
    related = relationships(event)
    if related:
        if membership is not None:
            for entry in related:
                entry["relationship_attributes"] = membership
    else:
        anonymous_id = lookups.anonymous_id(event)
        if anonymous_id is not None and action != "delete":
            # Known only by an anonymous id: Customer.io relates them with
            # identify_anonymous and keeps the relationship once they are identified.
            if action != "identify":
                attributes = None  # add_relationships changes no attribute of the object
            action = anonymous_object_action(action)
            related = [anonymous_relationship(anonymous_id, membership)]
    return [ObjectChange(f"object:{object_type}:{object_id}", lookups.message_id(event), lookups.event_seconds(event),
                         "group", object_type, object_id, action, attributes, related)]
