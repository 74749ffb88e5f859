"""Dispatch: one mapper per event type (MAPPING.md, all sections).

``map_event`` is the entry point of the pipeline: it finds the event's type
and hands it to the mapper, which returns the Customer.io requests (normally
one) or raises ``MappingError`` with the reason for the dead-letter output.
"""

from __future__ import annotations

from typing import Callable

from transforms.errors import MappingError
from transforms.events import map_page, map_screen, map_track
from transforms.identify import map_identify
from transforms.ids import clip, json_kind
from transforms.merge import map_alias
from transforms.objects import map_group
from transforms.records import map_record
from transforms.request import CioRequest
from transforms.settings import Settings

EVENT_TYPES = ("identify", "track", "page", "screen", "group", "alias", "record")

Mapper = Callable[[dict, Settings], "list[CioRequest]"]

MAPPERS: dict[str, Mapper] = {
    "identify": map_identify,
    "track": map_track,
    "page": map_page,
    "screen": map_screen,
    "group": map_group,
    "alias": map_alias,
    "record": map_record,
}


def event_type(event: dict) -> str:
    """The event's type, lowercased; MappingError when missing or unknown."""
    value = event.get("type")
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in MAPPERS:
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
    mapper = MAPPERS.get(kind) if type(kind) is str else None  # the usual, lowercase type
    if mapper is None:
        mapper = MAPPERS[event_type(event)]
    try:
        return mapper(event, settings)
    except MappingError:
        raise
    except Exception as err:  # pragma: no cover - a bug, kept out of the dead ends
        raise MappingError(f"internal mapping error: {type(err).__name__}: {clip(str(err), 100)}") from err
