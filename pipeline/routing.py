"""A ParDo per message type: route by `type`, then map each type on its own.

`RouteByType` sends each event to the tagged output of its type;
`MapEvents` (one instance per type) calls the pure mapping code of
`transforms/` and dead-letters what cannot be mapped.
"""

from __future__ import annotations

import logging

import apache_beam as beam
import orjson
from apache_beam.metrics import Metrics

from pipeline.calls import Outbound
from pipeline.dead_letter import DEAD_LETTER, dead_letter_record
from transforms import EVENT_TYPES, MAPPERS, MappingError, Settings, event_type

LOG = logging.getLogger("cio-pipeline")


def _event_json(event: dict) -> bytes:
    # orjson refuses what JSON cannot hold (e.g. NaN, huge ints); keep the
    # record anyway, as text, so the dead-letter line is still valid JSON.
    try:
        return orjson.dumps(event)
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps(repr(event))


class RouteByType(beam.DoFn):
    """Tags each event with its type; unknown types are dead-lettered."""

    def process(self, event: dict):
        try:
            kind = event_type(event)
        except MappingError as err:
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER, dead_letter_record("map", str(err), event=_event_json(event))
            )
            return
        yield beam.pvalue.TaggedOutput(kind, event)


# Tag of MapEvents' output of v2 batch items (the main output is v1 calls).
BATCH_ITEMS = "batch_items"


class MapEvents(beam.DoFn):
    """Maps events of one type to Customer.io requests (`Outbound`s).

    Requests sent on their own come out of the main output; v2 batch items
    (objects, and everything in v2 mode) out of the BATCH_ITEMS tag. Both in
    the wire form of `Outbound` (a plain tuple, see pipeline/calls.py).
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

    def process(self, event: dict):
        try:
            requests = self.mapper(event, self.settings)
        except MappingError as err:
            reason = str(err)
        except Exception as err:  # a bug must not stop the job: keep the event
            LOG.exception("unexpected error mapping a %s event", self.kind)
            reason = f"internal error while mapping: {type(err).__name__}"
        else:
            self.mapped.inc()
            source = _event_json(event)
            for request in requests:
                if request.batch_item:
                    yield beam.pvalue.TaggedOutput(BATCH_ITEMS, Outbound(request, source).to_wire())
                else:
                    yield Outbound(request, source).to_wire()
            return
        yield beam.pvalue.TaggedOutput(
            DEAD_LETTER, dead_letter_record("map", reason, event=_event_json(event))
        )
