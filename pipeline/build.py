"""Builds (but does not run) the pipeline: the job's shape in one page.

    read -> parse -> route by type -> map (a ParDo per type)
         -> v1 calls: group per person, in event-time order
         -> v2 items: window, shard, cut into /api/v2/batch requests
         -> deliver (paced, retried)  or  write a dry run
    every stage's failures -> dead-letter output
"""

from __future__ import annotations

import apache_beam as beam

from pipeline.batching import BatchItems
from pipeline.dead_letter import DEAD_LETTER
from pipeline.delivery import DeliverCalls
from pipeline.options import JobConfig
from pipeline.ordering import OrderPerPerson
from pipeline.parse import ParseEvents
from pipeline.routing import BATCH_ITEMS, MapEvents, RouteByType
from pipeline.sinks import WriteDeadLetters, WriteDryRun
from pipeline.sources import ReadRawEvents, delivery_windows
from transforms import EVENT_TYPES


class MapByType(beam.PTransform):
    """Routes events by type and maps each type with its own ParDo.

    Returns (v1 requests, v2 batch items, dead letters).
    """

    def __init__(self, settings):
        super().__init__()
        self.settings = settings

    def expand(self, events):
        routed = events | "RouteByType" >> beam.ParDo(RouteByType()).with_outputs(*EVENT_TYPES, DEAD_LETTER)
        single, items, dead = [], [], [routed[DEAD_LETTER]]
        for kind in EVENT_TYPES:
            mapped = routed[kind] | f"Map{kind.capitalize()}" >> beam.ParDo(
                MapEvents(kind, self.settings)
            ).with_outputs(DEAD_LETTER, BATCH_ITEMS, main="requests")
            single.append(mapped.requests)
            items.append(mapped[BATCH_ITEMS])
            dead.append(mapped[DEAD_LETTER])
        return (
            single | "SingleRequests" >> beam.Flatten(),
            items | "AllBatchItems" >> beam.Flatten(),
            dead | "MapFailures" >> beam.Flatten(),
        )


class PrepareCalls(beam.PTransform):
    """(v1 requests, v2 items) -> (key, [HttpCall, ...]) groups ready to send in order."""

    def __init__(self, batch_shards: int):
        super().__init__()
        self.batch_shards = batch_shards

    def expand(self, requests_and_items):
        single, items = requests_and_items
        v1_calls = single | "OrderPerPerson" >> OrderPerPerson()
        batch_calls = items | "BatchItems" >> BatchItems(self.batch_shards)
        return (v1_calls, batch_calls) | "AllCalls" >> beam.Flatten()


def build_pipeline(p: beam.Pipeline, config: JobConfig) -> dict:
    """Adds the whole job to `p`; returns its main PCollections (for tests)."""
    raw = p | "ReadEvents" >> ReadRawEvents(config)
    parsed = raw | "Parse" >> beam.ParDo(ParseEvents()).with_outputs(DEAD_LETTER, main="events")
    # Only the delivery step gets the key, and not even it when the key comes
    # from Secret Manager (then each worker reads it in setup()).
    single, items, map_dead = parsed.events | "MapByType" >> MapByType(config.settings.without_key())
    calls = (single, items) | "PrepareCalls" >> PrepareCalls(config.batch_shards)

    dead = [parsed[DEAD_LETTER], map_dead]
    if config.dry_run_output:
        calls | "DryRun" >> WriteDryRun(config.dry_run_output, config.streaming)
    else:
        delivered = calls | "Deliver" >> beam.ParDo(DeliverCalls(
            config.settings.without_key() if config.api_key_secret else config.settings,
            api_key_secret=config.api_key_secret,
            rate_per_process=config.per_process_rate,
            max_retries=config.max_retries,
            request_timeout=config.request_timeout,
            backoff_seconds=config.backoff_seconds,
            max_backoff_seconds=config.max_backoff_seconds,
            threads=config.delivery_threads,
            job_id=config.job_id,
        )).with_outputs(DEAD_LETTER, main="delivered")
        dead.append(delivered[DEAD_LETTER])
    if config.streaming:
        dead = [pcoll | f"DeadLetterWindows{i}" >> delivery_windows(config.window_seconds)
                for i, pcoll in enumerate(dead)]
    dead_letters = dead | "AllDeadLetters" >> beam.Flatten()
    dead_letters | "WriteDeadLetters" >> WriteDeadLetters(
        config.dead_letter, config.dead_letter_topic, config.streaming
    )
    return {"events": parsed.events, "requests": single, "batch_items": items, "calls": calls,
            "dead_letters": dead_letters}
