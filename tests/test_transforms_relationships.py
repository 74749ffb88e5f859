"""Relationship attributes, relationships from identify, anonymous relationships, through ``map_event``.

The rules are ``transforms/relationships.py`` (where the attributes come
from, the anonymous action), ``transforms/objects.map_group`` and
``transforms/identify.map_identify``; each request is checked against
Customer.io's published schema (``tests/schema_check.mapped``).
"""

import pytest

from tests.schema_check import item_errors, mapped
from transforms import map_event
from transforms.errors import MappingError
from transforms.settings import load_settings

T = {"timestamp": "2024-05-01T10:00:00Z"}
SECONDS = 1714557600
ACME = {"object_id": "acme", "object_type_id": "1"}
ROLE = {"role": "admin", "seats": 3}
VERSIONS = ("v1", "v2")  # objects exist only in v2: a group is a batch item in both


def group(**parts):
    return {"type": "group", "groupId": "acme", "userId": "u1", **T, **parts}


def group_item(event, version="v2", **settings) -> dict:
    [(method, path, item)] = mapped(event, version, **settings)
    assert (method, path) == ("POST", "/api/v2/batch")
    return item


def mapping_error(event, version="v2") -> str:
    with pytest.raises(MappingError) as err:
        map_event(dict(event), load_settings(site_id="s", api_key="k", api_version=version))
    return str(err.value)


# --- (a) relationship attributes of a group call ---------------------------------

@pytest.mark.parametrize("event, attributes", [
    (group(context={"relationshipAttributes": ROLE}), ROLE),
    (group(properties={"relationshipAttributes": ROLE}), ROLE),
    (group(traits={"name": "Acme", "relationshipAttributes": ROLE}), ROLE),
    # the first present wins, never a merge: context, then properties, then traits
    (group(context={"relationshipAttributes": {"role": "a"}}, properties={"relationshipAttributes": {"seat": 1}},
           traits={"relationshipAttributes": {"x": 1}}), {"role": "a"}),
    (group(context={"relationshipAttributes": None}, properties={"relationshipAttributes": {"seat": 1}}),
     {"seat": 1}),
    (group(context={"relationshipAttributes": ""}, traits={"relationshipAttributes": {"x": 1}}), {"x": 1}),
    (group(context={"relationshipAttributes": {}}, properties={"relationshipAttributes": {"seat": 1}}), None),
    (group(), None),
])
@pytest.mark.parametrize("version", VERSIONS)
def test_group_relationship_attributes(event, attributes, version):
    item = group_item(event, version)
    expected = {"identifiers": {"id": "u1"}}
    if attributes is not None:
        expected["relationship_attributes"] = attributes
    assert item["cio_relationships"] == [expected]
    # an instruction about the membership, not an attribute of the object
    assert "relationshipAttributes" not in item.get("attributes", {})


@pytest.mark.parametrize("person, identifiers", [
    ({"userId": "u1"}, {"id": "u1"}),
    ({"userId": None, "context": {"traits": {"email": "a@b.co"}}}, {"email": "a@b.co"}),
    ({"userId": None, "properties": {"email": "a@b.co"}}, {"email": "a@b.co"}),
    ({"userId": "cio_a3000001"}, {"cio_id": "a3000001"}),
])
def test_the_attributes_go_with_the_person_however_found(person, identifiers):
    event = group(**person)
    event.setdefault("context", {})["relationshipAttributes"] = ROLE
    assert group_item(event)["cio_relationships"] == [{"identifiers": identifiers, "relationship_attributes": ROLE}]


@pytest.mark.parametrize("event, message", [
    (group(context={"relationshipAttributes": "admin"}),
     "context.relationshipAttributes must be an object (got string)"),
    (group(properties={"relationshipAttributes": [1]}),
     "properties.relationshipAttributes must be an object (got array)"),
    (group(traits={"relationshipAttributes": 3}), "traits.relationshipAttributes must be an object (got number)"),
])
def test_relationship_attributes_must_be_an_object(event, message):
    for version in VERSIONS:
        assert mapping_error(event, version) == message


