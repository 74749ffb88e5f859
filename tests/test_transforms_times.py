"""Times (docs/mapping.md, section 2): whole Unix seconds, ISO-8601, epoch ms and s."""

import math

import pytest

from transforms.times import to_seconds, to_unix

T = 1714557600  # 2024-05-01T10:00:00Z


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-05-01T10:00:00Z", T),
        ("2024-05-01T10:00:00.999Z", T),  # floor, not round
        ("2024-05-01T10:00:00.123456789Z", T),
        ("2024-05-01T10:00:00", T),  # no zone = UTC
        ("2024-05-01 10:00:00", T),
        ("2024-05-01T12:00:00+02:00", T),
        ("2024-05-01T12:00:00+0200", T),
        (" 2024-05-01T10:00:00Z ", T),
        ("2024-05-01", T - 10 * 3600),
        (T * 1000 + 999, T),  # epoch ms
        (T, T),  # epoch s
        (T + 0.75, T),
        (str(T * 1000), T),  # numeric string
        (str(T), T),
        (99_999_999_999, 99_999_999_999),  # below 1e11: seconds
        (100_000_000_000, 100_000_000),  # from 1e11: milliseconds
        (-1.5, -2),  # floor for negatives too
        ("20240501", 20240501),  # eight digits are a number (seconds), not YYYYMMDD
        (" 20240501 ", 20240501),
        ("2024-05-01T10:00:00.5+00:00", T),
        ("2024-05-02T00:00:00+14:00", T),
    ],
)
def test_times_become_whole_unix_seconds(value, expected):
    assert to_unix(value) == expected


@pytest.mark.parametrize(
    "value",
    ["", "yesterday", "2024-13-01T00:00:00Z", None, True, False, {}, [], float("nan"),
     float("inf"), 1e300, 10**400, "1e400"],
)
def test_unparseable_times_are_unknown(value):
    assert to_seconds(value) is None and to_unix(value) is None


def test_precise_seconds_keep_the_fraction():
    assert math.isclose(to_seconds("2024-05-01T10:00:00.250Z"), T + 0.25)
