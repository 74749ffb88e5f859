"""Track, page and screen → ``Event`` operations (docs/mapping.md, section 4).

A track event whose name has a meaning of its own is a device
(``transforms.devices``), lifecycle (``transforms.lifecycle``) or delivery
metric (``transforms.metrics``) operation;
everything else is a Customer.io event (or a page or screen view), on the
person when the event names one, else anonymous (names then cut to
Customer.io's 100 bytes).
"""

from __future__ import annotations

from pydantic import BaseModel

from transforms import lookups
from transforms.devices import DEVICE_ADDED, DEVICE_REMOVED, added_device, removed_device
from transforms.errors import MappingError
from transforms.ids import dedup_id
from transforms.lifecycle import OBJECT_LIFECYCLE, PERSON_LIFECYCLE, object_change, person_change
from transforms.limits import MAX_EVENT_NAME_BYTES
from transforms.metrics import DELIVERY_EVENT, metrics_body
from transforms.models import FITS, Page, Screen, Track, validate
from transforms.operations import DeliveryMetric, Event, Operation, resolve_person
from transforms.settings import Settings
from transforms.timestamps import convert_timestamps

# Every name with a meaning of its own: one set look-up per track event.
LIFECYCLE = (DEVICE_ADDED | DEVICE_REMOVED | frozenset(PERSON_LIFECYCLE) | frozenset(OBJECT_LIFECYCLE)
             | {DELIVERY_EVENT})
MAX_SCREEN_NAME_BYTES = MAX_EVENT_NAME_BYTES - len("Viewed  Screen")  # 86
_MODELS: dict[str, type[BaseModel]] = {"track": Track, "page": Page, "screen": Screen}
_FITS = {kind: FITS[model] for kind, model in _MODELS.items()}
_MISSING = (None, "")
_new = object.__new__


def cut_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes without splitting a character."""
    if len(text) * 4 <= limit:
        return text
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", "ignore")


def _string_name(value: object) -> str:
    # A missing name is the same error as a wrong one: Customer.io refuses an
    # event without a name (400), so it is dead-lettered here, with the reason.
    if value in _MISSING or not isinstance(value, str):
        raise MappingError("Event Name type should be a string")
    return value


def event_name(kind: str, event: dict, anonymous: bool) -> str:
    """The Customer.io event name; a page or screen without one is a MappingError."""
    if kind == "track":
        name = event["event"]
    elif kind == "page":
        name = event.get("name")
        if name in _MISSING:
            name = (event.get("properties") or {}).get("url")
        name = _string_name(name)
    else:  # screen
        screen = event.get("event")
        if screen in _MISSING:
            screen = (event.get("properties") or {}).get("name")
        if screen in _MISSING:
            screen = event.get("name")  # the standard screen-call field, last
        screen = _string_name(screen)
        if anonymous:
            screen = cut_utf8(screen, MAX_SCREEN_NAME_BYTES)
        return f"Viewed {screen} Screen"
    if anonymous:
        name = cut_utf8(name, MAX_EVENT_NAME_BYTES)
    return name


def map_events(raw: dict, settings: Settings, kind: str = "track") -> list:
    """Map a track, page or screen event (``kind``).

    ``kind`` comes last, with track as the default, so that ``map_track`` is
    this function itself: track events are most events, and a wrapper's
    call costs them a measurable part of the mapping.
    """
    event = lookups.unmap_destination(raw)
    if not _FITS[kind](event):  # validate()'s fast path, one call less per event
        validate(_MODELS[kind], event)
    user_id = lookups.user_id(event)
    email = lookups.email(event) if user_id is None else None
    person = user_id if user_id is not None else email
    message_id = event.get("messageId")
    if type(message_id) is not str or not message_id:  # lookups.message_id answers all but the usual case
        message_id = lookups.message_id(event)
    seconds = lookups.event_seconds(event)

    options = settings.event_options  # one read of the Settings for three
    if kind == "track":
        name = event["event"]
        if name in LIFECYCLE or name == options.device_token_event:
            operation = _lifecycle(name, event, user_id, email, message_id, seconds)
            if operation is not None:
                return [operation]

    # A track event's name is its "event" (checked by validate); only anonymous ones are cut.
    name = event["event"] if kind == "track" and person is not None else event_name(kind, event, person is None)
    event_id = dedup_id(message_id, seconds, raw) if options.dedup_ids else None
    who, key = resolve_person(user_id, email, lookups.anonymous_id(event) if person is None else None)
    properties = event.get("properties")
    if options.convert_timestamps and properties:
        properties = convert_timestamps(properties)
    # Event(key, message_id, seconds, kind, who, name, properties, event_id),
    # field by field: cheaper than calling the dataclass, and this runs for
    # most events (see the CioRequest in transforms/build.py).
    operation = _new(Event)
    operation.key = key
    operation.message_id = message_id
    operation.seconds = seconds
    operation.source = kind
    operation.who = who
    operation.name = name
    operation.properties = properties
    operation.dedup_id = event_id
    return [operation]


def _lifecycle(name, event, user_id, email, message_id, seconds) -> Operation | None:
    """The operation of a lifecycle track event; None when it is an ordinary event after all."""
    if name in DEVICE_REMOVED:
        return removed_device(event, user_id, email, message_id, seconds)
    if name in PERSON_LIFECYCLE:
        return person_change(name, user_id, email, message_id, seconds)
    if name in OBJECT_LIFECYCLE:
        return object_change(name, event, message_id, seconds)
    if name == DELIVERY_EVENT:
        # About a message, not a person: ordered by its delivery id.
        body = metrics_body(event)
        return DeliveryMetric(f"delivery:{body['delivery_id']}", message_id, seconds, "track", body)
    # device registration (DEVICE_ADDED or the configured device token event)
    return added_device(event, user_id, email, message_id, seconds)


map_track = map_events


def map_page(raw: dict, settings: Settings) -> list:
    return map_events(raw, settings, "page")


def map_screen(raw: dict, settings: Settings) -> list:
    return map_events(raw, settings, "screen")
