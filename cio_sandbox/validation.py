"""Request-shape and limit checks for the sandbox, kept apart from the HTTP code.

Why this module exists: the sandbox is only useful if it refuses what
Customer.io would refuse, so the pipeline's mapping bugs show up as 400/207
answers in tests instead of in production. The rules come from the Track API
facts in ``shared/spec/CUSTOMERIO-API.md`` and the request schemas of
Customer.io's OpenAPI description (which is *not* needed at run time).

Every function is pure: it takes parsed JSON and returns errors, never raises.

- v1 checks return a list of human-readable messages (the sandbox answers
  ``400 {"meta": {"errors": messages}}``); an empty list means valid.
- v2 checks return ``None`` for a valid item, else a ``(reason, field,
  message)`` triple (the sandbox answers ``207 {"errors": [{"batch_index",
  "reason", "field", "message"}]}`` for the batch).

Deliberate simplifications: event ``id`` must be a non-empty string but is not
checked to be a well-formed ULID; e-mail addresses are not checked for shape.
A person ``id`` may be a JSON integer as well as a string (the OpenAPI types it
as a string; the pipeline keeps numeric user ids numeric, which Customer.io
accepts), in v2 identifiers and in merge primary/secondary.
"""

from __future__ import annotations

import orjson

# --- limits (CUSTOMERIO-API.md, "Limits") -----------------------------------
MAX_PERSON_ID_BYTES = 150
MAX_EVENT_NAME_BYTES = 100
MAX_V1_EVENT_DATA_BYTES = 100_000
MAX_ATTRIBUTES = 300
MAX_ATTRIBUTE_NAME_BYTES = 150
MAX_ATTRIBUTE_VALUE_BYTES = 1000
MAX_BATCH_BODY_BYTES = 500_000
MAX_BATCH_ITEM_BYTES = 32 * 1024
MAX_SEGMENT_IDS = 1000

EVENT_TYPES = frozenset(("event", "page", "screen"))
DEVICE_PLATFORMS = frozenset(("ios", "android"))
SEGMENT_ID_TYPES = frozenset(("id", "email", "cio_id"))
MERGE_IDENTIFIERS = ("id", "email", "cio_id")
# v2 person identifiers: exactly one of these ...
PERSON_IDENTIFIERS = frozenset(("id", "email", "cio_id", "phone"))
# ... or, for event/page/screen actions only, an anonymous_id. (Customer.io's
# OpenAPI lists only id/email/phone/cio_id; anonymous person events are how the
# pipeline sends anonymous track/page/screen calls over v2, so accept them.)
ANONYMOUS_ACTIONS = frozenset(("event", "page", "screen"))
PERSON_EVENT_IDENTIFIERS = PERSON_IDENTIFIERS | {"anonymous_id"}

PERSON_ACTIONS = frozenset((
    "identify", "delete", "event", "screen", "page", "add_relationships",
    "delete_relationships", "add_device", "delete_device", "merge",
    "suppress", "unsuppress",
))
OBJECT_ACTIONS = frozenset((
    "identify", "identify_anonymous", "delete", "add_relationships",
    "delete_relationships",
))
DELIVERY_ACTIONS = frozenset(("event",))
DELIVERY_EVENT_NAMES = frozenset(("opened", "converted", "delivered"))
ACTIONS_BY_TYPE = {
    "person": PERSON_ACTIONS,
    "object": OBJECT_ACTIONS,
    "delivery": DELIVERY_ACTIONS,
}
# Attribute values that are structures by design, not subject to the 1000-byte
# value limit.
_STRUCTURED_ATTRIBUTES = frozenset(("cio_relationships", "cio_subscription_preferences"))


