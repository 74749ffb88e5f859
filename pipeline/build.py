"""Builds (but does not run) the pipeline: the job's shape in one page.

    read (blocks of lines, or messages) -> parse into chunks of events
         -> route by type -> map (a ParDo per type, each over whole chunks)
         -> skip what an earlier run did (batch jobs, pipeline/resume.py)
         -> v1 calls: group per person, in event-time order
              (on the local runner through partition files on disk)
         -> v2 items: cut into /api/v2/batch requests per shard
              (batch jobs: as they stream past; streaming: per window)
         -> deliver (paced, retried)  or  write a dry run
    every stage's failures -> dead-letter output (each stage's appended as it comes)

In a batch job the v2 path has no shuffle: reading, mapping, batching and
delivery are one fused stage, so memory does not grow with the input.
"""

from __future__ import annotations

import apache_beam as beam

from pipeline.batching import BatchInBundle, BatchItems
from pipeline.dead_letter import DEAD_LETTER
from pipeline.delivery import DeliverCalls
from pipeline.options import JobConfig
from pipeline.ordering import OrderPerPerson, OrderPerPersonOnDisk
from pipeline.parse import ParseEvents
from pipeline.resume import SkipDone
from pipeline.routing import BATCH_ITEMS, MapEvents, RouteByType, SplitRequests
from pipeline.sinks import WriteDeadLetters, WriteDryRun
from pipeline.sources import ReadRawEvents, delivery_windows, fires_on_arrival
from pipeline.spill import job_directory
from pipeline.sync import SyncDiff, write_sync_state
from transforms import EVENT_TYPES


class MapByType(beam.PTransform):
    """Routes chunks of (event, source) by type and maps each type with its own ParDo.

    Returns (v1 requests, lists of v2 batch items, [dead letters of each
    step]); see pipeline/routing.py. With `skip_done` (a resume.SkipDone),
    requests done in an earlier run are dropped before they are split.
    """

    def __init__(self, settings, skip_done=None):
        super().__init__()
        self.settings = settings
        self.skip_done = skip_done

    def expand(self, parsed):
        routed = parsed | "RouteByType" >> beam.ParDo(RouteByType()).with_outputs(DEAD_LETTER, main="events")
        dead = [routed[DEAD_LETTER]]
        flowing = routed.events
        for kind in EVENT_TYPES:
            mapped = flowing | f"Map{kind.capitalize()}" >> beam.ParDo(
                MapEvents(kind, self.settings)
            ).with_outputs(DEAD_LETTER, main="passed_on")
            flowing = mapped.passed_on
            dead.append(mapped[DEAD_LETTER])
        if self.skip_done is not None:
            flowing = flowing | "SkipDone" >> beam.ParDo(self.skip_done)
        split = flowing | "SplitRequests" >> beam.ParDo(SplitRequests()).with_outputs(
            DEAD_LETTER, BATCH_ITEMS, main="requests")
        dead.append(split[DEAD_LETTER])
        return split.requests, split[BATCH_ITEMS], dead


class PrepareCalls(beam.PTransform):
    """(v1 requests, v2 items) -> (v1 calls, batch calls), each as (key, [HttpCall, ...]).

    A key's calls are to be sent in the order given, one at a time: a key
    is a person (v1) or a shard of people (v2).

    With `spill_base` (a batch job on the local runner, see
    JobConfig.spill_base) v1 requests are put in order through partition
    files in a new directory under it, not a GroupByKey held in memory.
    """

    def __init__(self, batch_shards: int, streaming: bool, spill_base: str | None = None):
        super().__init__()
        self.batch_shards = batch_shards
        self.streaming = streaming
        self.spill_base = spill_base

    def expand(self, requests_and_items):
        single, items = requests_and_items
        if self.spill_base and not self.streaming:
            v1_calls = single | "OrderPerPerson" >> OrderPerPersonOnDisk(job_directory(self.spill_base))
        else:
            v1_calls = single | "OrderPerPerson" >> OrderPerPerson()
        if self.streaming:
            batch_calls = items | "BatchItems" >> BatchItems(self.batch_shards)
        else:
            batch_calls = items | "BatchInBundle" >> beam.ParDo(BatchInBundle(self.batch_shards))
        return v1_calls, batch_calls


