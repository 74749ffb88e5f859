"""Request-shape and limit checks for the sandbox, kept apart from the HTTP code.

Why this module exists: the sandbox is only useful if it refuses what
Customer.io would refuse, so the pipeline's mapping bugs show up as 400/207
answers in tests instead of in production. The rules come from Customer.io's
Track API documentation and the request schemas of its OpenAPI description
(their structure is kept for the tests in
``tests/fixtures/customerio_track_schemas.json``; nothing of it is needed at
run time).

Every check takes parsed JSON and returns errors; none changes its input or
depends on earlier calls (the one memo, of attribute names known to be short,
only saves work).

Speed matters here: the sandbox shares the machine's cores with the pipeline
it measures. The rules are written for clarity (``batch_item_error_reference``
and the v1 checks); in front of them, fast paths accept the common valid shapes
with fewer Python operations and hand anything else to the rules, so answers
are the rules' own.

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

A ``cio_id`` is letters and digits (the OpenAPI's format for the ``cio_``
path identifier is ``cio_[a-zA-Z0-9]*``): bare in v2 identifiers and merge
sides, prefixed with ``cio_`` in a v1 path (a path identifier starting with
``cio_`` that is not an e-mail address is read as a cio_id, like Customer.io
tells the identifier's kind from its shape). ``POST /api/v1/metrics`` needs no
authorization (the OpenAPI gives it no security requirement).
"""

from __future__ import annotations

import orjson

# Customer.io's published caps, defined once for the project.
from transforms.limits import (
    MAX_ATTRIBUTE_NAME_BYTES,
    MAX_ATTRIBUTE_VALUE_BYTES,
    MAX_ATTRIBUTES,
    MAX_BATCH_BODY_BYTES,
    MAX_BATCH_ITEM_BYTES,
    MAX_EVENT_NAME_BYTES,
    MAX_PERSON_ID_BYTES,
    MAX_V1_EVENT_DATA_BYTES,
)
from transforms.limits import MAX_BATCH_ITEMS as MAX_SEGMENT_IDS

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
# POST /api/v1/metrics: the metrics of every channel the schema lists (the
# call does not say the channel); a numeric recipient (a phone number) is
# only the SMS variant's, which allows fewer.
METRICS = frozenset(("bounced", "clicked", "converted", "deferred", "delivered", "dropped", "opened", "spammed"))
SMS_METRICS = frozenset(("bounced", "clicked", "delivered", "opened"))
CIO_PREFIX = "cio_"
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


def _cio_id_fine(value: str) -> bool:
    """A cio_id: one or more ASCII letters and digits."""
    return value.isascii() and value.isalnum()


def person_id_error(identifier: str) -> str | None:
    """The path identifier of a v1 call: non-empty, at most 150 bytes; ``cio_<cio_id>`` when so prefixed."""
    if identifier == "":
        return "identifier is required"
    if _nbytes(identifier) > MAX_PERSON_ID_BYTES:
        return f"identifier is longer than {MAX_PERSON_ID_BYTES} bytes"
    if identifier.startswith(CIO_PREFIX) and "@" not in identifier \
            and not _cio_id_fine(identifier[len(CIO_PREFIX):]):
        return "an identifier starting with cio_ must be cio_ followed by the person's cio_id (letters and digits)"
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


# Attribute names already seen to be texts within MAX_ATTRIBUTE_NAME_BYTES:
# most items of a stream share a few dozen names, and a set can tell that all
# of an item's names are known in one C-level pass. Bounded, so hostile input
# cannot grow it without end.
_FINE_ATTRIBUTE_NAMES: set = set()
_FINE_ATTRIBUTE_NAMES_MAX = 10_000


def _attribute_names_fine(attributes: dict) -> bool:
    """Every name is within MAX_ATTRIBUTE_NAME_BYTES (structured ones included)."""
    if _FINE_ATTRIBUTE_NAMES.issuperset(attributes):
        return True
    for name in attributes:
        if not (type(name) is str and _nbytes(name) <= MAX_ATTRIBUTE_NAME_BYTES):
            return False
    if len(_FINE_ATTRIBUTE_NAMES) < _FINE_ATTRIBUTE_NAMES_MAX:
        _FINE_ATTRIBUTE_NAMES.update(attributes)
    return True