def test_the_event_is_not_changed():
    event = group(context={"relationshipAttributes": {"since": "2024-05-01T10:00:00Z"}})
    item = group_item(event, convert_timestamps=True)
    assert item["cio_relationships"][0]["relationship_attributes"] == {"since": SECONDS}
    assert event["context"]["relationshipAttributes"] == {"since": "2024-05-01T10:00:00Z"}


@pytest.mark.parametrize("action", ["identify", "add_relationships", "delete_relationships"])
def test_every_object_action_carries_the_attributes(action):
    item = group_item(group(traits={"action": action}, context={"relationshipAttributes": ROLE}))
    assert item["action"] == action
    assert item["cio_relationships"] == [{"identifiers": {"id": "u1"}, "relationship_attributes": ROLE}]


def test_the_schema_refuses_relationship_attributes_that_are_no_object():
    item = {"type": "object", "action": "identify", "identifiers": ACME,
            "cio_relationships": [{"identifiers": {"id": "u1"}, "relationship_attributes": "admin"}]}
    assert item_errors(item)


# --- (b) a relationship from identify traits ---------------------------------------

def identify(traits, **parts):
    return {"type": "identify", "userId": "u1", "traits": traits, **T, **parts}


@pytest.mark.parametrize("traits, attributes, entry", [
    ({"email": "a@b.co", "objectId": "acme"}, {"email": "a@b.co", "objectId": "acme"},
     {"identifiers": {"object_type_id": "1", "object_id": "acme"}}),
    ({"objectId": 42, "objectTypeId": 2, "relationshipAttributes": ROLE}, {"objectId": 42},
     {"identifiers": {"object_type_id": "2", "object_id": "42"}, "relationship_attributes": ROLE}),
    ({"objectId": "acme", "objectTypeId": "", "relationshipAttributes": {}}, {"objectId": "acme"},
     {"identifiers": {"object_type_id": "1", "object_id": "acme"}}),
    ({"objectId": "acme", "relationshipAttributes": None}, {"objectId": "acme"},
     {"identifiers": {"object_type_id": "1", "object_id": "acme"}}),
    # no objectId: ordinary traits, no relationship
    ({"objectTypeId": "2", "relationshipAttributes": "admin"},
     {"objectTypeId": "2", "relationshipAttributes": "admin"}, None),
    ({"objectId": ""}, {"objectId": ""}, None),
    ({"plan": "pro"}, {"plan": "pro"}, None),
])
def test_identify_naming_an_object_relates_the_person_after_the_update(traits, attributes, entry):
    for version in VERSIONS:
        requests = mapped(identify(dict(traits)), version)
        first = requests[0]
        if version == "v1":
            assert first == ("PUT", "/api/v1/customers/u1", {**attributes, "_timestamp": SECONDS})
        else:
            assert first == ("POST", "/api/v2/batch", {"type": "person", "action": "identify",
                                                       "identifiers": {"id": "u1"}, "attributes": attributes,
                                                       "timestamp": SECONDS})
        if entry is None:
            assert len(requests) == 1
        else:
            # objects exist only in v2: the relationship is a batch item in both versions
            assert requests[1:] == [("POST", "/api/v2/batch", {
                "type": "person", "action": "add_relationships", "identifiers": {"id": "u1"},
                "cio_relationships": [entry]})]


@pytest.mark.parametrize("person, identifiers", [
    ({"userId": 42}, {"id": 42}),
    ({"userId": None, "traits": {"email": "a@b.co", "objectId": "acme"}}, {"email": "a@b.co"}),
    ({"userId": "cio_a3000001"}, {"cio_id": "a3000001"}),
])
def test_the_relationship_names_the_person_as_the_update_does(person, identifiers):
    event = {**identify({"objectId": "acme"}), **person}
    update, relation = mapped(event)
    assert update[2]["identifiers"] == relation[2]["identifiers"] == identifiers


