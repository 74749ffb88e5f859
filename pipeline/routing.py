"""A ParDo per message type: route by `type`, then map each type in its own step.

`RouteByType` tells each event's type; then one `MapEvents` step per type,
one after the other, maps the events of its type with the pure mapping code
of `transforms/` and passes everything else on; `SplitRequests` finally
separates requests sent on their own (v1) from v2 batch items.

Why a chain and not a tagged output per type merged again with Flatten: on
DirectRunner every Flatten of several inputs is a stage boundary where each
element is encoded, held in memory until the whole input is done, and
decoded; the chain keeps the job one fused stage from the read to delivery,
at ~0.3 us per step per event (bench/bench_pipeline.py). On Dataflow both
shapes fuse the same way.
"""

from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.calls import Outbound
from pipeline.dead_letter import DEAD_LETTER, dead_letter_record
from transforms import EVENT_TYPES, MAPPERS, MappingError, Settings, event_type

LOG = logging.getLogger("cio-pipeline")

# What travels along the chain: (type, event, source) for an event not yet
# mapped, where type is one of EVENT_TYPES; (SINGLE_REQUEST or BATCH_ITEM,
# wire) for a mapped request, wire being the wire form of an Outbound.
SINGLE_REQUEST = "single request"
BATCH_ITEM = "batch item"

# Tag of SplitRequests' output of v2 batch items (the main output is v1 calls).
BATCH_ITEMS = "batch_items"


class RouteByType(beam.DoFn):
    """(event, source) -> (type, event, source); unknown types are dead-lettered."""

    def process(self, parsed):
        event, source = parsed
        try:
            return ((event_type(event), event, source),)
        except MappingError as err:
            return (beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter_record("map", str(err), event=source)),)


class MapEvents(beam.DoFn):
    """Maps the events of one type to Customer.io requests; passes the rest on.

    Events that cannot be mapped go to the dead-letter output with the
    mapping's reason.
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

    def start_bundle(self):
        self.mapped_in_bundle = 0  # added to the metric once per bundle, not per event

    def process(self, element):
        if element[0] != self.kind:
            return (element,)  # another type's event, or a request mapped upstream
        _, event, source = element
        try:
            requests = self.mapper(event, self.settings)
        except MappingError as err:
            reason = str(err)
        except Exception as err:  # a bug must not stop the job: keep the event
            LOG.exception("unexpected error mapping a %s event", self.kind)
            reason = f"internal error while mapping: {type(err).__name__}"
        else:
            self.mapped_in_bundle += 1
            return [((BATCH_ITEM if request.batch_item else SINGLE_REQUEST), Outbound.wire(request, source))
                    for request in requests]
        return (beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter_record("map", reason, event=source)),)

    def finish_bundle(self):
        self.mapped.inc(self.mapped_in_bundle)
        self.mapped_in_bundle = 0


class SplitRequests(beam.DoFn):
    """Mapped requests -> v1 requests (main output) and v2 batch items (BATCH_ITEMS)."""

    def process(self, element):
        kind = element[0]
        if kind == BATCH_ITEM:
            return (beam.pvalue.TaggedOutput(BATCH_ITEMS, element[1]),)
        if kind == SINGLE_REQUEST:
            return (element[1],)
        # cannot happen: RouteByType only passes types that have a step
        return (beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter_record(
            "map", f"internal error: no mapping step for type {kind}", event=element[2])),)
