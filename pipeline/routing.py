"""A ParDo per message type: route by `type`, then map each type in its own step.

`RouteByType` tells each event's type; then one `MapEvents` step per type,
one after the other, maps the events of its type with the pure mapping code
of `transforms/` and passes everything else on; `SplitRequests` finally
separates requests sent on their own (v1) from v2 batch items.

Elements are chunks: the events of one line, message or block of lines
(pipeline/parse.py), in the order read. A step walks its chunk and replaces
the entries of its own type by their requests, so each event still meets
every step in turn while Beam's per-element cost is paid once per chunk,
not once per event at each of the chain's steps (bench/bench_pipeline.py
measures the whole chain).

Why a chain and not a tagged output per type merged again with Flatten: on
DirectRunner every Flatten of several inputs is a stage boundary where each
element is encoded, held in memory until the whole input is done, and
decoded; the chain keeps the job one fused stage from the read to delivery.
On Dataflow both shapes fuse the same way.
"""

from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.calls import Outbound
from pipeline.dead_letter import DEAD_LETTER, dead_letter_record
from pipeline.gc_tuning import freeze_heap_at_exit, tune_garbage_collector
from transforms import EVENT_TYPES, MAPPERS, MappingError, Settings, event_type

LOG = logging.getLogger("cio-pipeline")

# The entries of a chunk: (type, event, source) for an event not yet mapped,
# where type is one of EVENT_TYPES; (SINGLE_REQUEST or BATCH_ITEM, wire) for
# a mapped request, wire being the wire form of an Outbound.
SINGLE_REQUEST = "single request"
BATCH_ITEM = "batch item"

# Tag of SplitRequests' output of v2 batch items (the main output is v1 calls).
BATCH_ITEMS = "batch_items"


class RouteByType(beam.DoFn):
    """A chunk of (event, source) -> a chunk of (type, event, source).

    Events of an unknown type are dead-lettered.
    """

    def process(self, chunk):
        routed, out = [], []
        for event, source in chunk:
            try:
                routed.append((event_type(event), event, source))
            except MappingError as err:
                out.append(beam.pvalue.TaggedOutput(
                    DEAD_LETTER, dead_letter_record("map", str(err), event=source)))
        if routed:
            out.append(routed)
        return out


class MapEvents(beam.DoFn):
    """Maps the events of one type in a chunk to Customer.io requests.

    Every other entry passes on untouched, in its place. Events that cannot
    be mapped go to the dead-letter output with the mapping's reason.
    """

    def __init__(self, kind: str, settings: Settings):
        if kind not in EVENT_TYPES:
            raise ValueError(f"unknown event type {kind!r}")
        self.kind = kind
        self.settings = settings
        self.mapped = Metrics.counter("cio.mapped", kind)
        self.mapper = None

    def setup(self):
        self.mapper = MAPPERS[self.kind]
        tune_garbage_collector()
        freeze_heap_at_exit()

    def start_bundle(self):
        self.mapped_in_bundle = 0  # added to the metric once per bundle, not per event

    def process(self, chunk):
        kind, mapper, settings, wire = self.kind, self.mapper, self.settings, Outbound.wire
        passed_on, out = [], []
        for entry in chunk:
            if entry[0] != kind:
                passed_on.append(entry)  # another type's event, or a request mapped upstream
                continue
            _, event, source = entry
            try:
                requests = mapper(event, settings)
            except MappingError as err:
                reason = str(err)
            except Exception as err:  # a bug must not stop the job: keep the event
                LOG.exception("unexpected error mapping a %s event", kind)
                reason = f"internal error while mapping: {type(err).__name__}"
            else:
                self.mapped_in_bundle += 1
                passed_on += [((BATCH_ITEM if request.batch_item else SINGLE_REQUEST), wire(request, source))
                              for request in requests]
                continue
            out.append(beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter_record("map", reason, event=source)))
        if passed_on:
            out.append(passed_on)
        return out

    def finish_bundle(self):
        self.mapped.inc(self.mapped_in_bundle)
        self.mapped_in_bundle = 0


class SplitRequests(beam.DoFn):
    """A chunk of mapped requests -> each v1 request (main output), and the
    chunk's v2 batch items as one list (BATCH_ITEMS), both in the order read."""

    def process(self, chunk):
        out, items = [], []
        for entry in chunk:
            kind = entry[0]
            if kind == BATCH_ITEM:
                items.append(entry[1])
            elif kind == SINGLE_REQUEST:
                out.append(entry[1])
            else:  # cannot happen: RouteByType only passes types that have a step
                out.append(beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter_record(
                    "map", f"internal error: no mapping step for type {kind}", event=entry[2])))
        if items:
            out.append(beam.pvalue.TaggedOutput(BATCH_ITEMS, items))
        return out
