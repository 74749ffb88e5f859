"""Dead-letter records: what could not be delivered, and why.

One JSON object per failed event, shaped so that a fixed file can be fed
back with ``--input`` (the original event sits under ``event``; text that did
not even parse sits under ``raw``). Nothing secret goes in: records hold the
event, our reason and Customer.io's answer, never request headers.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import orjson

# Tag of the dead-letter output of every DoFn that can fail an element.
DEAD_LETTER = "dead_letter"

STAGES = ("parse", "sync", "map", "deliver")

# A raw line longer than this is cut in the record (it did not parse anyway).
MAX_RAW_CHARS = 1_000_000


def shorten(text: str, width: int) -> str:
    """`text` cut to at most `width` characters at a word boundary, with an ellipsis when cut.

    A word longer than the room left (a URL, say) is cut where the room ends.
    """
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space >= width // 2:
        cut = cut[:space]
    return cut.rstrip(" :,;") + "\u2026"


def _now_iso() -> str:
    return datetime.fromtimestamp(time.time(), tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dead_letter_record(
    stage: str,
    error: str,
    *,
    event: bytes | None = None,
    raw: bytes | str | None = None,
    status: int | None = None,
    attempts: int = 0,
    follow_up: bool = False,
) -> bytes:
    """Serializes one dead-letter record as a JSON line (without newline).

    ``event`` is the original event as JSON bytes (embedded as is, not
    re-serialized); ``raw`` the input text when it was not a JSON object.
    ``follow_up``: the request that failed was the event's second (see
    transforms.request.FOLLOW_UP); the record says so, and the summary
    counts the record but not the event again.
    """
    record: dict = {}
    if event is not None:
        record["event"] = orjson.Fragment(event)
    else:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        record["raw"] = (raw or "")[:MAX_RAW_CHARS]
    record["error"] = error
    record["stage"] = stage
    record["status"] = status
    record["attempts"] = attempts
    record["failed_at"] = _now_iso()
    if follow_up:
        record["follow_up"] = True
    return orjson.dumps(record)
