"""Track, page and screen → events, devices and lifecycle calls (MAPPING.md section 4).

A track event named ``Application Installed``/``Opened``, ``Device Created
or Updated`` (or the configured device token event) registers the device,
``Application Uninstalled``/``Device Deleted`` removes it; the lifecycle
events of the common event spec that Customer.io has a call for delete,
suppress or unsuppress the person (``User Deleted``/``Suppressed``/
``Unsuppressed``), delete an object (``Object Deleted``) or a person's
relationship to it (``Relationship Deleted``). Everything else is a
Customer.io event, on the person when the event names one, else anonymous
(names then cut to Customer.io's 100 bytes).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from transforms import build, lookups
from transforms.errors import MappingError
from transforms.limits import EVENTS_PATH, MAX_EVENT_NAME_BYTES
from transforms.ids import check_person_id, dedup_id, encode_path, id_text
from transforms.models import Page, Screen, Track, validate
from transforms.objects import DEFAULT_OBJECT_TYPE, relationships
from transforms.settings import Settings
from transforms.times import unix
from transforms.v2 import person_identifiers, person_item

DEVICE_ADDED = frozenset(("Application Installed", "Application Opened", "Device Created or Updated"))
DEVICE_REMOVED = frozenset(("Application Uninstalled", "Device Deleted"))
# track name -> (v1 method, v1 path after /api/v1/customers/{id}, v2 person action)
PERSON_LIFECYCLE = {
    "User Deleted": ("DELETE", "", "delete"),
    "User Suppressed": ("POST", "/suppress", "suppress"),
    "User Unsuppressed": ("POST", "/unsuppress", "unsuppress"),
}
OBJECT_LIFECYCLE = {"Object Deleted": "delete", "Relationship Deleted": "delete_relationships"}
# Every name with a meaning of its own: one set look-up per track event.
LIFECYCLE = DEVICE_ADDED | DEVICE_REMOVED | frozenset(PERSON_LIFECYCLE) | frozenset(OBJECT_LIFECYCLE)
IOS_FAMILY = frozenset(("ios", "watchos", "ipados", "tvos"))
MAX_SCREEN_NAME_BYTES = MAX_EVENT_NAME_BYTES - len("Viewed  Screen")  # 86
_MODELS: dict[str, type[BaseModel]] = {"track": Track, "page": Page, "screen": Screen}
_V1_TYPES = {"track": "event", "page": "page", "screen": "event"}
_V2_ACTIONS = {"track": "event", "page": "page", "screen": "screen"}
_MISSING = (None, "")


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


def device_token(event: dict) -> str | None:
    return id_text(lookups.context_part(event, "device").get("token"), "context.device.token")


def platform(event: dict) -> str | None:
    """``ios`` for the iOS family (any case), else ``context.device.type`` lowercased."""
    kind = lookups.context_part(event, "device").get("type")
    if not isinstance(kind, str):
        return None
    kind = kind.lower()
    return "ios" if kind in IOS_FAMILY else kind


def _attribute_text(value: object) -> str:
    # Customer.io device attributes are strings (its schema says so).
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return build.serialize(value).decode("utf-8")


def device_attributes(event: dict) -> dict | None:
    """v2 ``device.attributes``: device_os, device_model, app_version, device_locale, properties."""
    attributes = {}
    for key, value in (
        ("device_os", lookups.context_part(event, "os").get("name")),
        ("device_model", lookups.context_part(event, "device").get("model")),
        ("app_version", lookups.context_part(event, "app").get("version")),
        ("device_locale", (event.get("context") or {}).get("locale")),
    ):
        if value not in _MISSING:
            attributes[key] = value
    if event.get("properties"):
        attributes.update(event["properties"])
    return {k: _attribute_text(v) for k, v in attributes.items() if v is not None} or None


def _person_key(user_id, email) -> str:
    return f"id:{user_id}" if user_id is not None else f"email:{email}"


def map_events(kind: str, raw: dict, settings: Settings) -> list:
    """Map a track, page or screen event (``kind``)."""
    event = validate(_MODELS[kind], lookups.unmap_destination(raw))
    user_id = lookups.user_id(event)
    email = lookups.email(event) if user_id is None else None
    person = user_id if user_id is not None else email
    message_id = lookups.message_id(event)
    seconds = lookups.event_seconds(event)

    if kind == "track":
        name = event["event"]
        if name in LIFECYCLE or name == settings.device_token_event:
            request = _lifecycle(name, event, person, user_id, email, settings, message_id, seconds)
            if request is not None:
                return [request]

    properties = event.get("properties")
    name = event_name(kind, event, person is None)
    event_id = dedup_id(message_id, seconds, raw) if settings.dedup_ids else None
    whole_seconds = unix(seconds)
    if settings.api_version == "v2":
        identifiers, key = person_identifiers(user_id, email, lookups.anonymous_id(event))
        item = person_item(_V2_ACTIONS[kind], identifiers)
        item["name"] = name
        if properties is not None:
            item["attributes"] = properties
        if whole_seconds is not None:
            item["timestamp"] = whole_seconds
        if event_id is not None:
            item["id"] = event_id
        return [build.batch_item(item, settings, key, message_id, seconds, kind)]

    body: dict[str, Any] = {"name": name, "type": _V1_TYPES[kind]}
    if properties is not None:
        body["data"] = properties
    if whole_seconds is not None:
        body["timestamp"] = whole_seconds
    if event_id is not None:
        body["id"] = event_id
    if person is not None:
        check_person_id(str(person), "user id" if user_id is not None else "email")
        url = f"{settings.customers_url}{encode_path(person)}/events"
        return [build.request("POST", url, body, _person_key(user_id, email), message_id, seconds, kind)]
    anonymous_id = lookups.anonymous_id(event)
    if anonymous_id is None:
        raise MappingError("Anonymous id/ user id is required")
    body["anonymous_id"] = anonymous_id
    url = settings.base_url + EVENTS_PATH
    return [build.request("POST", url, body, f"anonymous_id:{anonymous_id}", message_id, seconds, kind)]


def _lifecycle(name, event, person, user_id, email, settings, message_id, seconds):
    """The request of a lifecycle track event; None when it is an ordinary event after all."""
    if name in DEVICE_REMOVED:
        token = device_token(event)
        if person is None or token is None:
            raise MappingError("userId/email or device_token not present")
        return _remove_device(person, user_id, email, token, settings, message_id, seconds)
    if name in PERSON_LIFECYCLE:
        return _person_lifecycle(name, person, user_id, email, settings, message_id, seconds)
    if name in OBJECT_LIFECYCLE:
        return _object_lifecycle(name, event, settings, message_id, seconds)
    # device registration (DEVICE_ADDED or the configured device token event)
    token = device_token(event)
    if person is not None and token is not None:
        return _add_device(event, person, user_id, email, token, settings, message_id, seconds)
    return None


def _person_lifecycle(name, person, user_id, email, settings, message_id, seconds):
    """User Deleted / Suppressed / Unsuppressed: v1 call without a body, or a v2 person item."""
    if person is None:
        raise MappingError(f"{name} needs a userId or email")
    method, tail, action = PERSON_LIFECYCLE[name]
    if settings.api_version == "v2":
        identifiers, key = person_identifiers(user_id, email, None)
        return build.batch_item(person_item(action, identifiers), settings, key, message_id, seconds, "track")
    check_person_id(str(person), "user id" if user_id is not None else "email")
    url = f"{settings.customers_url}{encode_path(person)}{tail}"
    return build.request(method, url, None, _person_key(user_id, email), message_id, seconds, "track")


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


def _object_lifecycle(name, event, settings, message_id, seconds):
    """Object Deleted / Relationship Deleted: an object item of /api/v2/batch (both versions)."""
    found = object_of(event)
    if found is None:
        raise MappingError(f"{name} needs an object id (properties.objectId, properties.groupId, "
                           f"groupId or context.groupId)")
    object_type, object_id = found
    action = OBJECT_LIFECYCLE[name]
    item = {
        "type": "object",
        "action": action,
        "identifiers": {"object_id": object_id, "object_type_id": object_type},
    }
    if action == "delete_relationships":
        related = relationships(event)
        if not related:
            raise MappingError(f"{name} needs a userId or email")
        item["cio_relationships"] = related
    key = f"object:{object_type}:{object_id}"
    return build.batch_item(item, settings, key, message_id, seconds, "track")


def _add_device(event, person, user_id, email, token, settings, message_id, seconds):
    last_used = unix(seconds)
    if settings.api_version == "v2":
        identifiers, key = person_identifiers(user_id, email, None)
        device = {"token": token}
        for field, value in (("last_used", last_used), ("platform", platform(event)),
                             ("attributes", device_attributes(event))):
            if value is not None:
                device[field] = value
        item = person_item("add_device", identifiers)
        item["device"] = device
        return build.batch_item(item, settings, key, message_id, seconds, "track")
    check_person_id(str(person), "user id" if user_id is not None else "email")
    device = dict(event["properties"]) if event.get("properties") else {}
    device["id"] = token
    if last_used is not None:
        device["last_used"] = last_used
    kind = platform(event)
    if kind is not None:
        device["platform"] = kind
    url = f"{settings.customers_url}{encode_path(person)}/devices"
    return build.request("PUT", url, {"device": device}, _person_key(user_id, email), message_id, seconds, "track")


def _remove_device(person, user_id, email, token, settings, message_id, seconds):
    if settings.api_version == "v2":
        identifiers, key = person_identifiers(user_id, email, None)
        item = person_item("delete_device", identifiers)
        item["device"] = {"token": token}
        return build.batch_item(item, settings, key, message_id, seconds, "track")
    check_person_id(str(person), "user id" if user_id is not None else "email")
    url = (f"{settings.customers_url}{encode_path(person)}"
           f"/devices/{encode_path(token)}")
    return build.request("DELETE", url, None, _person_key(user_id, email), message_id, seconds, "track")


def map_track(raw: dict, settings: Settings) -> list:
    return map_events("track", raw, settings)


def map_page(raw: dict, settings: Settings) -> list:
    return map_events("page", raw, settings)


def map_screen(raw: dict, settings: Settings) -> list:
    return map_events("screen", raw, settings)
