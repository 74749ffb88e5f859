"""Pydantic models of the incoming events.

They accept what real SDKs send (unknown keys are kept, ids may be strings or
numbers, traits may sit under ``traits`` or ``context.traits``; track, page
and screen events, which only read ids from their traits, accept traits of
any type and the look-ups ignore one that is not an object) and turn what
cannot be mapped into a ``MappingError`` with a short reason: the field path
and the problem, never an echo of a large input.

Only the fields the mapping reads are modelled; objects that are copied as
they are (traits, properties) are checked to be objects but not copied.

Speed: a full pydantic validation costs more than all the rest of the
mapping, so ``validate`` first asks a hand-written check (``fits``, at the
end of this module) whether the dict plainly fits, and calls pydantic only
when it does not, to word the error. Mappers then read the checked dict.
Tests hold the two to the same verdicts: a property test on random JSON
events, and one that breaks each validated field of each model in turn.
"""

from __future__ import annotations

from typing import Annotated, Any, Mapping, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from transforms.errors import MappingError
from transforms.ids import json_kind

_MAPPING = "mapping"  # error type whose message is a complete spec error text


def _object(value: Any) -> Any:
    if value is None or isinstance(value, dict):
        return value
    raise PydanticCustomError("object_type", "must be an object (got {got})", {"got": json_kind(value)})


