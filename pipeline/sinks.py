"""Where results go: dead-letter records, and requests in a dry run.

Dead letters of a batch job are appended to files as they come
(pipeline/append_files.py), by a writer fused to each step that fails
events: a job that is stopped or killed keeps every dead letter it produced,
and leaves no temporary folder. Every run writes files of its own,
``<prefix>-<run id>-<writer>.jsonl``, so no run replaces an earlier run's.
Streaming jobs use `fileio.WriteToFiles` (one set of files per window,
named ``<prefix>-<run id>-...``) or publish to a Pub/Sub topic.

The dry run's requests are written with Beam's text sink.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import secrets
import shutil

import apache_beam as beam
import orjson
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline.append_files import AppendFile, read_all
from pipeline.dead_letter import shorten

LOG = logging.getLogger("cio-pipeline")

# How much of a reason goes into a metric name; the record keeps all of it.
REASON_CHARS = 80


class _CountDeadLetters(beam.DoFn):
    """Counts dead-letter records by stage and by reason, for the summary."""

    def process(self, record: bytes):
        parsed = orjson.loads(record)
        stage = parsed.get("stage", "?")
        # An event's follow-up request is a record of its own, but not an
        # event again (pipeline/calls.py HttpCall.follow_ups).
        Metrics.counter("cio.dead_letter_follow_up" if parsed.get("follow_up") else "cio.dead_letter", stage).inc()
        Metrics.counter("cio.dead_letter_reasons", shorten(f"{stage}: {parsed.get('error', '')}", REASON_CHARS)).inc()
        yield record


class _HideWriteFilesWindowingWarning(logging.Filter):
    """Drops Beam's "All input pcollections must have the same window" warning
    for the Flatten inside its own fileio.WriteToFiles, and only that one.

    With timed panes (Dataflow) that Flatten merges files written straight
    away with files written after a GroupByKey, whose windowing carries the
    trigger's continuation (_AfterSynchronizedProcessingTime): the same
    windows, another trigger object. It is Beam's code, not ours; the files
    are finalized per window either way, so the warning tells a user nothing
    (our own Flatten gets one windowing, see pipeline/build.py).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (str(record.msg).startswith("All input pcollections must have the same window")
                    and "_WriteShardedRecordsFn" in record.getMessage())


logging.getLogger("apache_beam.transforms.core").addFilter(_HideWriteFilesWindowingWarning())


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


def dead_letter_files(prefix: str, run_id: str) -> str:
    """The glob of one run's dead-letter files."""
    return f"{prefix}-{run_id}-*.jsonl"


def count_dead_letters(pattern: str, stage: str) -> int:
    """How many records of `stage` the dead-letter files matching `pattern` hold
    (a stopped job's summary: they are written as they come)."""
    n = 0
    for _, data in read_all(pattern):
        for line in data.splitlines():
            try:
                n += orjson.loads(line).get("stage") == stage
            except orjson.JSONDecodeError:  # a line torn by a kill
                continue
    return n


class _AppendDeadLetters(beam.DoFn):
    """Appends each record to this writer's file as it comes (see the module's docstring)."""

    def __init__(self, prefix: str, run_id: str):
        self.prefix = prefix
        self.run_id = run_id

    def setup(self):
        # A random part per writer: writers in many processes (and several
        # per process) never share a file; the file appears at the first record.
        self.file = AppendFile(f"{self.prefix}-{self.run_id}-{secrets.token_hex(4)}", ".jsonl")

    def process(self, record: bytes):
        self.file.append(record + b"\n")

    def finish_bundle(self):
        self.file.flush()

    def teardown(self):
        file = getattr(self, "file", None)
        if file is not None:
            file.close()


