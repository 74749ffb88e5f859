"""Lifecycle track events that Customer.io has a call for (DECISIONS.md "Lifecycle events").

User Deleted / Suppressed / Unsuppressed, Device Created or Updated /
Device Deleted, Object Deleted, Relationship Deleted: v1 endpoints where
they exist, v2 items otherwise; in v2 mode every one is a v2 item.
"""

from __future__ import annotations

import pytest

from tests.test_transforms_schema import Routes, _patched, document  # noqa: F401  (fixture)
from transforms import MappingError, load_settings, map_event

V1 = load_settings(site_id="s", api_key="k", dedup_ids=False)
V2 = load_settings(site_id="s", api_key="k", api_version="v2", dedup_ids=False)
BASE = "https://track.customer.io"
TS = "2024-05-01T10:00:00Z"
T = 1714557600
PHONE = {"device": {"token": "tok/1", "type": "iOS", "model": "iPhone15,2"}, "os": {"name": "iOS"}}


def track(name, **fields):
    return {"type": "track", "event": name, "timestamp": TS, **fields}


def one(event, settings):
    [request] = map_event(event, settings)
    return request


# (event, v1: (method, path, body, batch_item, person_key), v2 item)
CASES = [
    (track("User Deleted", userId="u/1"),
     ("DELETE", "/api/v1/customers/u%2F1", None, False, "id:u/1"),
     {"type": "person", "action": "delete", "identifiers": {"id": "u/1"}}),
    (track("User Deleted", properties={"email": "a@b.co"}),
     ("DELETE", "/api/v1/customers/a%40b.co", None, False, "email:a@b.co"),
     {"type": "person", "action": "delete", "identifiers": {"email": "a@b.co"}}),
    (track("User Suppressed", userId=42),
     ("POST", "/api/v1/customers/42/suppress", None, False, "id:42"),
     {"type": "person", "action": "suppress", "identifiers": {"id": 42}}),
    (track("User Unsuppressed", userId="u1", context={"traits": {"email": "a@b.co"}}),
     ("POST", "/api/v1/customers/u1/unsuppress", None, False, "id:u1"),
     {"type": "person", "action": "unsuppress", "identifiers": {"id": "u1"}}),
    (track("Device Created or Updated", userId="u1", context=PHONE, properties={"push": True}),
     ("PUT", "/api/v1/customers/u1/devices",
      {"device": {"push": True, "id": "tok/1", "last_used": T, "platform": "ios"}}, False, "id:u1"),
     {"type": "person", "action": "add_device", "identifiers": {"id": "u1"},
      "device": {"token": "tok/1", "last_used": T, "platform": "ios",
                 "attributes": {"device_os": "iOS", "device_model": "iPhone15,2", "push": "true"}}}),
    (track("Device Deleted", userId="u1", context=PHONE),
     ("DELETE", "/api/v1/customers/u1/devices/tok%2F1", None, False, "id:u1"),
     {"type": "person", "action": "delete_device", "identifiers": {"id": "u1"}, "device": {"token": "tok/1"}}),
    (track("Object Deleted", userId="u1", properties={"objectId": "acme", "objectTypeId": 2}),
     ("POST", "/api/v2/batch", {"type": "object", "action": "delete",
                                "identifiers": {"object_id": "acme", "object_type_id": "2"}}, True, "object:2:acme"),
     None),
    (track("Object Deleted", groupId=7),
     ("POST", "/api/v2/batch", {"type": "object", "action": "delete",
                                "identifiers": {"object_id": "7", "object_type_id": "1"}}, True, "object:1:7"),
     None),
    (track("Object Deleted", properties={"groupId": "g1", "object_type_id": "3"}, context={"groupId": "other"}),
     ("POST", "/api/v2/batch", {"type": "object", "action": "delete",
                                "identifiers": {"object_id": "g1", "object_type_id": "3"}}, True, "object:3:g1"),
     None),
    (track("Relationship Deleted", userId="u1", context={"groupId": "acme"}),
     ("POST", "/api/v2/batch", {"type": "object", "action": "delete_relationships",
                                "identifiers": {"object_id": "acme", "object_type_id": "1"},
                                "cio_relationships": [{"identifiers": {"id": "u1"}}]}, True, "object:1:acme"),
     None),
    (track("Relationship Deleted", properties={"email": "a@b.co", "objectId": "acme", "objectTypeId": "2"}),
     ("POST", "/api/v2/batch", {"type": "object", "action": "delete_relationships",
                                "identifiers": {"object_id": "acme", "object_type_id": "2"},
                                "cio_relationships": [{"identifiers": {"email": "a@b.co"}}]}, True, "object:2:acme"),
     None),
]


