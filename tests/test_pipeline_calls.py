"""Metric labels hide ids; dead-letter records carry what a replay needs."""

import orjson
import pytest

from pipeline.calls import endpoint_label
from pipeline.dead_letter import dead_letter_record


@pytest.mark.parametrize("method,url,label", [
    ("PUT", "https://track.customer.io/api/v1/customers/u%401", "PUT /api/v1/customers/{id}"),
    ("POST", "http://127.0.0.1:9/api/v1/customers/42/events", "POST /api/v1/customers/{id}/events"),
    ("DELETE", "https://x/api/v1/customers/42/devices/tok%2F1", "DELETE /api/v1/customers/{id}/devices/{token}"),
    ("PUT", "https://x/api/v1/customers/42/devices", "PUT /api/v1/customers/{id}/devices"),
    ("POST", "https://x/api/v1/events", "POST /api/v1/events"),
    ("POST", "https://x/api/v2/batch", "POST /api/v2/batch"),
    ("POST", "https://x/api/v1/segments/7/add_customers?id_type=email", "POST /api/v1/segments/{segment}/add_customers"),
])
def test_endpoint_label(method, url, label):
    assert endpoint_label(method, url) == label


def test_dead_letter_keeps_the_event_verbatim():
    record = orjson.loads(dead_letter_record("deliver", "Customer.io answered 400: bad", event=b'{"type":"track","n":1}',
                                             status=400, attempts=1))
    assert record["event"] == {"type": "track", "n": 1}
    assert record["error"] == "Customer.io answered 400: bad"
    assert (record["stage"], record["status"], record["attempts"]) == ("deliver", 400, 1)
    assert record["failed_at"].endswith("Z")
    assert "raw" not in record


def test_dead_letter_of_unparseable_text_keeps_the_text():
    record = orjson.loads(dead_letter_record("parse", "invalid JSON", raw=b"not json \xff"))
    assert record["raw"].startswith("not json ")
    assert "event" not in record and record["status"] is None and record["attempts"] == 0


def test_the_wire_positions_name_the_fields_they_hold():
    from pipeline.calls import (WIRE_BODY, WIRE_MESSAGE_ID, WIRE_PERSON, WIRE_SOURCE, WIRE_TIME, WIRE_TYPE,
                                WIRE_URL, Outbound)
    from tests.pipeline_helpers import outbound
    item = outbound(person="id:7", ts=12.5, kind="identify")
    wire, request = item.to_wire(), item.request
    assert wire == Outbound.wire(request, item.event)
    assert Outbound.from_wire(wire) == item
    assert (wire[WIRE_URL], wire[WIRE_BODY], wire[WIRE_PERSON], wire[WIRE_MESSAGE_ID], wire[WIRE_TIME],
            wire[WIRE_TYPE], wire[WIRE_SOURCE]) == (request.url, request.body, request.person_key,
                                                    request.message_id, request.timestamp, request.event_type,
                                                    item.event)


def test_a_batch_of_an_events_two_requests_counts_the_event_once():
    # transforms.request.FOLLOW_UP marks an event's second request; a batch
    # carrying both counts the event by its first.
    from pipeline.batching import BatchCutter
    from tests.pipeline_helpers import outbound
    from transforms.request import FOLLOW_UP
    update, related = outbound(person="id:7", kind="identify"), outbound(person="id:7", kind="identify" + FOLLOW_UP)
    cutter = BatchCutter()
    assert not cutter.add(update.to_wire()) and not cutter.add(related.to_wire())
    (call,) = cutter.flush()
    assert call.follow_ups == (1,)
    assert call.events_counted() == (1, 0)
    assert call.events_counted([0, 1]) == (0, 1)
    assert call.events_counted([1]) == (1, 0)
