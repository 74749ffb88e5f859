"""Input models: what SDKs send is accepted, wrong field types are clear MappingErrors."""

import copy
import typing

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from pydantic import BaseModel, BeforeValidator

from transforms import MappingError, load_settings, map_event
from transforms.models import FITS, Alias, Group, Identify, Page, Record, Screen, Track, _list, parse, validate

S = load_settings(site_id="s", api_key="k")


@pytest.mark.parametrize(
    "event, message",
    [
        ({"type": "identify", "userId": "u", "traits": ["a"]}, "traits must be an object (got array)"),
        ({"type": "identify", "userId": {"id": 1}}, "userId must be a string or a number (got object)"),
        ({"type": "track", "event": "E", "userId": "u", "properties": "x"}, "properties must be an object (got string)"),
        ({"type": "track", "event": "E", "userId": "u", "context": []}, "context must be an object (got array)"),
        ({"type": "identify", "userId": "u", "context": {"traits": 1}}, "context.traits must be an object (got number)"),
        ({"type": "group", "groupId": "g", "context": {"traits": []}}, "context.traits must be an object (got array)"),
        ({"type": "track", "event": "E", "userId": "u", "context": {"device": "x"}},
         "context.device must be an object (got string)"),
        ({"type": "track", "event": "E", "userId": "u", "context": {"device": {"token": True}}},
         "context.device.token must be a string or a number (got boolean)"),
        ({"type": "track", "event": "E", "userId": "u", "context": {"externalId": {"id": 1}}},
         "context.externalId must be an array (got object)"),
        ({"type": "identify", "userId": "u", "user_properties": [1]}, "user_properties must be an object (got array)"),
        ({"type": "alias", "userId": "u", "previousId": [1]}, "previousId must be a string or a number (got array)"),
        ({"type": "group", "groupId": {"x": 1}}, "groupId must be a string or a number (got object)"),
        ({"type": "record", "action": "insert", "fields": [1]}, "fields must be an object (got array)"),
        ({"type": "track", "userId": "u"}, "Event is a required field and should be a string"),
    ],
)
def test_wrong_field_types_are_clear_mapping_errors(event, message):
    with pytest.raises(MappingError) as caught:
        map_event(event, S)
    assert str(caught.value) == message


def test_unknown_keys_are_kept_and_numbers_accepted_as_ids():
    model = parse(Track, {"event": "E", "userId": 42, "custom": {"x": 1}, "context": {"ip": "1.2.3.4"}})
    assert model.userId == 42 and model.custom == {"x": 1} and model.context.ip == "1.2.3.4"


def test_errors_do_not_echo_large_input():
    with pytest.raises(MappingError) as caught:
        map_event({"type": "track", "event": "E", "properties": "x" * 10_000}, S)
    assert len(str(caught.value)) < 100


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
fields = st.sampled_from(["userId", "anonymousId", "messageId", "traits", "properties", "context", "event",
                          "name", "groupId", "previousId", "user_properties", "identifiers", "fields", "action"])
context = st.fixed_dictionaries({}, optional={
    "traits": json_values, "device": json_values | st.fixed_dictionaries({}, optional={"token": json_values}),
    "os": json_values, "app": json_values, "externalId": json_values})
events = st.dictionaries(fields, json_values, max_size=6).flatmap(
    lambda d: st.just(d) | context.map(lambda c: {**d, "context": c}))


def pydantic_accepts(model, event) -> bool:
    """The pydantic model's verdict on `event`."""
    try:
        parse(model, event)
    except MappingError:
        return False
    return True


@hsettings(max_examples=300, deadline=None)
@given(events, st.sampled_from([Identify, Track, Page, Screen, Group, Alias, Record]))
def test_fast_check_and_pydantic_agree(event, model):
    """``validate`` (fast path) accepts exactly what the pydantic model accepts."""
    accepted = pydantic_accepts(model, event)
    try:
        assert validate(model, event) is event
        assert accepted
    except MappingError:
        assert not accepted


@hsettings(max_examples=300, deadline=None)
@given(events, st.sampled_from([Identify, Track, Page, Screen, Group, Alias, Record]))
def test_fast_check_is_exact_for_json_input(event, model):
    """For what orjson can produce, ``FITS`` alone gives pydantic's verdict (pydantic is not needed)."""
    assert FITS[model](event) is pydantic_accepts(model, event)


def _validated_paths(model, prefix=()):
    """(path, validator or sub-model) of every field of ``model`` that is checked, nested ones included."""
    for name, field in model.model_fields.items():
        path = prefix + (name,)
        validators = [m.func for m in field.metadata if isinstance(m, BeforeValidator)]
        if validators:
            yield path, validators[0]
        for arg in typing.get_args(field.annotation) or (field.annotation,):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                yield path, arg
                yield from _validated_paths(arg, path)


_FITTING = {Track: {"event": "E"}}


@pytest.mark.parametrize("model", [Identify, Track, Page, Screen, Group, Alias, Record])
def test_fast_check_covers_every_validated_field(model):
    """Breaking any validated field (nested ones too) fails both pydantic and the fast check.

    Guards against a field added to a model but not to its fast check.
    """
    base = _FITTING.get(model, {})
    assert FITS[model](base) and parse(model, base)
    paths = list(_validated_paths(model))
    assert paths
    for path, check in paths:
        wrong = {} if check is _list else []
        event = copy.deepcopy(base)
        inner = event
        for key in path[:-1]:
            inner = inner.setdefault(key, {})
        inner[path[-1]] = wrong
        with pytest.raises(MappingError):
            parse(model, event)
        assert not FITS[model](event), path
