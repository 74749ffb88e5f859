"""Lifecycle track events → ``PersonChange`` / ``ObjectChange`` (docs/mapping.md, section 4).

The lifecycle events of the common event spec that Customer.io has a call
for: ``User Deleted``/``Suppressed``/``Unsuppressed`` delete, suppress or
unsuppress the person; ``Object Deleted`` deletes an object and
``Relationship Deleted`` a person's relationship to it.
"""

from __future__ import annotations

from transforms.errors import MappingError
from transforms.ids import id_text
from transforms.objects import DEFAULT_OBJECT_TYPE, relationships
from transforms.operations import ObjectChange, PersonChange, resolve_person

PERSON_LIFECYCLE = {"User Deleted": "delete", "User Suppressed": "suppress", "User Unsuppressed": "unsuppress"}
OBJECT_LIFECYCLE = {"Object Deleted": "delete", "Relationship Deleted": "delete_relationships"}


def person_change(name: str, user_id, email, message_id, seconds) -> PersonChange:
    """User Deleted / Suppressed / Unsuppressed; an anonymous person is a MappingError."""
    who, key = resolve_person(user_id, email, None)
    if who is None:
        raise MappingError(f"{name} needs a userId or email")
    return PersonChange(key, message_id, seconds, "track", who, PERSON_LIFECYCLE[name])


def object_of(event: dict) -> tuple[str, str] | None:
    """``(object_type_id, object_id)`` of an Object/Relationship Deleted event; None without an id.

    id: ``properties.objectId``, ``properties.groupId``, ``groupId``,
    ``context.groupId``; type: ``properties.objectTypeId``,
    ``properties.object_type_id``, else ``"1"`` (as for group calls).
    """
    properties = event.get("properties") or {}
    context = event.get("context") or {}
    object_id = None
    for path, value in (
        ("properties.objectId", properties.get("objectId")),
        ("properties.groupId", properties.get("groupId")),
        ("groupId", event.get("groupId")),
        ("context.groupId", context.get("groupId")),
    ):
        object_id = id_text(value, path)
        if object_id is not None:
            break
    if object_id is None:
        return None
    object_type = (id_text(properties.get("objectTypeId"), "properties.objectTypeId")
                   or id_text(properties.get("object_type_id"), "properties.object_type_id")
                   or DEFAULT_OBJECT_TYPE)
    return object_type, object_id


def object_change(name: str, event: dict, message_id, seconds) -> ObjectChange:
    """Object Deleted / Relationship Deleted: the object, and for a relationship, the person."""
    found = object_of(event)
    if found is None:
        raise MappingError(f"{name} needs an object id (properties.objectId, properties.groupId, "
                           f"groupId or context.groupId)")
    object_type, object_id = found
    action = OBJECT_LIFECYCLE[name]
    related = None
    if action == "delete_relationships":
        related = relationships(event)
        if not related:
            raise MappingError(f"{name} needs a userId or email")
    return ObjectChange(f"object:{object_type}:{object_id}", message_id, seconds, "track",
                        object_type, object_id, action, None, related)
