"""Each mapping rule, event → operation → its v1 call and its v2 batch item, in one table.

A row names the rule, the event, the operation the mapper must make of it,
and the exact request each API version must send (bodies compared as bytes,
so key order is pinned too). ``SAME_ITEM``: the v1 column is the v2 item
(objects and warehouse records exist only in /api/v2/batch); ``SAME_CALL``:
the v2 column is the v1 call (delivery metrics have only a v1 call). Every
operation kind of ``transforms.render.RENDERERS`` must have a row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

import orjson
import pytest

from transforms import MappingError, load_settings, map_event
from transforms.mapping import OPERATIONS
from transforms.operations import (
    DeliveryMetric,
    DeviceAdd,
    DeviceRemove,
    Event,
    Merge,
    ObjectChange,
    PersonChange,
    PersonRelationship,
    PersonUpdate,
    RecordSync,
    SegmentMembership,
)
from transforms.render import RENDERERS, render

BATCH = ("POST", "/api/v2/batch")
SAME_ITEM = "same v2 item"
SAME_CALL = "same v1 call"
TIME = {"messageId": "m1", "timestamp": "2023-11-14T22:13:20Z"}  # 1700000000


@dataclass
class Row:
    rule: str
    event: dict
    operation: type
    v1: tuple | str  # (method, path, body or None), or SAME_ITEM
    v2: dict | str  # the batch item, or SAME_CALL
    settings: dict | None = None


def person(action, who, **fields):
    return {"type": "person", "action": action, "identifiers": who, **fields}


ROWS = [
    Row("identify", {"type": "identify", "userId": "u1", "anonymousId": "a1",
                     "traits": {"plan": "pro", "createdAt": 1600000000}}, PersonUpdate,
        ("PUT", "/api/v1/customers/u1",
         {"plan": "pro", "created_at": 1600000000, "_timestamp": 1700000000, "anonymous_id": "a1"}),
        person("identify", {"id": "u1"}, attributes={"plan": "pro", "created_at": 1600000000, "anonymous_id": "a1"},
               timestamp=1700000000)),
    Row("track", {"type": "track", "userId": "u1", "event": "Order Completed", "properties": {"total": 5}}, Event,
        ("POST", "/api/v1/customers/u1/events",
         {"name": "Order Completed", "type": "event", "data": {"total": 5}, "timestamp": 1700000000}),
        person("event", {"id": "u1"}, name="Order Completed", attributes={"total": 5}, timestamp=1700000000)),
    Row("track, anonymous person", {"type": "track", "anonymousId": "a1", "event": "Order Completed"}, Event,
        ("POST", "/api/v1/events",
         {"name": "Order Completed", "type": "event", "timestamp": 1700000000, "anonymous_id": "a1"}),
        person("event", {"anonymous_id": "a1"}, name="Order Completed", timestamp=1700000000)),
    Row("page", {"type": "page", "email": "a@b.co", "traits": {"email": "a@b.co"}, "name": "Home",
                 "properties": {"url": "https://x.co/"}}, Event,
        ("POST", "/api/v1/customers/a%40b.co/events",
         {"name": "Home", "type": "page", "data": {"url": "https://x.co/"}, "timestamp": 1700000000}),
        person("page", {"email": "a@b.co"}, name="Home", attributes={"url": "https://x.co/"}, timestamp=1700000000)),
    Row("screen", {"type": "screen", "userId": 42, "name": "Cart"}, Event,
        ("POST", "/api/v1/customers/42/events", {"name": "Viewed Cart Screen", "type": "event", "timestamp": 1700000000}),
        person("screen", {"id": 42}, name="Viewed Cart Screen", timestamp=1700000000)),
    Row("device added", {"type": "track", "userId": "u1", "event": "Application Installed", "properties": {"v": 1},
                         "context": {"device": {"token": "tok", "type": "iOS", "model": "X"}, "os": {"name": "iOS"}}},
        DeviceAdd,
        ("PUT", "/api/v1/customers/u1/devices",
         {"device": {"v": 1, "id": "tok", "last_used": 1700000000, "platform": "ios"}}),
        person("add_device", {"id": "u1"}, device={"token": "tok", "last_used": 1700000000, "platform": "ios",
                                                   "attributes": {"device_os": "iOS", "device_model": "X", "v": "1"}})),
    Row("device removed", {"type": "track", "userId": "u1", "event": "Device Deleted",
                           "context": {"device": {"token": "t/k"}}}, DeviceRemove,
        ("DELETE", "/api/v1/customers/u1/devices/t%2Fk", None),
        person("delete_device", {"id": "u1"}, device={"token": "t/k"})),
    Row("user deleted", {"type": "track", "userId": "u1", "event": "User Deleted"}, PersonChange,
        ("DELETE", "/api/v1/customers/u1", None), person("delete", {"id": "u1"})),
    Row("user suppressed", {"type": "track", "userId": "u1", "event": "User Suppressed"}, PersonChange,
        ("POST", "/api/v1/customers/u1/suppress", None), person("suppress", {"id": "u1"})),
    Row("user unsuppressed", {"type": "track", "traits": {"email": "a@b.co"}, "event": "User Unsuppressed"},
        PersonChange, ("POST", "/api/v1/customers/a%40b.co/unsuppress", None), person("unsuppress", {"email": "a@b.co"})),
    Row("alias", {"type": "alias", "userId": "u1", "previousId": "old@b.co"}, Merge,
        ("POST", "/api/v1/merge_customers", {"primary": {"id": "u1"}, "secondary": {"email": "old@b.co"}}),
        {"type": "person", "action": "merge", "primary": {"id": "u1"}, "secondary": {"email": "old@b.co"}}),
    Row("group", {"type": "group", "userId": "u1", "groupId": "acme", "traits": {"name": "Acme", "objectTypeId": "2"}},
        ObjectChange, SAME_ITEM,
        {"type": "object", "action": "identify", "identifiers": {"object_id": "acme", "object_type_id": "2"},
         "attributes": {"name": "Acme", "objectTypeId": "2"}, "cio_relationships": [{"identifiers": {"id": "u1"}}]}),
    Row("track by cio_id", {"type": "track", "userId": "cio_03ab", "event": "Order Completed"}, Event,
        ("POST", "/api/v1/customers/cio_03ab/events", {"name": "Order Completed", "type": "event", "timestamp": 1700000000}),
        person("event", {"cio_id": "03ab"}, name="Order Completed", timestamp=1700000000)),
    Row("alias by cio_id", {"type": "alias", "userId": "cio_03ab", "previousId": "u0"}, Merge,
        ("POST", "/api/v1/merge_customers", {"primary": {"cio_id": "03ab"}, "secondary": {"id": "u0"}}),
        {"type": "person", "action": "merge", "primary": {"cio_id": "03ab"}, "secondary": {"id": "u0"}}),
    Row("track with ISO times converted", {"type": "track", "userId": "u1", "event": "Trial Started",
                                           "properties": {"ends": "2023-11-21T22:13:20Z", "day": "2023-11-21"}}, Event,
        ("POST", "/api/v1/customers/u1/events", {"name": "Trial Started", "type": "event",
                                                 "data": {"ends": 1700604800, "day": "2023-11-21"}, "timestamp": 1700000000}),
        person("event", {"id": "u1"}, name="Trial Started", attributes={"ends": 1700604800, "day": "2023-11-21"},
               timestamp=1700000000), settings={"convert_timestamps": True}),
    Row("delivery metric", {"type": "track", "userId": "u1", "event": "Report Delivery Event",
                            "properties": {"deliveryId": "dlv1", "metric": "Opened", "recipient": "a@b.co"}},
        DeliveryMetric,
        ("POST", "/api/v1/metrics", {"delivery_id": "dlv1", "metric": "opened", "timestamp": 1700000000,
                                     "recipient": "a@b.co"}), SAME_CALL),
    Row("group with relationship attributes", {"type": "group", "userId": "u1", "groupId": "acme",
                                               "traits": {"name": "Acme"},
                                               "context": {"relationshipAttributes": {"role": "admin"}}},
        ObjectChange, SAME_ITEM,
        {"type": "object", "action": "identify", "identifiers": {"object_id": "acme", "object_type_id": "1"},
         "attributes": {"name": "Acme"},
         "cio_relationships": [{"identifiers": {"id": "u1"}, "relationship_attributes": {"role": "admin"}}]}),
    Row("group from an anonymous person", {"type": "group", "anonymousId": "a1", "groupId": "acme",
                                           "traits": {"name": "Acme"}}, ObjectChange, SAME_ITEM,
        {"type": "object", "action": "identify_anonymous", "identifiers": {"object_id": "acme", "object_type_id": "1"},
         "attributes": {"name": "Acme"}, "cio_relationships": [{"identifiers": {"anonymous_id": "a1"}}]}),
    Row("object deleted", {"type": "track", "userId": "u1", "event": "Object Deleted", "properties": {"objectId": "acme"}},
        ObjectChange, SAME_ITEM,
        {"type": "object", "action": "delete", "identifiers": {"object_id": "acme", "object_type_id": "1"}}),
    Row("relationship deleted", {"type": "track", "userId": "u1", "event": "Relationship Deleted",
                                 "context": {"groupId": "acme"}}, ObjectChange, SAME_ITEM,
        {"type": "object", "action": "delete_relationships",
         "identifiers": {"object_id": "acme", "object_type_id": "1"}, "cio_relationships": [{"identifiers": {"id": "u1"}}]}),
    Row("warehouse record to a person", {"type": "record", "action": "insert", "identifiers": {"id": 7},
                                         "fields": {"plan": "pro", "created_at": 1700000000}}, RecordSync, SAME_ITEM,
        {"type": "person", "identifiers": {"id": "7"}, "action": "identify", "attributes": {"plan": "pro"},
         "timestamp": 1700000000}),
    Row("warehouse record delete", {"type": "record", "action": "DELETE", "identifiers": {"cio_id": "cio_9"},
                                    "fields": {"created_at": 1700000000}}, RecordSync, SAME_ITEM,
        {"type": "person", "identifiers": {"cio_id": "9"}, "action": "delete"}),
    Row("warehouse record to an event", {"type": "record", "action": "update", "identifiers": {"email": "a@b.co"},
                                         "fields": {"name": "Renewed", "plan": "pro"}}, RecordSync, SAME_ITEM,
        {"type": "person", "identifiers": {"email": "a@b.co"}, "action": "event", "name": "Renewed",
         "attributes": {"plan": "pro"}}, settings={"record_object": "event"}),
]
SEGMENT_ROWS = [
    # (rule, record action, settings, path, body): one id, batched per URL by the pipeline
    ("segment member added", "insert", {"audience_id": "42"}, "/api/v1/segments/42/add_customers?id_type=id", b'"7"'),
    ("segment member removed", "delete", {"audience_id": "42", "id_type": "email"},
     "/api/v1/segments/42/remove_customers?id_type=email", b'"a@b.co"'),
]


def _settings(version: str, extra: dict | None):
    return load_settings(site_id="s", api_key="k", api_version=version, dedup_ids=False, **(extra or {}))


def _path(request, settings) -> str:
    return request.url.removeprefix(settings.base_url)


@pytest.mark.parametrize("row", ROWS, ids=[row.rule for row in ROWS])
def test_each_rule_makes_one_operation_and_its_v1_and_v2_request(row):
    event = {**row.event, **TIME}
    v2_body = orjson.dumps(row.v2)
    for version in ("v1", "v2"):
        settings = _settings(version, row.settings)
        [operation] = OPERATIONS[event["type"]](dict(event), settings)
        assert type(operation) is row.operation
        # Every field set (some mappers set them one by one): getattr raises otherwise.
        assert operation == row.operation(*(getattr(operation, field.name) for field in fields(operation)))
        [request] = map_event(dict(event), settings)
        expected = row.v2 if (version == "v2" and row.v2 != SAME_CALL) or row.v1 == SAME_ITEM else None
        if expected is not None:
            assert (request.method, _path(request, settings), request.batch_item) == (*BATCH, True)
            assert request.body == v2_body
        else:
            method, path, body = row.v1
            assert (request.method, _path(request, settings), request.batch_item) == (method, path, False)
            assert request.body == (None if body is None else orjson.dumps(body))
        assert request.message_id == "m1"
        assert request.timestamp == (1700000000.0 if event["type"] != "record" or "created_at" in event["fields"]
                                     else None)


@pytest.mark.parametrize("rule, action, extra, path, body", SEGMENT_ROWS, ids=[r[0] for r in SEGMENT_ROWS])
def test_segment_membership_is_the_same_call_in_both_versions(rule, action, extra, path, body):
    record = {"type": "record", "action": action, "identifiers": {"id": 7, "email": "a@b.co"}}
    for version in ("v1", "v2"):
        settings = _settings(version, extra)
        [operation] = OPERATIONS["record"](dict(record), settings)
        assert type(operation) is SegmentMembership
        [request] = map_event(dict(record), settings)
        assert (request.method, _path(request, settings), request.body, request.batch_item) == ("POST", path, body, True)


def test_an_identify_naming_an_object_also_relates_the_person_to_it():
    """identify + traits.objectId: the update, then a person add_relationships item (objects are v2 only)."""
    event = {"type": "identify", "userId": "u1", **TIME,
             "traits": {"plan": "pro", "objectId": "acme", "objectTypeId": "2",
                        "relationshipAttributes": {"role": "admin"}}}
    relation = person("add_relationships", {"id": "u1"}, cio_relationships=[
        {"identifiers": {"object_type_id": "2", "object_id": "acme"}, "relationship_attributes": {"role": "admin"}}])
    for version in ("v1", "v2"):
        settings = _settings(version, None)
        assert [type(op) for op in OPERATIONS["identify"](dict(event), settings)] == [PersonUpdate, PersonRelationship]
        update, related = map_event(dict(event), settings)
        attributes = orjson.loads(update.body) if version == "v1" else orjson.loads(update.body)["attributes"]
        assert attributes["objectId"] == "acme" and "objectTypeId" not in attributes
        assert "relationshipAttributes" not in attributes
        assert (related.method, _path(related, settings), related.batch_item) == (*BATCH, True)
        assert related.body == orjson.dumps(relation)
        assert related.person_key == update.person_key == "id:u1"


def test_every_operation_kind_has_a_row_and_both_renderings():
    covered = {row.operation for row in ROWS} | {SegmentMembership, PersonRelationship}
    assert covered == set(RENDERERS)
    assert all(len(pair) == 2 and all(callable(f) for f in pair) for pair in RENDERERS.values())


@pytest.mark.parametrize("version, reason", [("v1", "Anonymous id/ user id is required"),
                                             ("v2", "userId, email or anonymousId is required")])
def test_an_event_naming_nobody_is_refused_with_each_versions_reason(version, reason):
    settings = _settings(version, None)
    [operation] = OPERATIONS["track"]({"type": "track", "event": "x"}, settings)
    assert type(operation) is Event and operation.who is None
    with pytest.raises(MappingError, match=re.escape(reason)):
        render(operation, settings)


def test_dedup_id_is_resolved_once_and_sent_by_both_versions():
    event = {"type": "track", "userId": "u1", "event": "x", **TIME}
    [v1] = map_event(dict(event), load_settings(site_id="s", api_key="k"))
    [v2] = map_event(dict(event), load_settings(site_id="s", api_key="k", api_version="v2"))
    assert len(v1.json()["id"]) == 26 and v1.json()["id"] == v2.json()["id"]


def test_only_the_renderers_know_the_api_version():
    """The mappers say what an event means: only the dispatch to the renderers (and the settings) reads api_version."""
    root = Path(__file__).resolve().parents[1] / "transforms"
    readers = sorted(p.name for p in root.glob("*.py") if "api_version" in p.read_text())
    assert readers == ["mapping.py", "render.py", "settings.py"]
    dispatch = (root / "mapping.py").read_text()
    assert dispatch.count("api_version") == dispatch.count("RENDERERS_BY_VERSION[settings.api_version]") > 0


def test_requests_built_field_by_field_have_every_field():
    # transforms/build.py sets CioRequest's fields one by one (cheaper than
    # calling the dataclass): a field added to CioRequest must be set there too.
    from transforms.build import batch_item, request
    from transforms.operations import Operation
    from transforms.request import CioRequest

    op = Operation("id:1", "m", 1.5, "track")
    settings = load_settings(site_id="s", api_key="k")
    for made in (request("POST", "https://x/y", {"a": 1}, op), batch_item({"a": 1}, settings.urls, op)):
        values = [getattr(made, field.name) for field in fields(CioRequest)]  # AttributeError when one is unset
        assert values[4:] == ["id:1", "m", 1.5, "track"]
        assert made == CioRequest(*values)
