"""Field look-ups (docs/mapping.md, section 2) and the reverse-ETL rewrite."""

import copy

import pytest

from transforms import MappingError
from transforms import lookups

EXT = [{"id": "ext-9", "identifierType": "customer_id", "type": "CIO-person"}]


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"userId": "u", "traits": {"userId": "t", "id": "i"}}, "u"),
        ({"userId": "", "traits": {"userId": "t", "id": "i"}}, "t"),
        ({"userId": None, "traits": {"userId": None, "id": "i"}}, "i"),
        ({"traits": {"id": ""}, "context": {"traits": {"userId": "cu", "id": "ci"}}}, "cu"),
        ({"context": {"traits": {"id": "ci"}}}, "ci"),
        ({"userId": 42}, 42),
        ({"traits": {"email": "a@b.co"}}, None),
    ],
)
def test_user_id_paths_in_order(event, expected):
    assert lookups.user_id(event) == expected


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"traits": {"email": "t@x.co"}, "context": {"traits": {"email": "c@x.co"}}}, "t@x.co"),
        ({"traits": {"email": ""}, "context": {"traits": {"email": "c@x.co"}}}, "c@x.co"),
        ({"properties": {"email": "p@x.co"}, "context": {"externalId": EXT}}, "p@x.co"),
        ({"context": {"externalId": EXT}}, "ext-9"),
        ({}, None),
    ],
)
def test_email_paths_in_order(event, expected):
    assert lookups.email(event) == expected


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"traits": {"a": 1}, "context": {"traits": {"b": 2}}}, {"a": 1}),
        ({"context": {"traits": {"b": 2}}}, {"b": 2}),
        ({"traits": None, "context": {"traits": {"b": 2}}}, {"b": 2}),
        ({}, None),
    ],
)
def test_traits_then_context_traits(event, expected):
    assert lookups.traits(event) == expected


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"traits": {"createdAt": "x1"}, "context": {"traits": {"createdAt": "x2"}}}, "x1"),
        ({"traits": {"createdAt": None}, "context": {"traits": {"createdAt": "x2"}}}, "x2"),
        ({}, None),
    ],
)
def test_created_at_paths(event, expected):
    assert lookups.created_at(event) == expected


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"timestamp": "2024-05-01T10:00:00Z", "originalTimestamp": "2020-01-01T00:00:00Z"}, 1714557600),
        ({"timestamp": "", "originalTimestamp": "2024-05-01T10:00:00Z"}, 1714557600),
        ({"originalTimestamp": 1714557600000}, 1714557600),
        ({"timestamp": "garbage"}, None),
        ({}, None),
    ],
)
def test_event_time_paths(event, expected):
    seconds = lookups.event_seconds(event)
    assert (None if seconds is None else int(seconds)) == expected


def test_wrong_type_in_a_lookup_path_names_the_path():
    with pytest.raises(MappingError, match="^traits.id must be a string or a number \\(got array\\)$"):
        lookups.user_id({"traits": {"id": [1]}})


def test_mapped_to_destination_rewrites_user_id_and_traits_without_touching_input():
    event = {"userId": "old", "traits": {"a": 1},
             "context": {"mappedToDestination": True, "externalId": copy.deepcopy(EXT)}}
    before = copy.deepcopy(event)
    rewritten = lookups.unmap_destination(event)
    assert event == before
    assert rewritten["userId"] == "ext-9"
    assert rewritten["traits"] == {"a": 1, "customer_id": "ext-9"}


def test_mapped_to_destination_sets_the_key_on_context_traits_when_they_are_the_traits():
    event = {"context": {"mappedToDestination": "true", "externalId": EXT, "traits": {"b": 2}}}
    rewritten = lookups.unmap_destination(event)
    assert rewritten["context"]["traits"] == {"b": 2, "customer_id": "ext-9"}


@pytest.mark.parametrize(
    "context",
    [{"mappedToDestination": False, "externalId": EXT}, {"externalId": EXT},
     {"mappedToDestination": True}, {"mappedToDestination": True, "externalId": []}],
)
def test_no_rewrite_without_flag_or_external_id(context):
    event = {"userId": "u", "context": context}
    assert lookups.unmap_destination(event) is event
