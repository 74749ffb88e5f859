"""Track, page, screen → events and devices (docs/mapping.md, section 4), v1 API."""

import pytest

from transforms import MappingError, load_settings, map_event

S = load_settings(site_id="s", api_key="k")
S_NODEDUP = load_settings(site_id="s", api_key="k", dedup_ids=False)
BASE = "https://track.customer.io"
TS = "2024-05-01T10:00:00Z"
T = 1714557600
DEVICE = {"device": {"token": "tok/1", "type": "iOS", "model": "iPhone15,2"}}


def one(event, settings=S_NODEDUP):
    [request] = map_event(event, settings)
    return request


@pytest.mark.parametrize(
    "event, url, body",
    [
        ({"type": "track", "event": "Bought", "userId": "u1", "properties": {"p": 1}, "timestamp": TS},
         "/api/v1/customers/u1/events", {"name": "Bought", "type": "event", "data": {"p": 1}, "timestamp": T}),
        ({"type": "track", "event": "Bought", "traits": {"email": "a@b.co"}},
         "/api/v1/customers/a%40b.co/events", {"name": "Bought", "type": "event"}),
        ({"type": "page", "name": "Home", "userId": "u1", "properties": {"url": "https://x"}},
         "/api/v1/customers/u1/events", {"name": "Home", "type": "page", "data": {"url": "https://x"}}),
        ({"type": "page", "userId": "u1", "properties": {"url": "https://x"}},
         "/api/v1/customers/u1/events", {"name": "https://x", "type": "page", "data": {"url": "https://x"}}),
        ({"type": "screen", "event": "Cart", "userId": "u1"},
         "/api/v1/customers/u1/events", {"name": "Viewed Cart Screen", "type": "event"}),
        ({"type": "screen", "userId": "u1", "properties": {"name": "Feed"}},
         "/api/v1/customers/u1/events", {"name": "Viewed Feed Screen", "type": "event", "data": {"name": "Feed"}}),
        ({"type": "screen", "userId": "u1", "name": "Top"},
         "/api/v1/customers/u1/events", {"name": "Viewed Top Screen", "type": "event"}),
        ({"type": "track", "event": "E", "userId": "u1", "properties": {"a": None}, "originalTimestamp": T * 1000},
         "/api/v1/customers/u1/events", {"name": "E", "type": "event", "data": {"a": None}, "timestamp": T}),
    ],
)
def test_events_of_a_person(event, url, body):
    request = one(event)
    assert (request.method, request.url, request.json()) == ("POST", BASE + url, body)
    assert request.event_type == event["type"]


@pytest.mark.parametrize(
    "event, body",
    [
        ({"type": "track", "event": "E", "anonymousId": "an"}, {"name": "E", "type": "event", "anonymous_id": "an"}),
        ({"type": "page", "anonymousId": "an", "properties": {"url": "u"}},
         {"name": "u", "type": "page", "data": {"url": "u"}, "anonymous_id": "an"}),
        ({"type": "screen", "event": "S", "anonymousId": 5}, {"name": "Viewed S Screen", "type": "event", "anonymous_id": "5"}),
    ],
)
def test_anonymous_events(event, body):
    request = one(event)
    assert (request.method, request.url, request.json()) == ("POST", BASE + "/api/v1/events", body)
    assert request.person_key == "anonymous_id:" + body["anonymous_id"]


@pytest.mark.parametrize(
    "event, message",
    [
        ({"type": "track", "userId": "u"}, "Event is a required field and should be a string"),
        ({"type": "track", "event": "", "userId": "u"}, "Event is a required field and should be a string"),
        ({"type": "track", "event": 5, "userId": "u"}, "Event is a required field and should be a string"),
        ({"type": "track", "event": "E"}, "Anonymous id/ user id is required"),
        ({"type": "page", "name": "P"}, "Anonymous id/ user id is required"),
        ({"type": "page", "name": 5, "anonymousId": "a"}, "Event Name type should be a string"),
        ({"type": "screen", "event": ["x"], "anonymousId": "a"}, "Event Name type should be a string"),
        ({"type": "page", "anonymousId": "a", "properties": {"url": {"x": 1}}}, "Event Name type should be a string"),
    ],
)
def test_event_errors(event, message):
    with pytest.raises(MappingError) as caught:
        one(event)
    assert str(caught.value) == message


@pytest.mark.parametrize("api_version", ["v1", "v2"])
@pytest.mark.parametrize(
    "event",
    [
        {"type": "page", "userId": "u1"},
        {"type": "page", "userId": "u1", "name": "", "properties": {"url": ""}},
        {"type": "page", "anonymousId": "a", "properties": {"title": "Home"}},
        {"type": "screen", "userId": "u1", "properties": {"title": "Feed"}},
        {"type": "screen", "anonymousId": "a", "event": "", "name": None},
    ],
)
def test_page_or_screen_without_a_name_is_an_error(event, api_version):
    """Customer.io refuses an event without a name (400): it is dead-lettered at the map stage instead."""
    settings = load_settings(site_id="s", api_key="k", api_version=api_version)
    with pytest.raises(MappingError) as caught:
        map_event(event, settings)
    assert str(caught.value) == "Event Name type should be a string"


