"""Groups v2 items into `/api/v2/batch` requests within Customer.io's caps.

Items are keyed by a small number of shards (a stable hash of the person, so
one person's items stay on one shard and in order), grouped per window (the
global window in batch jobs), sorted by event time and cut into requests of at
most `max_items` items and `max_bytes` bytes of JSON. Beam's GroupIntoBatches
has no byte limit in Python, and BatchElements only batches within a bundle,
so the cut is done here.
"""

from __future__ import annotations

import zlib

import apache_beam as beam

from pipeline.calls import HttpCall, Outbound
from pipeline.ordering import in_send_order
from transforms import BATCH_PATH

MAX_BATCH_ITEMS = 1000
MAX_BATCH_BYTES = 500_000

_PREFIX = b'{"batch":['
_SUFFIX = b"]}"


def shard_of(outbound: Outbound, shards: int) -> int:
    """A stable shard for the item's person (crc32: same in every process)."""
    key = outbound.request.person_key or outbound.request.message_id or ""
    return zlib.crc32(key.encode("utf-8")) % shards


def batch_body(items: list[bytes]) -> bytes:
    """``{"batch":[item,...]}`` from already-serialized items (no re-encoding)."""
    return _PREFIX + b",".join(items) + _SUFFIX


def cut_into_batches(
    outbounds: list[Outbound],
    max_items: int = MAX_BATCH_ITEMS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[HttpCall]:
    """Cuts items, in the order given, into batch calls within both caps.

    An item that alone exceeds the byte cap cannot be sent; the mapping layer
    already rejects items over 32 KB, so that cannot happen here.
    """
    calls: list[HttpCall] = []
    items: list[bytes] = []
    events: list[bytes] = []
    size = len(_PREFIX) + len(_SUFFIX)
    url = None
    for outbound in outbounds:
        body = outbound.request.body
        url = url or outbound.request.url
        added = len(body) + (1 if items else 0)
        if items and (len(items) >= max_items or size + added > max_bytes):
            calls.append(_batch_call(url, items, events))
            items, events = [], []
            size = len(_PREFIX) + len(_SUFFIX)
            added = len(body)
        items.append(body)
        events.append(outbound.event)
        size += added
    if items:
        calls.append(_batch_call(url, items, events))
    return calls


def _batch_call(url: str, items: list[bytes], events: list[bytes]) -> HttpCall:
    return HttpCall(
        method="POST",
        url=url,
        body=batch_body(items),
        endpoint=f"POST {BATCH_PATH}",
        events=events,
        batch=True,
    )


class BatchItems(beam.PTransform):
    """Outbound v2 items (wire form) -> (shard, [batch HttpCall, ...] in send order)."""

    def __init__(self, shards: int, max_items: int = MAX_BATCH_ITEMS, max_bytes: int = MAX_BATCH_BYTES):
        super().__init__()
        self.shards = shards
        self.max_items = max_items
        self.max_bytes = max_bytes

    def expand(self, items):
        shards, max_items, max_bytes = self.shards, self.max_items, self.max_bytes
        return (
            items
            | "KeyByShard" >> beam.Map(lambda wire: (shard_of(Outbound.from_wire(wire), shards), wire))
            | "GroupByShard" >> beam.GroupByKey()
            | "CutIntoBatches" >> beam.MapTuple(
                lambda shard, group: (
                    shard,
                    cut_into_batches(in_send_order(map(Outbound.from_wire, group)), max_items, max_bytes),
                )
            )
        )