@pytest.mark.parametrize("traits, message", [
    ({"objectId": {"id": 1}}, "traits.objectId must be a string or a number (got object)"),
    ({"objectId": "a", "objectTypeId": True}, "traits.objectTypeId must be a string or a number (got boolean)"),
    ({"objectId": "a", "relationshipAttributes": "admin"},
     "traits.relationshipAttributes must be an object (got string)"),
])
def test_identify_relationship_errors(traits, message):
    for version in VERSIONS:
        assert mapping_error(identify(traits), version) == message


def test_identify_relationship_with_converted_timestamps():
    traits = {"objectId": "acme", "joined": "2024-05-01T10:00:00Z",
              "relationshipAttributes": {"since": "2024-05-01T10:00:00Z", "day": "2024-05-01"}}
    for version in VERSIONS:
        update, relation = mapped(identify(traits), version, convert_timestamps=True)
        attributes = update[2] if version == "v1" else update[2]["attributes"]
        assert attributes["joined"] == SECONDS and "relationshipAttributes" not in attributes
        assert relation[2]["cio_relationships"][0]["relationship_attributes"] == {"since": SECONDS,
                                                                                   "day": "2024-05-01"}
    assert traits["relationshipAttributes"]["since"] == "2024-05-01T10:00:00Z", "the event is not changed"


# --- (c) anonymous relationships ------------------------------------------------------

def anonymous(action=None, **parts):
    traits = {"name": "Acme"}
    if action is not None:
        traits["action"] = action
    return {"type": "group", "groupId": "acme", "anonymousId": "anon-1", "traits": traits, **T, **parts}


@pytest.mark.parametrize("action, context, item", [
    (None, {}, {"type": "object", "action": "identify_anonymous", "identifiers": ACME,
                "attributes": {"name": "Acme"}, "cio_relationships": [{"identifiers": {"anonymous_id": "anon-1"}}]}),
    ("identify", {"relationshipAttributes": ROLE},
     {"type": "object", "action": "identify_anonymous", "identifiers": ACME, "attributes": {"name": "Acme"},
      "cio_relationships": [{"identifiers": {"anonymous_id": "anon-1"}, "relationship_attributes": ROLE}]}),
    # add_relationships changes no attribute of the object
    ("add_relationships", {}, {"type": "object", "action": "identify_anonymous", "identifiers": ACME,
                               "cio_relationships": [{"identifiers": {"anonymous_id": "anon-1"}}]}),
])
def test_a_group_call_from_an_anonymous_person(action, context, item):
    for version in VERSIONS:
        assert group_item(anonymous(action, context=context), version) == item


def test_an_anonymous_delete_deletes_the_object():
    item = group_item(anonymous("delete", context={"relationshipAttributes": ROLE}))
    assert item["action"] == "delete" and item["identifiers"] == ACME
    assert not item.get("cio_relationships"), "no anonymous relationship on a deleted object"


def test_an_anonymous_person_cannot_lose_a_relationship():
    for version in VERSIONS:
        assert mapping_error(anonymous("delete_relationships"), version) == (
            "a group call with action delete_relationships needs a userId or email: "
            "Customer.io cannot remove an anonymous person's relationship")


def test_a_known_person_wins_over_the_anonymous_id():
    item = group_item({**anonymous(), "userId": "u1"})
    assert item["action"] == "identify"
    assert item["cio_relationships"] == [{"identifiers": {"id": "u1"}}]


def test_the_schema_refuses_an_anonymous_item_with_a_wrong_relationship_shape():
    item = {"type": "object", "action": "identify_anonymous", "identifiers": ACME,
            "cio_relationships": [{"identifiers": {"anonymous_id": 5}}]}
    assert item_errors(item)