def _id(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("id_type", "must be a string or a number (got {got})", {"got": json_kind(value)})


def _string(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    raise PydanticCustomError("string_type", "must be a string (got {got})", {"got": json_kind(value)})


def _list(value: Any) -> Any:
    if value is None or isinstance(value, list):
        return value
    raise PydanticCustomError("list_type", "must be an array (got {got})", {"got": json_kind(value)})


def _track_name(value: Any) -> Any:
    if isinstance(value, str) and value:
        return value
    raise PydanticCustomError(_MAPPING, "Event is a required field and should be a string")


Obj = Annotated[Optional[dict], BeforeValidator(_object)]
"""A JSON object copied as it is (or None)."""
Id = Annotated[Any, BeforeValidator(_id)]
"""An id: string or number (or None)."""
Str = Annotated[Optional[str], BeforeValidator(_string)]
Arr = Annotated[Optional[list], BeforeValidator(_list)]

_LOOSE = ConfigDict(extra="allow", hide_input_in_errors=True, frozen=True)


class Device(BaseModel):
    model_config = _LOOSE
    token: Id = None
    type: Any = None
    model: Any = None


class Os(BaseModel):
    model_config = _LOOSE
    name: Any = None


class App(BaseModel):
    model_config = _LOOSE
    version: Any = None


class Context(BaseModel):
    model_config = _LOOSE
    traits: Obj = None
    device: Optional[Device] = None
    os: Optional[Os] = None
    app: Optional[App] = None
    locale: Any = None
    externalId: Arr = None
    mappedToDestination: Any = None


class Event(BaseModel):
    """What every event type shares."""

    model_config = _LOOSE
    type: Any = None
    userId: Id = None
    anonymousId: Id = None
    messageId: Id = None
    timestamp: Any = None
    originalTimestamp: Any = None
    traits: Obj = None
    properties: Obj = None
    context: Optional[Context] = None


class Identify(Event):
    user_properties: Obj = None


class ActivityContext(Context):
    """The context of a track, page or screen event: any ``traits`` value is accepted."""

    traits: Any = None


class Activity(Event):
    """What track, page and screen share: their traits are only read for the person's ids.

    A ``traits`` or ``context.traits`` that is not an object (an array, a
    string) is no reason to lose the event: the look-ups ignore it, as if it
    were absent. Identify and group keep the check: their traits are what
    they send.
    """

    traits: Any = None
    context: Optional[ActivityContext] = None


class Track(Activity):
    event: Annotated[Any, BeforeValidator(_track_name)] = Field(None, validate_default=True)


class Page(Activity):
    name: Any = None


class Screen(Activity):
    name: Any = None
    event: Any = None


class Group(Event):
    groupId: Id = None


class Alias(Event):
    previousId: Id = None


class Record(BaseModel):
    """A warehouse (reverse-ETL) row: section 6."""

    model_config = _LOOSE
    type: Any = None
    action: Any = None
    identifiers: Obj = None
    fields: Obj = None
    messageId: Id = None


def _describe(error: Mapping[str, Any]) -> str:
    if error["type"] == _MAPPING:
        return error["msg"]
    path = ".".join(str(part) for part in error["loc"])
    message = error["msg"]
    if error["type"] in ("model_type", "model_attributes_type"):
        message = f"must be an object (got {json_kind(error.get('input'))})"
    return f"{path} {message}" if path else message


def parse(model: type[BaseModel], event: dict) -> Any:
    """``model`` validated from ``event``; a MappingError when that fails."""
    try:
        return model.model_validate(event)
    except ValidationError as err:
        raise MappingError(_describe(err.errors(include_url=False)[0])) from None


# ---- the fast path ------------------------------------------------------------
# What orjson can hand us is already known: keys are strings, values are
# dict, list, str, int, float, bool or None. So a field fits when its exact
# type is in the set its validator accepts as it is; anything else
# (including str or dict subclasses from Python callers) goes to pydantic.
_NONE = type(None)
_ID = frozenset((_NONE, str, int, float))  # _id: bool is refused (type(True) is bool)
_OBJECT = frozenset((_NONE, dict))  # _object, and the Context/Device/Os/App sub-models
_ARRAY = frozenset((_NONE, list))  # _list


def _activity_fits(event: dict) -> bool:
    """``Activity``: the fields every event type shares, traits left unchecked.

    ``ActivityContext`` is checked inline (one call less per event):
    externalId an array, device/os/app objects, device.token an id.
    """
    get = event.get
    if not (type(get("userId")) in _ID and type(get("anonymousId")) in _ID and type(get("messageId")) in _ID
            and type(get("properties")) in _OBJECT):
        return False
    context = get("context")
    if context is None:
        return True
    if type(context) is not dict:
        return False
    device = context.get("device")
    if device is not None and (type(device) is not dict or type(device.get("token")) not in _ID):
        return False
    return (type(context.get("os")) in _OBJECT and type(context.get("app")) in _OBJECT
            and type(context.get("externalId")) in _ARRAY)


def _event_fits(event: dict) -> bool:
    """``Event``: ``Activity`` plus ``traits`` and ``context.traits`` objects."""
    if not _activity_fits(event) or type(event.get("traits")) not in _OBJECT:
        return False
    context = event.get("context")
    return context is None or type(context.get("traits")) in _OBJECT


def _identify_fits(event: dict) -> bool:
    return _event_fits(event) and type(event.get("user_properties")) in _OBJECT


def _track_fits(event: dict) -> bool:
    name = event.get("event")  # _track_name: a non-empty string, required
    return type(name) is str and name != "" and _activity_fits(event)


def _group_fits(event: dict) -> bool:
    return _event_fits(event) and type(event.get("groupId")) in _ID


def _alias_fits(event: dict) -> bool:
    return _event_fits(event) and type(event.get("previousId")) in _ID


def _record_fits(record: dict) -> bool:
    get = record.get
    return (type(get("identifiers")) in _OBJECT and type(get("fields")) in _OBJECT
            and type(get("messageId")) in _ID)


# One check per model; Page and Screen add no validated field to Activity.
FITS = {
    Identify: _identify_fits,
    Track: _track_fits,
    Page: _activity_fits,
    Screen: _activity_fits,
    Group: _group_fits,
    Alias: _alias_fits,
    Record: _record_fits,
}


def validate(model: type[BaseModel], event: dict) -> dict:
    """``event`` itself once it is known to fit ``model``; else a MappingError.

    The verdict is pydantic's: ``FITS`` only says yes when pydantic would,
    and when it says no, ``parse`` decides and words the error.
    """
    if FITS[model](event):
        return event
    parse(model, event)  # raises the worded MappingError
    return event  # pydantic accepts it after all (e.g. a str subclass from a Python caller)
