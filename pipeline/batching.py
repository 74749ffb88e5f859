"""Groups batch items into `/api/v2/batch` (and manual segment) requests
within Customer.io's caps.

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

from pipeline.calls import HttpCall, Outbound, endpoint_label
from pipeline.ordering import in_send_order
from transforms import BATCH_PATH, batch_envelope

MAX_BATCH_ITEMS = 1000
MAX_BATCH_BYTES = 500_000


def shard_of(outbound: Outbound, shards: int) -> int:
    """A stable shard for the item's person (crc32: same in every process)."""
    key = outbound.request.person_key or outbound.request.message_id or ""
    return zlib.crc32(key.encode("utf-8")) % shards


def batch_body(items: list[bytes], url: str = BATCH_PATH) -> bytes:
    """The request body of items bound for `url`, from already-serialized items.

    ``{"batch":[item,...]}`` for /api/v2/batch, ``{"ids":[id,...]}`` for a
    manual segment (see transforms.batch_envelope); no re-encoding.
    """
    prefix, suffix, _ = batch_envelope(url)
    return prefix + b",".join(items) + suffix


class _OpenBatch:
    """Items gathered for one URL, not yet cut into a call."""

    __slots__ = ("url", "max_items", "items", "events", "people", "size")

    def __init__(self, url: str):
        prefix, suffix, self.max_items = batch_envelope(url)
        self.url = url
        self.items: list[bytes] = []
        self.events: list[bytes] = []
        self.people: set = set()
        self.size = len(prefix) + len(suffix)

    def fits(self, item: bytes, max_items: int, max_bytes: int) -> bool:
        added = len(item) + (1 if self.items else 0)
        return len(self.items) < min(self.max_items, max_items) and self.size + added <= max_bytes

    def add(self, outbound: Outbound) -> None:
        self.size += len(outbound.request.body) + (1 if self.items else 0)
        self.items.append(outbound.request.body)
        self.events.append(outbound.event)
        self.people.add(outbound.request.person_key)

    def call(self) -> HttpCall:
        return HttpCall(
            method="POST",
            url=self.url,
            body=batch_body(self.items, self.url),
            endpoint=endpoint_label("POST", self.url),
            events=self.events,
            batch=True,
        )


def cut_into_batches(
    outbounds: list[Outbound],
    max_items: int = MAX_BATCH_ITEMS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[HttpCall]:
    """Cuts items, in the order given, into batch calls within both caps.

    Items only share a call with items for the same URL (v2 batch, or one
    manual segment action). The calls come out in an order that keeps each
    person's items in the order given: before an item joins its URL's batch,
    a batch of another URL that holds the same person is sent first (e.g. a
    segment add before a later remove). An item that alone exceeds the byte
    cap cannot be sent; the mapping layer already rejects items over 32 KB,
    so that cannot happen here.
    """
    calls: list[HttpCall] = []
    open_batches: dict[str, _OpenBatch] = {}
    for outbound in outbounds:
        request = outbound.request
        if len(open_batches) > 1 or request.url not in open_batches:
            for url in [u for u, b in open_batches.items()
                        if u != request.url and request.person_key in b.people]:
                calls.append(open_batches.pop(url).call())
        batch = open_batches.get(request.url)
        if batch is not None and not batch.fits(request.body, max_items, max_bytes):
            calls.append(open_batches.pop(request.url).call())
            batch = None
        if batch is None:
            batch = open_batches[request.url] = _OpenBatch(request.url)
        batch.add(outbound)
    calls.extend(batch.call() for batch in open_batches.values())
    return calls


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
