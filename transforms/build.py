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
from transforms.operations import Operation
from transforms.request import CioRequest
from transforms.settings import Urls


def serialize(body: object) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError as err:  # orjson.JSONEncodeError is a TypeError
        raise MappingError(f"body cannot be written as JSON: {err}") from None


# Both take the operation itself: it carries the request's key, message id,
# time and source, and passing one object costs less than passing its four
# fields (these run once per event). orjson is called here directly rather
# than through serialize(): one call less per event.
#
# Both also build the CioRequest field by field instead of calling
# ``CioRequest(...)``: calling a dataclass goes through the interpreter's
# generic class call (an argument tuple, then the generated ``__init__`` in
# an evaluation loop of its own), which costs more than the eight stores
# themselves. tests/test_transforms_render.py checks that every field is set.
_new = object.__new__


def request(method: str, url: str, body: object | None, op: Operation) -> CioRequest:
    """A v1 call (``body`` None for calls without a body)."""
    if body is None:
        data = None
    else:
        try:
            data = orjson.dumps(body)
        except TypeError as err:
            raise MappingError(f"body cannot be written as JSON: {err}") from None
    made = _new(CioRequest)
    made.method = method
    made.url = url
    made.body = data
    made.batch_item = False
    made.person_key = op.key
    made.message_id = op.message_id
    made.timestamp = op.seconds
    made.event_type = op.source
    return made


def batch_item(item: dict, urls: Urls, op: Operation) -> CioRequest:
    """One item of ``POST /api/v2/batch``; over 32 KB is an error for this event alone."""
    try:
        body = orjson.dumps(item)
    except TypeError as err:
        raise MappingError(f"body cannot be written as JSON: {err}") from None
    if len(body) > MAX_BATCH_ITEM_BYTES:
        raise MappingError(
            f"batch item is {len(body)} bytes, over Customer.io's 32 KB ({MAX_BATCH_ITEM_BYTES} bytes) limit"
        )
    made = _new(CioRequest)
    made.method = "POST"
    made.url = urls.batch
    made.body = body
    made.batch_item = True
    made.person_key = op.key
    made.message_id = op.message_id
    made.timestamp = op.seconds
    made.event_type = op.source
    return made
