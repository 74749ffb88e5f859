"""The request type that the mapping layer hands to the pipeline.

A ``CioRequest`` is everything the Beam side needs to route, batch, order and
send one Customer.io call, with the JSON body already serialized once (by
orjson) so that batching can concatenate bytes instead of serializing again.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from transforms.limits import BATCH_PATH, MAX_BATCH_ITEMS, SEGMENTS_PATH

__all__ = ["BATCH_PATH", "FOLLOW_UP", "MAX_BATCH_ITEMS", "SEGMENTS_PATH", "CioRequest", "batch_envelope",
           "is_follow_up"]

# The ``event_type`` suffix of an event's second request (an identify naming
# an object: its relationship item, transforms/identify.py). It carries the
# same source event, so that its failure dead-letters the event, but the
# summary counts each event once: by its first request.
FOLLOW_UP = ":follow-up"


def is_follow_up(event_type: str) -> bool:
    """Whether a request with this ``event_type`` is an event's second request."""
    return event_type.endswith(FOLLOW_UP)

_BATCH_ENVELOPE = (b'{"batch":[', b"]}", MAX_BATCH_ITEMS)
_SEGMENT_ENVELOPE = (b'{"ids":[', b"]}", MAX_BATCH_ITEMS)


def batch_envelope(url: str) -> tuple[bytes, bytes, int]:
    """How batch items sent to ``url`` are wrapped: ``(prefix, suffix, max_items)``.

    The body of one request is ``prefix + b",".join(items) + suffix``. Items
    are only batched with items of the same URL (segment URLs differ per
    segment, action and id_type). ``/api/v2/batch``: ``{"batch":[...]}``, 1000
    items; a manual segment URL (``/api/v1/segments/...``): ``{"ids":[...]}``,
    1000 ids.
    """
    if SEGMENTS_PATH + "/" in url:
        return _SEGMENT_ENVELOPE
    return _BATCH_ENVELOPE


# Not frozen: a frozen dataclass sets each field through object.__setattr__,
# which makes building a request several times slower, on a path that runs
# per event (bench/bench_mapping.py).
@dataclass(slots=True)
class CioRequest:
    """One Customer.io call (or one item of a v2 batch call).

    method: "PUT", "POST" or "DELETE".
    url: the full URL (base URL of the data center or --endpoint, plus path and
        query); for a batch item it is the batch URL the item will be sent to.
    body: the serialized JSON body, or None for calls without a body; for a
        batch item, the serialized item alone.
    batch_item: True when this is an item of a batched call: ``POST /api/v2/batch``,
        or one id of a manual segment call (``url`` says which, see
        ``batch_envelope``); items are batched per URL.
    person_key: who the call is about, e.g. "id:42", "email:a@b.co",
        "anonymous_id:x", "object:1:acme"; requests with the same key are sent
        in event-time order, one at a time.
    message_id: the source event's messageId (None when it had none).
    timestamp: the source event's time in Unix seconds (None when unknown);
        used to order one person's requests.
    event_type: the source event's normalised type ("identify", "track", ...);
        with FOLLOW_UP appended on an event's second request.
    """

    method: str
    url: str
    body: bytes | None
    batch_item: bool
    person_key: str | None
    message_id: str | None
    timestamp: float | None
    event_type: str

    @property
    def size(self) -> int:
        """Serialized size of the body (or batch item) in bytes."""
        return len(self.body) if self.body is not None else 0

    def json(self):
        """The body as Python objects (None when there is no body)."""
        return orjson.loads(self.body) if self.body is not None else None
