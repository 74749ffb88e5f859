"""Parse DoFn: raw text to events, dead-lettering what is not an event."""

from __future__ import annotations

import apache_beam as beam
import orjson
from apache_beam.metrics import Metrics

from pipeline.dead_letter import DEAD_LETTER, dead_letter_record
from pipeline.progress import Progress
from transforms import MappingError, decode_events


def event_json(event: dict) -> bytes:
    """The event as JSON bytes, for dead-letter records and delivery failures."""
    # orjson refuses what JSON cannot hold (e.g. NaN, huge ints); keep the
    # record anyway, as text, so the dead-letter line is still valid JSON.
    try:
        return orjson.dumps(event)
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps(repr(event))


def _is_one_json_line(raw) -> bool:
    """Whether `raw` is one JSON object on one line, usable as the event's JSON as is."""
    return (isinstance(raw, bytes) and raw[:1] == b"{" and raw[-1:] == b"}"
            and b"\n" not in raw and b"\r" not in raw)


class ParseEvents(beam.DoFn):
    """Raw text in, one chunk of ``(event, source)`` pairs out.

    The input is one line or Pub/Sub message (bytes), or a block of lines
    (a list of them, see pipeline/line_blocks.py); the output is the list of
    its events, one element per input, so that the steps after it pay Beam's
    per-element cost once per block rather than once per event.

    ``event`` is the event dict; ``source`` its JSON bytes, kept so that a
    failure at any later stage can dead-letter the event as it came. A line
    that holds one object is its own source (not encoded again, which
    saves a serialization per event); the events of an array, or of a
    message spread over several lines, are encoded one by one.

    A message may hold one event object or a JSON array of them. Text that is
    not JSON, and array elements that are not objects, go to the dead-letter
    output with the text as it was.
    """

    def __init__(self):
        self.events_read = Metrics.counter("cio", "events_read")
        # Inputs (lines, rows or messages) before they are split into events, for the summary.
        self.lines_read = Metrics.counter("cio", "lines_read")
        self.progress = None

    def setup(self):
        self.progress = Progress("read")

    def start_bundle(self):
        self.read_in_bundle = 0  # added to the metric once per bundle, not per event
        self.lines_in_bundle = 0

    def process(self, raw):
        chunk, out = [], []
        texts = raw if isinstance(raw, list) else (raw,)
        self.lines_in_bundle += len(texts)
        for text in texts:
            items = decode_events(text)
            if len(items) == 1 and type(items[0]) is dict and _is_one_json_line(text):
                chunk.append((items[0], text))
                continue
            for item in items:
                if isinstance(item, MappingError):
                    out.append(beam.pvalue.TaggedOutput(
                        DEAD_LETTER, dead_letter_record("parse", str(item), raw=text)))
                else:
                    chunk.append((item, event_json(item)))
        if chunk:
            self.read_in_bundle += len(chunk)
            self.progress.tick(len(chunk))
            out.append(chunk)
        return out

    def finish_bundle(self):
        self.events_read.inc(self.read_in_bundle)
        self.lines_read.inc(self.lines_in_bundle)
        self.read_in_bundle = self.lines_in_bundle = 0
