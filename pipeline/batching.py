"""Groups batch items into `/api/v2/batch` (and manual segment) requests
within Customer.io's caps.

Items are keyed by a small number of shards: a stable hash of the person, so
one person's items stay on one shard, in order, and the delivery step sends
one shard's requests one at a time. Then:

- streaming jobs (`BatchItems`): items are grouped per window and shard,
  sorted by event time and cut into requests;
- batch jobs (`BatchInBundle`): items are cut into requests as they stream
  past, per shard, within the bundle. No shuffle: a GroupByKey would hold
  every item of the backfill (on DirectRunner, in memory) before sending the
  first request, while this holds at most one open request per shard. What is
  left open when the bundle ends is packed together, so a bundle leaves at
  most one request less than full.

Beam's GroupIntoBatches has no byte limit in Python, and BatchElements has
no notion of a person, so the cut is done here.
"""

from __future__ import annotations

import math
import zlib
from typing import Sequence

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.calls import ALL_KEYS, WIRE_BODY, WIRE_KEY, WIRE_MESSAGE_ID, WIRE_PERSON, WIRE_SOURCE, WIRE_TYPE, \
    WIRE_URL, HttpCall, endpoint_label
from pipeline.ordering import in_send_order
from transforms import batch_envelope
from transforms.request import is_follow_up
from transforms.limits import BATCH_PATH, MAX_BATCH_ITEMS
from transforms.limits import MAX_BATCH_BODY_BYTES as MAX_BATCH_BYTES

_NO_CALLS: tuple = ()

# Batching reads each item's wire form (a tuple of strings, bytes and
# numbers, see pipeline/calls.py) in place rather than building an Outbound
# per item. Besides what building an Outbound costs, open batches hold up
# to a thousand items per shard for a while: as objects the garbage
# collector tracks, each collection would scan them again, while a tuple of
# plain values drops out of the collector's sight at its first collection.
# The cost per item of this step is measured by bench/bench_pipeline.py
# (its dryrun and growth parts).


def shard_of(wire: tuple, shards: int) -> int:
    """A stable shard for the item's person (crc32: same in every process)."""
    key = wire[WIRE_PERSON] or wire[WIRE_MESSAGE_ID] or ""
    return zlib.crc32(key.encode("utf-8")) % shards


def batch_body(items: list[bytes], url: str = BATCH_PATH) -> bytes:
    """The request body of items bound for `url`, from already-serialized items.

    ``{"batch":[item,...]}`` for /api/v2/batch, ``{"ids":[id,...]}`` for a
    manual segment (see transforms.batch_envelope); no re-encoding.
    """
    prefix, suffix, _ = batch_envelope(url)
    return prefix + b",".join(items) + suffix


class _OpenBatch:
    """Items (wire form) gathered for one URL, not yet cut into a call."""

    __slots__ = ("url", "max_items", "wires", "people", "size")

    def __init__(self, url: str, max_items: int):
        prefix, suffix, cap = batch_envelope(url)
        self.url = url
        self.max_items = min(cap, max_items)
        self.wires: list[tuple] = []
        self.people: set = set()
        self.size = len(prefix) + len(suffix)

    def add_if_fits(self, wire: tuple, max_bytes: int) -> bool:
        """Adds the item if both caps allow; returns whether it did."""
        wires = self.wires
        size = self.size + len(wire[WIRE_BODY]) + (1 if wires else 0)
        if len(wires) >= self.max_items or size > max_bytes:
            return False
        self.size = size
        wires.append(wire)
        self.people.add(wire[WIRE_PERSON])
        return True

    def add_first(self, wire: tuple) -> None:
        """Adds the first item of a batch, whatever its size (see BatchCutter)."""
        self.add_if_fits(wire, math.inf)

    def call(self, sort: bool) -> HttpCall:
        wires = in_send_order(self.wires) if sort else self.wires
        return HttpCall(
            method="POST",
            url=self.url,
            body=batch_body([w[WIRE_BODY] for w in wires], self.url),
            endpoint=endpoint_label("POST", self.url),
            events=[w[WIRE_SOURCE] for w in wires],
            batch=True,
            keys=[w[WIRE_KEY] for w in wires] if len(wires[0]) > WIRE_KEY else None,
            follow_ups=tuple(i for i, w in enumerate(wires) if is_follow_up(w[WIRE_TYPE])),
        )


