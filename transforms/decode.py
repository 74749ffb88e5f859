"""Raw message bytes to event dicts.

A Pub/Sub message or one line of a JSON-lines file holds one event object or
a JSON array of event objects. Each event comes back as a dict, or as a
``MappingError`` saying why it is not one, so the pipeline can route every
element on its own.
"""

from __future__ import annotations

import orjson

from transforms.errors import MappingError
from transforms.ids import clip, json_kind


def decode_events(data: bytes | str) -> list[dict | MappingError]:
    """The events in ``data``: a dict per event, a MappingError per bad element.

    Text that is not JSON (or not UTF-8) gives one MappingError; empty or
    whitespace-only text gives no events.
    """
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        if not data.strip():
            return []
        return [MappingError(f"invalid JSON: {clip(str(err), 100)}")]
    if isinstance(parsed, dict):
        return [parsed]
    if isinstance(parsed, list):
        return [
            item if isinstance(item, dict) else MappingError(f"expected a JSON object, got {json_kind(item)}")
            for item in parsed
        ]
    return [MappingError(f"expected a JSON object, got {json_kind(parsed)}")]
