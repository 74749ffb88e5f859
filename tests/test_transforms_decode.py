"""decode_events: one message or JSON line → event dicts and per-element errors."""

import pytest

from transforms import MappingError, decode_events


@pytest.mark.parametrize(
    "data, expected",
    [
        (b'{"type":"track"}', [{"type": "track"}]),
        ('{"type":"track"}', [{"type": "track"}]),
        (b'{"type":"track"}\n', [{"type": "track"}]),
        (b'[{"a":1},{"b":2}]', [{"a": 1}, {"b": 2}]),
        (b"[]", []),
        (b"", []),
        (b"  \n\t", []),
        ("   ", []),
        ('{"name":"Zoë ✓"}'.encode(), [{"name": "Zoë ✓"}]),
    ],
)
def test_valid_input(data, expected):
    assert decode_events(data) == expected


@pytest.mark.parametrize(
    "data, messages",
    [
        (b'[{"a":1}, 5, "x", null, true, [1], 1.5]',
         [None, "expected a JSON object, got number", "expected a JSON object, got string",
          "expected a JSON object, got null", "expected a JSON object, got boolean",
          "expected a JSON object, got array", "expected a JSON object, got number"]),
        (b'"just a string"', ["expected a JSON object, got string"]),
        (b"42", ["expected a JSON object, got number"]),
        (b"null", ["expected a JSON object, got null"]),
        (b"false", ["expected a JSON object, got boolean"]),
    ],
)
def test_elements_that_are_not_objects_become_errors(data, messages):
    result = decode_events(data)
    assert len(result) == len(messages)
    for got, message in zip(result, messages):
        if message is None:
            assert isinstance(got, dict)
        else:
            assert isinstance(got, MappingError) and str(got) == message


@pytest.mark.parametrize("data", [b"{not json", b'{"a":1} trailing', b"\xff\xfe{}", b'{"a": NaN}', b"[1e400]"])
def test_not_json_is_one_error(data):
    result = decode_events(data)
    assert len(result) == 1 and isinstance(result[0], MappingError)
    assert str(result[0]).startswith("invalid JSON: ")
    assert len(str(result[0])) < 130
