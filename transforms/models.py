"""Pydantic models of the incoming events.

They accept what real SDKs send (unknown keys are kept, ids may be strings or
numbers, traits may sit under ``traits`` or ``context.traits``) and turn what
cannot be mapped into a ``MappingError`` with a short reason: the field path
and the problem, never an echo of a large input.

Only the fields the mapping reads are modelled; objects that are copied as
they are (traits, properties) are checked to be objects but not copied.

Speed: a full pydantic validation costs more than all the rest of the
mapping, so ``validate`` first runs the models' own field validators
directly on the dict (a check list compiled from the models, so the two
cannot drift apart) and calls pydantic only when that finds a problem, to
word the error. Mappers then read the checked dict.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Optional

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


# Exact types each validator accepts as they are: the fast path skips the call.
_object.accepts = frozenset((dict,))
_id.accepts = frozenset((str, int, float))
_string.accepts = frozenset((str,))
_list.accepts = frozenset((list,))


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


class Track(Event):
    event: Annotated[Any, BeforeValidator(_track_name)] = Field(None, validate_default=True)


class Page(Event):
    name: Any = None


class Screen(Event):
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


def _describe(error: dict) -> str:
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
def _submodel(annotation: Any) -> type[BaseModel] | None:
    for arg in typing.get_args(annotation) or (annotation,):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _compile(model: type[BaseModel]) -> tuple:
    """(key, validator, types it accepts as is, sub-checks, run-when-missing) per checked field."""
    checks = []
    for name, field in model.model_fields.items():
        funcs = [m.func for m in field.metadata if isinstance(m, BeforeValidator)]
        sub = _submodel(field.annotation)
        if funcs or sub:
            func = funcs[0] if funcs else None
            accepts = getattr(func, "accepts", frozenset())
            checks.append((name, func, accepts, _compile(sub) if sub else None, bool(field.validate_default)))
    return tuple(checks)


def _check_source(checks: tuple, var: str, depth: int, names: dict) -> list[str]:
    """Python lines checking dict ``var`` against ``checks`` (see ``_checker``)."""
    pad = "    " * (depth + 1)
    lines = []
    for name, func, accepts, sub, always in checks:
        value = f"v{depth}"
        lines.append(f"{pad}{value} = {var}.get({name!r})")
        if func is not None:
            fn = names.setdefault(func, f"f{len(names)}")
            ok = f"a{fn}"
            names[ok] = accepts
            if always:
                lines.append(f"{pad}if {value} is None or type({value}) not in {ok}: {fn}({value})")
            else:
                lines.append(f"{pad}if {value} is not None and type({value}) not in {ok}: {fn}({value})")
        else:
            lines.append(f"{pad}if {value} is not None:")
            lines.append(f"{pad}    if not isinstance({value}, dict): raise TypeError({name!r})")
            inner = f"d{depth + 1}"
            lines.append(f"{pad}    {inner} = {value}")
            lines.extend(_check_source(sub, inner, depth + 1, names) or [f"{pad}    pass"])
    return lines


def _checker(model: type[BaseModel]):
    """A function that runs the model's field validators on a dict, written out.

    The check list of ``_compile`` is turned into straight-line Python once
    per model (a loop over it costs three times as much per event); it
    raises on the first field that does not fit and returns None otherwise.
    """
    names: dict = {}
    body = _check_source(_compile(model), "d0", 0, names) or ["    pass"]
    namespace = {}
    for key, value in list(names.items()):
        if callable(key):
            namespace[value] = key
        else:
            namespace[key] = value
    exec("def check(d0):\n" + "\n".join(body), namespace)  # noqa: S102 - source built from our own models
    return namespace["check"]


_CHECKS: dict[type, Any] = {}


def validate(model: type[BaseModel], event: dict) -> dict:
    """``event`` itself once it is known to fit ``model``; else a MappingError.

    Same verdict as ``parse`` (a property test holds them together), without
    building the model when the event is fine.
    """
    check = _CHECKS.get(model)
    if check is None:
        check = _CHECKS[model] = _checker(model)
    try:
        check(event)
        return event
    except Exception:
        parse(model, event)  # raises the worded MappingError
        raise MappingError(f"event does not fit the {model.__name__} model") from None
