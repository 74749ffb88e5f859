"""What an event means to Customer.io, before any API version spells it.

Each mapper turns one event into operations (normally one); a renderer
(``render_v1``, ``render_v2``) then writes an operation as a v1 call or a v2
batch item. The operation holds everything resolved once, here or in the
mapper: who it is about (``resolve_person``), the event time, the dedup id
and the person key that orders one person's calls. Nothing in an operation
depends on the API version.

Every operation carries, first and in this order:
  key         who the call is about, for ordering ("id:42", "email:a@b.co",
              "anonymous_id:x", "object:1:acme", ...); ``CioRequest.person_key``
  message_id  the source event's messageId (None when it had none)
  seconds     the precise event time in Unix seconds (None when unknown)
  source      the source event's type ("identify", "track", ..., "record")

A person is ``who = (kind, value)``: kind "id", "email", "anonymous_id" or
"cio_id" (a user id ``cio_<id>``, or a record's cio_id), value a str (or an
int user id).

Adding a kind: one dataclass here, its function in ``render_v1`` and/or
``render_v2``, its row in ``transforms.render.RENDERERS``, and a row in
``tests/test_transforms_render.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from transforms.cio_ids import CIO_PREFIX, cio_id_of
from transforms.ids import check_person_id
from transforms.limits import MAX_PERSON_ID_BYTES

_SHORT_ID = MAX_PERSON_ID_BYTES // 4  # at most 4 UTF-8 bytes a character: shorter ids are within the limit

# Slotted dataclasses built with positional arguments: one is built per
# event, and keyword arguments or a frozen dataclass cost a measurable part
# of the mapping's time (see transforms/request.py). The ones every event
# of the most common types builds (Event in transforms/events.py,
# PersonUpdate in transforms/identify.py) are set field by field instead,
# for the reason transforms/build.py gives.


@dataclass(slots=True)
class Operation:
    key: str | None
    message_id: str | None
    seconds: float | None
    source: str


@dataclass(slots=True)
class PersonUpdate(Operation):
    """Identify: set a person's attributes (creating the person)."""

    who: tuple
    attributes: dict  # the person's attributes; the event time is not among them
    anonymous_id: str | None  # linked to the person (an attribute of the update)


@dataclass(slots=True)
class Event(Operation):
    """A track event, or a page or screen view (``source`` says which).

    ``who`` None: the event names nobody, not even an anonymous id.
    """

    who: tuple | None
    name: str
    properties: dict | None
    dedup_id: str | None


@dataclass(slots=True)
class DeviceAdd(Operation):
    """Register (or update) a person's device."""

    who: tuple
    token: str
    platform: str | None
    properties: dict | None  # the event's properties
    event: dict  # the track event, for the device context (``devices.device_context``) v2 sends


@dataclass(slots=True)
class DeviceRemove(Operation):
    """Remove a person's device."""

    who: tuple
    token: str


@dataclass(slots=True)
class PersonChange(Operation):
    """Delete, suppress or unsuppress a person (``action``)."""

    who: tuple
    action: str  # "delete", "suppress" or "unsuppress"


@dataclass(slots=True)
class Merge(Operation):
    """Merge ``secondary`` into ``primary`` (each ``{"id": ...}`` or ``{"email": ...}``)."""

    primary: dict
    secondary: dict


@dataclass(slots=True)
class ObjectChange(Operation):
    """An object (a group: company, account...) and its people.

    action: "identify" (create/update), "delete", "add_relationships" or
    "delete_relationships". ``attributes`` and ``relationships``
    (``[{"identifiers": {...}}]``) are left out of the call when None.
    """

    object_type: str
    object_id: str
    action: str
    attributes: dict | None
    relationships: list | None


@dataclass(slots=True)
class PersonRelationship(Operation):
    """Relate a person to objects (an identify whose traits name an ``objectId``).

    ``relationships``: ``cio_relationships`` entries naming the objects, each
    with its ``relationship_attributes`` when given.
    """

    who: tuple
    relationships: list


@dataclass(slots=True)
class DeliveryMetric(Operation):
    """A message's delivery metric reported to Customer.io (``Report Delivery Event``).

    ``body``: the call's fields (``delivery_id``, ``metric``, ``timestamp``...),
    from ``transforms.metrics.metrics_body``.
    """

    body: dict


@dataclass(slots=True)
class RecordSync(Operation):
    """One warehouse record synced to a person or an event.

    action: "identify", "event" (with ``name``) or "delete"; ``attributes``
    and the others are left out when None.
    """

    who: tuple
    action: str
    name: str | None
    attributes: dict | None
    dedup_id: str | None


@dataclass(slots=True)
class SegmentMembership(Operation):
    """Add a person to (or remove them from) the manual segment of the run's settings."""

    who: tuple  # (id_type, value), value a str
    remove: bool


def resolve_person(user_id, email, anonymous_id) -> tuple[tuple | None, str | None]:
    """``(who, key)``: the first present of user id, email, anonymous id.

    User ids and emails over Customer.io's person id limit are a
    MappingError; ``(None, None)`` when all three are missing.
    """
    if user_id is not None:
        if type(user_id) is str:
            if len(user_id) > _SHORT_ID:  # most ids are short: no call
                check_person_id(user_id, "user id")
            # Customer.io's own id: cio_<id> (transforms.cio_ids); the first
            # character alone rules out most ids without building a slice.
            if user_id[0] == "c" and user_id[:4] == CIO_PREFIX:
                cio_id = cio_id_of(user_id)
                if cio_id is not None:
                    return ("cio_id", cio_id), f"cio_id:{cio_id}"
        return ("id", user_id), f"id:{user_id}"
    if email is not None:
        check_person_id(email, "email")
        return ("email", email), f"email:{email}"
    if anonymous_id is not None:
        return ("anonymous_id", anonymous_id), f"anonymous_id:{anonymous_id}"
    return None, None