def _attributes_surely_fine(attributes: dict) -> bool:
    """True only when ``attribute_errors(attributes, skip)`` is empty for any ``skip``.

    False means "not sure": the caller then runs ``attribute_errors``.
    """
    if len(attributes) > MAX_ATTRIBUTES or not _attribute_names_fine(attributes):
        return False
    # Every value's serialization is a part of the whole object's, and a text's
    # UTF-8 bytes are no more than its serialization: a small whole means small values.
    try:
        return len(orjson.dumps(attributes)) <= MAX_ATTRIBUTE_VALUE_BYTES
    except orjson.JSONEncodeError:
        return False


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
    if not _attributes_surely_fine(body):
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
    if "type" in body and not _one_of(body["type"], EVENT_TYPES):
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
    if not _one_of(device.get("platform"), DEVICE_PLATFORMS):
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
    if key == "cio_id" and not _cio_id_fine(value):
        return "cio_id must be letters and digits, without the cio_ prefix"
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


def v1_metrics(body) -> list[str]:
    """POST /api/v1/metrics: {"delivery_id", "metric", optional timestamp, recipient, href, reason}."""
    if not isinstance(body, dict):
        return ["request body must be a JSON object"]
    errors = []
    if not _nonempty_str(body.get("delivery_id")):
        errors.append("delivery_id is required and must be a non-empty string")
    metric = body.get("metric")
    if not _one_of(metric, METRICS):
        errors.append("metric is required and must be one of " + ", ".join(sorted(METRICS)))
    if "timestamp" in body and not _is_int(body["timestamp"]):
        errors.append("timestamp must be an integer unix timestamp")
    if "recipient" in body:
        recipient = body["recipient"]
        if _is_int(recipient):
            if _one_of(metric, METRICS) and metric not in SMS_METRICS:
                errors.append("a numeric recipient (SMS) allows only the metrics " + ", ".join(sorted(SMS_METRICS)))
        elif not isinstance(recipient, str):
            errors.append("recipient must be a string (or an SMS phone number as an integer)")
    for key in ("href", "reason"):
        if key in body and not isinstance(body[key], str):
            errors.append(f"{key} must be a string")
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
    if key == "cio_id" and not _cio_id_fine(value):
        return ("invalid", "identifiers.cio_id", "cio_id must be letters and digits, without the cio_ prefix")
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


def _relationship_entries_error(entries: list, anonymous: bool = False) -> Error | None:
    """Each ``cio_relationships`` entry: an identifiers object, relationship_attributes an object.

    ``anonymous`` (the object action identify_anonymous): every entry names
    exactly an ``anonymous_id``; otherwise an ``anonymous_id`` is refused
    (an anonymous person is related by identify_anonymous only).
    """
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("identifiers"), dict):
            return ("invalid", f"cio_relationships[{i}].identifiers",
                    "each relationship needs an identifiers object")
        if "relationship_attributes" in entry and not isinstance(entry["relationship_attributes"], dict):
            return ("invalid", f"cio_relationships[{i}].relationship_attributes",
                    "relationship_attributes must be an object")
        identifiers = entry["identifiers"]
        if anonymous:
            if list(identifiers) != ["anonymous_id"] or not _nonempty_str(identifiers["anonymous_id"]):
                return ("invalid", f"cio_relationships[{i}].identifiers",
                        "identify_anonymous relates people by a non-empty anonymous_id alone")
        elif "anonymous_id" in identifiers:
            return ("invalid", f"cio_relationships[{i}].identifiers.anonymous_id",
                    "an anonymous person is related with the object action identify_anonymous")
        elif "cio_id" in identifiers and not (_nonempty_str(identifiers["cio_id"])
                                              and _cio_id_fine(identifiers["cio_id"])):
            return ("invalid", f"cio_relationships[{i}].identifiers.cio_id",
                    "cio_id must be letters and digits, without the cio_ prefix")
    return None


