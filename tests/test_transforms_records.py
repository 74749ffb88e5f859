"""Warehouse records → v2 person items (docs/mapping.md, section 6)."""

import pytest

from transforms import MappingError, load_settings, map_event

PERSON = load_settings(site_id="s", api_key="k")
EVENT = load_settings(site_id="s", api_key="k", record_object="event", dedup_ids=False)
T = 1714557600


def item(record, settings=PERSON):
    [request] = map_event({"type": "record", **record}, settings)
    assert request.batch_item and request.event_type == "record"
    return request


@pytest.mark.parametrize(
    "columns, key, identifiers",
    [
        ({"identifiers": {"cio_id": "cio_abc", "id": "7", "email": "a@b.co"}}, "cio_id:abc", {"cio_id": "abc"}),
        ({"identifiers": {"cio_id": "", "id": "7", "email": "a@b.co"}}, "id:7", {"id": "7"}),
        ({"identifiers": {"email": "a@b.co"}}, "email:a@b.co", {"email": "a@b.co"}),
        ({"identifiers": {}, "fields": {"id": 7}}, "id:7", {"id": "7"}),  # columns in fields count too
    ],
)
def test_identifier_order(columns, key, identifiers):
    request = item({"action": "insert", **columns})
    assert request.json()["identifiers"] == identifiers and request.person_key == key


@pytest.mark.parametrize("action, cio_action", [("insert", "identify"), ("update", "identify"), ("UPDATE", "identify")])
def test_person_insert_update_is_identify(action, cio_action):
    body = item({"action": action, "identifiers": {"id": "7", "email": "a@b.co"},
                 "fields": {"plan": "pro", "created_at": "2024-05-01T10:00:00Z"}}).json()
    assert body == {"type": "person", "identifiers": {"id": "7"}, "action": cio_action,
                    "attributes": {"email": "a@b.co", "plan": "pro"}, "timestamp": T}


def test_person_delete_has_no_attributes():
    body = item({"action": "delete", "identifiers": {"id": "7"}, "fields": {"plan": "pro"}}).json()
    assert body == {"type": "person", "identifiers": {"id": "7"}, "action": "delete"}


def test_no_attributes_key_when_there_are_none():
    assert "attributes" not in item({"action": "insert", "identifiers": {"id": "7"}}).json()


def test_event_records():
    body = item({"action": "insert", "identifiers": {"id": "7"},
                 "fields": {"name": "Order Synced", "total": 5, "created_at": T}}, EVENT).json()
    assert body == {"type": "person", "identifiers": {"id": "7"}, "action": "event", "name": "Order Synced",
                    "attributes": {"total": 5}, "timestamp": T}


@pytest.mark.parametrize(
    "record, settings, message",
    [
        ({"action": "insert", "identifiers": {"name": "x"}}, PERSON,
         "record needs a non-empty cio_id, id or email in identifiers or fields"),
        ({"action": "upsert", "identifiers": {"id": "7"}}, PERSON,
         "record action must be insert, update or delete (got upsert)"),
        ({"identifiers": {"id": "7"}}, PERSON, "record action must be insert, update or delete (got nothing)"),
        ({"action": "delete", "identifiers": {"id": "7"}}, EVENT,
         "delete is not supported when records are synced to events"),
        ({"action": "insert", "identifiers": {"id": "7"}}, EVENT, "an event record needs a non-empty string name"),
        ({"action": "insert", "identifiers": {"id": "7"}, "fields": {"name": 3}}, EVENT,
         "an event record needs a non-empty string name"),
        ({"action": "insert", "identifiers": "7"}, PERSON, "identifiers must be an object (got string)"),
    ],
)
def test_record_errors(record, settings, message):
    with pytest.raises(MappingError) as caught:
        map_event({"type": "record", **record}, settings)
    assert str(caught.value) == message


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_records_always_go_through_the_batch_endpoint(version):
    settings = load_settings(site_id="s", api_key="k", api_version=version)
    assert item({"action": "insert", "identifiers": {"id": "7"}}, settings).url.endswith("/api/v2/batch")
