"""Dispatch by type, the public API, and the property: only MappingError, ever."""

import copy

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

import transforms
from transforms import EVENT_TYPES, MAPPERS, CioRequest, MappingError, event_type, load_settings, map_event

V1 = load_settings(site_id="s", api_key="k", device_token_event="Push Enabled")
V2 = load_settings(site_id="s", api_key="k", api_version="v2", record_object="event")


def test_public_api():
    for name in ("MappingError", "CioRequest", "BATCH_PATH", "Settings", "SettingsError", "load_settings",
                 "decode_events", "EVENT_TYPES", "event_type", "MAPPERS", "map_event"):
        assert hasattr(transforms, name) and name in transforms.__all__
    assert EVENT_TYPES == ("identify", "track", "page", "screen", "group", "alias", "record")
    assert set(MAPPERS) == set(EVENT_TYPES)


def test_no_beam_in_transforms():
    from pathlib import Path
    for path in Path(transforms.__file__).parent.glob("*.py"):
        assert "apache_beam" not in path.read_text(), path


@pytest.mark.parametrize("value, expected", [("track", "track"), ("TRACK", "track"), ("Identify", "identify"),
                                             ("rEcOrD", "record")])
def test_type_is_case_insensitive(value, expected):
    assert event_type({"type": value}) == expected


@pytest.mark.parametrize(
    "event, message",
    [
        ({"type": "purchase"}, "could not determine type purchase"),
        ({"type": ""}, "could not determine type "),
        ({}, "could not determine type (missing)"),
        ({"type": None}, "could not determine type null"),
        ({"type": 5}, "could not determine type number"),
        ({"type": ["track"]}, "could not determine type array"),
    ],
)
def test_unknown_type_is_an_error(event, message):
    with pytest.raises(MappingError) as caught:
        map_event(event, V1)
    assert str(caught.value) == message


def test_map_event_does_not_change_its_input():
    event = {"type": "identify", "userId": "u", "traits": {"a": 1, "address": {"city": "x"}},
             "context": {"mappedToDestination": True, "externalId": [{"id": "e", "identifierType": "k"}]}}
    before = copy.deepcopy(event)
    map_event(event, V1)
    map_event(event, V2)
    assert event == before


# ---- property: any dict → requests or MappingError ----------------------------
scalars = (st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=8) | st.sampled_from(["", "a@b.co", "2024-05-01T10:00:00Z", "x" * 200, "Zoë😀"]))
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=10)


def maybe(strategy):
    return st.one_of(junk, strategy)


known = st.fixed_dictionaries(
    {"type": st.sampled_from(EVENT_TYPES + ("TRACK", "Group", "bogus")) | junk},
    optional={
        "userId": maybe(st.text(max_size=200) | st.integers()), "anonymousId": junk, "messageId": junk,
        "event": maybe(st.sampled_from(["Application Installed", "Application Opened", "Application Uninstalled",
                                        "Push Enabled", "Bought"])),
        "name": junk, "groupId": junk, "previousId": junk, "timestamp": junk, "originalTimestamp": junk,
        "traits": maybe(st.dictionaries(st.sampled_from(["email", "id", "userId", "address", "createdAt", "action",
                                                         "objectTypeId", "groupId", "x"]), junk)),
        "properties": maybe(st.dictionaries(st.sampled_from(["email", "url", "name", "action", "y"]), junk)),
        "context": maybe(st.fixed_dictionaries({}, optional={
            "traits": junk, "device": maybe(st.fixed_dictionaries({}, optional={"token": junk, "type": junk,
                                                                                "model": junk})),
            "os": junk, "app": junk, "locale": junk, "mappedToDestination": junk,
            "externalId": maybe(st.lists(maybe(st.fixed_dictionaries({}, optional={"id": junk,
                                                                                  "identifierType": junk}))))})),
        "user_properties": junk, "action": junk, "identifiers": junk, "fields": junk,
    },
)


def check_requests(requests):
    assert isinstance(requests, list) and requests
    for request in requests:
        assert isinstance(request, CioRequest)
        assert request.method in ("PUT", "POST", "DELETE")
        assert request.body is None or isinstance(request.body, bytes)
        if request.batch_item:
            assert request.size <= 32 * 1024


@pytest.mark.thorough
@hsettings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(known, st.sampled_from([V1, V2]))
def test_mappers_raise_only_mapping_error(event, settings):
    """Random events with random types in the known fields: requests or MappingError, nothing else."""
    name = event.get("type")
    mapper = MAPPERS.get(name.lower()) if isinstance(name, str) else None
    for call in ([mapper] if mapper else []) + [map_event]:
        try:
            check_requests(call(event, settings))
        except MappingError as err:
            assert str(err) and len(str(err)) < 300


@hsettings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=10), junk, max_size=8), st.sampled_from(EVENT_TYPES), st.sampled_from([V1, V2]))
def test_every_mapper_takes_any_dict(event, kind, settings):
    try:
        check_requests(MAPPERS[kind](event, settings))
    except MappingError:
        pass
