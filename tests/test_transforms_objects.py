"""Group → object item of /api/v2/batch (docs/mapping.md, section 5), in v1 and v2 mode."""

import pytest

from transforms import BATCH_PATH, MappingError, load_settings, map_event

V1 = load_settings(site_id="s", api_key="k")
V2 = load_settings(site_id="s", api_key="k", api_version="v2")


def item(event, settings=V1):
    [request] = map_event({"type": "group", **event}, settings)
    assert request.batch_item and request.method == "POST"
    assert request.url == "https://track.customer.io" + BATCH_PATH
    return request


@pytest.mark.parametrize("settings", [V1, V2])
def test_group_is_an_object_item_in_both_versions(settings):
    request = item({"groupId": "acme", "userId": "u1", "traits": {"name": "Acme", "action": "identify"}}, settings)
    assert request.json() == {
        "type": "object", "action": "identify",
        "identifiers": {"object_id": "acme", "object_type_id": "1"},
        "attributes": {"name": "Acme"},
        "cio_relationships": [{"identifiers": {"id": "u1"}}],
    }
    assert request.person_key == "object:1:acme" and request.event_type == "group"


@pytest.mark.parametrize(
    "event, identifiers",
    [
        ({"groupId": 42}, {"object_id": "42", "object_type_id": "1"}),
        ({"traits": {"groupId": "tg"}}, {"object_id": "tg", "object_type_id": "1"}),
        ({"groupId": "g", "traits": {"objectTypeId": 3}}, {"object_id": "g", "object_type_id": "3"}),
        ({"groupId": "g", "traits": {"objectTypeId": ""}}, {"object_id": "g", "object_type_id": "1"}),
    ],
)
def test_object_identifiers(event, identifiers):
    assert item(event).json()["identifiers"] == identifiers


@pytest.mark.parametrize("event", [{}, {"groupId": ""}, {"groupId": None, "traits": {"name": "x"}}])
def test_group_id_is_required(event):
    with pytest.raises(MappingError, match="^groupId is required$"):
        item(event)


@pytest.mark.parametrize(
    "traits, properties, action",
    [
        ({"action": "delete"}, None, "delete"),
        (None, {"action": "add_relationships"}, "add_relationships"),
        ({"action": "delete_relationships"}, {"action": "delete"}, "delete_relationships"),
        ({"action": "explode"}, None, "identify"),
        ({"action": 5}, None, "identify"),
        (None, None, "identify"),
    ],
)
def test_object_action(traits, properties, action):
    event = {"groupId": "g"}
    if traits is not None:
        event["traits"] = traits
    if properties is not None:
        event["properties"] = properties
    assert item(event).json()["action"] == action


@pytest.mark.parametrize(
    "event, relationships",
    [
        ({"userId": 42}, [{"identifiers": {"id": "42"}}]),
        ({"userId": "a@b.co"}, [{"identifiers": {"email": "a@b.co"}}]),
        ({"context": {"traits": {"email": "c@b.co"}}}, [{"identifiers": {"email": "c@b.co"}}]),
        ({"properties": {"email": "p@b.co"}}, [{"identifiers": {"email": "p@b.co"}}]),
        ({"context": {"externalId": [{"id": "x9"}]}}, [{"identifiers": {"id": "x9"}}]),
        ({"userId": "cio_03ab"}, [{"identifiers": {"cio_id": "03ab"}}]),
        # known only by an anonymous id: related by identify_anonymous (test_transforms_features.py)
        ({"anonymousId": "a"}, [{"identifiers": {"anonymous_id": "a"}}]),
        ({}, []),
    ],
)
def test_relationship_to_the_person(event, relationships):
    assert item({"groupId": "g", **event}).json()["cio_relationships"] == relationships


def test_no_traits_no_attributes():
    assert "attributes" not in item({"groupId": "g"}).json()


def test_item_over_32_kb_is_an_error_for_that_event():
    with pytest.raises(MappingError, match=r"^batch item is \d+ bytes, over Customer.io's 32 KB \(32768 bytes\) limit$"):
        item({"groupId": "g", "traits": {"blob": "x" * 32768}})
    assert item({"groupId": "g", "traits": {"blob": "x" * 32000}}).size <= 32768