@pytest.mark.parametrize("api_version", ["v1", "v2"])
@pytest.mark.parametrize(
    "event",
    [
        {"type": "track", "event": "Bought", "traits": ["a", "b"]},
        {"type": "track", "event": "Bought", "traits": "vip", "context": {"traits": [1]}},
        {"type": "page", "name": "Home", "context": {"traits": "vip"}},
        {"type": "screen", "event": "Feed", "traits": 5, "context": {"traits": ["x"]}},
    ],
)
def test_traits_that_are_not_objects_are_ignored_by_track_page_and_screen(event, api_version):
    """A malformed traits value only means no id or email can be read from it: the event is delivered."""
    settings = load_settings(site_id="s", api_key="k", api_version=api_version, dedup_ids=False)
    [known] = map_event({**event, "userId": "u1"}, settings)
    [anonymous] = map_event({**event, "anonymousId": "an"}, settings)
    if api_version == "v1":
        assert known.url == BASE + "/api/v1/customers/u1/events"
        assert (anonymous.url, anonymous.json()["anonymous_id"]) == (BASE + "/api/v1/events", "an")
    else:
        assert known.json()["identifiers"] == {"id": "u1"}
        assert anonymous.json()["identifiers"] == {"anonymous_id": "an"}


def test_relationship_deleted_ignores_context_traits_that_are_not_an_object():
    [request] = map_event({"type": "track", "event": "Relationship Deleted", "groupId": "g", "userId": "u1",
                           "context": {"traits": "vip"}}, S)
    assert request.json()["cio_relationships"] == [{"identifiers": {"id": "u1"}}]


@pytest.mark.parametrize(
    "event, message",
    [
        ({"type": "identify", "userId": "u1", "traits": ["a"]}, "traits must be an object (got array)"),
        ({"type": "identify", "userId": "u1", "context": {"traits": "vip"}},
         "context.traits must be an object (got string)"),
        ({"type": "group", "userId": "u1", "groupId": "g", "traits": "vip"}, "traits must be an object (got string)"),
    ],
)
def test_traits_that_are_not_objects_stay_an_error_where_they_are_the_payload(event, message):
    with pytest.raises(MappingError) as caught:
        one(event)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a" * 100, "a" * 100),
        ("a" * 101, "a" * 100),
        ("a" * 99 + "é", "a" * 99),  # é is 2 bytes: not split, dropped
        ("€" * 40, "€" * 33),  # 3 bytes each: 99 bytes
        ("😀" * 30, "😀" * 25),
    ],
)
def test_anonymous_names_are_cut_to_100_bytes_without_splitting(name, expected):
    assert one({"type": "track", "event": name, "anonymousId": "a"}).json()["name"] == expected


def test_anonymous_screen_name_cut_to_86_bytes_inside_viewed_screen():
    body = one({"type": "screen", "event": "s" * 200, "anonymousId": "a"}).json()
    assert body["name"] == "Viewed " + "s" * 86 + " Screen" and len(body["name"].encode()) == 100


def test_names_of_known_people_are_not_cut():
    assert one({"type": "track", "event": "x" * 150, "userId": "u"}).json()["name"] == "x" * 150


@pytest.mark.parametrize(
    "name, device_type, settings_kw, platform",
    [
        ("Application Installed", "iOS", {}, "ios"),
        ("Application Opened", "watchOS", {}, "ios"),
        ("Application Opened", "iPadOS", {}, "ios"),
        ("Application Opened", "TVOS", {}, "ios"),
        ("Application Installed", "Android", {}, "android"),
        ("Push Enabled", "android", {"device_token_event": "Push Enabled"}, "android"),
        ("Application Installed", 7, {}, None),
        ("Application Installed", None, {}, None),
    ],
)
def test_device_registration(name, device_type, settings_kw, platform):
    settings = load_settings(site_id="s", api_key="k", **settings_kw)
    event = {"type": "track", "event": name, "userId": "u/1", "timestamp": TS, "properties": {"app": "x", "id": "ignored"},
             "context": {"device": {"token": "tok", "type": device_type}}}
    request = one(event, settings)
    assert (request.method, request.url) == ("PUT", BASE + "/api/v1/customers/u%2F1/devices")
    device = {"app": "x", "id": "tok", "last_used": T}
    if platform:
        device["platform"] = platform
    assert request.json() == {"device": device}


@pytest.mark.parametrize(
    "event",
    [
        {"type": "track", "event": "Application Installed", "anonymousId": "a", "context": DEVICE},  # no id
        {"type": "track", "event": "Application Opened", "userId": "u"},  # no token
        {"type": "track", "event": "Push Enabled", "userId": "u", "context": DEVICE},  # not configured
    ],
)
def test_device_event_without_id_or_token_goes_on_as_ordinary_event(event):
    request = one(event)
    assert request.method == "POST" and request.json()["name"] == event["event"]


def test_device_removal():
    request = one({"type": "track", "event": "Application Uninstalled", "userId": "u1", "context": DEVICE})
    assert (request.method, request.url, request.body) == (
        "DELETE", BASE + "/api/v1/customers/u1/devices/tok%2F1", None)


@pytest.mark.parametrize(
    "event",
    [
        {"type": "track", "event": "Application Uninstalled", "userId": "u1"},
        {"type": "track", "event": "Application Uninstalled", "anonymousId": "a", "context": DEVICE},
    ],
)
def test_device_removal_needs_id_and_token(event):
    with pytest.raises(MappingError, match="^userId/email or device_token not present$"):
        one(event)


def test_events_carry_a_deterministic_dedup_id():
    event = {"type": "track", "event": "E", "userId": "u", "messageId": "m-1", "timestamp": TS}
    first, again = one(event, S), one(dict(event), S)
    assert first.json()["id"] == again.json()["id"] and len(first.json()["id"]) == 26
    anonymous = one({"type": "page", "name": "P", "anonymousId": "a"}, S)
    assert "id" in anonymous.json()
    assert "id" not in one(event, S_NODEDUP).json()


def test_devices_carry_no_dedup_id():
    event = {"type": "track", "event": "Application Opened", "userId": "u", "context": DEVICE, "messageId": "m"}
    assert one(event, S).json() == {"device": {"id": "tok/1", "platform": "ios"}}
