"""Identify → PUT /api/v1/customers/{id} (docs/mapping.md, section 3)."""

import pytest

from transforms import MappingError, load_settings, map_event

S = load_settings(site_id="s", api_key="k")
TS = "2024-05-01T10:00:00Z"
T = 1714557600


def one(event, settings=S):
    [request] = map_event({"type": "identify", **event}, settings)
    return request


@pytest.mark.parametrize(
    "event, path, person_key",
    [
        ({"userId": "u1", "traits": {"email": "a@b.co"}}, "/api/v1/customers/u1", "id:u1"),
        ({"traits": {"email": "a@b.co"}}, "/api/v1/customers/a%40b.co", "email:a@b.co"),
        ({"userId": "user/with/slashes"}, "/api/v1/customers/user%2Fwith%2Fslashes", "id:user/with/slashes"),
        ({"userId": 42}, "/api/v1/customers/42", "id:42"),
        ({"context": {"traits": {"id": "ct"}}}, "/api/v1/customers/ct", "id:ct"),
        ({"properties": {"email": "p@b.co"}}, "/api/v1/customers/p%40b.co", "email:p@b.co"),
    ],
)
def test_id_is_user_id_else_email(event, path, person_key):
    request = one(event)
    assert request.method == "PUT" and request.url == "https://track.customer.io" + path
    assert request.person_key == person_key and not request.batch_item and request.event_type == "identify"


@pytest.mark.parametrize("event", [{}, {"anonymousId": "a"}, {"userId": "", "traits": {"email": None}}])
def test_no_id_is_an_error(event):
    with pytest.raises(MappingError, match="^userId or email is not present$"):
        one(event)


@pytest.mark.parametrize(
    "traits, body",
    [
        ({"name": "Ada", "plan": None}, {"name": "Ada", "plan": None}),  # null kept
        ({"dot.name": 1}, {"dot.name": 1}),  # stays one flat key
        ({"address": {"city": "Berlin", "country": "DE", "postalCode": "10115", "state": "BE",
                      "street": "Main 1", "extra": "x"}},
         {"city": "Berlin", "country": "DE", "postalCode": "10115", "state": "BE", "street": "Main 1"}),
        ({"address": "Main 1, Berlin"}, {}),  # not an object: dropped, nothing copied
        ({"userId": "u1", "anonymousId": "a", "createdAt": "garbage", "x": 1}, {"x": 1}),
        ({"nested": {"a": [1, {"b": None}]}}, {"nested": {"a": [1, {"b": None}]}}),
    ],
)
def test_traits_become_top_level_attributes(traits, body):
    assert one({"userId": "u1", "traits": traits}).json() == body


def test_context_traits_are_used_when_traits_missing():
    assert one({"userId": "u1", "context": {"traits": {"plan": "pro"}}}).json() == {"plan": "pro"}


def test_legacy_user_properties_are_copied():
    assert one({"userId": "u1", "traits": {"a": 1}, "user_properties": {"b": 2}}).json() == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    "event, extra",
    [
        ({"traits": {"createdAt": TS}}, {"created_at": T}),
        ({"traits": {"createdAt": T * 1000}}, {"created_at": T}),
        ({"context": {"traits": {"createdAt": TS}}}, {"created_at": T}),
        ({"timestamp": TS}, {"_timestamp": T}),
        ({"originalTimestamp": TS}, {"_timestamp": T}),
        ({"anonymousId": "anon-1"}, {"anonymous_id": "anon-1"}),
        ({"anonymousId": 7}, {"anonymous_id": "7"}),
        ({"timestamp": "nope"}, {}),
    ],
)
def test_reserved_attributes(event, extra):
    request = one({"userId": "u1", **event})
    assert request.json() == extra


def test_request_metadata():
    request = one({"userId": "u1", "messageId": "m-1", "timestamp": "2024-05-01T10:00:00.500Z"})
    assert request.message_id == "m-1" and request.timestamp == T + 0.5


def test_identify_carries_no_dedup_id():
    assert "id" not in one({"userId": "u1", "messageId": "m"}).json()


def test_mapped_to_destination_identify():
    request = one({"userId": "crm-1", "traits": {"plan": "pro"},
                   "context": {"mappedToDestination": True,
                               "externalId": [{"id": "cio-7", "identifierType": "cio_uid"}]}})
    assert request.url.endswith("/api/v1/customers/cio-7")
    assert request.json() == {"plan": "pro", "cio_uid": "cio-7"}


def test_person_id_over_150_bytes_is_an_error():
    with pytest.raises(MappingError, match="^user id is 151 bytes, over Customer.io's 150-byte limit$"):
        one({"userId": "u" * 151})
