"""Operations → Track API v1 calls (one ``CioRequest`` per operation).

The v1 spelling of each operation, and only that: paths, methods and body
layouts. What an event means is decided before (``transforms.operations``);
``transforms.render`` picks this module or ``render_v2`` per operation.
"""

from __future__ import annotations

import math

from transforms.build import request, serialize
from transforms.errors import MappingError
from transforms.ids import encode_path
from transforms.limits import EVENTS_PATH, MERGE_PATH, METRICS_PATH
from transforms.operations import (
    DeliveryMetric,
    DeviceAdd,
    DeviceRemove,
    Event,
    Merge,
    PersonChange,
    PersonUpdate,
    SegmentMembership,
)
from transforms.request import CioRequest
from transforms.settings import Urls
from transforms.times import unix

floor = math.floor

# The v1 event "type" of each source event: screens are plain events in v1.
EVENT_TYPES = {"track": "event", "page": "page", "screen": "event"}
# PersonChange action -> (method, path after /api/v1/customers/{id}); no body.
PERSON_CHANGES = {
    "delete": ("DELETE", ""),
    "suppress": ("POST", "/suppress"),
    "unsuppress": ("POST", "/unsuppress"),
}
NO_PERSON = "Anonymous id/ user id is required"


def person_path(who: tuple) -> str:
    """The person's v1 path identifier: the id or email, or ``cio_<id>`` for a cio_id.

    Customer.io tells a cio_id in a path by its ``cio_`` prefix, which v2
    spells as the ``cio_id`` identifier instead.
    """
    if who[0] == "cio_id":
        return "cio_" + encode_path(who[1])
    return encode_path(who[1])


def person_update(op: PersonUpdate, urls: Urls) -> CioRequest:
    """``PUT /api/v1/customers/{id}``: the attributes at the top level, ``_timestamp`` orders them."""
    body = op.attributes
    if op.seconds is not None:
        body["_timestamp"] = floor(op.seconds)  # unix(), inlined: this runs per identify
    if op.anonymous_id is not None:
        body["anonymous_id"] = op.anonymous_id
    who = op.who
    # person_path() inlined for the usual id or email: this runs per identify.
    url = urls.customers + (encode_path(who[1]) if who[0] != "cio_id" else person_path(who))
    return request("PUT", url, body, op)


def event(op: Event, urls: Urls) -> CioRequest:
    """``POST /api/v1/customers/{id}/events``, or ``POST /api/v1/events`` for an anonymous person."""
    body = {"name": op.name, "type": EVENT_TYPES[op.source]}
    if op.properties is not None:
        body["data"] = op.properties
    if op.seconds is not None:
        body["timestamp"] = floor(op.seconds)  # unix(), inlined: this runs per event
    if op.dedup_id is not None:
        body["id"] = op.dedup_id
    who = op.who
    if who is None:
        raise MappingError(NO_PERSON)
    kind = who[0]
    if kind == "anonymous_id":
        body["anonymous_id"] = who[1]
        url = urls.base + EVENTS_PATH
    elif kind == "cio_id":
        url = f"{urls.customers}{person_path(who)}/events"
    else:  # person_path() inlined: this runs per event
        url = f"{urls.customers}{encode_path(who[1])}/events"
    return request("POST", url, body, op)


def device_add(op: DeviceAdd, urls: Urls) -> CioRequest:
    """``PUT /api/v1/customers/{id}/devices``: the event's properties are the device's."""
    device = dict(op.properties) if op.properties else {}
    device["id"] = op.token
    last_used = unix(op.seconds)
    if last_used is not None:
        device["last_used"] = last_used
    if op.platform is not None:
        device["platform"] = op.platform
    url = f"{urls.customers}{person_path(op.who)}/devices"
    return request("PUT", url, {"device": device}, op)


def device_remove(op: DeviceRemove, urls: Urls) -> CioRequest:
    """``DELETE /api/v1/customers/{id}/devices/{token}``, no body."""
    url = f"{urls.customers}{person_path(op.who)}/devices/{encode_path(op.token)}"
    return request("DELETE", url, None, op)


def person_change(op: PersonChange, urls: Urls) -> CioRequest:
    """``DELETE /api/v1/customers/{id}``, ``POST .../suppress`` or ``.../unsuppress``, no body."""
    method, tail = PERSON_CHANGES[op.action]
    url = f"{urls.customers}{person_path(op.who)}{tail}"
    return request(method, url, None, op)


def merge(op: Merge, urls: Urls) -> CioRequest:
    """``POST /api/v1/merge_customers``."""
    body = {"primary": op.primary, "secondary": op.secondary}
    return request("POST", urls.base + MERGE_PATH, body, op)


def delivery_metric(op: DeliveryMetric, urls: Urls) -> CioRequest:
    """``POST /api/v1/metrics``: a delivery metric has only this v1 call."""
    return request("POST", urls.base + METRICS_PATH, op.body, op)


def segment_membership(op: SegmentMembership, urls: Urls) -> CioRequest:
    """One id of ``POST /api/v1/segments/{id}/add_customers|remove_customers``.

    A batch item: the pipeline gathers the ids of one URL into
    ``{"ids": [...]}`` (``transforms.request.batch_envelope``). The id is
    always a JSON string (the segment schema allows only strings).
    """
    return CioRequest("POST", urls.segment_remove if op.remove else urls.segment_add, serialize(op.who[1]), True, op.key,
                      op.message_id, op.seconds, op.source)
