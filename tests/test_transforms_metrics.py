"""Report Delivery Event → POST /api/v1/metrics, through ``map_event``.

The rule is ``transforms/metrics.py`` (the body), ``transforms/events.py``
(which track events are delivery metrics) and ``render_v1.delivery_metric``
(the one call, in both API versions); each body is checked against
Customer.io's published schema (``tests/schema_check.mapped``).
"""

import json

import pytest

from tests.schema_check import body_errors, mapped
from tests.test_transforms_schema import SCHEMAS
from transforms import map_event
from transforms.errors import MappingError
from transforms.metrics import ALLOWED_METRICS, DELIVERY_EVENT, METRICS_PATH
from transforms.settings import load_settings


def delivery(timestamp="2024-05-01T10:00:00.900Z", **properties):
    event = {"type": "track", "event": DELIVERY_EVENT, "userId": "u1", "properties": properties}
    if timestamp is not None:
        event["timestamp"] = timestamp
    return event


def test_allowed_metrics_are_the_published_schemas_metrics():
    document = json.loads(SCHEMAS.read_text(encoding="utf-8"))
    branches = document["paths"][METRICS_PATH]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    published = set()
    for branch in branches:
        for part in branch["allOf"]:
            published.update(part.get("properties", {}).get("metric", {}).get("enum", ()))
    assert set(ALLOWED_METRICS) == published
    assert {"bounced", "clicked", "converted", "deferred", "delivered", "dropped", "opened", "spammed"} == published


def metrics_body(event: dict) -> dict:
    """The body ``map_event`` sends for ``event``: the same call in v1 and v2."""
    [(method, path, body)] = mapped(event, "v1")
    assert mapped(event, "v2") == [(method, path, body)]
    assert (method, path) == ("POST", METRICS_PATH)
    return body


def test_only_the_exact_name_is_a_delivery_metric():
    assert metrics_body(delivery(deliveryId="d", metric="opened"))["metric"] == "opened"
    for name in ("report delivery event", "Order Completed"):
        [(method, path, body)] = mapped({**delivery(deliveryId="d", metric="opened"), "event": name}, "v1")
        assert path == "/api/v1/customers/u1/events" and body["name"] == name


@pytest.mark.parametrize("person", [{}, {"userId": None, "anonymousId": "a1"}, {"userId": "cio_a1"},
                                    {"userId": None, "context": {"traits": {"email": "a@b.co"}}}])
def test_a_metric_is_about_a_delivery_not_a_person(person):
    body = metrics_body({**delivery(deliveryId="d", metric="opened"), "userId": None, **person})
    assert body == {"delivery_id": "d", "metric": "opened", "timestamp": 1714557600}
    [request] = map_event({**delivery(deliveryId="d", metric="opened"), **person},
                          load_settings(site_id="s", api_key="k"))
    assert request.person_key == "delivery:d"


@pytest.mark.parametrize("properties, body", [
    ({"deliveryId": "RPILAgUBcRhIBqSfeiIwdIYJKxTY", "metric": "delivered"},
     {"delivery_id": "RPILAgUBcRhIBqSfeiIwdIYJKxTY", "metric": "delivered", "timestamp": 1714557600}),
    ({"deliveryId": "d1", "metric": "clicked", "href": "https://x.co/a", "recipient": "a@b.co"},
     {"delivery_id": "d1", "metric": "clicked", "timestamp": 1714557600, "href": "https://x.co/a",
      "recipient": "a@b.co"}),
    ({"deliveryId": "d1", "metric": "bounced", "reason": "mailbox full", "href": "", "recipient": None},
     {"delivery_id": "d1", "metric": "bounced", "timestamp": 1714557600, "reason": "mailbox full"}),
    ({"deliveryId": 12345, "metric": " Opened ", "recipient": 15550000},
     {"delivery_id": "12345", "metric": "opened", "timestamp": 1714557600, "recipient": 15550000}),
])
def test_body(properties, body):
    assert metrics_body(delivery(**properties)) == body
    assert body_errors("POST", METRICS_PATH, body) == []


@pytest.mark.parametrize("metric", ALLOWED_METRICS)
def test_every_allowed_metric_validates(metric):
    body = metrics_body(delivery(deliveryId="d", metric=metric, recipient="a@b.co", reason="r"))
    assert body["metric"] == metric
    assert body_errors("POST", METRICS_PATH, body) == []


def test_time_is_whole_unix_seconds_and_left_out_when_unknown():
    assert metrics_body(delivery(timestamp=1714557600123, deliveryId="d", metric="opened"))["timestamp"] == 1714557600
    event = delivery(timestamp=None, deliveryId="d", metric="opened")
    event["originalTimestamp"] = "2024-05-01T10:00:01Z"
    assert metrics_body(event)["timestamp"] == 1714557601
    body = metrics_body(delivery(timestamp=None, deliveryId="d", metric="opened"))
    assert body == {"delivery_id": "d", "metric": "opened"}
    assert body_errors("POST", METRICS_PATH, body) == []


ALLOWED_TEXT = "bounced, clicked, converted, deferred, delivered, dropped, opened, spammed"


@pytest.mark.parametrize("event, message", [
    (delivery(metric="opened"),
     "Report Delivery Event needs properties.deliveryId (the CIO-Delivery-ID of the message)"),
    (delivery(deliveryId="", metric="opened"),
     "Report Delivery Event needs properties.deliveryId (the CIO-Delivery-ID of the message)"),
    (delivery(deliveryId=True, metric="opened"),
     "properties.deliveryId must be a string or a number (got boolean)"),
    (delivery(deliveryId="d"), f"Report Delivery Event needs properties.metric, one of {ALLOWED_TEXT}"),
    (delivery(deliveryId="d", metric="unsubscribed"),
     f"properties.metric 'unsubscribed' is not a Customer.io delivery metric; allowed: {ALLOWED_TEXT}"),
    (delivery(deliveryId="d", metric=["opened"]),
     f"properties.metric must be a string, one of {ALLOWED_TEXT} (got array)"),
    (delivery(deliveryId="d", metric="x" * 100),
     f"properties.metric '{'x' * 59}…' is not a Customer.io delivery metric; allowed: {ALLOWED_TEXT}"),
    (delivery(deliveryId="d", metric="opened", href=["x"]), "properties.href must be a string (got array)"),
    (delivery(deliveryId="d", metric="opened", recipient=1.5), "properties.recipient must be a string (got number)"),
    ({"type": "track", "event": DELIVERY_EVENT, "properties": "d"}, "properties must be an object (got string)"),
    ({"type": "track", "event": DELIVERY_EVENT},
     "Report Delivery Event needs properties.deliveryId (the CIO-Delivery-ID of the message)"),
])
def test_what_cannot_be_sent_is_a_clear_mapping_error(event, message):
    for version in ("v1", "v2"):
        with pytest.raises(MappingError) as err:
            map_event(dict(event), load_settings(site_id="s", api_key="k", api_version=version))
        assert str(err.value) == message


def test_the_schema_refuses_what_the_mapping_refuses():
    # the fixture's own view: an unknown metric or a missing delivery id is invalid
    assert body_errors("POST", METRICS_PATH, {"delivery_id": "d", "metric": "unsubscribed"})
    assert body_errors("POST", METRICS_PATH, {"metric": "opened"})
