"""Where events come from: JSON-lines files (batch) or Pub/Sub (streaming).

Files yield blocks of lines (a list of the raw bytes of each line, see
`pipeline.line_blocks`), Pub/Sub the raw bytes of each message; parsing
happens in `pipeline.parse`, so that text which is not JSON can be dead-lettered as it
was instead of failing the read. Warehouse exports (--input_format csv or
parquet) are read by `pipeline.warehouse`, which yields each row as the
bytes of a record message.
"""

from __future__ import annotations

import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms import trigger, window
from apache_beam.utils.timestamp import Duration, Timestamp

from pipeline.line_blocks import ReadLineBlocks
from pipeline.options import JobConfig
from pipeline.warehouse import ReadWarehouseRows


class ReadRawEvents(beam.PTransform):
    """Reads raw event text from --input files or from Pub/Sub.

    In streaming, elements are also put into fixed windows of
    --window_seconds, which bound how long an object or v2 item waits for its
    batch, and how long a person's requests wait to be put in order.
    """

    def __init__(self, config: JobConfig):
        super().__init__()
        self.config = config

    def expand(self, pbegin):
        config = self.config
        if config.input and config.input_format != "jsonl":
            return pbegin | "ReadWarehouse" >> ReadWarehouseRows(
                config.input, config.input_format, config.columns, validate=_is_local(config.input)
            )
        if config.input:
            # Blocks of lines as bytes: not str, so that a line with invalid
            # UTF-8 reaches the dead-letter output rather than failing the
            # read; blocks, so that Beam's per-element cost is paid per block.
            return pbegin | "ReadFiles" >> ReadLineBlocks(config.input, validate=_is_local(config.input))
        messages = pbegin | "ReadPubSub" >> beam.io.ReadFromPubSub(
            subscription=config.subscription,
            topic=config.topic,
            timestamp_attribute=config.timestamp_attribute,
        )
        return messages | "Window" >> WindowForDelivery(config.window_seconds, fires_on_arrival(pbegin.pipeline))


def _is_local(path: str) -> bool:
    """Whether `path` is on the local filesystem.

    Only local globs are matched while the pipeline is built (an early, clear
    error for a typo). Matching a gs:// glob at build time needs credentials
    and network, which a Flex Template launcher has but an offline job-graph
    check (DataflowRunner --dry_run=True) does not; for remote paths the read
    itself fails on the workers when nothing matches.
    """
    return FileSystems.get_scheme(path) in (None, "file")


class _StampNotBeforeNow(beam.DoFn):
    """Moves an element's timestamp forward to now when it is older.

    Event times from --timestamp_attribute may lie far behind the watermark;
    windowing those as they are would make them late, and late data is
    dropped by GroupByKey. Events are put in order by the event time inside
    each request instead (see `pipeline.ordering`), so the window only needs
    to say *when* to send.
    """

    def process(self, element, timestamp=beam.DoFn.TimestampParam):
        now = Timestamp.of(time.time())
        yield window.TimestampedValue(element, max(timestamp, now))


class WindowForDelivery(beam.PTransform):
    """Fixed windows whose panes fire within --window_seconds, dropping nothing.

    A pane fires when the watermark passes the window's end, or earlier,
    --window_seconds of processing time after its first element (so a stalled
    watermark, e.g. DirectRunner's Pub/Sub read waiting out a 30 s pull,
    cannot hold requests back); a late element fires a pane of its own.
    """

    def __init__(self, window_seconds: float, on_arrival: bool = False):
        super().__init__()
        self.window_seconds = window_seconds
        self.on_arrival = on_arrival

    def expand(self, pcoll):
        return (
            pcoll
            | "StampNotBeforeNow" >> beam.ParDo(_StampNotBeforeNow())
            | "FixedWindows" >> delivery_windows(self.window_seconds, self.on_arrival)
        )


def fires_on_arrival(pipeline: beam.Pipeline) -> bool:
    """Whether a streaming job's panes should fire as elements arrive: on the local DirectRunner.

    Its streaming executor runs one task at a time on one thread, and reads
    Pub/Sub with a pull that waits up to 30 s for a message (fixed in Beam).
    While that pull waits nothing else runs, no processing-time timer
    included, and only the next pull moves the watermark: a pane that waits
    for either waits out the pull, so the tail of a burst would be delivered
    ~30 s late, and a Ctrl-C would lose what sat in open panes. Fired by
    arrival, each pull's messages are sent before the next pull starts (see
    docs/streaming.md). Other runners keep the timed panes, which put many
    pulls' items into one request.
    """
    from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner, SwitchingDirectRunner

    return isinstance(pipeline.runner, (SwitchingDirectRunner, BundleBasedDirectRunner))


def delivery_windows(window_seconds: float, on_arrival: bool = False) -> beam.WindowInto:
    """The streaming job's windowing (see WindowForDelivery and fires_on_arrival).

    Also applied again to the dead letters of each stage before they are
    merged: those coming out of a GroupByKey carry its continuation trigger,
    and a Flatten wants one windowing on all its inputs.
    """
    # whole seconds: the runner API stores the delay as int ms of int s
    early = trigger.AfterCount(1) if on_arrival else trigger.AfterProcessingTime(max(1, round(window_seconds)))
    return beam.WindowInto(
        window.FixedWindows(window_seconds),
        trigger=trigger.AfterWatermark(early=early, late=trigger.AfterCount(1)),
        accumulation_mode=trigger.AccumulationMode.DISCARDING,
        allowed_lateness=Duration(seconds=24 * 3600),
    )
