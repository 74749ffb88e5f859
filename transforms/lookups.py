"""Field look-ups (docs/mapping.md, section 2).

A look-up takes the first of its paths that holds a value (not null, not
empty string). Events reach these functions already checked by
``models.validate``: ``properties``, ``context`` and
``context.device/os/app`` are dicts or None, ids are strings or numbers.
``traits`` and ``context.traits`` are objects for identify and group; a
track, page or screen event may carry any value there, and the look-ups
read a value that is not an object as absent. Reverse-ETL-mapped events are
rewritten here too, before checking.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from transforms.ids import id_text, normalize_id
from transforms.times import to_seconds

_fromisoformat = datetime.fromisoformat

MISSING = (None, "")
_EMPTY: dict = {}


def context_part(event: dict, key: str) -> dict:
    """``context.<key>`` as a dict (empty when absent or not an object)."""
    context = event.get("context")
    if not context:
        return _EMPTY
    value = context.get(key)
    return value if isinstance(value, dict) else _EMPTY


def event_traits(event: dict) -> dict:
    """``traits`` as a dict (empty when absent or not an object)."""
    value = event.get("traits")
    return value if isinstance(value, dict) else _EMPTY


def external_id(event: dict) -> Any:
    """``context.externalId.0.id`` (None when absent)."""
    context = event.get("context")
    ids = context.get("externalId") if context else None
    if ids and isinstance(ids[0], dict):
        return ids[0].get("id")
    return None


def user_id(event: dict) -> str | int | None:
    """userId, traits.userId, traits.id, context.traits.userId, context.traits.id.

    Returned normalised (str, or int for numbers); a value of another type
    is a MappingError naming its path.
    """
    value = event.get("userId")
    if value is not None and value != "":  # spelled out: faster than `not in MISSING` (bench/bench_mapping.py)
        return value if type(value) is str else normalize_id(value, "userId")
    traits = event_traits(event)
    if traits:
        for key in ("userId", "id"):
            value = traits.get(key)
            if value not in MISSING:
                return normalize_id(value, f"traits.{key}")
    ctx_traits = context_part(event, "traits")
    for key in ("userId", "id"):
        value = ctx_traits.get(key)
        if value not in MISSING:
            return normalize_id(value, f"context.traits.{key}")
    return None


def email(event: dict) -> str | None:
    """traits.email, context.traits.email, properties.email, context.externalId.0.id.

    Each path is read only when the ones before it are missing.
    """
    value = event_traits(event).get("email")
    if value not in MISSING:
        return id_text(value, "traits.email")
    value = context_part(event, "traits").get("email")
    if value not in MISSING:
        return id_text(value, "context.traits.email")
    value = (event.get("properties") or _EMPTY).get("email")
    if value not in MISSING:
        return id_text(value, "properties.email")
    return id_text(external_id(event), "context.externalId.0.id")


def traits(event: dict) -> dict | None:
    """``traits``, else ``context.traits``."""
    value = event.get("traits")
    if value is None:
        context = event.get("context")
        value = context.get("traits") if context else None
    return value


def created_at(event: dict) -> Any:
    """traits.createdAt, else context.traits.createdAt (raw value)."""
    value = event_traits(event).get("createdAt")
    if value in MISSING:
        value = context_part(event, "traits").get("createdAt")
    return None if value in MISSING else value


def event_seconds(event: dict) -> float | None:
    """Event time (``timestamp``, else ``originalTimestamp``) in Unix seconds."""
    value = event.get("timestamp")
    if value is None or value == "":
        value = event.get("originalTimestamp")
        if value is None or value == "":
            return None
    if type(value) is str:  # the usual "2024-05-01T10:00:00.123Z": to_seconds' first case, without its call
        try:
            parsed = _fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed.timestamp()
        except (ValueError, OverflowError):
            pass  # to_seconds decides
    return to_seconds(value)


def anonymous_id(event: dict) -> str | None:
    value = event.get("anonymousId")
    if type(value) is str:  # the usual case, answered without a call
        return value or None
    return id_text(value, "anonymousId")


def message_id(event: dict) -> str | None:
    value = event.get("messageId")
    if type(value) is str:  # the usual case, answered without a call
        return value or None
    return id_text(value, "messageId")


def unmap_destination(raw: dict) -> dict:
    """Apply the reverse-ETL rewrite when ``context.mappedToDestination`` is truthy.

    ``userId`` becomes ``context.externalId.0.id`` and the traits object
    gets the key ``context.externalId.0.identifierType`` set to that id.
    Returns a rewritten shallow copy; the input is never changed.
    """
    context = raw.get("context")
    if not isinstance(context, dict) or not context.get("mappedToDestination"):
        return raw
    ids = context.get("externalId")
    if not isinstance(ids, list) or not ids or not isinstance(ids[0], dict):
        return raw
    new_id = ids[0].get("id")
    if new_id in MISSING:
        return raw
    event = dict(raw)
    event["userId"] = new_id
    key = ids[0].get("identifierType")
    if isinstance(key, str) and key:
        if isinstance(raw.get("traits"), dict):
            event["traits"] = {**raw["traits"], key: new_id}
        elif raw.get("traits") is None and isinstance(context.get("traits"), dict):
            event["context"] = {**context, "traits": {**context["traits"], key: new_id}}
        elif raw.get("traits") is None and context.get("traits") is None:
            event["traits"] = {key: new_id}
    return event
