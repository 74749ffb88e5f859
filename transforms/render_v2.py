"""Operations → items of ``POST /api/v2/batch`` (one ``CioRequest`` per operation).

The v2 spelling of each operation, and only that: item types, actions and
layouts. Objects and warehouse records exist only as v2 items, so they are
rendered here whatever the API version (``transforms.render``).
"""

from __future__ import annotations

import math

from transforms.build import batch_item, serialize
from transforms.devices import device_context
from transforms.errors import MappingError
from transforms.operations import (
    DeviceAdd,
    DeviceRemove,
    Event,
    Merge,
    ObjectChange,
    PersonChange,
    PersonRelationship,
    PersonUpdate,
    RecordSync,
)
from transforms.request import CioRequest
from transforms.settings import Urls
from transforms.times import unix

floor = math.floor

# The person item action of each source event.
EVENT_ACTIONS = {"track": "event", "page": "page", "screen": "screen"}
NO_PERSON = "userId, email or anonymousId is required"


def person_item(action: str, who: tuple) -> dict:
    """The start of a person item; the caller adds the action's fields (only those present)."""
    return {"type": "person", "action": action, "identifiers": {who[0]: who[1]}}


def person_update(op: PersonUpdate, urls: Urls) -> CioRequest:
    """``person``/``identify``: the attributes in ``attributes``, the item's timestamp orders them."""
    attributes = op.attributes
    if op.anonymous_id is not None:
        attributes["anonymous_id"] = op.anonymous_id
    # v2 orders updates by the item's timestamp: no _timestamp attribute (not even a trait of that name).
    attributes.pop("_timestamp", None)
    who = op.who
    # person_item() and unix() inlined: this runs per identify.
    item = {"type": "person", "action": "identify", "identifiers": {who[0]: who[1]}, "attributes": attributes}
    if op.seconds is not None:
        item["timestamp"] = floor(op.seconds)
    return batch_item(item, urls, op)


def event(op: Event, urls: Urls) -> CioRequest:
    """``person``/``event``, ``page`` or ``screen``; an anonymous person by ``anonymous_id``."""
    if op.who is None:
        raise MappingError(NO_PERSON)
    who = op.who
    # person_item() and unix() inlined: this runs per event.
    item = {"type": "person", "action": EVENT_ACTIONS[op.source], "identifiers": {who[0]: who[1]}, "name": op.name}
    if op.properties is not None:
        item["attributes"] = op.properties
    if op.seconds is not None:
        item["timestamp"] = floor(op.seconds)
    if op.dedup_id is not None:
        item["id"] = op.dedup_id
    return batch_item(item, urls, op)


def _attribute_text(value: object) -> str:
    # Customer.io device attributes are strings (its schema says so).
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return serialize(value).decode("utf-8")


def device_attributes(op: DeviceAdd) -> dict | None:
    """``device.attributes``: the device context, then the properties, as strings; None when empty."""
    attributes = device_context(op.event)
    if op.properties:
        attributes.update(op.properties)
    return {k: _attribute_text(v) for k, v in attributes.items() if v is not None} or None


def device_add(op: DeviceAdd, urls: Urls) -> CioRequest:
    """``person``/``add_device``: token, last_used, platform, attributes (those present)."""
    device = {"token": op.token}
    for field, value in (("last_used", unix(op.seconds)), ("platform", op.platform),
                         ("attributes", device_attributes(op))):
        if value is not None:
            device[field] = value
    item = person_item("add_device", op.who)
    item["device"] = device
    return batch_item(item, urls, op)


def device_remove(op: DeviceRemove, urls: Urls) -> CioRequest:
    """``person``/``delete_device``."""
    item = person_item("delete_device", op.who)
    item["device"] = {"token": op.token}
    return batch_item(item, urls, op)


def person_change(op: PersonChange, urls: Urls) -> CioRequest:
    """``person``/``delete``, ``suppress`` or ``unsuppress``: no timestamp, no dedup id."""
    return batch_item(person_item(op.action, op.who), urls, op)


def merge(op: Merge, urls: Urls) -> CioRequest:
    """``person``/``merge``."""
    item = {"type": "person", "action": "merge", "primary": op.primary, "secondary": op.secondary}
    return batch_item(item, urls, op)


def person_relationship(op: PersonRelationship, urls: Urls) -> CioRequest:
    """``person``/``add_relationships``: the objects the person belongs to (objects exist only in v2)."""
    item = person_item("add_relationships", op.who)
    item["cio_relationships"] = op.relationships
    return batch_item(item, urls, op)


def object_change(op: ObjectChange, urls: Urls) -> CioRequest:
    """An ``object`` item: identifiers, then attributes and ``cio_relationships`` when given."""
    item = {
        "type": "object",
        "action": op.action,
        "identifiers": {"object_id": op.object_id, "object_type_id": op.object_type},
    }
    if op.attributes is not None:
        item["attributes"] = op.attributes
    if op.relationships is not None:
        item["cio_relationships"] = op.relationships
    return batch_item(item, urls, op)


def record(op: RecordSync, urls: Urls) -> CioRequest:
    """A record's ``person`` item (``identify``, ``event`` or ``delete``); a delete has no timestamp."""
    item = {"type": "person", "identifiers": {op.who[0]: op.who[1]}, "action": op.action}
    if op.name is not None:
        item["name"] = op.name
    if op.attributes is not None:
        item["attributes"] = op.attributes
    if op.seconds is not None and op.action != "delete":
        item["timestamp"] = unix(op.seconds)
    if op.dedup_id is not None:
        item["id"] = op.dedup_id
    return batch_item(item, urls, op)
