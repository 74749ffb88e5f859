"""Where results go: dead-letter records, and requests in a dry run.

Batch jobs write JSON-lines files with Beam's text sink; streaming jobs use
`fileio.WriteToFiles` (which writes one set of files per window) or publish
to a Pub/Sub topic.
"""

from __future__ import annotations

import os

import apache_beam as beam
import orjson
from apache_beam.io import fileio
from apache_beam.metrics import Metrics

# How much of a reason goes into a metric name; the record keeps all of it.
REASON_CHARS = 80


class _CountDeadLetters(beam.DoFn):
    """Counts dead-letter records by stage and by reason, for the summary."""

    def process(self, record: bytes):
        parsed = orjson.loads(record)
        stage = parsed.get("stage", "?")
        Metrics.counter("cio.dead_letter", stage).inc()
        Metrics.counter("cio.dead_letter_reasons", f"{stage}: {parsed.get('error', '')[:REASON_CHARS]}").inc()
        yield record


class WriteJsonLines(beam.PTransform):
    """Writes byte lines to `<prefix>-SSSSS-of-NNNNN.jsonl` files.

    In a batch job with Beam's text sink; in a streaming job with
    fileio.WriteToFiles (in the directory of the prefix, a file per window
    and shard). ``gs://`` prefixes work for both.
    """

    def __init__(self, prefix: str, streaming: bool):
        super().__init__()
        self.prefix = prefix
        self.streaming = streaming

    def expand(self, lines):
        text = lines | "AsText" >> beam.Map(lambda line: line.decode("utf-8"))
        if not self.streaming:
            return text | "WriteText" >> beam.io.WriteToText(self.prefix, file_name_suffix=".jsonl")
        directory, name = os.path.split(self.prefix)
        return text | "WriteFiles" >> fileio.WriteToFiles(
            path=directory or ".",
            file_naming=fileio.default_file_naming(prefix=name or "output", suffix=".jsonl"),
        )


class WriteDeadLetters(beam.PTransform):
    """Counts dead-letter records and writes them to files or a topic."""

    def __init__(self, path: str | None, topic: str | None, streaming: bool):
        super().__init__()
        self.path = path
        self.topic = topic
        self.streaming = streaming

    def expand(self, records):
        counted = records | "Count" >> beam.ParDo(_CountDeadLetters())
        if self.topic:
            return counted | "Publish" >> beam.io.WriteToPubSub(self.topic)
        return counted | "Write" >> WriteJsonLines(self.path, self.streaming)


def dry_run_lines(key_and_calls) -> list[bytes]:
    """The JSON lines ``{"method","url","json"}`` of a group of calls.

    No headers: the Authorization value must never be written anywhere.
    """
    _, calls = key_and_calls
    lines = []
    for call in calls:
        body = orjson.Fragment(call.body) if call.body is not None else None
        lines.append(orjson.dumps({"method": call.method, "url": call.url, "json": body}))
    return lines


class WriteDryRun(beam.PTransform):
    """Writes the calls that would have been sent, instead of sending them.

    Takes (v1 calls, batch calls) and writes them to ``<path>-single-*`` and
    ``<path>-batched-*`` files: two sinks rather than one after a Flatten,
    which on DirectRunner would hold every line in memory until the end.
    """

    def __init__(self, path: str, streaming: bool):
        super().__init__()
        self.path = path
        self.streaming = streaming

    def expand(self, single_and_batched):
        single, batched = single_and_batched
        for label, calls in (("single", single), ("batched", batched)):
            (calls
             | f"{label.capitalize()}AsJsonLines" >> beam.FlatMap(dry_run_lines)
             | f"Write{label.capitalize()}" >> WriteJsonLines(f"{self.path}-{label}", self.streaming))
        return beam.pvalue.PDone(single.pipeline)
