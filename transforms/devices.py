"""Track events about a person's device → ``DeviceAdd`` / ``DeviceRemove`` (docs/mapping.md, section 4).

``Application Installed``/``Opened``, ``Device Created or Updated`` (or the
configured device token event) register the device; ``Application
Uninstalled``/``Device Deleted`` remove it. The token is
``context.device.token``.
"""

from __future__ import annotations

from transforms import lookups
from transforms.errors import MappingError
from transforms.ids import id_text
from transforms.operations import DeviceAdd, DeviceRemove, resolve_person

DEVICE_ADDED = frozenset(("Application Installed", "Application Opened", "Device Created or Updated"))
DEVICE_REMOVED = frozenset(("Application Uninstalled", "Device Deleted"))
IOS_FAMILY = frozenset(("ios", "watchos", "ipados", "tvos"))
_MISSING = (None, "")


def device_token(event: dict) -> str | None:
    return id_text(lookups.context_part(event, "device").get("token"), "context.device.token")


def platform(event: dict) -> str | None:
    """``ios`` for the iOS family (any case), else ``context.device.type`` lowercased."""
    kind = lookups.context_part(event, "device").get("type")
    if not isinstance(kind, str):
        return None
    kind = kind.lower()
    return "ios" if kind in IOS_FAMILY else kind


def device_context(event: dict) -> dict:
    """device_os, device_model, app_version, device_locale: those present, in that order."""
    context = {}
    for key, value in (
        ("device_os", lookups.context_part(event, "os").get("name")),
        ("device_model", lookups.context_part(event, "device").get("model")),
        ("app_version", lookups.context_part(event, "app").get("version")),
        ("device_locale", (event.get("context") or {}).get("locale")),
    ):
        if value not in _MISSING:
            context[key] = value
    return context


def removed_device(event: dict, user_id, email, message_id, seconds) -> DeviceRemove:
    """A device removal; without a person (user id or email) or a token it is a MappingError."""
    token = device_token(event)
    if (user_id is None and email is None) or token is None:
        raise MappingError("userId/email or device_token not present")
    who, key = resolve_person(user_id, email, None)
    return DeviceRemove(key, message_id, seconds, "track", who, token)


def added_device(event: dict, user_id, email, message_id, seconds) -> DeviceAdd | None:
    """A device registration; None without a person or a token (an ordinary event then)."""
    token = device_token(event)
    if (user_id is None and email is None) or token is None:
        return None
    who, key = resolve_person(user_id, email, None)
    return DeviceAdd(key, message_id, seconds, "track", who, token, platform(event), event.get("properties"), event)
