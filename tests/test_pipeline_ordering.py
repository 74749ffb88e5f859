"""One person's requests go in event-time order; merges wait for identify."""

from pipeline.ordering import in_send_order, person_key
from pipeline.calls import Outbound
from tests.pipeline_helpers import wire


def kinds(wires):
    requests = [Outbound.from_wire(w).request for w in wires]
    return [(r.person_key, r.event_type, r.timestamp) for r in requests]


def test_sorted_by_event_time():
    items = [wire(ts=t) for t in (5, 1, 3)]
    assert [t for _, _, t in kinds(in_send_order(items))] == [1, 3, 5]


def test_unknown_time_goes_last():
    items = [wire(ts=None), wire(ts=2)]
    assert [t for _, _, t in kinds(in_send_order(items))] == [2, None]


def test_merge_before_identify_of_primary_is_moved_after_it():
    items = [
        wire(person="id:a", kind="alias", ts=1),
        wire(person="id:a", kind="track", ts=2),
        wire(person="id:a", kind="identify", ts=3),
        wire(person="id:a", kind="track", ts=4),
    ]
    assert kinds(in_send_order(items)) == [
        ("id:a", "track", 2), ("id:a", "identify", 3), ("id:a", "alias", 1), ("id:a", "track", 4),
    ]


def test_merge_of_another_person_is_not_held_back():
    items = [
        wire(person="id:b", kind="alias", ts=1),
        wire(person="id:a", kind="identify", ts=2),
    ]
    assert kinds(in_send_order(items)) == [("id:b", "alias", 1), ("id:a", "identify", 2)]


def test_merge_after_identify_keeps_its_place():
    items = [wire(person="id:a", kind="identify", ts=1), wire(person="id:a", kind="alias", ts=2)]
    assert kinds(in_send_order(items)) == [("id:a", "identify", 1), ("id:a", "alias", 2)]


def test_key_is_the_person_or_the_message():
    assert person_key(wire(person="email:x@y.co")) == "email:x@y.co"
    assert person_key(wire(person=None, ts=7)).startswith("message:")
