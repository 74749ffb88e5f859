"""The faster forms in transforms/ give exactly what their plain definitions give.

Each test holds a speed-minded implementation to a straightforward reference
(written here the way the code read before it was tuned): same values, same
key order, same errors.
"""

from datetime import datetime

from hypothesis import given, settings as hsettings, strategies as st

from transforms import MappingError, load_settings, map_event
from transforms import lookups
from transforms.identify import ADDRESS_KEYS, EXCLUDED_TRAITS, identify_attributes
from transforms.ids import _TRIPLES, id_text, normalize_id, ulid_parts_text, ulid_text
from transforms.times import to_seconds, to_unix

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
ids = st.none() | st.just("") | st.text(max_size=6) | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
short_text = st.text(min_size=1, max_size=3)
trait_keys = st.sampled_from(sorted(EXCLUDED_TRAITS) + list(ADDRESS_KEYS) + ["email", "plan", "a", "b"])


def _result(call):
    try:
        return "ok", call()
    except MappingError as err:
        return "error", str(err)


@hsettings(max_examples=300, deadline=None)
@given(st.integers(0, 2**128 - 1))
def test_ulid_text_is_crockford_base32_of_the_128_bits(value):
    plain = "".join(_CROCKFORD[value >> shift & 31] for shift in range(125, -5, -5))
    assert ulid_text(value) == plain


@hsettings(max_examples=300, deadline=None)
@given(st.integers(0, 2**48 - 1), st.integers(0, 2**80 - 1))
def test_ulid_parts_text_is_ulid_text_of_the_whole(millis, randomness):
    assert ulid_parts_text(millis, randomness) == ulid_text((millis << 80) | randomness)
    assert len(_TRIPLES) == 32768


@hsettings(max_examples=300, deadline=None)
@given(st.dictionaries(trait_keys, json_values, max_size=8),
       st.none() | st.dictionaries(st.sampled_from(ADDRESS_KEYS + ("zip",)), json_values, max_size=5))
def test_identify_attributes_keeps_trait_order_less_the_excluded_keys(traits, address):
    if address is not None:
        traits["address"] = address
    expected = {key: value for key, value in traits.items() if key not in EXCLUDED_TRAITS}
    if isinstance(address, dict):
        for key in ADDRESS_KEYS:
            if key in address:
                expected[key] = address[key]
    created_at = to_unix(lookups.created_at({"traits": traits}))
    if created_at is not None:
        expected["created_at"] = created_at
    body = identify_attributes({"traits": traits})
    assert list(body.items()) == list(expected.items())


@hsettings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["action", "name", "plan", "groupId", "objectTypeId"]), st.text(max_size=3),
                       max_size=5))
def test_group_attributes_are_the_traits_less_action_in_order(traits):
    event = {"type": "group", "userId": "u", "groupId": "g", "traits": traits}
    [request] = map_event(event, load_settings(site_id="s", api_key="k"))
    expected = [(k, v) for k, v in traits.items() if k != "action"]
    assert list(request.json()["attributes"].items()) == expected


@hsettings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "email", "name", "created_at", "plan", "seq"]), short_text, max_size=6),
       st.dictionaries(st.sampled_from(["id", "cio_id", "plan", "a"]), short_text, max_size=3),
       st.sampled_from(["person", "event"]))
def test_record_attributes_are_the_columns_less_the_used_ones_in_order(fields, identifiers, record_object):
    record = {"type": "record", "action": "insert", "identifiers": identifiers, "fields": fields}
    settings = load_settings(site_id="s", api_key="k", record_object=record_object, dedup_ids=False)
    outcome = _result(lambda: map_event(record, settings))
    if outcome[0] == "error":
        return
    [request] = outcome[1]
    item = request.json()
    columns = {**identifiers, **fields}
    excluded = {next(iter(item["identifiers"])), "created_at"} | ({"name"} if record_object == "event" else set())
    expected = [(k, v) for k, v in columns.items() if k not in excluded]
    assert list(item.get("attributes", {}).items()) == expected


def _email_reference(event):
    for path, value in (
        ("traits.email", (event.get("traits") or {}).get("email")),
        ("context.traits.email", lookups.context_part(event, "traits").get("email")),
        ("properties.email", (event.get("properties") or {}).get("email")),
    ):
        if value not in (None, ""):
            return id_text(value, path)
    return id_text(lookups.external_id(event), "context.externalId.0.id")


@hsettings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "userId": ids, "anonymousId": ids, "messageId": ids,
    "traits": st.fixed_dictionaries({}, optional={"email": ids, "userId": ids, "id": ids}),
    "properties": st.fixed_dictionaries({}, optional={"email": ids}),
    "context": st.fixed_dictionaries({}, optional={
        "traits": st.fixed_dictionaries({}, optional={"email": ids, "userId": ids, "id": ids}),
        "externalId": st.lists(st.fixed_dictionaries({}, optional={"id": ids}), max_size=1)}),
}))
def test_look_up_fast_paths_agree_with_the_plain_look_ups(event):
    assert _result(lambda: lookups.email(event)) == _result(lambda: _email_reference(event))
    assert (_result(lambda: lookups.message_id(event))
            == _result(lambda: id_text(event.get("messageId"), "messageId")))
    assert (_result(lambda: lookups.anonymous_id(event))
            == _result(lambda: id_text(event.get("anonymousId"), "anonymousId")))
    value = event.get("userId")
    if value not in (None, ""):
        assert _result(lambda: lookups.user_id(event)) == _result(lambda: normalize_id(value, "userId"))


# Event times: the forms SDKs send, and the edges of what fromisoformat and
# timestamp() accept (years 1 and 9999 with offsets overflow; no zone is UTC;
# eight digits are a number).
iso_times = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)).flatmap(
    lambda moment: st.sampled_from([
        moment.isoformat(), moment.isoformat() + "Z", moment.isoformat() + "+14:00", moment.isoformat() + "-14:00",
        moment.isoformat(timespec="milliseconds") + "Z", f" {moment.isoformat()}Z ", moment.date().isoformat(),
        moment.strftime("%Y%m%d"),
    ]))
event_times = (iso_times | st.sampled_from(["", "soon", "2024-13-01T00:00:00Z", "1714557600", "1714557600000"])
               | st.integers(-(2**70), 2**70) | st.floats() | st.booleans() | st.none())


@hsettings(max_examples=400, deadline=None)
@given(event_times, event_times)
def test_event_seconds_fast_path_is_to_seconds_of_the_first_time_present(timestamp, original):
    event = {"timestamp": timestamp, "originalTimestamp": original}
    chosen = timestamp if timestamp not in (None, "") else original
    expected = None if chosen in (None, "") else to_seconds(chosen)
    assert lookups.event_seconds(event) == expected


@hsettings(max_examples=200, deadline=None)
@given(ids, st.sampled_from(["track", "page", "screen"]))
def test_event_message_id_fast_path_is_the_look_up(value, kind):
    event = {"type": kind, "event": "Clicked", "name": "Home", "userId": "u1", "messageId": value}
    expected = _result(lambda: lookups.message_id(event))
    got = _result(lambda: map_event(event, load_settings(site_id="s", api_key="k"))[0].message_id)
    if expected[0] == "error":
        assert got[0] == "error"
    else:
        assert got == expected
