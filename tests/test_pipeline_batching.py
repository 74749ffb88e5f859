"""Items are cut into /api/v2/batch bodies within both of Customer.io's caps."""

import orjson
import pytest

from pipeline.batching import MAX_BATCH_BYTES, batch_body, cut_into_batches, shard_of
from pipeline.calls import WIRE_BODY
from tests.pipeline_helpers import wire


def test_batch_body_is_valid_json_of_the_items_in_order():
    body = batch_body([b'{"a":1}', b'{"b":2}'])
    assert orjson.loads(body) == {"batch": [{"a": 1}, {"b": 2}]}


def test_cuts_at_the_item_cap():
    items = [wire(person=f"id:{i}", ts=i) for i in range(2500)]
    calls = cut_into_batches(items, max_items=1000)
    assert [len(c.events) for c in calls] == [1000, 1000, 500]
    assert [len(orjson.loads(c.body)["batch"]) for c in calls] == [1000, 1000, 500]
    assert all(c.method == "POST" and c.batch and c.endpoint == "POST /api/v2/batch" for c in calls)


def test_cuts_at_the_byte_cap_and_fills_it():
    big = {"attributes": {"x": "y" * 20_000}}
    items = [wire(person=f"id:{i}", ts=i, item=big) for i in range(60)]
    calls = cut_into_batches(items)
    sizes = [len(c.body) for c in calls]
    assert all(size <= MAX_BATCH_BYTES for size in sizes)
    assert sum(len(c.events) for c in calls) == 60
    # every batch but the last is full: one more item would not have fitted
    item_size = len(items[0][WIRE_BODY])
    assert all(size + item_size + 1 > MAX_BATCH_BYTES for size in sizes[:-1])


def test_exactly_at_the_byte_cap_is_allowed():
    one = wire(item={"k": "v" * 100})
    n_bytes = len(batch_body([one[WIRE_BODY]] * 3))
    calls = cut_into_batches([one] * 3, max_bytes=n_bytes)
    assert len(calls) == 1
    calls = cut_into_batches([one] * 3, max_bytes=n_bytes - 1)
    assert [len(c.events) for c in calls] == [2, 1]


def test_events_travel_with_their_items():
    items = [wire(person=f"id:{i}", ts=i) for i in range(5)]
    (call,) = cut_into_batches(items)
    for item, event in zip(orjson.loads(call.body)["batch"], call.events):
        assert orjson.loads(event)["person"] == item["person"]


def test_no_items_no_calls():
    assert cut_into_batches([]) == []


@pytest.mark.parametrize("shards", [1, 3, 8])
def test_shard_is_stable_and_in_range(shards):
    a = wire(person="email:ann@example.com")
    assert shard_of(a, shards) == shard_of(wire(person="email:ann@example.com", ts=9), shards)
    assert 0 <= shard_of(a, shards) < shards


def test_people_spread_over_shards():
    used = {shard_of(wire(person=f"id:{i}"), 8) for i in range(200)}
    assert used == set(range(8))


SEGMENT_ADD = "http://sandbox/api/v1/segments/7/add_customers?id_type=id"
SEGMENT_REMOVE = "http://sandbox/api/v1/segments/7/remove_customers?id_type=id"


def test_segment_ids_are_wrapped_as_ids_and_kept_apart_from_v2_items():
    items = [wire(person=f"id:{i}", ts=i, item=f"{i}", url=SEGMENT_ADD) for i in range(3)]
    items.append(wire(person="id:x", ts=9))
    calls = cut_into_batches(items)
    assert [(c.endpoint, orjson.loads(c.body)) for c in calls] == [
        ("POST /api/v1/segments/{segment}/add_customers", {"ids": ["0", "1", "2"]}),
        ("POST /api/v2/batch", {"batch": [{"person": "id:x", "ts": 9, "kind": "track"}]}),
    ]


def test_one_persons_add_goes_before_their_later_remove():
    items = [
        wire(person="id:a", ts=1, item="a", url=SEGMENT_ADD),
        wire(person="id:b", ts=2, item="b", url=SEGMENT_ADD),
        wire(person="id:a", ts=3, item="a", url=SEGMENT_REMOVE),
        wire(person="id:c", ts=4, item="c", url=SEGMENT_ADD),
    ]
    calls = cut_into_batches(items)
    assert [(c.url, orjson.loads(c.body)["ids"]) for c in calls] == [
        (SEGMENT_ADD, ["a", "b"]),
        (SEGMENT_REMOVE, ["a"]),
        (SEGMENT_ADD, ["c"]),
    ]


def test_segment_calls_hold_at_most_1000_ids():
    items = [wire(person=f"id:{i}", ts=i, item=str(i), url=SEGMENT_ADD) for i in range(2001)]
    assert [len(orjson.loads(c.body)["ids"]) for c in cut_into_batches(items)] == [1000, 1000, 1]


def test_the_cutter_hands_out_a_request_as_soon_as_it_is_full():
    from pipeline.batching import BatchCutter
    cutter = BatchCutter(max_items=100)
    returned = [len(cutter.add(wire(person=f"id:{i}", ts=i))) for i in range(250)]
    assert [i for i, n in enumerate(returned) if n] == [100, 200]  # the 101st item opens a new one
    assert [len(c.events) for c in cutter.flush()] == [50]
    assert cutter.flush() == []


def in_bundle(items, shards=8, max_items=100):
    """Runs BatchInBundle over `items` as one bundle; returns its (key, calls) outputs."""
    from pipeline.batching import BatchInBundle
    fn = BatchInBundle(shards, max_items=max_items)
    fn.start_bundle()
    out = [element for start in range(0, len(items), 7)
           for element in fn.process(items[start:start + 7])]
    out += [windowed.value for windowed in fn.finish_bundle()]
    return out


def test_a_batch_job_cuts_full_requests_per_shard_and_packs_the_leftovers():
    from pipeline.calls import ALL_KEYS
    items = [wire(person=f"id:{i % 250}", ts=float(i)) for i in range(2_345)]
    out = in_bundle(items, shards=8, max_items=100)
    calls = [call for _, group in out for call in group]
    sizes = [len(call.events) for call in calls]
    assert sum(sizes) == 2_345
    assert sorted(sizes)[1:] == [100] * (len(sizes) - 1), "at most one request is not full"
    assert len(calls) == 24
    # one person's items only ever travel under one shard key (or the final
    # ALL_KEYS group, sent after everything else), in arrival order
    key_of, seen = {}, {}
    for key, group in out:
        for call in group:
            for item in orjson.loads(call.body)["batch"]:
                person = item["person"]
                if key != ALL_KEYS:
                    assert key_of.setdefault(person, key) == key
                assert item["ts"] > seen.get(person, -1)
                seen[person] = item["ts"]
    assert out[-1][0] == ALL_KEYS and all(key != ALL_KEYS for key, _ in out[:-1])


def test_a_batch_jobs_requests_hold_their_items_in_event_time_order():
    items = [wire(person="id:a", ts=t) for t in (5.0, 3.0, 4.0, 1.0)]
    ((_, (call,)),) = in_bundle(items)
    assert [i["ts"] for i in orjson.loads(call.body)["batch"]] == [1.0, 3.0, 4.0, 5.0]
    assert [orjson.loads(e)["ts"] for e in call.events] == [1.0, 3.0, 4.0, 5.0]


def test_an_empty_bundle_sends_nothing():
    assert in_bundle([]) == []
