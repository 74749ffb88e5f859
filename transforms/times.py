"""Event times to Unix seconds.

Customer.io wants whole Unix seconds; SDKs send ISO-8601 strings, epoch
milliseconds or epoch seconds. This module turns any of them into a float
(precise, for ordering and the dedup id) and an int (floored, for bodies).

Rules:
- ISO-8601 strings, with or without zone (no zone = UTC), a trailing ``Z``
  included (``datetime.fromisoformat`` of Python 3.11 handles it).
- Numbers, and strings that are plain numbers: below 1e11 (year 5138 in
  seconds, March 1973 in milliseconds) they are seconds, from 1e11 up they
  are milliseconds.
- Anything else (booleans, NaN, objects, dates outside years 1-9999,
  unparseable text) is "unknown": ``None``, and the field is left out.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

_MS_THRESHOLD = 1e11
_MIN_SECONDS = -62135596800.0  # 0001-01-01T00:00:00Z
_MAX_SECONDS = 253402300799.0  # 9999-12-31T23:59:59Z
_NUMERIC = re.compile(r"-?\d+(\.\d+)?")
_DATE_DIGITS = re.compile(r"\d{8}")
_UTC = timezone.utc


def _from_number(value: float) -> float | None:
    if not math.isfinite(value):
        return None
    seconds = value if abs(value) < _MS_THRESHOLD else value / 1000.0
    if _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        return float(seconds)
    return None


def to_seconds(value: object) -> float | None:
    """The time ``value`` stands for, in Unix seconds, or None if unknown."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return _from_text(value)
        # The usual SDK form, "2024-05-01T10:00:00.123Z": one C call each way
        # (_from_parsed inlined for it: this runs once or twice per event).
        if parsed.tzinfo is not None:
            try:
                return parsed.timestamp()
            except (ValueError, OverflowError):
                return None
        return _from_naive(value, parsed)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return _from_number(float(value))
        except OverflowError:  # an int too big for a float
            return None
    return None


def _from_text(value: str) -> float | None:
    """A string ``fromisoformat`` refused: a plain number, or ISO-8601 with spaces around."""
    text = value.strip()
    if _NUMERIC.fullmatch(text):
        return _from_number(float(text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return _from_parsed(value, parsed)


def _from_parsed(value: str, parsed: datetime) -> float | None:
    """Unix seconds of a parsed ISO-8601 time (no zone: see _from_naive)."""
    if parsed.tzinfo is None:
        return _from_naive(value, parsed)
    try:
        return parsed.timestamp()
    except (ValueError, OverflowError):
        return None


def _from_naive(value: str, parsed: datetime) -> float | None:
    """A time without zone: UTC; eight digits alone are a number, not YYYYMMDD."""
    if _DATE_DIGITS.fullmatch(value.strip()):
        return _from_number(float(value))
    try:
        return parsed.replace(tzinfo=_UTC).timestamp()
    except (ValueError, OverflowError):
        return None


def unix(seconds: float | None) -> int | None:
    """Whole Unix seconds (floor) of a time from ``to_seconds``."""
    return None if seconds is None else math.floor(seconds)


def to_unix(value: object) -> int | None:
    """``value`` as whole Unix seconds, or None when it is not a time."""
    return unix(to_seconds(value))