def _relationships_error(item) -> Error | None:
    rel = item.get("cio_relationships")
    if not isinstance(rel, list) or not rel:
        return ("required", "cio_relationships", "cio_relationships is required and must be a non-empty list")
    return _relationship_entries_error(rel)


def _object_identify_error(item, action: str) -> Error | None:
    """identify: optional cio_relationships; identify_anonymous: an anonymous person to relate.

    identify_anonymous names its person in ``cio_relationships`` (the
    OpenAPI's schema) or in a top-level ``anonymous_id`` (its example).
    """
    anonymous = action == "identify_anonymous"
    rel = item.get("cio_relationships")
    if rel is None and "cio_relationships" not in item:
        if anonymous and not _nonempty_str(item.get("anonymous_id")):
            return ("required", "cio_relationships",
                    "identify_anonymous needs cio_relationships with an anonymous_id (or a top-level anonymous_id)")
        return None
    if not isinstance(rel, list):
        return ("invalid", "cio_relationships", "cio_relationships must be a list")
    if anonymous and not rel and not _nonempty_str(item.get("anonymous_id")):
        return ("required", "cio_relationships",
                "identify_anonymous needs cio_relationships with an anonymous_id (or a top-level anonymous_id)")
    return _relationship_entries_error(rel, anonymous)


def _device_error(item, action: str) -> Error | None:
    device = item.get("device")
    if not isinstance(device, dict):
        return ("required", "device", "device is required and must be an object")
    if not _nonempty_str(device.get("token")):
        return ("required", "device.token", "device.token is required and must be a non-empty string")
    if action == "add_device":
        if not _one_of(device.get("platform"), DEVICE_PLATFORMS):
            return ("invalid", "device.platform", "device.platform is required and must be ios or android")
        if "last_used" in device and not _is_int(device["last_used"]):
            return ("invalid", "device.last_used", "device.last_used must be an integer unix timestamp")
    return None


def _one_of(value, allowed) -> bool:
    """`value in allowed` for JSON values: a list or object is never allowed (and not hashable)."""
    return isinstance(value, str) and value in allowed


def batch_item_error_reference(item) -> Error | None:
    """The rules for one v2 batch item, written for clarity; None when valid."""
    if not isinstance(item, dict):
        return ("invalid", "", "batch item must be a JSON object")
    kind = item.get("type")
    actions = ACTIONS_BY_TYPE.get(kind) if isinstance(kind, str) else None
    if actions is None:
        return ("invalid", "type", "type must be one of person, object, delivery")
    action = item.get("action")
    if not _one_of(action, actions):
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
        if action in ("identify", "identify_anonymous"):
            return _object_identify_error(item, action)
        return None

    # delivery
    identifiers = item.get("identifiers")
    if not isinstance(identifiers, dict) or not _nonempty_str(identifiers.get("id")):
        return ("required", "identifiers.id", "identifiers.id (the delivery id) is required")
    if not _one_of(item.get("name"), DELIVERY_EVENT_NAMES):
        return ("invalid", "name", "name must be one of opened, converted, delivered")
    attributes = item.get("attributes")
    if not isinstance(attributes, dict) or not _nonempty_str(attributes.get("device_token")):
        return ("required", "attributes.device_token", "attributes.device_token is required")
    return None


# --- fast acceptance of valid batch items ------------------------------------------
# Why: the sandbox shares two cores with the pipeline it measures, so its CPU
# per batch item is taken from the pipeline. The rules above, run item by item,
# cost several microseconds per item in function calls and repeated lookups.
#
# Each ``_accepts_*`` function below returns True only for an item that
# ``batch_item_error_reference`` certainly accepts, checking the common shapes
# with exact-type tests and few calls; anything unusual (an error, a bool where
# an int is wanted, a long or non-ASCII text, large attributes) returns False
# and the reference decides, which keeps every outcome and message identical.
# Text limits are in UTF-8 bytes: a text of at most limit // 4 code points is
# within the limit without encoding it.

_NO_ATTRIBUTES: dict = {}  # stands for a missing "attributes" (a present null is an error)
_SHORT_ID = MAX_PERSON_ID_BYTES // 4
_SHORT_NAME = MAX_EVENT_NAME_BYTES // 4