class _AppendEach(beam.PTransform):
    """Counts and appends each stage's dead letters where they are produced.

    No Flatten first: on the local runner a Flatten of several producers
    holds what it gets until every producer is done, so a killed job would
    lose the dead letters of its whole run.
    """

    def __init__(self, prefix: str, run_id: str):
        super().__init__()
        self.prefix = prefix
        self.run_id = run_id

    def expand(self, pcolls):
        for i, records in enumerate(pcolls):
            (records
             | f"Count{i}" >> beam.ParDo(_CountDeadLetters())
             | f"Append{i}" >> beam.ParDo(_AppendDeadLetters(self.prefix, self.run_id)))
        return beam.pvalue.PDone(pcolls[0].pipeline)


class WriteDeadLetters(beam.PTransform):
    """Counts dead-letter records and writes them to files or a topic.

    Takes a list of PCollections of records (one per failing step).
    """

    def __init__(self, path: str | None, topic: str | None, streaming: bool, run_id: str = "run"):
        super().__init__()
        self.path = path
        self.topic = topic
        self.streaming = streaming
        self.run_id = run_id

    def expand(self, pcolls):
        pcolls = list(pcolls)
        if not self.topic and not self.streaming:
            return tuple(pcolls) | "Write" >> _AppendEach(self.path, self.run_id)
        counted = tuple(pcolls) | "All" >> beam.Flatten() | "Count" >> beam.ParDo(_CountDeadLetters())
        if self.topic:
            return counted | "Publish" >> beam.io.WriteToPubSub(self.topic)
        return counted | "Write" >> WriteJsonLines(f"{self.path}-{self.run_id}", self.streaming)


def dry_run_lines(key_and_calls) -> list[bytes]:
    """The JSON lines ``{"method","url","json"}`` of a group of calls.

    No headers: the Authorization value must never be written anywhere.
    """
    _, calls = key_and_calls
    lines = []
    events = 0
    for call in calls:
        body = orjson.Fragment(call.body) if call.body is not None else None
        lines.append(orjson.dumps({"method": call.method, "url": call.url, "json": body}))
        events += len(call.events) - len(call.follow_ups)
    # For the summary: what a dry run wrote, as a delivery counts what it sent.
    Metrics.counter("cio.dry_run", "requests_written").inc(len(lines))
    Metrics.counter("cio.dry_run", "events_written").inc(events)
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


def temp_folder_patterns(config) -> list[str]:
    """Globs of the temporary folders Beam's file sinks of this job may leave behind.

    WriteToText (the dry run) writes into ``beam-temp-*`` beside its files,
    fileio (streaming dead letters) into ``.temp*``; both move the files into
    place and remove the folder only when the job (or window) finishes.
    """
    patterns = []
    if config.dry_run_output:
        patterns.append(FileSystems.join(os.path.dirname(config.dry_run_output) or ".", "beam-temp-*"))
    if config.streaming and config.dead_letter:
        patterns.append(FileSystems.join(os.path.dirname(config.dead_letter) or ".", ".temp*"))
    return patterns


def _matching(patterns: list[str]) -> set[str]:
    found = set()
    for pattern in patterns:
        try:
            found |= {m.path.rstrip("/") for m in FileSystems.match([pattern])[0].metadata_list}
        except Exception:  # nothing there (a missing folder is an error on some filesystems)
            pass
        if FileSystems.get_scheme(pattern) in (None, "file"):
            found |= {path.rstrip("/") for path in glob.glob(pattern)}  # match() lists files, not folders
    return found


@contextlib.contextmanager
def removing_new_temp_folders(config):
    """Removes, however the job ends (an exception, Ctrl-C), the temporary folders that appeared while it ran.

    Folders that were there before are left alone: they may be another job's.
    """
    patterns = temp_folder_patterns(config)
    before = _matching(patterns)
    try:
        yield
    finally:
        for path in sorted(_matching(patterns) - before):
            try:
                if FileSystems.get_scheme(path) in (None, "file"):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    FileSystems.delete([path + "/"])
            except Exception as err:  # cleaning up must not hide how the job ended
                LOG.warning("could not remove the temporary folder %s (%s)", path, type(err).__name__)
