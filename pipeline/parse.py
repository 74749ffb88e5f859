"""Parse DoFn: raw text to event dicts, dead-lettering what is not an event."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.dead_letter import DEAD_LETTER, dead_letter_record
from pipeline.progress import Progress
from transforms import MappingError, decode_events


class ParseEvents(beam.DoFn):
    """One line or Pub/Sub message in, zero or more event dicts out.

    A message may hold one event object or a JSON array of them. Text that is
    not JSON, and array elements that are not objects, go to the dead-letter
    output with the text as it was.
    """

    def __init__(self):
        self.events_read = Metrics.counter("cio", "events_read")
        self.progress = None

    def setup(self):
        self.progress = Progress("read")

    def process(self, raw: bytes):
        for item in decode_events(raw):
            if isinstance(item, MappingError):
                yield beam.pvalue.TaggedOutput(
                    DEAD_LETTER, dead_letter_record("parse", str(item), raw=raw)
                )
            else:
                self.events_read.inc()
                self.progress.tick()
                yield item