def _person_identifiers_fine(item: dict, allowed: frozenset) -> bool:
    identifiers = item.get("identifiers")
    if type(identifiers) is not dict or len(identifiers) != 1:
        return False
    (key, value), = identifiers.items()
    if key == "id":
        if type(value) is int:
            return True
        return type(value) is str and value != "" and (
            len(value) <= _SHORT_ID or _nbytes(value) <= MAX_PERSON_ID_BYTES)
    return key in allowed and type(value) is str and value != "" and (key != "cio_id" or _cio_id_fine(value))


def _common_fields_fine(item: dict) -> bool:
    """timestamp (when present) is an int and attributes (when present) an object."""
    return type(item.get("timestamp", 0)) is int and type(item.get("attributes", _NO_ATTRIBUTES)) is dict


def _accepts_person_event(item: dict) -> bool:
    """event, page, screen: the bulk of most streams, so checked inline."""
    if type(item.get("timestamp", 0)) is not int or type(item.get("attributes", _NO_ATTRIBUTES)) is not dict:
        return False
    identifiers = item.get("identifiers")
    if type(identifiers) is not dict or len(identifiers) != 1:
        return False
    (key, value), = identifiers.items()
    if key == "id":
        if type(value) is not int and not (type(value) is str and value != "" and (
                len(value) <= _SHORT_ID or _nbytes(value) <= MAX_PERSON_ID_BYTES)):
            return False
    elif key not in PERSON_EVENT_IDENTIFIERS or type(value) is not str or value == "" or (
            key == "cio_id" and not _cio_id_fine(value)):
        return False
    name = item.get("name")
    if type(name) is not str or name == "" or (
            len(name) > _SHORT_NAME and _nbytes(name) > MAX_EVENT_NAME_BYTES):
        return False
    event_id = item.get("id", "absent")
    return type(event_id) is str and event_id != ""


def _accepts_person_identify(item: dict) -> bool:
    attributes = item.get("attributes", _NO_ATTRIBUTES)
    return (type(item.get("timestamp", 0)) is int and type(attributes) is dict
            and _person_identifiers_fine(item, PERSON_IDENTIFIERS)
            and (not attributes or _attributes_surely_fine(attributes) or not attribute_errors(attributes)))


def _accepts_person_plain(item: dict) -> bool:
    """delete, suppress, unsuppress: identifiers only."""
    return _common_fields_fine(item) and _person_identifiers_fine(item, PERSON_IDENTIFIERS)


def _accepts_person_relationships(item: dict) -> bool:
    return (_common_fields_fine(item) and _person_identifiers_fine(item, PERSON_IDENTIFIERS)
            and _relationships_error(item) is None)


def _accepts_person_device(item: dict) -> bool:
    return (_common_fields_fine(item) and _person_identifiers_fine(item, PERSON_IDENTIFIERS)
            and _device_error(item, item["action"]) is None)


def _accepts_person_merge(item: dict) -> bool:
    return (_common_fields_fine(item) and "primary" in item and "secondary" in item
            and _merge_side_error(item["primary"]) is None and _merge_side_error(item["secondary"]) is None)


def _object_identifiers_fine(item: dict) -> bool:
    identifiers = item.get("identifiers")
    if type(identifiers) is not dict:
        return False
    type_id, object_id = identifiers.get("object_type_id"), identifiers.get("object_id")
    if type(type_id) is str and type_id != "" and type(object_id) is str and object_id != "":
        return True  # both present, so not the cio_object_id-alone form
    return _object_identifiers_error(identifiers) is None


def _accepts_object_plain(item: dict) -> bool:
    return _common_fields_fine(item) and _object_identifiers_fine(item)


def _accepts_object_identify(item: dict) -> bool:
    """identify, identify_anonymous: the object, and the people related to it when any."""
    return (_common_fields_fine(item) and _object_identifiers_fine(item)
            and _object_identify_error(item, item["action"]) is None)


def _accepts_object_relationships(item: dict) -> bool:
    return _common_fields_fine(item) and _object_identifiers_fine(item) and _relationships_error(item) is None


