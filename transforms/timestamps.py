"""Opt-in conversion of ISO-8601 date-times in traits and properties to Unix seconds.

Customer.io's segmentation compares dates as Unix timestamps: an attribute
``"trial_ends": "2024-05-01T10:00:00Z"`` is a text to it, so "trial ends in
less than 3 days" never matches. ``--convert_timestamps`` turns such values
into whole Unix seconds before they are sent. It is off by default: a text
that merely looks like a date (an order reference, a label) would change.

The rule (docs/mapping.md, section 14, states it for users):

- A string value converts only when it is a complete ISO-8601 date-time in
  the extended form with a zone: ``YYYY-MM-DDTHH:MM``, optional ``:SS`` and
  optional fraction (1 to 9 digits), then ``Z`` or an offset ``±HH:MM``,
  ``±HHMM`` or ``±HH``; a capital ``T`` between date and time; a real date
  and time (no month 13, no hour 24, no leap second 60).
- It becomes the whole Unix seconds of that instant (the fraction dropped,
  i.e. rounded down).
- Everything else is left exactly as it is: bare dates (``2024-05-01``),
  date-times without a zone (their instant is unknown), a space or lower-case
  ``t`` between date and time, the basic form (``20240501T100000Z``),
  numbers, numeric strings, booleans, nulls.
- Values are converted at any depth, inside nested objects and arrays, down
  to ``MAX_DEPTH`` levels (deeper values are left as they are).

The input is never changed: a dict or list with something converted is
copied (only the containers on the way to a converted value), one with
nothing to convert is returned itself, so a caller can tell with ``is``.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

# A date-time with zone is 17 ("2024-05-01T10:00Z") to 35 characters long
# (seconds, 9 fraction digits, "+05:30"). The length and the two separator
# characters are a cheap test most strings fail, before the pattern runs.
_SHORTEST = 17
_LONGEST = 35
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)"
)
MAX_DEPTH = 100


def iso_seconds(text: str) -> int | None:
    """Whole Unix seconds of ``text`` when the rule above converts it, else None."""
    if not (_SHORTEST <= len(text) <= _LONGEST and text[10] == "T" and text[4] == "-"):
        return None
    if _DATE_TIME.fullmatch(text) is None:
        return None
    try:
        # fromisoformat checks the calendar and clock; Python 3.11 reads every form the pattern lets through.
        return math.floor(datetime.fromisoformat(text).timestamp())
    except (ValueError, OverflowError):  # not a real date or time, or outside what a datetime holds
        return None


def convert_timestamps(values: dict) -> dict:
    """``values`` with every ISO-8601 date-time string (see the rule above) as Unix seconds."""
    return _convert_dict(values, 1)


def _convert_value(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is str:
        seconds = iso_seconds(value)
        return value if seconds is None else seconds
    if depth >= MAX_DEPTH:
        return value
    if kind is dict:
        return _convert_dict(value, depth + 1)
    if kind is list:
        return _convert_list(value, depth + 1)
    return value


def _convert_dict(values: dict, depth: int) -> dict:
    copied = None
    for key, value in values.items():
        kind = type(value)
        # strings that cannot be date-times are the common case: skip them without a call
        if kind is str and (len(value) < _SHORTEST or value[4] != "-"):
            continue
        if kind is str or kind is dict or kind is list:
            new = _convert_value(value, depth)
            if new is not value:
                if copied is None:
                    copied = dict(values)
                copied[key] = new
    return values if copied is None else copied


def _convert_list(values: list, depth: int) -> list:
    copied = None
    for index, value in enumerate(values):
        new = _convert_value(value, depth)
        if new is not value:
            if copied is None:
                copied = list(values)
            copied[index] = new
    return values if copied is None else copied
