"""Identifiers: normalising ids, percent-encoding them, dedup ULIDs.

Ids arrive as strings or numbers; Customer.io paths need them as strings,
percent-encoded like JavaScript's ``encodeURIComponent``, at most 150 bytes.
Events carry a deterministic ULID so that retries and replays are ignored by
Customer.io instead of counted twice.
"""

from __future__ import annotations

import math
import re
from hashlib import blake2b
from urllib.parse import quote

import orjson

from transforms.errors import MappingError
from transforms.limits import MAX_PERSON_ID_BYTES
_INT64 = 2**63
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def json_kind(value: object) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def clip(text: str, limit: int = 60) -> str:
    """``text`` shortened for an error message (never echo huge input)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def normalize_id(value: object, path: str) -> str | int | None:
    """An id as a str or an int (None when missing or empty).

    Integral numbers become ints (``42.0`` → 42, ints outside 64 bits become
    strings so they stay serializable); other finite numbers become their
    text. Any other type is a MappingError naming ``path``.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise MappingError(f"{path} must be a string or a number (got boolean)")
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MappingError(f"{path} must be a finite number")
        if value.is_integer():
            return normalize_id(int(value), path)
        return repr(value)
    raise MappingError(f"{path} must be a string or a number (got {json_kind(value)})")


def id_text(value: object, path: str) -> str | None:
    """An id as a string (None when missing or empty)."""
    if type(value) is str:  # the usual case, answered without a call
        return value or None
    normalized = normalize_id(value, path)
    return None if normalized is None else str(normalized)


def check_person_id(value: str | int, what: str) -> None:
    """Customer.io refuses person identifiers over 150 bytes."""
    if isinstance(value, str) and len(value) > MAX_PERSON_ID_BYTES // 4:
        size = len(value.encode("utf-8"))
        if size > MAX_PERSON_ID_BYTES:
            raise MappingError(f"{what} is {size} bytes, over Customer.io's {MAX_PERSON_ID_BYTES}-byte limit")


def is_email(value: object) -> bool:
    """True when ``value`` looks like ``local@domain.tld``."""
    return isinstance(value, str) and _EMAIL.fullmatch(value) is not None


def id_or_email(value: str | int) -> dict:
    """``{"email": v}`` when v looks like an email, else ``{"id": str(v)}``."""
    return {"email": value} if is_email(value) else {"id": str(value)}


_URI_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()")


def encode_path(value: object) -> str:
    """Percent-encode a path parameter exactly like ``encodeURIComponent``."""
    text = value if type(value) is str else str(value)
    if _URI_SAFE.issuperset(text):  # most ids: nothing to encode, and quote() is slow (bench/bench_mapping.py)
        return text
    return quote(text, safe="-_.!~*'()")


# ---- deduplication ids -------------------------------------------------------
# The ULID is encoded by hand rather than with python-ulid: it is a few lines,
# several times faster, and keeps the workers free of one more dependency.
# A test checks it against python-ulid. Each look-up in _TRIPLES turns 15 bits
# into three characters (the last character of each part comes from
# _CROCKFORD). The 10 look-ups are written out and joined once: each shift and
# mask of a multi-digit int is costly, so fewer, wider look-ups win over more,
# narrower ones (bench/bench_mapping.py measures it). The table of every
# three-character string is built once at import; a 20-bit table would be too
# large to keep in every worker.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TRIPLES = tuple(a + b + c for a in _CROCKFORD for b in _CROCKFORD for c in _CROCKFORD)
_TIME_LIMIT = 2**48
_RANDOM_BITS = 80
_RANDOM_MASK = 2**_RANDOM_BITS - 1
# Copying a prepared hasher skips blake2b's parameter set-up, which costs
# more than the copy (bench/bench_mapping.py).
_BLAKE2B_80 = blake2b(digest_size=10)


def ulid_text(value: int) -> str:
    """The 26-character Crockford base32 form of a 128-bit ULID value."""
    return ulid_parts_text(value >> _RANDOM_BITS, value & _RANDOM_MASK)


def ulid_parts_text(millis: int, randomness: int) -> str:
    """``ulid_text((millis << 80) | randomness)`` for a 48-bit time and 80 random bits.

    The two parts are encoded apart (each is a whole number of characters:
    10 of 5 bits for the time, its top 2 bits zero, and 16 for the
    randomness), and each is first cut into ints of at most 30 bits (a
    single CPython digit), whose shifts and masks cost much less than those
    of the 48- and 80-bit wholes. Each character triple is one 15-bit
    look-up, the last character of each part one 5-bit look-up.
    """
    t = _TRIPLES
    c = _CROCKFORD
    high = millis >> 20  # characters 0-5 of the time (28 bits)
    low = millis & 1048575  # characters 6-9 (20 bits)
    first = randomness >> 50  # characters 0-5 of the randomness (30 bits)
    middle = randomness >> 20 & 1073741823  # characters 6-11 (30 bits)
    last = randomness & 1048575  # characters 12-15 (20 bits)
    return "".join((
        t[high >> 15], t[high & 32767], t[low >> 5], c[low & 31],
        t[first >> 15], t[first & 32767], t[middle >> 15], t[middle & 32767], t[last >> 5], c[last & 31],
    ))


def dedup_id(message_id: str | None, seconds: float | None, event: dict) -> str:
    """A ULID that is the same every time the same event is mapped.

    48 bits: the event time in milliseconds (0 when unknown); 80 bits: a
    blake2b hash of the messageId, or of the event's canonical JSON when it
    has no messageId.
    """
    millis = 0
    if seconds is not None:
        millis = int(seconds * 1000)
        if not 0 <= millis < _TIME_LIMIT:
            millis = 0
    if message_id is not None:
        key = message_id.encode("utf-8", "surrogatepass")
    else:
        try:
            key = orjson.dumps(event, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
        except TypeError:  # not JSON-able (only from direct Python callers)
            key = repr(event).encode("utf-8", "surrogatepass")
    hasher = _BLAKE2B_80.copy()
    hasher.update(key)
    return ulid_parts_text(millis, int.from_bytes(hasher.digest(), "big"))
