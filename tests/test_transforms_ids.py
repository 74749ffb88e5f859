"""Ids: encodeURIComponent, email detection, normalisation, 150-byte limit, dedup ULIDs."""

import re
from urllib.parse import quote

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from transforms import MappingError
from transforms.ids import (check_person_id, dedup_id, encode_path, id_or_email, is_email,
                            normalize_id, ulid_text)

ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


@pytest.mark.parametrize(
    "value, encoded",
    [
        ("user/with/slashes", "user%2Fwith%2Fslashes"),
        ("a@b.com", "a%40b.com"),
        ("plain-id_1.2!~*'()", "plain-id_1.2!~*'()"),
        ("a b+c?d#e&f=g", "a%20b%2Bc%3Fd%23e%26f%3Dg"),
        ("Zoë", "Zo%C3%AB"),
        ("😀", "%F0%9F%98%80"),
        (42, "42"),
    ],
)
def test_path_params_are_encoded_like_encodeURIComponent(value, encoded):
    assert encode_path(value) == encoded


@pytest.mark.parametrize(
    "value, expected",
    [("a@b.co", True), ("first.last+tag@sub.example.com", True), ("a@b", False), ("@b.co", False),
     ("a b@c.de", False), ("user-1", False), (42, False), ("a@b.co.", False)],
)
def test_email_looks_like_local_at_domain_tld(value, expected):
    assert is_email(value) is expected


@pytest.mark.parametrize(
    "value, expected",
    [("a@b.co", {"email": "a@b.co"}), ("u1", {"id": "u1"}), (42, {"id": "42"})],
)
def test_id_or_email_key(value, expected):
    assert id_or_email(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [("x", "x"), (42, 42), (42.0, 42), (4.5, "4.5"), (2**70, str(2**70)), (None, None), ("", None), (0, 0)],
)
def test_ids_are_strings_or_numbers(value, expected):
    assert normalize_id(value, "userId") == expected


@pytest.mark.parametrize(
    "value, message",
    [
        (True, "userId must be a string or a number (got boolean)"),
        ({"a": 1}, "userId must be a string or a number (got object)"),
        ([1], "userId must be a string or a number (got array)"),
        (float("nan"), "userId must be a finite number"),
    ],
)
def test_other_id_types_are_errors(value, message):
    with pytest.raises(MappingError, match=re.escape(message)):
        normalize_id(value, "userId")


def test_person_id_limit_is_150_utf8_bytes():
    check_person_id("x" * 150, "user id")
    check_person_id("é" * 75, "user id")
    with pytest.raises(MappingError, match="user id is 151 bytes, over Customer.io's 150-byte limit"):
        check_person_id("x" * 151, "user id")
    with pytest.raises(MappingError, match="152 bytes"):
        check_person_id("é" * 76, "user id")


def test_ulid_encoding_matches_python_ulid():
    ulid = pytest.importorskip("ulid")
    for value in (0, 1, 2**128 - 1, 0x0123456789ABCDEF0123456789ABCDEF, 2**80 * 1714557600000 + 12345):
        assert ulid_text(value) == str(ulid.ULID.from_int(value))


def test_dedup_id_is_deterministic_and_carries_the_event_time():
    a = dedup_id("msg-1", 1714557600.5, {"x": 1})
    assert ULID.fullmatch(a)
    assert a == dedup_id("msg-1", 1714557600.5, {"y": 2})  # messageId decides, not the rest
    assert a != dedup_id("msg-2", 1714557600.5, {"x": 1})
    assert a != dedup_id("msg-1", 1714557601.5, {"x": 1})
    ulid = pytest.importorskip("ulid")
    assert ulid.ULID.from_str(a).milliseconds == 1714557600500


def test_dedup_id_without_message_id_hashes_canonical_json():
    assert dedup_id(None, None, {"a": 1, "b": [1, 2]}) == dedup_id(None, None, {"b": [1, 2], "a": 1})
    assert dedup_id(None, None, {"a": 1}) != dedup_id(None, None, {"a": 2})
    assert dedup_id(None, None, {"a": 1}).startswith("0000000000")  # unknown time → 0


@pytest.mark.parametrize("seconds", [None, -5.0, 2.0**50])
def test_dedup_time_outside_48_bits_is_zero(seconds):
    assert dedup_id("m", seconds, {}).startswith("0000000000")


def test_dedup_id_survives_unjsonable_events():
    assert ULID.fullmatch(dedup_id(None, None, {"big": 2**70, "set": {1}}))


@hsettings(max_examples=300, deadline=None)
@given(st.text(max_size=20) | st.integers())
def test_encode_path_fast_path_agrees_with_quote(value):
    assert encode_path(value) == quote(str(value), safe="-_.!~*'()")
