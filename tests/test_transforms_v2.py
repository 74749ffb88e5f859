"""API version v2: everything through /api/v2/batch (docs/mapping.md, section 5b)."""

import pytest

from transforms import BATCH_PATH, MappingError, load_settings, map_event

V2 = load_settings(site_id="s", api_key="k", api_version="v2", dedup_ids=False)
V2_DEDUP = load_settings(site_id="s", api_key="k", api_version="v2")
TS = "2024-05-01T10:00:00Z"
T = 1714557600
CTX = {"device": {"token": "tok", "type": "android", "model": "Pixel 8"}, "os": {"name": "Android"},
       "app": {"version": "5.2"}, "locale": "de-DE"}


def item(event, settings=V2):
    [request] = map_event(event, settings)
    assert request.batch_item and request.method == "POST" and request.url.endswith(BATCH_PATH)
    return request.json()


@pytest.mark.parametrize(
    "event, identifiers",
    [
        ({"userId": "u1", "traits": {"email": "a@b.co"}, "anonymousId": "an"}, {"id": "u1"}),
        ({"userId": 42}, {"id": 42}),  # a numeric id stays a number
        ({"traits": {"email": "a@b.co"}, "anonymousId": "an"}, {"email": "a@b.co"}),
        ({"anonymousId": "an"}, {"anonymous_id": "an"}),
    ],
)
def test_person_identifiers(event, identifiers):
    assert item({"type": "track", "event": "E", **event})["identifiers"] == identifiers


def test_no_identifier_is_an_error():
    with pytest.raises(MappingError, match="^userId, email or anonymousId is required$"):
        item({"type": "track", "event": "E"})


def test_identify_item():
    body = item({"type": "identify", "userId": "u1", "anonymousId": "an", "timestamp": TS,
                 "traits": {"plan": "pro", "createdAt": TS, "address": {"city": "Berlin"}}})
    assert body == {"type": "person", "action": "identify", "identifiers": {"id": "u1"},
                    "attributes": {"plan": "pro", "city": "Berlin", "created_at": T, "anonymous_id": "an"},
                    "timestamp": T}


def test_identify_still_needs_user_id_or_email():
    with pytest.raises(MappingError, match="^userId or email is not present$"):
        item({"type": "identify", "anonymousId": "an"})


@pytest.mark.parametrize(
    "event, expected",
    [
        ({"type": "track", "event": "Bought", "userId": "u", "properties": {"p": 1}, "timestamp": TS},
         {"action": "event", "name": "Bought", "attributes": {"p": 1}, "timestamp": T}),
        ({"type": "page", "name": "Home", "userId": "u"}, {"action": "page", "name": "Home"}),
        ({"type": "page", "userId": "u", "properties": {"url": "https://x"}},
         {"action": "page", "name": "https://x", "attributes": {"url": "https://x"}}),
        ({"type": "screen", "event": "Cart", "userId": "u"}, {"action": "screen", "name": "Viewed Cart Screen"}),
    ],
)
def test_event_items(event, expected):
    assert item(event) == {"type": "person", "identifiers": {"id": "u"}, **expected}


def test_anonymous_item_names_are_cut_like_v1():
    assert item({"type": "track", "event": "x" * 150, "anonymousId": "a"})["name"] == "x" * 100


def test_add_device_item():
    body = item({"type": "track", "event": "Application Installed", "userId": "u", "timestamp": TS,
                 "properties": {"seq": 3, "push": True, "ratio": 0.5, "nothing": None, "deep": {"a": 1}},
                 "context": CTX})
    assert body == {"type": "person", "action": "add_device", "identifiers": {"id": "u"},
                    "device": {"token": "tok", "last_used": T, "platform": "android",
                               "attributes": {"device_os": "Android", "device_model": "Pixel 8", "app_version": "5.2",
                                              "device_locale": "de-DE", "seq": "3", "push": "true", "ratio": "0.5",
                                              "deep": '{"a":1}'}}}


def test_delete_device_item():
    body = item({"type": "track", "event": "Application Uninstalled", "traits": {"email": "a@b.co"}, "context": CTX})
    assert body == {"type": "person", "action": "delete_device", "identifiers": {"email": "a@b.co"},
                    "device": {"token": "tok"}}


def test_event_items_carry_dedup_ids_and_other_items_do_not():
    event = {"type": "page", "name": "P", "userId": "u", "messageId": "m"}
    assert len(item(event, V2_DEDUP)["id"]) == 26
    assert "id" not in item({"type": "identify", "userId": "u", "messageId": "m"}, V2_DEDUP)
    assert "id" not in item({"type": "alias", "userId": "u", "previousId": "p"}, V2_DEDUP)