class BatchCutter:
    """Cuts items (wire form), in the order they are added, into batch calls within both caps.

    Items only share a call with items for the same URL (v2 batch, or one
    manual segment action). Calls come out in an order that keeps each
    person's items in the order added: before an item joins its URL's batch,
    an open batch of another URL that holds the same person is cut first
    (e.g. a segment add before a later remove). An item that alone exceeds
    the byte cap cannot be sent; the mapping layer already rejects items over
    32 KB, so that cannot happen here.

    `sort_each_call`: put the items of each call in event-time order (with a
    merge after its primary's identify), for items added in arrival order.
    """

    def __init__(self, max_items: int = MAX_BATCH_ITEMS, max_bytes: int = MAX_BATCH_BYTES,
                 sort_each_call: bool = False):
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.sort_each_call = sort_each_call
        self.open: dict[str, _OpenBatch] = {}

    def add(self, wire: tuple) -> Sequence[HttpCall]:
        """Adds one item; returns the calls it completed (usually none).

        Runs for every v2 item, so the usual case (the item joins the one
        open batch) takes a single method call and allocates nothing.
        """
        url, opened, sort = wire[WIRE_URL], self.open, self.sort_each_call
        batch = opened.get(url)
        if batch is not None and len(opened) == 1:
            if batch.add_if_fits(wire, self.max_bytes):
                return _NO_CALLS
            calls = [opened.pop(url).call(sort)]
        else:
            person = wire[WIRE_PERSON]
            calls = [opened.pop(other).call(sort)
                     for other in [u for u, b in opened.items() if u != url and person in b.people]]
            if batch is not None:
                if batch.add_if_fits(wire, self.max_bytes):
                    return calls
                calls.append(opened.pop(url).call(sort))
        batch = opened[url] = _OpenBatch(url, self.max_items)
        batch.add_first(wire)
        return calls

    def flush(self) -> list[HttpCall]:
        """The calls of every open batch; the cutter is empty afterwards."""
        calls = [batch.call(self.sort_each_call) for batch in self.open.values()]
        self.open.clear()
        return calls

    def take_open(self) -> list[tuple]:
        """The items of every open batch, uncut; the cutter is empty afterwards.

        add() never leaves one person's items open under two URLs, so the
        order across URLs does not matter here.
        """
        wires = [w for batch in self.open.values() for w in batch.wires]
        self.open.clear()
        return wires


def cut_into_batches(
    wires,
    max_items: int = MAX_BATCH_ITEMS,
    max_bytes: int = MAX_BATCH_BYTES,
    sort_each_call: bool = False,
) -> list[HttpCall]:
    """Cuts items (wire form), in the order given, into batch calls within both caps (see BatchCutter)."""
    cutter = BatchCutter(max_items, max_bytes, sort_each_call)
    calls = [call for wire in wires for call in cutter.add(wire)]
    return calls + cutter.flush()


class BatchItems(beam.PTransform):
    """Streaming: lists of v2 items (wire form) -> (shard, [batch HttpCall, ...] in send order) per window."""

    def __init__(self, shards: int, max_items: int = MAX_BATCH_ITEMS, max_bytes: int = MAX_BATCH_BYTES):
        super().__init__()
        self.shards = shards
        self.max_items = max_items
        self.max_bytes = max_bytes

    def expand(self, items):
        shards, max_items, max_bytes = self.shards, self.max_items, self.max_bytes
        return (
            items
            | "KeyByShard" >> beam.FlatMap(lambda wires: [(shard_of(wire, shards), wire) for wire in wires])
            | "GroupByShard" >> beam.GroupByKey()
            | "CutIntoBatches" >> beam.MapTuple(
                lambda shard, group: (shard, cut_into_batches(in_send_order(group), max_items, max_bytes))
            )
        )


class BatchInBundle(beam.DoFn):
    """Batch jobs: lists of v2 items (wire form) -> (shard, [batch HttpCall]) as batches fill.

    One BatchCutter per shard, for the bundle. Each full call goes out at
    once, keyed by its shard (the delivery step keeps one shard's calls in
    order, one at a time). When the bundle ends, the shards' open batches are
    packed together into as few calls as fit and sent as one group keyed
    ALL_KEYS, which delivery sends after everything before it: so each
    bundle leaves at most one call that is not full, however many shards.
    """

    def __init__(self, shards: int, max_items: int = MAX_BATCH_ITEMS, max_bytes: int = MAX_BATCH_BYTES):
        self.shards = shards
        self.max_items = max_items
        self.max_bytes = max_bytes

    def start_bundle(self):
        self.cutters: dict[int, BatchCutter] = {}

    def process(self, wires):
        out, cutters, shards = [], self.cutters, self.shards
        for wire in wires:
            shard = shard_of(wire, shards)
            cutter = cutters.get(shard)
            if cutter is None:
                cutter = cutters[shard] = BatchCutter(self.max_items, self.max_bytes, sort_each_call=True)
            for call in cutter.add(wire):
                out.append((shard, [call]))
        return out

    def finish_bundle(self):
        leftovers = [o for cutter in self.cutters.values() for o in cutter.take_open()]
        self.cutters = {}
        if leftovers:
            calls = cut_into_batches(leftovers, self.max_items, self.max_bytes, sort_each_call=True)
            # Batch jobs run in the global window only.
            yield WindowedValue((ALL_KEYS, calls), MIN_TIMESTAMP, [GlobalWindow()])
