"""Delivery metrics: a ``Report Delivery Event`` track call → ``POST /api/v1/metrics``.

Messages Customer.io sends through channels it does not watch itself (a
webhook to an SMS provider, a push service of one's own) carry a delivery
id; reporting what happened to them (delivered, opened, bounced...) back to
Customer.io keeps its message metrics and campaign conditions right.
Segment's Customer.io destination maps the track event ``Report Delivery
Event`` to this call; this module does the same mapping, as plain data.

The allowed ``metric`` values are those of Customer.io's published request
schema for the call (every channel's list together; the event does not say
which channel the message went through). ``tests/test_transforms_metrics.py``
checks them against ``tests/fixtures/customerio_track_schemas.json``.
"""

from __future__ import annotations

from transforms.errors import MappingError
from transforms.ids import clip, id_text, json_kind
from transforms.limits import METRICS_PATH  # noqa: F401  (re-exported: the path of this call)
from transforms.lookups import event_seconds
from transforms.times import unix

DELIVERY_EVENT = "Report Delivery Event"
# Email and webhook allow all of these; in-app, push, Slack and SMS a part.
ALLOWED_METRICS = ("bounced", "clicked", "converted", "deferred", "delivered", "dropped", "opened", "spammed")
_ALLOWED = frozenset(ALLOWED_METRICS)
_MISSING = (None, "")


def metrics_body(event: dict) -> dict:
    """The JSON body of ``POST /api/v1/metrics`` for a ``Report Delivery Event``.

    Reads ``properties.deliveryId`` (required; a string, or a number taken as
    its text), ``properties.metric`` (required; one of ``ALLOWED_METRICS``,
    compared after trimming and lower-casing), and ``properties.href``,
    ``properties.recipient``, ``properties.reason`` when present and not
    empty. ``timestamp`` is the event time (``timestamp``, else
    ``originalTimestamp``) in whole Unix seconds, left out when the event has
    none (Customer.io then uses the time it receives the call). Anything
    that cannot be sent raises ``MappingError`` saying why.
    """
    properties = event.get("properties")
    if properties is None:
        properties = {}
    elif not isinstance(properties, dict):
        raise MappingError(f"properties must be an object (got {json_kind(properties)})")

    delivery_id = id_text(properties.get("deliveryId"), "properties.deliveryId")
    if delivery_id is None:
        raise MappingError(f"{DELIVERY_EVENT} needs properties.deliveryId (the CIO-Delivery-ID of the message)")

    metric = properties.get("metric")
    if metric in _MISSING:
        raise MappingError(f"{DELIVERY_EVENT} needs properties.metric, one of {', '.join(ALLOWED_METRICS)}")
    if not isinstance(metric, str):
        raise MappingError(f"properties.metric must be a string, one of {', '.join(ALLOWED_METRICS)} "
                           f"(got {json_kind(metric)})")
    name = metric.strip().lower()
    if name not in _ALLOWED:
        raise MappingError(f"properties.metric {clip(metric)!r} is not a Customer.io delivery metric; "
                           f"allowed: {', '.join(ALLOWED_METRICS)}")

    body = {"delivery_id": delivery_id, "metric": name}
    seconds = event_seconds(event)
    if seconds is not None:
        body["timestamp"] = unix(seconds)
    for key in ("href", "recipient", "reason"):
        value = properties.get(key)
        if value in _MISSING:
            continue
        # The schema types recipient as a string (an SMS recipient, a phone
        # number, also as an integer); href and reason are texts.
        if isinstance(value, str) or (key == "recipient" and type(value) is int):
            body[key] = value
        else:
            raise MappingError(f"properties.{key} must be a string (got {json_kind(value)})")
    return body
