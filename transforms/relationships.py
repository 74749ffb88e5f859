"""Relationships between people and objects, beyond a group call's plain "belongs to".

Three things Segment's Customer.io destination does and a group or identify
call may ask for, as ``cio_relationships`` entries and object actions that
``transforms.objects`` and ``transforms.identify`` put in their operations
(Customer.io's objects exist only in the v2 API, so the renderers write them
as v2 batch items in both versions):

- relationship attributes: facts about the membership itself (a role, a
  seat), from a group call, into ``cio_relationships[].relationship_attributes``;
- a relationship from an identify call whose traits name an object
  (``objectId``, optional ``objectTypeId`` and ``relationshipAttributes``):
  a person ``add_relationships`` item sent after the identify;
- anonymous relationships: a group call from a person known only by an
  ``anonymousId`` relates them with the object action ``identify_anonymous``;
  Customer.io carries the relationship over when the person is identified.

Decisions (docs/mapping.md, sections 11 to 13, state them for users):

- a group call's relationship attributes are the first of
  ``context.relationshipAttributes``, ``properties.relationshipAttributes``,
  ``traits.relationshipAttributes`` that is present (not null, not ""),
  never a merge of them; context comes first because it is where an event
  carries instructions for a destination rather than data, traits last
  because traits are the object's own attributes (Segment's destination reads
  them there). The chosen value must be an object; an empty object adds none.
- from identify traits, ``objectId`` (a string or a number) makes the
  relationship; without it ``objectTypeId`` and ``relationshipAttributes``
  are ordinary traits. ``objectTypeId`` defaults to the group mapping's
  default object type.
- an anonymous group call: ``identify`` and ``add_relationships`` become
  ``identify_anonymous`` (it creates or updates the object and relates the
  anonymous person; for ``add_relationships`` without the object's
  attributes); ``delete`` needs no person and stays ``delete``;
  ``delete_relationships`` is a MappingError: Customer.io has no call
  removing an anonymous person's relationship.
"""

from __future__ import annotations

from transforms.errors import MappingError
from transforms.ids import id_text, json_kind

# The object type of a group or relationship that names none (transforms.objects).
DEFAULT_OBJECT_TYPE = "1"
_MISSING = (None, "")
_EMPTY: dict = {}
# Where a group call's relationship attributes are read, first present wins.
GROUP_ATTRIBUTE_PATHS = (
    ("context", "context.relationshipAttributes"),
    ("properties", "properties.relationshipAttributes"),
    ("traits", "traits.relationshipAttributes"),
)
# Identify traits that describe the relationship, not the person: left out
# of the person's attributes when they make a relationship (objectId stays,
# as in Segment's destination: it is also a fact about the person).
RELATIONSHIP_TRAITS = ("objectTypeId", "relationshipAttributes")


def _attributes_object(value, path: str) -> dict | None:
    if isinstance(value, dict):
        return dict(value) if value else None  # a copy: the caller may change the item
    raise MappingError(f"{path} must be an object (got {json_kind(value)})")


def group_relationship_attributes(event: dict) -> dict | None:
    """The relationship attributes of a group call (see the decisions above); None when it has none."""
    for part, path in GROUP_ATTRIBUTE_PATHS:
        container = event.get(part)
        if not isinstance(container, dict):
            continue
        value = container.get("relationshipAttributes")
        if value not in _MISSING:
            return _attributes_object(value, path)
    return None


def relationship(identifiers: dict, attributes: dict | None = None) -> dict:
    """One ``cio_relationships`` entry: who or what, and the relationship's attributes when any."""
    entry = {"identifiers": identifiers}
    if attributes:
        entry["relationship_attributes"] = attributes
    return entry


def identify_relationship(traits: dict | None) -> dict | None:
    """The object an identify call's traits relate the person to, as a ``cio_relationships`` entry.

    ``{"identifiers": {"object_type_id": T, "object_id": O}}`` plus
    ``"relationship_attributes"`` when ``traits.relationshipAttributes`` is a
    non-empty object; None when the traits carry no ``objectId``.
    """
    if not isinstance(traits, dict):
        return None
    object_id = id_text(traits.get("objectId"), "traits.objectId")
    if object_id is None:
        return None
    object_type = id_text(traits.get("objectTypeId"), "traits.objectTypeId") or DEFAULT_OBJECT_TYPE
    attributes = traits.get("relationshipAttributes")
    if attributes not in _MISSING:
        attributes = _attributes_object(attributes, "traits.relationshipAttributes")
    else:
        attributes = None
    return relationship({"object_type_id": object_type, "object_id": object_id}, attributes)


def anonymous_object_action(action: str) -> str:
    """The object action for a group call whose person has only an anonymous id."""
    if action in ("identify", "add_relationships"):
        return "identify_anonymous"
    if action == "delete":
        return "delete"
    if action == "delete_relationships":
        raise MappingError("a group call with action delete_relationships needs a userId or email: "
                           "Customer.io cannot remove an anonymous person's relationship")
    raise MappingError(f"unknown object action {action!r}")


def anonymous_relationship(anonymous_id: str, attributes: dict | None = None) -> dict:
    """The ``cio_relationships`` entry of an ``identify_anonymous`` item."""
    if not isinstance(anonymous_id, str) or anonymous_id == "":
        raise MappingError("anonymousId must be a non-empty string")
    return relationship({"anonymous_id": anonymous_id}, attributes)
