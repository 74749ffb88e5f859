"""Dispatch: one mapper per event type (docs/mapping.md, all sections).

``map_event`` is the entry point of the pipeline: it finds the event's type
and hands it to the mapper, which returns what the event means as
operations (``transforms.operations``, normally one) or raises
``MappingError`` with the reason for the dead-letter output; the renderers
(``transforms.render``) then write each operation as the Customer.io request
of the settings' API version.
"""

from __future__ import annotations

from typing import Callable

from transforms.errors import MappingError
from transforms.events import map_page, map_screen, map_track
from transforms.identify import map_identify
from transforms.ids import clip, json_kind
from transforms.merge import map_alias
from transforms.objects import map_group
from transforms.operations import Operation
from transforms.records import map_record
from transforms.render import RENDERERS_BY_VERSION
from transforms.request import CioRequest
from transforms.settings import Settings

EVENT_TYPES = ("identify", "track", "page", "screen", "group", "alias", "record")

OperationMapper = Callable[[dict, Settings], "list[Operation]"]
Mapper = Callable[[dict, Settings], "list[CioRequest]"]

# What each event type means: its operations (the version-neutral step).
OPERATIONS: dict[str, OperationMapper] = {
    "identify": map_identify,
    "track": map_track,
    "page": map_page,
    "screen": map_screen,
    "group": map_group,
    "alias": map_alias,
    "record": map_record,
}


# The renderers and URLs of the last Settings mapped with, as (settings,
# renderers, urls): a pipeline maps all its events with one Settings, and
# reading a pydantic field (the API version) or a cached_property of the
# model goes through its attribute hooks, several times the cost of this
# identity check. Settings are frozen: the triple cannot go stale.
_last_renderers: tuple = (None, None, None)


def _renderers_for(settings: Settings) -> tuple:
    """``(RENDERERS_BY_VERSION[settings.api_version], settings.urls)``, remembered for the next event."""
    global _last_renderers
    renderers = RENDERERS_BY_VERSION[settings.api_version]
    _last_renderers = (settings, renderers, settings.urls)
    return _last_renderers


def _to_requests(operations_of: OperationMapper) -> Mapper:
    def map_kind(event: dict, settings: Settings) -> list[CioRequest]:
        operations = operations_of(event, settings)
        known, renderers, urls = _last_renderers
        if settings is not known:
            known, renderers, urls = _renderers_for(settings)
        if len(operations) == 1:  # render_all inlined: this runs per event
            operation = operations[0]
            return [renderers[type(operation)](operation, urls)]
        return [renderers[type(operation)](operation, urls) for operation in operations]

    map_kind.__name__ = map_kind.__qualname__ = operations_of.__name__
    map_kind.__doc__ = f"The requests of ``{operations_of.__module__}.{operations_of.__name__}``'s operations."
    return map_kind


# Event type -> the Customer.io requests of such an event (what the pipeline calls).
MAPPERS: dict[str, Mapper] = {kind: _to_requests(mapper) for kind, mapper in OPERATIONS.items()}


def event_type(event: dict) -> str:
    """The event's type, lowercased; MappingError when missing or unknown."""
    value = event.get("type")
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in OPERATIONS:
            return lowered
        raise MappingError(f"could not determine type {clip(value)}")
    shown = "(missing)" if value is None and "type" not in event else json_kind(value)
    raise MappingError(f"could not determine type {shown}")


def map_event(event: dict, settings: Settings) -> list[CioRequest]:
    """The Customer.io requests for ``event``; raises only MappingError.

    The mappers raise only MappingError for any input dict (a property test
    checks it); anything else would be a bug here, and it is still turned
    into a MappingError so one bad event never stops the pipeline.
    """
    if not isinstance(event, dict):
        raise MappingError(f"expected a JSON object, got {json_kind(event)}")
    kind = event.get("type")
    mapper = OPERATIONS.get(kind) if type(kind) is str else None  # the usual, lowercase type
    if mapper is None:
        mapper = OPERATIONS[event_type(event)]
    try:
        operations = mapper(event, settings)
        known, renderers, urls = _last_renderers  # see _renderers_for
        if settings is not known:
            known, renderers, urls = _renderers_for(settings)
        if len(operations) == 1:  # render_all inlined: this runs per event
            operation = operations[0]
            return [renderers[type(operation)](operation, urls)]
        return [renderers[type(operation)](operation, urls) for operation in operations]
    except MappingError:
        raise
    except Exception as err:  # pragma: no cover - a bug, kept out of the dead ends
        raise MappingError(f"internal mapping error: {type(err).__name__}: {clip(str(err), 100)}") from err
