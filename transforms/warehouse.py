"""Warehouse export rows (CSV, Parquet) → record messages (docs/mapping.md, section 6).

A table export has one row per person (or per event); ``row_to_record``
turns a row, as a dict of column → value, into the record message that
``map_record`` already understands:

    {"type": "record", "action": ..., "identifiers": {...}, "fields": {...}}

Which column is which comes from a ``ColumnMapping`` (the ``--*_column``
flags). Nothing here raises: a row that cannot be converted still becomes a
record, carrying ``warehouse_error``, which ``map_record`` turns into a
MappingError with that reason, so the row is dead-lettered, never dropped.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Optional

_MISSING = (None, "")


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns of an exported table are identifiers, name, time, action.

    ``id_column`` / ``email_column`` / ``cio_id_column``: the person's
    identifiers (the record's ``id`` / ``email`` / ``cio_id``).
    ``event_name_column``: the event name (the record's ``name``), for
    ``record_object=event``. ``timestamp_column``: the row's time (the
    record's ``created_at``: an identify's or event's timestamp).
    ``action_column``: insert / update / delete per row; None (the default)
    makes every row an insert. Every other column becomes a field of the
    record, under its own name.
    """

    id_column: str = "id"
    email_column: str = "email"
    cio_id_column: str = "cio_id"
    event_name_column: str = "name"
    timestamp_column: str = "created_at"
    action_column: Optional[str] = None

    @cached_property
    def renames(self) -> dict[str, str]:
        """Column → record key, for the columns that have a meaning."""
        return {
            self.cio_id_column: "cio_id",
            self.id_column: "id",
            self.email_column: "email",
            self.event_name_column: "name",
            self.timestamp_column: "created_at",
        }

    @cached_property
    def shadowed(self) -> frozenset:
        """Record keys that another column is mapped to (e.g. ``id`` with ``--id_column user_id``).

        A column literally named like one of them is left out: the mapped
        column is what the flag asked for.
        """
        return frozenset(key for column, key in self.renames.items() if column != key)

    def columns(self) -> list[str]:
        """The mapped column names (action column included), for checking them."""
        named = [self.id_column, self.email_column, self.cio_id_column, self.event_name_column,
                 self.timestamp_column]
        return named + ([self.action_column] if self.action_column else [])


IDENTIFIER_KEYS = ("cio_id", "id", "email")


def json_value(value: Any) -> Any:
    """A column value as a JSON value.

    Parquet (through pyarrow) yields datetimes, dates, times, decimals and
    bytes besides the JSON types: times become ISO-8601 text (naive ones are
    UTC, as everywhere else in the mapping), integral decimals ints and other
    decimals floats, bytes UTF-8 text (base64 when they are not UTF-8),
    non-finite floats null (JSON has no NaN). Anything else becomes its text.
    """
    kind = type(value)
    if value is None or kind in (str, int, bool):
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(data).decode("ascii")
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        # pyarrow maps come out as lists of (key, value) tuples
        if value and all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in value):
            return {k: json_value(v) for k, v in value}
        return [json_value(v) for v in value]
    if isinstance(value, int):  # bool/int subclasses, numpy ints
        return int(value)
    if isinstance(value, float):
        return json_value(float(value))
    return str(value)


def row_to_record(row: dict, mapping: ColumnMapping, empty_is_missing: bool = False) -> dict:
    """The record message of one exported row.

    ``empty_is_missing``: CSV cannot tell an empty string from NULL, so for
    CSV an empty cell is left out (the attribute is left as it is); Parquet
    nulls are kept as nulls (Customer.io then clears the attribute), and a
    null identifier counts as missing.
    """
    renames, shadowed = mapping.renames, mapping.shadowed
    action = "insert"
    identifiers: dict = {}
    fields: dict = {}
    for column, value in row.items():
        if not isinstance(column, str):
            continue  # csv.DictReader's restkey (None) for extra cells: reported by the reader
        value = json_value(value)
        if column == mapping.action_column:
            if value not in _MISSING:
                action = value.strip().lower() if isinstance(value, str) else value
            continue
        if empty_is_missing and value == "":
            continue
        key = renames.get(column)
        if key is None:
            if column in shadowed:
                continue
            key = column
        if key in IDENTIFIER_KEYS:
            if value not in _MISSING:
                identifiers[key] = value
            continue
        fields[key] = value
    return {"type": "record", "action": action, "identifiers": identifiers, "fields": fields}


def error_record(reason: str, row: dict | None = None, mapping: ColumnMapping | None = None) -> dict:
    """A record that ``map_record`` dead-letters with ``reason`` (the row kept for replay)."""
    record = row_to_record(row, mapping or ColumnMapping(), True) if row else {"type": "record"}
    record["warehouse_error"] = reason
    return record
