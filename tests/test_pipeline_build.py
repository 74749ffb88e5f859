"""Small pipelines on DirectRunner: per-type mapping, batching, event-time order.

Built like Beam's game examples: Create / TestStream in, assert_that out.
"""

import apache_beam as beam
import orjson
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline
from apache_beam.testing.test_stream import TestStream as EventStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import window
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.build import MapByType, PrepareCalls
from pipeline.calls import Outbound
from tests.pipeline_helpers import outbound
from transforms import load_settings

pytestmark = pytest.mark.pipeline

SETTINGS = load_settings(site_id="s", api_key="k", endpoint="http://sandbox")


def summarize(element):
    """(key, calls) -> [(endpoint, [markers...]) for each call], comparable in asserts."""
    _, calls = element
    out = []
    for call in calls:
        body = orjson.loads(call.body) if call.body else None
        markers = [i["ts"] for i in body["batch"]] if call.batch else [orjson.loads(call.events[0])["ts"]]
        out.append((call.endpoint, markers))
    return out


def test_each_type_is_mapped_by_its_own_step_and_failures_dead_lettered():
    events = [
        {"type": "identify", "userId": "u1", "traits": {"email": "a@b.co"}},
        {"type": "TRACK", "userId": "u1", "event": "Clicked"},
        {"type": "page", "userId": "u1", "name": "Home"},
        {"type": "screen", "userId": "u1", "name": "Cart"},
        {"type": "group", "userId": "u1", "groupId": "g1"},
        {"type": "alias", "userId": "u1", "previousId": "old"},
        {"type": "track", "userId": "u1"},  # no event name
        {"type": "weird"},
    ]
    with BeamPipeline() as p:
        pairs = [(e, orjson.dumps(e)) for e in events]
        parsed = p | beam.Create([pairs[:3], pairs[3:]])  # chunks, as ParseEvents makes them
        single, items, dead_by_step = parsed | MapByType(SETTINGS)
        dead = dead_by_step | beam.Flatten()
        assert_that(
            single | "Kinds" >> beam.Map(lambda w: (Outbound.from_wire(w).request.event_type,
                                                    Outbound.from_wire(w).request.batch_item)),
            equal_to([("identify", False), ("track", False), ("page", False), ("screen", False),
                      ("alias", False)]),
            label="requests",
        )
        assert_that(
            items | "ItemKinds" >> beam.FlatMap(lambda ws: [(Outbound.from_wire(w).request.event_type,
                                                             Outbound.from_wire(w).request.batch_item) for w in ws]),
            equal_to([("group", True)]),
            label="items",
        )
        assert_that(
            dead | "Errors" >> beam.Map(lambda r: (orjson.loads(r)["stage"], orjson.loads(r)["error"])),
            equal_to([("map", "Event is a required field and should be a string"),
                      ("map", "could not determine type weird")]),
            label="dead",
        )


@pytest.mark.parametrize("on_disk", [False, True], ids=["GroupByKey", "partition files"])
def test_batch_job_groups_items_per_shard_and_people_per_key(tmp_path, on_disk):
    items = [outbound(person=f"id:{i % 3}", ts=float(10 - i)).to_wire() for i in range(10)]
    singles = [outbound(person="id:p", ts=t, batch=False, url="http://sandbox/api/v1/customers/p",
                        method="PUT", kind="identify").to_wire() for t in (3.0, 1.0, 2.0)]
    with BeamPipeline() as p:
        v1_calls, batch_calls = (
            (p | "Singles" >> beam.Create(singles), p | "Items" >> beam.Create([items[:4], items[4:]]))
            | PrepareCalls(batch_shards=1, streaming=False, spill_base=str(tmp_path) if on_disk else None))
        # The items of a batch job are cut as they come (no shuffle); each
        # request holds its items in event-time order.
        assert_that(batch_calls | "Batches" >> beam.Map(summarize), equal_to([
            [("POST /api/v2/batch", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])],
        ]), label="batches")
        assert_that(v1_calls | "PerPerson" >> beam.Map(summarize), equal_to([
            [("PUT /api/v1/customers/{id}", [1.0]), ("PUT /api/v1/customers/{id}", [2.0]),
             ("PUT /api/v1/customers/{id}", [3.0])],
        ]), label="per person")


def streaming_options():
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    return options


def test_streaming_windows_flush_batches_and_keep_event_time_order():
    # Two windows of 5 s: items arriving out of order inside a window are
    # sent in event-time order; a later window is a separate batch.
    stream = (
        EventStream()
        .add_elements([window.TimestampedValue([outbound(person="id:a", ts=3.0).to_wire()], 1),
                       window.TimestampedValue([outbound(person="id:a", ts=1.0).to_wire()], 2)])
        .advance_watermark_to(4)
        .add_elements([window.TimestampedValue([outbound(person="id:a", ts=2.0).to_wire()], 4.5)])
        .advance_watermark_to(6)
        .add_elements([window.TimestampedValue([outbound(person="id:a", ts=7.0).to_wire()], 7)])
        .advance_watermark_to(20)
        .advance_watermark_to_infinity()
    )
    with BeamPipeline(options=streaming_options()) as p:
        items = p | stream | beam.WindowInto(window.FixedWindows(5))
        no_singles = items | "NoSingles" >> beam.Filter(lambda w: False)
        _, calls = (no_singles, items) | PrepareCalls(batch_shards=2, streaming=True)
        assert_that(calls | beam.Map(summarize), equal_to([
            [("POST /api/v2/batch", [1.0, 2.0, 3.0])],
            [("POST /api/v2/batch", [7.0])],
        ]))


def test_streaming_one_persons_v1_calls_are_sent_in_event_time_order():
    def single(ts, kind="track"):
        return outbound(person="id:z", ts=ts, batch=False, kind=kind,
                        url="http://sandbox/api/v1/customers/z/events").to_wire()

    stream = (
        EventStream()
        .add_elements([window.TimestampedValue(single(5.0), 1),
                       window.TimestampedValue(single(2.0), 2),
                       window.TimestampedValue(single(4.0), 3)])
        .advance_watermark_to(10)
        .advance_watermark_to_infinity()
    )
    with BeamPipeline(options=streaming_options()) as p:
        singles = p | stream | beam.WindowInto(window.FixedWindows(10))
        no_items = singles | "NoItems" >> beam.Filter(lambda w: False)
        calls, _ = (singles, no_items) | PrepareCalls(batch_shards=1, streaming=True)
        assert_that(calls | beam.Map(summarize), equal_to([
            [("POST /api/v1/customers/{id}/events", [2.0]), ("POST /api/v1/customers/{id}/events", [4.0]),
             ("POST /api/v1/customers/{id}/events", [5.0])],
        ]))


def test_outbound_survives_the_shuffle():
    # Outbound/CioRequest go through GroupByKey: they must pickle and compare.
    with BeamPipeline() as p:
        out = (p | beam.Create([outbound(ts=1.0)]) | beam.Map(lambda o: ("k", o)) | beam.GroupByKey()
               | beam.MapTuple(lambda k, group: [isinstance(o, Outbound) and o.request.timestamp for o in group]))
        assert_that(out, equal_to([[1.0]]))