def _is_int(value) -> bool:
    """A JSON integer (Python's bool is an int subclass: exclude it)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _nonempty_str(value) -> bool:
    return isinstance(value, str) and value != ""


def _nbytes(text: str) -> int:
    # len() counts code points; only encode when it could matter.
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def person_id_error(identifier: str) -> str | None:
    """The path identifier of a v1 call: non-empty, at most 150 bytes."""
    if identifier == "":
        return "identifier is required"
    if _nbytes(identifier) > MAX_PERSON_ID_BYTES:
        return f"identifier is longer than {MAX_PERSON_ID_BYTES} bytes"
    return None


def attribute_errors(attributes: dict, skip=()) -> list[str]:
    """Limits on identify attributes: count, name length, value length."""
    errors: list[str] = []
    if len(attributes) > MAX_ATTRIBUTES:
        errors.append(f"more than {MAX_ATTRIBUTES} attributes")
    for name, value in attributes.items():
        if name in skip or name in _STRUCTURED_ATTRIBUTES:
            continue
        if _nbytes(name) > MAX_ATTRIBUTE_NAME_BYTES:
            errors.append(f"attribute name longer than {MAX_ATTRIBUTE_NAME_BYTES} bytes: {name[:40]!r}...")
        if isinstance(value, str):
            if len(value) > MAX_ATTRIBUTE_VALUE_BYTES // 4 and _nbytes(value) > MAX_ATTRIBUTE_VALUE_BYTES:
                errors.append(f"attribute {name[:40]!r} value longer than {MAX_ATTRIBUTE_VALUE_BYTES} bytes")
        elif isinstance(value, (dict, list)):
            if len(orjson.dumps(value)) > MAX_ATTRIBUTE_VALUE_BYTES:
                errors.append(f"attribute {name[:40]!r} value longer than {MAX_ATTRIBUTE_VALUE_BYTES} bytes")
    return errors


# --- v1 bodies -----------------------------------------------------------------

def v1_identify(body) -> list[str]:
    """PUT /api/v1/customers/{id}: a JSON object of attributes."""
    if not isinstance(body, dict):
        return ["request body must be a JSON object of attributes"]
    errors = []
    for key in ("_timestamp", "created_at"):
        if key in body and not _is_int(body[key]):
            errors.append(f"{key} must be an integer unix timestamp")
    for key in ("id", "email", "anonymous_id"):
        if key in body and body[key] is not None and not isinstance(body[key], str):
            errors.append(f"{key} must be a string")
    if "_update" in body and not isinstance(body["_update"], bool):
        errors.append("_update must be a boolean")
    errors.extend(attribute_errors(body, skip=("_timestamp", "created_at", "_update")))
    return errors


def v1_event(body, anonymous: bool) -> list[str]:
    """POST /api/v1/customers/{id}/events and POST /api/v1/events."""
    if not isinstance(body, dict):
        return ["request body must be a JSON object"]
    errors = []
    name = body.get("name")
    if not _nonempty_str(name):
        errors.append("name is required and must be a non-empty string")
    elif _nbytes(name) > MAX_EVENT_NAME_BYTES:
        errors.append(f"name is longer than {MAX_EVENT_NAME_BYTES} bytes")
    if "type" in body and body["type"] not in EVENT_TYPES:
        errors.append("type must be one of event, page, screen")
    if "timestamp" in body and not _is_int(body["timestamp"]):
        errors.append("timestamp must be an integer unix timestamp")
    if "id" in body and not _nonempty_str(body["id"]):
        errors.append("id must be a non-empty string (a ULID)")
    if "data" in body:
        data = body["data"]
        if not isinstance(data, dict):
            errors.append("data must be a JSON object")
        elif len(orjson.dumps(data)) > MAX_V1_EVENT_DATA_BYTES:
            errors.append(f"data is larger than {MAX_V1_EVENT_DATA_BYTES} bytes")
    if anonymous:
        if not _nonempty_str(body.get("anonymous_id")):
            errors.append("anonymous_id is required and must be a non-empty string")
    return errors


def v1_device(body) -> list[str]:
    """PUT /api/v1/customers/{id}/devices: {"device": {"id", "platform", ...}}."""
    if not isinstance(body, dict):
        return ["request body must be a JSON object"]
    device = body.get("device")
    if not isinstance(device, dict):
        return ["device is required and must be a JSON object"]
    errors = []
    if not _nonempty_str(device.get("id")):
        errors.append("device.id is required and must be a non-empty string")
    if device.get("platform") not in DEVICE_PLATFORMS:
        errors.append("device.platform is required and must be ios or android")
    if "last_used" in device and not _is_int(device["last_used"]):
        errors.append("device.last_used must be an integer unix timestamp")
    if "attributes" in device and not isinstance(device["attributes"], dict):
        errors.append("device.attributes must be a JSON object")
    return errors


def _merge_side_error(side) -> str | None:
    if not isinstance(side, dict) or len(side) != 1:
        return "must be an object with exactly one of id, email, cio_id"
    (key, value), = side.items()
    if key not in MERGE_IDENTIFIERS:
        return "must be an object with exactly one of id, email, cio_id"
    if key == "id" and _is_int(value):
        return None
    if not _nonempty_str(value):
        return f"{key} must be a non-empty string"
    if key == "id" and _nbytes(value) > MAX_PERSON_ID_BYTES:
        return f"id is longer than {MAX_PERSON_ID_BYTES} bytes"
    return None


def v1_merge(body) -> list[str]:
    """POST /api/v1/merge_customers: {"primary": {...}, "secondary": {...}}."""
    if not isinstance(body, dict):
        return ["request body must be a JSON object"]
    errors = []
    for side in ("primary", "secondary"):
        if side not in body:
            errors.append(f"{side} is required")
            continue
        error = _merge_side_error(body[side])
        if error:
            errors.append(f"{side} {error}")
    return errors


def v1_segment(segment_id: str, id_type: str | None, body) -> list[str]:
    """POST /api/v1/segments/{segment_id}/add_customers|remove_customers."""
    errors = []
    if not segment_id.isdigit():
        errors.append("segment_id must be an integer")
    if id_type is not None and id_type not in SEGMENT_ID_TYPES:
        errors.append("id_type must be one of id, email, cio_id")
    if not isinstance(body, dict):
        errors.append("request body must be a JSON object")
        return errors
    ids = body.get("ids")
    if not isinstance(ids, list):
        errors.append("ids is required and must be a list")
    elif not 1 <= len(ids) <= MAX_SEGMENT_IDS:
        errors.append(f"ids must hold 1 to {MAX_SEGMENT_IDS} entries")
    elif not all(isinstance(x, str) for x in ids):
        errors.append("ids must be strings")
    return errors


# --- v2 batch items ------------------------------------------------------------

Error = tuple  # (reason, field, message)


def _person_identifiers_error(identifiers, action: str) -> Error | None:
    if not isinstance(identifiers, dict):
        return ("required", "identifiers", "identifiers is required and must be an object")
    allowed = PERSON_EVENT_IDENTIFIERS if action in ANONYMOUS_ACTIONS else PERSON_IDENTIFIERS
    if len(identifiers) != 1:
        return ("invalid", "identifiers",
                "identifiers must hold exactly one of " + ", ".join(sorted(allowed)))
    (key, value), = identifiers.items()
    if key not in allowed:
        return ("invalid", f"identifiers.{key}",
                f"{key} is not a valid identifier for a person {action}; use one of " + ", ".join(sorted(allowed)))
    if key == "id" and _is_int(value):
        return None
    if not _nonempty_str(value):
        return ("invalid", f"identifiers.{key}", f"{key} must be a non-empty string")
    if key == "id" and _nbytes(value) > MAX_PERSON_ID_BYTES:
        return ("too_long", "identifiers.id", f"id is longer than {MAX_PERSON_ID_BYTES} bytes")
    return None


def _object_identifiers_error(identifiers) -> Error | None:
    if not isinstance(identifiers, dict):
        return ("required", "identifiers", "identifiers is required and must be an object")
    if "cio_object_id" in identifiers and len(identifiers) == 1:
        if _nonempty_str(identifiers["cio_object_id"]):
            return None
        return ("invalid", "identifiers.cio_object_id", "cio_object_id must be a non-empty string")
    for key in ("object_type_id", "object_id"):
        if not _nonempty_str(identifiers.get(key)):
            return ("required", f"identifiers.{key}",
                    f"{key} is required and must be a non-empty string (or use cio_object_id alone)")
    return None


def _event_fields_error(item) -> Error | None:
    name = item.get("name")
    if not _nonempty_str(name):
        return ("required", "name", "name is required and must be a non-empty string")
    if _nbytes(name) > MAX_EVENT_NAME_BYTES:
        return ("too_long", "name", f"name is longer than {MAX_EVENT_NAME_BYTES} bytes")
    if "id" in item and not _nonempty_str(item["id"]):
        return ("invalid", "id", "id must be a non-empty string (a ULID)")
    return None


def _relationships_error(item) -> Error | None:
    rel = item.get("cio_relationships")
    if not isinstance(rel, list) or not rel:
        return ("required", "cio_relationships", "cio_relationships is required and must be a non-empty list")
    for i, entry in enumerate(rel):
        if not isinstance(entry, dict) or not isinstance(entry.get("identifiers"), dict):
            return ("invalid", f"cio_relationships[{i}].identifiers",
                    "each relationship needs an identifiers object")
    return None


def _device_error(item, action: str) -> Error | None:
    device = item.get("device")
    if not isinstance(device, dict):
        return ("required", "device", "device is required and must be an object")
    if not _nonempty_str(device.get("token")):
        return ("required", "device.token", "device.token is required and must be a non-empty string")
    if action == "add_device":
        if device.get("platform") not in DEVICE_PLATFORMS:
            return ("invalid", "device.platform", "device.platform is required and must be ios or android")
        if "last_used" in device and not _is_int(device["last_used"]):
            return ("invalid", "device.last_used", "device.last_used must be an integer unix timestamp")
    return None


def batch_item_error(item) -> Error | None:
    """Check one v2 batch item; None when valid."""
    if not isinstance(item, dict):
        return ("invalid", "", "batch item must be a JSON object")
    kind = item.get("type")
    actions = ACTIONS_BY_TYPE.get(kind)
    if actions is None:
        return ("invalid", "type", "type must be one of person, object, delivery")
    action = item.get("action")
    if action not in actions:
        return ("invalid", "action", f"action {action!r} is not allowed for type {kind}; allowed: "
                + ", ".join(sorted(actions)))
    if "timestamp" in item and not _is_int(item["timestamp"]):
        return ("invalid", "timestamp", "timestamp must be an integer unix timestamp")
    if "attributes" in item and not isinstance(item["attributes"], dict):
        return ("invalid", "attributes", "attributes must be an object")

    if kind == "person":
        if action == "merge":
            for side in ("primary", "secondary"):
                if side not in item:
                    return ("required", side, f"{side} is required")
                error = _merge_side_error(item[side])
                if error:
                    return ("invalid", side, f"{side} {error}")
            return None
        error = _person_identifiers_error(item.get("identifiers"), action)
        if error:
            return error
        if action in ANONYMOUS_ACTIONS:
            return _event_fields_error(item)
        if action == "identify":
            attributes = item.get("attributes")
            if attributes:
                messages = attribute_errors(attributes)
                if messages:
                    return ("invalid", "attributes", messages[0])
            return None
        if action in ("add_relationships", "delete_relationships"):
            return _relationships_error(item)
        if action in ("add_device", "delete_device"):
            return _device_error(item, action)
        return None  # delete, suppress, unsuppress

    if kind == "object":
        error = _object_identifiers_error(item.get("identifiers"))
        if error:
            return error
        if action in ("add_relationships", "delete_relationships"):
            return _relationships_error(item)
        return None

    # delivery
    identifiers = item.get("identifiers")
    if not isinstance(identifiers, dict) or not _nonempty_str(identifiers.get("id")):
        return ("required", "identifiers.id", "identifiers.id (the delivery id) is required")
    if item.get("name") not in DELIVERY_EVENT_NAMES:
        return ("invalid", "name", "name must be one of opened, converted, delivered")
    attributes = item.get("attributes")
    if not isinstance(attributes, dict) or not _nonempty_str(attributes.get("device_token")):
        return ("required", "attributes.device_token", "attributes.device_token is required")
    return None

