"""From a body to a ``CioRequest``: serialize once, check the size limits.

Every renderer ends here. Bodies are serialized exactly once, with orjson; a
value orjson cannot write (an int beyond 64 bits, a non-string key, a Python
object) is a MappingError. orjson writes NaN and Infinity as ``null``; they
cannot come out of ``decode_events`` anyway, JSON has no such numbers.
"""

from __future__ import annotations

import orjson

from transforms.errors import MappingError
from transforms.limits import MAX_BATCH_ITEM_BYTES
from transforms.request import CioRequest
from transforms.settings import Settings


def serialize(body: object) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError as err:  # orjson.JSONEncodeError is a TypeError
        raise MappingError(f"body cannot be written as JSON: {err}") from None


# Plain positional signatures: these run once per event, and keyword
# arguments (or a ``**meta`` dict) cost more than the rest of the call.
def request(
    method: str,
    url: str,
    body: object | None,
    person_key: str | None,
    message_id: str | None,
    timestamp: float | None,
    event_type: str,
) -> CioRequest:
    """A v1 call (``body`` None for calls without a body)."""
    data = None if body is None else serialize(body)
    return CioRequest(method, url, data, False, person_key, message_id, timestamp, event_type)


def batch_item(
    item: dict,
    settings: Settings,
    person_key: str | None,
    message_id: str | None,
    timestamp: float | None,
    event_type: str,
) -> CioRequest:
    """One item of ``POST /api/v2/batch``; over 32 KB is an error for this event alone."""
    body = serialize(item)
    if len(body) > MAX_BATCH_ITEM_BYTES:
        raise MappingError(
            f"batch item is {len(body)} bytes, over Customer.io's 32 KB ({MAX_BATCH_ITEM_BYTES} bytes) limit"
        )
    # batch_url is computed once per Settings (a cached_property).
    return CioRequest("POST", settings.batch_url, body, True, person_key, message_id, timestamp, event_type)
