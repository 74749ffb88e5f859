"""Incremental warehouse syncs: what changed in a row since the last sync (pure, no Beam).

A sync state holds one entry per row of the last export that is in sync
with Customer.io: ``[key, fingerprint, {attribute: hash}]`` as a JSON line.

- ``key`` says which row it is: the identifier the record mapping uses
  (``id:u-1``, ``email:...``; the ``--id_type`` one for a segment), or for
  ``--record_object event`` the fingerprint itself (an event row is sent
  once, ever: a changed row is another event).
- ``fingerprint`` is a hash of what would be sent for the row (its action
  and every attribute, the row's time excepted), so an unchanged row is
  known without looking at its attributes.
- ``{attribute: hash}`` (people only) lets a changed person be sent with
  only the attributes that changed, and those that became empty (sent as
  null, which clears them in Customer.io).

Hashes are 64-bit BLAKE2b: a wrong "unchanged" needs a collision between a
row's old and new value (about 1 in 2**64 per change).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

import orjson

from transforms.errors import MappingError
from transforms.records import record_identifier
from transforms.ids import id_text
from transforms.settings import Settings

FORMAT = "customerio-beam sync state"
VERSION = 1

# The row's time goes out with a changed row but is not compared: a table's
# updated_at column would make every row "changed".
_NOT_COMPARED = ("created_at",)


def _hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _value_hash(value) -> str:
    return _hash(orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))


def synced_object(settings: Settings) -> str:
    """What the rows are synced to (``person``, ``event``, ``segment 7 by id``).

    Stored in the state: the state of another kind of sync must not be used.
    """
    if settings.audience_id is not None:
        return f"segment {settings.audience_id} by {settings.id_type}"
    return settings.record_object


@dataclass(frozen=True)
class Row:
    """One exported row, as the sync compares it."""

    key: str
    entry: bytes  # the state line this row leaves when it is in sync
    record: dict  # the record message, as read


def _action(record: dict) -> Optional[str]:
    action = record.get("action")
    action = action.lower() if isinstance(action, str) else action
    if action in ("insert", "update"):
        return "upsert"
    if action == "delete":
        return "delete"
    return None


def keyed_row(record, settings: Settings) -> Optional[Row]:
    """The row's key and state entry, or None when the mapping will dead-letter it anyway.

    A row without a usable identifier or action is passed on untouched, so
    the mapping dead-letters it with its usual reason.
    """
    if not isinstance(record, dict) or record.get("type") != "record" or record.get("warehouse_error"):
        return None
    action = _action(record)
    identifiers, fields = record.get("identifiers"), record.get("fields")
    if action is None or not isinstance(identifiers or {}, dict) or not isinstance(fields or {}, dict):
        return None
    columns = {**(identifiers or {}), **(fields or {})}
    try:
        if settings.audience_id is not None:
            value = id_text(columns.get(settings.id_type), settings.id_type)
            if value is None:
                return None
            if settings.id_type == "cio_id":
                value = value.removeprefix("cio_")
            key = f"{settings.id_type}:{value}"
            fingerprint = _hash(action.encode())
            return Row(key, orjson.dumps([key, fingerprint]), record)
        if settings.record_object == "event":
            fingerprint = _value_hash([action, columns])
            key = "event:" + fingerprint
            return Row(key, orjson.dumps([key, fingerprint]), record)
        id_key, id_value = record_identifier(columns)
    except (MappingError, TypeError, ValueError):
        return None
    attributes = {}
    if action == "upsert":
        for name, value in columns.items():
            # A null is an empty attribute, like a missing CSV cell.
            if name != id_key and name not in _NOT_COMPARED and value is not None:
                attributes[name] = _value_hash(value)
    fingerprint = _hash(orjson.dumps([action, attributes], option=orjson.OPT_SORT_KEYS))
    key = f"{id_key}:{id_value}"
    return Row(key, orjson.dumps([key, fingerprint, attributes]), record)


def parse_entry(line) -> list:
    """A state line as ``[key, fingerprint, ...]``; ValueError when it is not one."""
    entry = orjson.loads(line)
    if (not isinstance(entry, list) or len(entry) < 2 or not isinstance(entry[0], str)
            or not isinstance(entry[1], str) or (len(entry) > 2 and not isinstance(entry[2], dict))):
        raise ValueError("not a sync state entry")
    return entry


def _identifiers_of(key: str) -> dict:
    kind, _, value = key.partition(":")
    return {kind: value}


def changed_record(row: Row, previous: list) -> dict:
    """The record to send for a changed row: for a person, only what changed.

    Attributes whose hash differs, plus (as null) attributes the previous
    sync had and this row no longer has; the row's time is kept. A delete,
    a segment member and a person whose action changed go out whole.
    """
    entry = orjson.loads(row.entry)
    attributes = entry[2] if len(entry) > 2 else None
    record = row.record
    if attributes is None or _action(record) != "upsert" or len(previous) < 3:
        return record
    before = previous[2]
    if not before and not attributes:
        return record
    columns = {**(record.get("identifiers") or {}), **(record.get("fields") or {})}
    kind, _, _ = row.key.partition(":")
    fields = {name: columns[name] for name, h in attributes.items() if before.get(name) != h}
    fields.update({name: None for name in before if name not in attributes})
    for name in _NOT_COMPARED:
        if columns.get(name) is not None:
            fields[name] = columns[name]
    changed = {"type": "record", "action": record.get("action"), "identifiers": {kind: columns[kind]},
               "fields": fields}
    if record.get("messageId") is not None:
        changed["messageId"] = record["messageId"]
    return changed


def removal_record(key: str) -> dict:
    """The record that removes a row gone from the export (a person delete, a segment remove)."""
    return {"type": "record", "action": "delete", "identifiers": _identifiers_of(key), "fields": {}}


def is_removal(previous: list) -> bool:
    """Whether a previous entry was itself a delete (nothing left to remove)."""
    return previous[1] == _hash(orjson.dumps(["delete", {}], option=orjson.OPT_SORT_KEYS)) or (
        len(previous) == 2 and previous[1] == _hash(b"delete"))


def key_of_record(record, settings: Settings) -> Optional[str]:
    """The key of a record (as sent, e.g. from a dead-letter record), or None."""
    row = keyed_row(record, settings)
    return row.key if row is not None else None
