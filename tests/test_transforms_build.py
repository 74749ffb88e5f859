"""Serializing once, body limits and values orjson cannot write."""

import pytest

from transforms import MappingError, load_settings, map_event

V1 = load_settings(site_id="s", api_key="k", endpoint="http://localhost:9999/")
V2 = load_settings(site_id="s", api_key="k", api_version="v2")


def test_urls_use_the_endpoint_override():
    [request] = map_event({"type": "identify", "userId": "u"}, V1)
    assert request.url == "http://localhost:9999/api/v1/customers/u"
    [group] = map_event({"type": "group", "groupId": "g"}, V1)
    assert group.url == "http://localhost:9999/api/v2/batch"


def test_body_is_serialized_compact_json_bytes():
    [request] = map_event({"type": "identify", "userId": "u", "traits": {"a": "é"}}, V1)
    assert request.body == '{"a":"é"}'.encode()


@pytest.mark.parametrize(
    "traits",
    [{"big": 2**64}, {"obj": object()}, {1: "non-string key"}],
)
def test_unserializable_values_are_mapping_errors(traits):
    with pytest.raises(MappingError, match="^body cannot be written as JSON: "):
        map_event({"type": "identify", "userId": "u", "traits": traits}, V1)


def test_nan_and_infinity_never_reach_a_body():
    # JSON input cannot hold them (decode_events refuses NaN); from Python callers orjson writes null.
    [request] = map_event({"type": "identify", "userId": "u", "traits": {"a": float("nan"), "b": float("inf")}}, V1)
    assert request.body == b'{"a":null,"b":null}'


@pytest.mark.parametrize("size, ok", [(32 * 1024, True), (32 * 1024 + 1, False)])
def test_v2_item_limit_is_32_kib_of_serialized_item(size, ok):
    base = {"type": "person", "action": "event", "identifiers": {"id": "u"}, "name": "E", "attributes": {"b": ""}}
    import orjson
    overhead = len(orjson.dumps(base))
    event = {"type": "track", "event": "E", "userId": "u", "properties": {"b": "x" * (size - overhead)}}
    settings = load_settings(site_id="s", api_key="k", api_version="v2", dedup_ids=False)
    if ok:
        [request] = map_event(event, settings)
        assert request.size == size
    else:
        with pytest.raises(MappingError, match="over Customer.io's 32 KB"):
            map_event(event, settings)


def test_v1_bodies_have_no_32_kb_limit():
    [request] = map_event({"type": "track", "event": "E", "userId": "u", "properties": {"b": "x" * 40000}}, V1)
    assert request.size > 40000
