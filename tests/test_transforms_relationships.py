"""Relationship attributes, relationships from identify, anonymous relationships (transforms/relationships.py)."""

import pytest

from tests.schema_check import item_errors
from transforms.errors import MappingError
from transforms.objects import DEFAULT_OBJECT_TYPE
from transforms.relationships import (
    anonymous_object_action, anonymous_object_item, anonymous_relationship, group_relationship_attributes,
    identify_relationship, person_attributes_without_relationship, person_relationship_item, relationship,
)

ACME = {"object_type_id": "1", "object_id": "acme"}
ROLE = {"role": "admin", "seats": 3}


def group(**parts):
    return {"type": "group", "groupId": "acme", "userId": "u1", **parts}


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
    (group(context={"traits": {}}, properties=None, traits="not an object"), None),
])
def test_group_relationship_attributes(event, attributes):
    assert group_relationship_attributes(event) == attributes


@pytest.mark.parametrize("event, message", [
    (group(context={"relationshipAttributes": "admin"}),
     "context.relationshipAttributes must be an object (got string)"),
    (group(properties={"relationshipAttributes": [1]}),
     "properties.relationshipAttributes must be an object (got array)"),
    (group(traits={"relationshipAttributes": 3}), "traits.relationshipAttributes must be an object (got number)"),
])
def test_relationship_attributes_must_be_an_object(event, message):
    with pytest.raises(MappingError) as err:
        group_relationship_attributes(event)
    assert str(err.value) == message


def test_the_attributes_are_a_copy():
    event = group(context={"relationshipAttributes": {"role": "a"}})
    group_relationship_attributes(event)["role"] = "changed"
    assert event["context"]["relationshipAttributes"] == {"role": "a"}


@pytest.mark.parametrize("action", ["identify", "add_relationships", "delete_relationships"])
def test_object_items_with_relationship_attributes_validate(action):
    item = {"type": "object", "action": action, "identifiers": ACME,
            "cio_relationships": [relationship({"id": "u1"}, ROLE), relationship({"email": "a@b.co"})]}
    assert item["cio_relationships"] == [{"identifiers": {"id": "u1"}, "relationship_attributes": ROLE},
                                         {"identifiers": {"email": "a@b.co"}}]
    assert item_errors(item) == []


def test_the_schema_refuses_relationship_attributes_that_are_no_object():
    item = {"type": "object", "action": "identify", "identifiers": ACME,
            "cio_relationships": [{"identifiers": {"id": "u1"}, "relationship_attributes": "admin"}]}
    assert item_errors(item)


# --- (b) a relationship from identify traits ---------------------------------------

@pytest.mark.parametrize("traits, entry", [
    ({"email": "a@b.co", "objectId": "acme"},
     {"identifiers": {"object_type_id": DEFAULT_OBJECT_TYPE, "object_id": "acme"}}),
    ({"objectId": 42, "objectTypeId": 2, "relationshipAttributes": ROLE},
     {"identifiers": {"object_type_id": "2", "object_id": "42"}, "relationship_attributes": ROLE}),
    ({"objectId": "acme", "objectTypeId": "", "relationshipAttributes": {}},
     {"identifiers": {"object_type_id": "1", "object_id": "acme"}}),
    ({"objectId": "acme", "relationshipAttributes": None},
     {"identifiers": {"object_type_id": "1", "object_id": "acme"}}),
    ({"objectTypeId": "2", "relationshipAttributes": ROLE}, None),  # no objectId: ordinary traits
    ({"objectId": ""}, None),
    ({}, None),
    (None, None),
])
def test_identify_relationship(traits, entry):
    assert identify_relationship(traits) == entry


@pytest.mark.parametrize("traits, message", [
    ({"objectId": {"id": 1}}, "traits.objectId must be a string or a number (got object)"),
    ({"objectId": "a", "objectTypeId": True}, "traits.objectTypeId must be a string or a number (got boolean)"),
    ({"objectId": "a", "relationshipAttributes": "admin"},
     "traits.relationshipAttributes must be an object (got string)"),
])
def test_identify_relationship_errors(traits, message):
    with pytest.raises(MappingError) as err:
        identify_relationship(traits)
    assert str(err.value) == message


@pytest.mark.parametrize("person", [{"id": "u1"}, {"id": 42}, {"email": "a@b.co"}, {"cio_id": "a3000001"}])
def test_person_relationship_item_validates(person):
    entry = identify_relationship({"objectId": "acme", "relationshipAttributes": ROLE})
    item = person_relationship_item(person, entry)
    assert item == {"type": "person", "action": "add_relationships", "identifiers": person,
                    "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"},
                                           "relationship_attributes": ROLE}]}
    assert item_errors(item) == []


def test_person_attributes_without_relationship():
    traits = {"email": "a@b.co", "objectId": "acme", "objectTypeId": "2", "relationshipAttributes": ROLE}
    assert person_attributes_without_relationship(traits) == {"email": "a@b.co", "objectId": "acme"}
    assert "objectTypeId" in traits, "the input is not changed"
    plain = {"email": "a@b.co"}
    assert person_attributes_without_relationship(plain) is plain


# --- (c) anonymous relationships ------------------------------------------------------

@pytest.mark.parametrize("action, expected", [
    ("identify", "identify_anonymous"), ("add_relationships", "identify_anonymous"), ("delete", "delete"),
])
def test_anonymous_object_action(action, expected):
    assert anonymous_object_action(action) == expected


def test_an_anonymous_person_cannot_lose_a_relationship():
    with pytest.raises(MappingError) as err:
        anonymous_object_action("delete_relationships")
    assert str(err.value) == ("a group call with action delete_relationships needs a userId or email: "
                              "Customer.io cannot remove an anonymous person's relationship")


@pytest.mark.parametrize("action, attributes, rel_attributes, item", [
    ("identify", {"name": "Acme"}, None,
     {"type": "object", "action": "identify_anonymous", "identifiers": ACME, "attributes": {"name": "Acme"},
      "cio_relationships": [{"identifiers": {"anonymous_id": "anon-1"}}]}),
    ("identify", None, ROLE,
     {"type": "object", "action": "identify_anonymous", "identifiers": ACME,
      "cio_relationships": [{"identifiers": {"anonymous_id": "anon-1"}, "relationship_attributes": ROLE}]}),
    ("add_relationships", {"name": "Acme"}, None,
     {"type": "object", "action": "identify_anonymous", "identifiers": ACME,
      "cio_relationships": [{"identifiers": {"anonymous_id": "anon-1"}}]}),
    ("delete", {"name": "Acme"}, ROLE, {"type": "object", "action": "delete", "identifiers": ACME}),
])
def test_anonymous_object_item(action, attributes, rel_attributes, item):
    built = anonymous_object_item(ACME, action, attributes, "anon-1", rel_attributes)
    assert built == item
    assert item_errors(built) == []


def test_anonymous_relationship_needs_an_id():
    assert anonymous_relationship("a") == {"identifiers": {"anonymous_id": "a"}}
    with pytest.raises(MappingError, match="anonymousId must be a non-empty string"):
        anonymous_relationship("")


def test_the_schema_refuses_an_anonymous_item_with_a_wrong_relationship_shape():
    item = {"type": "object", "action": "identify_anonymous", "identifiers": ACME,
            "cio_relationships": [{"identifiers": {"anonymous_id": 5}}]}
    assert item_errors(item)
