"""--convert_timestamps: ISO-8601 date-times in traits/properties → Unix seconds (transforms/timestamps.py)."""

import copy

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from transforms.timestamps import MAX_DEPTH, convert_timestamps, iso_seconds

T = 1714557600  # 2024-05-01T10:00:00Z


@pytest.mark.parametrize("text, seconds", [
    ("2024-05-01T10:00:00Z", T),
    ("2024-05-01T10:00Z", T),
    ("2024-05-01T10:00:00.999Z", T),  # the fraction is dropped, never rounded up
    ("2024-05-01T10:00:00.123456789Z", T),
    ("2024-05-01T12:00:00+02:00", T),
    ("2024-05-01T12:00:00+0200", T),
    ("2024-05-01T12:00:00+02", T),
    ("2024-05-01T05:30:00-04:30", T),
    ("1969-12-31T23:59:59.5Z", -1),  # before 1970: still rounded down
    ("2024-02-29T00:00:00Z", 1709164800),
    ("9999-12-31T23:59:59Z", 253402300799),
])
def test_full_date_times_with_a_zone_convert(text, seconds):
    assert iso_seconds(text) == seconds
    assert convert_timestamps({"at": text}) == {"at": seconds}


@pytest.mark.parametrize("text", [
    "2024-05-01",                      # a bare date
    "2024-05-01T10:00:00",             # no zone: the instant is unknown
    "2024-05-01T10:00",
    "2024-05-01 10:00:00Z",            # space instead of T
    "2024-05-01t10:00:00z",            # lower-case separators
    "20240501T100000Z",                # basic form
    "2024-05-01T10Z",                  # hour alone
    "2024-13-01T10:00:00Z",            # month 13
    "2023-02-29T10:00:00Z",            # not a leap year
    "2024-05-01T24:00:00Z",            # hour 24
    "2024-05-01T10:00:60Z",            # leap second
    "2024-05-01T10:00:00.1234567890Z",  # 10 fraction digits
    "2024-05-01T10:00:00+5:00",
    " 2024-05-01T10:00:00Z",
    "2024-05-01T10:00:00Z ",
    "1714557600",                      # a numeric string
    "1714557600000",
    "ORD-2024-05-01T10:00:00Z",
    "",
])
def test_everything_else_is_left_as_it_is(text):
    assert iso_seconds(text) is None
    values = {"v": text}
    assert convert_timestamps(values) is values


def test_numbers_booleans_and_nulls_are_left_alone():
    values = {"n": 1714557600, "f": 1.5, "b": True, "none": None, "ms": 1714557600000}
    assert convert_timestamps(values) is values


def test_nested_objects_and_arrays_convert_and_the_input_is_not_changed():
    values = {"plan": "pro", "trial": {"ends": "2024-05-01T10:00:00Z", "days": 14},
              "logins": ["2024-05-01T10:00:00Z", "yesterday", {"at": "2024-05-01T12:00:00+02:00"}],
              "tags": ["a", "b"], "deep": [[["2024-05-01T10:00:00Z"]]]}
    before = copy.deepcopy(values)
    out = convert_timestamps(values)
    assert out == {"plan": "pro", "trial": {"ends": T, "days": 14}, "logins": [T, "yesterday", {"at": T}],
                   "tags": ["a", "b"], "deep": [[[T]]]}
    assert values == before
    assert out["tags"] is values["tags"], "containers with nothing converted are shared, not copied"


def test_nothing_to_convert_returns_the_same_object():
    values = {"a": "text", "b": {"c": ["x", 1]}, "d": "2024-05-01"}
    assert convert_timestamps(values) is values


def test_depth_is_bounded():
    deep = "2024-05-01T10:00:00Z"
    for _ in range(MAX_DEPTH + 50):
        deep = {"x": deep}
    assert convert_timestamps(deep) is deep  # far too deep: left as it is, no RecursionError
    shallow = "2024-05-01T10:00:00Z"
    for _ in range(MAX_DEPTH - 1):
        shallow = {"x": shallow}
    out = convert_timestamps(shallow)
    for _ in range(MAX_DEPTH - 1):
        out = out["x"]
    assert out == T


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40)
    | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12)


@hsettings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=5), json_values, max_size=5))
def test_random_values_never_raise_and_only_strings_become_ints(values):
    before = copy.deepcopy(values)
    out = convert_timestamps(values)
    assert values == before

    def check(a, b):
        if isinstance(a, dict):
            assert isinstance(b, dict) and list(a) == list(b)
            for key in a:
                check(a[key], b[key])
        elif isinstance(a, list):
            assert isinstance(b, list) and len(a) == len(b)
            for x, y in zip(a, b):
                check(x, y)
        elif a != b or type(a) is not type(b):
            assert isinstance(a, str) and type(b) is int and b == iso_seconds(a)
    check(values, out)


# --- which fields map_event converts (docs/mapping.md, section 14) --------------------

DATED = {"when": "2024-05-01T10:00:00Z", "day": "2024-05-01"}
CONVERTED = {"when": T, "day": "2024-05-01"}


@pytest.mark.parametrize("event, field_of", [
    ({"type": "identify", "traits": DATED}, {"v1": lambda b: {k: b[k] for k in DATED},
                                             "v2": lambda b: b["attributes"]}),
    ({"type": "track", "event": "x", "properties": DATED}, {"v1": lambda b: b["data"],
                                                            "v2": lambda b: b["attributes"]}),
    ({"type": "page", "name": "Home", "properties": DATED}, {"v1": lambda b: b["data"],
                                                             "v2": lambda b: b["attributes"]}),
    ({"type": "screen", "name": "Home", "properties": DATED}, {"v1": lambda b: b["data"],
                                                               "v2": lambda b: b["attributes"]}),
    ({"type": "group", "groupId": "g", "traits": DATED}, {"v1": lambda b: b["attributes"],
                                                          "v2": lambda b: b["attributes"]}),
])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_map_event_converts_traits_and_properties_only_when_asked(event, field_of, version):
    from tests.schema_check import mapped

    event = {**copy.deepcopy(event), "userId": "u1"}
    [(_, _, on)] = mapped(event, version, convert_timestamps=True)
    [(_, _, off)] = mapped(event, version)
    assert field_of[version](on) == CONVERTED
    assert field_of[version](off) == DATED
    assert (event.get("traits") or event.get("properties")) == DATED, "the event is not changed"


def test_device_properties_stay_as_they_are():
    from tests.schema_check import mapped

    event = {"type": "track", "event": "Application Installed", "userId": "u1",
             "context": {"device": {"token": "tok", "type": "android"}}, "properties": DATED}
    [(_, _, body)] = mapped(event, "v1", convert_timestamps=True)
    assert body["device"]["when"] == "2024-05-01T10:00:00Z"
