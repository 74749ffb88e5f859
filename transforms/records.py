"""Warehouse records (reverse ETL) → ``RecordSync`` person items (docs/mapping.md, section 6).

A record row ``{"type": "record", "action", "identifiers", "fields"}`` is
synced to one Customer.io object for the whole run (``Settings.record_object``):
people (identify/delete) or events. Records always go through
``/api/v2/batch``, whatever the API version.

With ``Settings.audience_id`` the rows are the members of a manual segment
instead: insert/update adds the person, delete removes them, one id per
request item, batched by the pipeline into ``{"ids": [...]}`` calls.

A record carrying ``warehouse_error`` (set by the file readers for a row
that could not become a record) is dead-lettered with that reason.
"""

from __future__ import annotations

from transforms.errors import MappingError
from transforms.ids import check_person_id, clip, dedup_id, id_text
from transforms.models import Record, validate
from transforms.operations import RecordSync, SegmentMembership
from transforms.settings import Settings
from transforms.times import to_seconds

ACTIONS = ("insert", "update", "delete")
IDENTIFIER_KEYS = ("cio_id", "id", "email")
_MISSING = (None, "")


def record_identifier(columns: dict) -> tuple[str, str]:
    """``(key, value)`` of the first present cio_id, id, email.

    Numbers are accepted as well as strings (warehouse id columns are often
    integers). A ``cio_`` prefix is removed from a cio_id: v2 wants it bare.
    """
    for key in IDENTIFIER_KEYS:
        value = id_text(columns.get(key), f"identifiers.{key}")
        if value is not None:
            if key == "cio_id":
                value = value.removeprefix("cio_")
            check_person_id(value, key)
            return key, value
    raise MappingError("record needs a non-empty cio_id, id or email in identifiers or fields")


def map_record(raw: dict, settings: Settings) -> list:
    problem = raw.get("warehouse_error")
    if problem:
        raise MappingError(clip(str(problem), 300))
    record = validate(Record, raw)
    raw_action = record.get("action")
    action = raw_action.lower() if isinstance(raw_action, str) else raw_action
    if action not in ACTIONS:
        got = clip(str(raw_action)) if raw_action is not None else "nothing"
        raise MappingError(f"record action must be insert, update or delete (got {got})")
    # Warehouse mappers often put every column in identifiers: treat both alike.
    columns = {**(record.get("identifiers") or {}), **(record.get("fields") or {})}
    if settings.audience_id is not None:
        return [_segment_member(columns, action == "delete", record, settings.id_type)]
    id_key, id_value = record_identifier(columns)
    seconds = to_seconds(columns.get("created_at"))
    message_id = id_text(record.get("messageId"), "messageId")
    to_events = settings.record_object == "event"
    who, key = (id_key, id_value), f"{id_key}:{id_value}"
    if action == "delete":
        if to_events:
            raise MappingError("delete is not supported when records are synced to events")
        return [RecordSync(key, message_id, seconds, "record", who, "delete", None, None, None)]
    excluded = {id_key, "created_at"}
    name = None
    if to_events:
        name = columns.get("name")
        if not isinstance(name, str) or not name:
            raise MappingError("an event record needs a non-empty string name")
        excluded.add("name")
    for key_name in excluded:  # columns is this record's own dict: drop them in place, order kept
        columns.pop(key_name, None)
    event_id = dedup_id(message_id, seconds, raw) if to_events and settings.dedup_ids else None
    return [RecordSync(key, message_id, seconds, "record", who, "event" if to_events else "identify", name,
                       columns or None, event_id)]


def _segment_member(columns: dict, remove: bool, record: dict, id_type: str) -> SegmentMembership:
    """Add or remove the record's person: ``settings.id_type`` says which column names them.

    The id is always a string (the segment schema allows only strings in
    ``ids``); a cio_id loses its ``cio_`` prefix like in v2 (``id_type=cio_id``
    already says what it is).
    """
    value = id_text(columns.get(id_type), f"identifiers.{id_type}")
    if value is None:
        raise MappingError(f"segment record needs a non-empty {id_type} in identifiers or fields")
    if id_type == "cio_id":
        value = value.removeprefix("cio_")
    check_person_id(value, id_type)
    return SegmentMembership(f"{id_type}:{value}", id_text(record.get("messageId"), "messageId"),
                             to_seconds(columns.get("created_at")), "record", (id_type, value), remove)