def _accepts_delivery_event(item: dict) -> bool:
    if type(item.get("timestamp", 0)) is not int:
        return False
    identifiers, attributes, name = item.get("identifiers"), item.get("attributes"), item.get("name")
    if type(identifiers) is not dict or type(attributes) is not dict or type(name) is not str:
        return False
    delivery_id, token = identifiers.get("id"), attributes.get("device_token")
    return (type(delivery_id) is str and delivery_id != "" and name in DELIVERY_EVENT_NAMES
            and type(token) is str and token != "")


# type -> action -> fast acceptance; every (type, action) pair the rules allow.
_FAST_ACCEPT = {
    "person": {
        **dict.fromkeys(ANONYMOUS_ACTIONS, _accepts_person_event),
        "identify": _accepts_person_identify,
        **dict.fromkeys(("delete", "suppress", "unsuppress"), _accepts_person_plain),
        **dict.fromkeys(("add_relationships", "delete_relationships"), _accepts_person_relationships),
        **dict.fromkeys(("add_device", "delete_device"), _accepts_person_device),
        "merge": _accepts_person_merge,
    },
    "object": {
        **dict.fromkeys(("identify", "identify_anonymous"), _accepts_object_identify),
        "delete": _accepts_object_plain,
        **dict.fromkeys(("add_relationships", "delete_relationships"), _accepts_object_relationships),
    },
    "delivery": {"event": _accepts_delivery_event},
}
assert {kind: set(actions) for kind, actions in _FAST_ACCEPT.items()} == ACTIONS_BY_TYPE


def batch_item_error(item) -> Error | None:
    """Check one v2 batch item; None when valid.

    Tries the fast acceptance above first; whatever it does not accept is
    judged by ``batch_item_error_reference``, so answers never differ.
    """
    if type(item) is dict:
        try:
            if _FAST_ACCEPT[item["type"]][item["action"]](item):
                return None
        except (KeyError, TypeError):  # type/action missing, unknown or unhashable
            pass
    return batch_item_error_reference(item)


def check_batch_items(items: list, skip=()) -> tuple[dict[int, Error], dict[int, str]]:
    """Check a batch's items: (errors by index, event ids of accepted events by index).

    Items whose index is in ``skip`` are neither checked nor listed. Errors are
    what ``batch_item_error`` answers for each item, without a call per item
    for the common valid ones. The event ids (for deduplication) are those of
    accepted person event/page/screen items that carry an ``id``.
    """
    fast = _FAST_ACCEPT
    accepts_event = _accepts_person_event
    errors: dict[int, Error] = {}
    event_ids: dict[int, str] = {}
    for index, item in enumerate(items):
        if index in skip:
            continue
        try:
            accepts = fast[item["type"]][item["action"]]
            if accepts(item):
                if accepts is accepts_event and "id" in item:
                    event_ids[index] = item["id"]
                continue
        except (KeyError, TypeError):  # not an object, or type/action missing, unknown, unhashable
            pass
        error = batch_item_error_reference(item)
        if error is not None:
            errors[index] = error
        elif item["type"] == "person" and item["action"] in ANONYMOUS_ACTIONS and item.get("id") is not None:
            event_ids[index] = item["id"]
    return errors, event_ids


def oversized_items(items: list, limit: int = MAX_BATCH_ITEM_BYTES) -> dict[int, int]:
    """Serialized size of each object item over ``limit`` bytes, by index.

    Serializes runs of items together, one C call per run: a run that fits in
    ``limit`` holds no item over it (an item's serialization is a part of the
    run's), so only a run over the limit is measured item by item.
    """
    sizes: dict[int, int] = {}
    dumps = orjson.dumps
    sample = items[:8]
    typical_size = max(1, len(dumps(sample)) // max(1, len(sample)))
    run = max(1, limit // (2 * typical_size))  # items per run: about half the limit
    for start in range(0, len(items), run):
        part = items[start:start + run]
        if len(dumps(part)) - 2 <= limit:
            continue
        for index, item in enumerate(part, start):
            if isinstance(item, dict):
                size = len(dumps(item))
                if size > limit:
                    sizes[index] = size
    return sizes