class Deliver(beam.PTransform):
    """Sends (v1 calls, batch calls) to Customer.io; returns the dead letters.

    One DeliverCalls step per kind of call (not a Flatten first, see
    pipeline/routing.py); in one worker process both share one rate limit.
    """

    def __init__(self, deliver_calls: DeliverCalls):
        super().__init__()
        self.deliver_calls = deliver_calls

    def expand(self, single_and_batched):
        dead = []
        for label, calls in zip(("Single", "Batched"), single_and_batched):
            sent = calls | label >> beam.ParDo(self.deliver_calls).with_outputs(DEAD_LETTER, main="delivered")
            dead.append(sent[DEAD_LETTER])
        return dead


def build_pipeline(p: beam.Pipeline, config: JobConfig) -> dict:
    """Adds the whole job to `p`; returns its main PCollections (for tests).

    "events" holds chunks of (event, source), "batch_items" lists of v2
    items, "requests" single v1 requests (see pipeline/routing.py).
    """
    raw = p | "ReadEvents" >> ReadRawEvents(config)
    sync = None
    if config.sync_previous is not None:
        # Only the rows that changed since the last sync go on (pipeline/sync.py).
        sync = SyncDiff(config.sync_previous, config.settings.without_key(), config.sync_deletes)
        raw = raw | "SyncDiff" >> sync
    parsed = raw | "Parse" >> beam.ParDo(ParseEvents()).with_outputs(DEAD_LETTER, main="events")
    # Only the delivery step gets the key, and not even it when the key comes
    # from Secret Manager (then each worker reads it in setup()).
    skip_done = SkipDone(config.progress_dir, config.run_id, config.restart) if config.progress_dir else None
    single, items, map_dead = parsed.events | "MapByType" >> MapByType(config.settings.without_key(), skip_done)
    calls = (single, items) | "PrepareCalls" >> PrepareCalls(
        config.batch_shards, config.streaming, config.spill_base)

    dead = [parsed[DEAD_LETTER], *map_dead]
    if sync is not None:
        dead.append(sync.dead)
    if config.dry_run_output:
        calls | "DryRun" >> WriteDryRun(config.dry_run_output, config.streaming)
    else:
        dead += calls | "Deliver" >> Deliver(DeliverCalls(
            config.settings.without_key() if config.api_key_secret else config.settings,
            api_key_secret=config.api_key_secret,
            rate_per_process=config.per_process_rate,
            max_retries=config.max_retries,
            request_timeout=config.request_timeout,
            backoff_seconds=config.backoff_seconds,
            max_backoff_seconds=config.max_backoff_seconds,
            max_in_flight=config.max_in_flight,
            job_id=config.job_id,
            progress_dir=config.progress_dir,
            run_id=config.run_id,
            outage_limit_seconds=config.outage_limit_seconds,
        ))
    if sync is not None and not config.dry_run_output:
        write_sync_state(sync, dead, config.settings.without_key(), config.run_id)
    if config.streaming:
        # One WindowInto for all: Beam compares triggers such as
        # AfterProcessingTime by identity, so windowings built apart
        # differ to the Flatten of the dead letters, which then warns
        # "All input pcollections must have the same window" for each input.
        same_windows = delivery_windows(config.window_seconds, fires_on_arrival(p))
        dead = [pcoll | f"DeadLetterWindows{i}" >> same_windows for i, pcoll in enumerate(dead)]
    # Not merged first: each step's dead letters are written where they are
    # produced (see pipeline/sinks.py).
    tuple(dead) | "WriteDeadLetters" >> WriteDeadLetters(
        config.dead_letter, config.dead_letter_topic, config.streaming, config.run_id
    )
    return {"events": parsed.events, "requests": single, "batch_items": items, "calls": calls,
            "dead_letters": dead}