@pytest.mark.parametrize("event, v1, v2_item", CASES, ids=lambda c: c["event"] if isinstance(c, dict) and "event" in c else "")
def test_v1_requests(event, v1, v2_item):
    method, path, body, batch_item, person_key = v1
    request = one(event, V1)
    assert (request.method, request.url, request.json(), request.batch_item, request.person_key) == (
        method, BASE + path, body, batch_item, person_key)
    assert request.event_type == "track" and request.timestamp == T


@pytest.mark.parametrize("event, v1, v2_item", CASES, ids=lambda c: c["event"] if isinstance(c, dict) and "event" in c else "")
def test_v2_items(event, v1, v2_item):
    request = one(event, V2)
    expected = v2_item if v2_item is not None else v1[2]  # object items are the same in both versions
    assert (request.method, request.url, request.batch_item) == ("POST", BASE + "/api/v2/batch", True)
    assert request.json() == expected
    assert request.person_key == v1[4]


def test_lifecycle_items_carry_no_dedup_id():
    settings = load_settings(site_id="s", api_key="k", api_version="v2")
    for event, _, _ in CASES:
        assert "id" not in one(event, settings).json()


@pytest.mark.parametrize("event, error", [
    (track("User Deleted"), "User Deleted needs a userId or email"),
    (track("User Suppressed", anonymousId="a"), "User Suppressed needs a userId or email"),
    (track("User Unsuppressed", userId=""), "User Unsuppressed needs a userId or email"),
    (track("User Deleted", userId="x" * 151), "user id is 151 bytes, over Customer.io's 150-byte limit"),
    (track("Device Deleted", userId="u1"), "userId/email or device_token not present"),
    (track("Device Deleted", context=PHONE), "userId/email or device_token not present"),
    (track("Object Deleted", userId="u1"),
     "Object Deleted needs an object id (properties.objectId, properties.groupId, groupId or context.groupId)"),
    (track("Relationship Deleted", userId="u1", properties={"objectTypeId": "1"}),
     "Relationship Deleted needs an object id (properties.objectId, properties.groupId, groupId or context.groupId)"),
    (track("Relationship Deleted", anonymousId="a", context={"groupId": "acme"}),
     "Relationship Deleted needs a userId or email"),
    (track("Object Deleted", properties={"objectId": {"a": 1}}), "properties.objectId must be a string or a number (got object)"),
    (track("Object Deleted", properties={"objectId": "o", "objectTypeId": True}),
     "properties.objectTypeId must be a string or a number (got boolean)"),
])
@pytest.mark.parametrize("settings", [V1, V2], ids=["v1", "v2"])
def test_errors(event, error, settings):
    with pytest.raises(MappingError) as err:
        map_event(event, settings)
    assert str(err.value) == error


@pytest.mark.parametrize("settings", [V1, V2], ids=["v1", "v2"])
def test_device_created_without_token_or_person_is_an_ordinary_event(settings):
    for event in (track("Device Created or Updated", userId="u1"),
                  track("Device Created or Updated", anonymousId="a", context=PHONE)):
        request = one(event, settings)
        body = request.json()
        assert body.get("name") == "Device Created or Updated"
        assert body["action" if settings.api_version == "v2" else "type"] == "event"


def test_names_match_exactly():
    # like the application lifecycle events: case-sensitive, track only
    request = one(track("user deleted", userId="u1"), V1)
    assert request.url == BASE + "/api/v1/customers/u1/events"
    page = one({"type": "page", "name": "User Deleted", "userId": "u1"}, V1)
    assert page.url == BASE + "/api/v1/customers/u1/events"


def test_the_device_token_event_still_registers_devices():
    settings = load_settings(site_id="s", api_key="k", device_token_event="Push Enabled")
    request = one(track("Push Enabled", userId="u1", context=PHONE), settings)
    assert (request.method, request.url) == ("PUT", BASE + "/api/v1/customers/u1/devices")


@pytest.mark.parametrize("settings", [V1, V2], ids=["v1", "v2"])
def test_requests_validate_against_the_published_schema(document, settings):  # noqa: F811
    routes = Routes(_patched(document))
    checked = 0
    for event, _, _ in CASES:
        request = one(event, settings)
        if request.body is None:
            # DELETE person/device and POST suppress/unsuppress take no body (no requestBody in the document)
            assert request.method in ("DELETE", "POST") and not request.batch_item
            continue
        assert routes.errors(request) == [], request
        checked += 1
    assert checked >= 5
