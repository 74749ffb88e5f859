"""The elements that flow between the pipeline's stages.

`Outbound` is one mapped request with the event it came from (kept as JSON
bytes, so a failure at delivery can still dead-letter the original event);
`HttpCall` is one HTTP request ready to send: a v1 call, or a v2 batch that
carries many items and so many source events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from transforms import CioRequest


# The key of a group of calls that may hold anyone's requests (any person,
# any shard): delivery sends it after every group before it and before any
# group after it. Other keys are a person ("id:42") or a shard number.
ALL_KEYS = "*"


# Positions in an Outbound's wire form that batching and ordering read.
WIRE_URL, WIRE_BODY, WIRE_PERSON, WIRE_MESSAGE_ID, WIRE_TIME, WIRE_TYPE, WIRE_SOURCE = 1, 2, 4, 5, 6, 7, 8
# When the job keeps a progress record, resume.SkipDone appends the
# request's fingerprint to its wire form (see pipeline/resume.py).
WIRE_KEY = 9


def key_of(wire: tuple) -> int | None:
    """The request's progress fingerprint, when the job records progress."""
    return wire[WIRE_KEY] if len(wire) > WIRE_KEY else None


@dataclass(slots=True)
class Outbound:
    """A mapped request and its source event (orjson bytes)."""

    request: CioRequest
    event: bytes

    # Between stages an Outbound travels as a plain tuple (its "wire" form):
    # wherever Beam materializes elements (a Flatten of several producers, a
    # GroupByKey) its FastPrimitivesCoder encodes such a tuple in C, while a
    # dataclass falls back to pickle each way, which would be most of the
    # pipeline's per-event cost (bench/bench_pipeline.py). Batching and ordering read
    # the wire form in place (the WIRE_* positions above), see batching.py.
    def to_wire(self) -> tuple:
        return Outbound.wire(self.request, self.event)

    @staticmethod
    def wire(request: CioRequest, event: bytes) -> tuple:
        """The wire form of Outbound(request, event), without building one."""
        r = request
        return (r.method, r.url, r.body, r.batch_item, r.person_key, r.message_id, r.timestamp,
                r.event_type, event)

    @staticmethod
    def from_wire(wire: tuple) -> "Outbound":
        return Outbound(CioRequest(*wire[:8]), wire[8])


@dataclass(slots=True)
class HttpCall:
    """One HTTP request to send, with the source events of its body.

    For a v2 batch, ``events[i]`` is the source of ``batch[i]``, so a 207
    answer can dead-letter exactly the items it lists.
    """

    method: str
    url: str
    body: bytes | None
    endpoint: str
    events: list[bytes]
    batch: bool
    # Progress fingerprints of the requests (``keys[i]`` of ``batch[i]``),
    # when the job records progress (pipeline/resume.py); else None.
    keys: list[int] | None = None
    # Positions in ``events`` of follow-up items (an event's second request,
    # transforms.request.FOLLOW_UP): they carry their event so that a failure
    # dead-letters it, but each event is counted once, by its first request.
    follow_ups: tuple[int, ...] = ()

    def events_counted(self, failed=()) -> tuple[int, int]:
        """(delivered, dead-lettered) events of this call, follow-ups not counted,
        when the items at the positions ``failed`` were dead-lettered."""
        follow_ups = self.follow_ups
        dead = sum(1 for i in failed if i not in follow_ups)
        return len(self.events) - len(follow_ups) - dead, dead


# Collapses the variable parts of a path, so that metrics have few names:
# /api/v1/customers/u%401/devices/tok -> /api/v1/customers/{id}/devices/{token}
_PATH_PARTS = (
    (re.compile(r"^/api/v1/customers/[^/?]+"), "/api/v1/customers/{id}"),
    (re.compile(r"/devices/[^/?]+$"), "/devices/{token}"),
    (re.compile(r"^/api/v1/segments/[^/?]+"), "/api/v1/segments/{segment}"),
)


def endpoint_label(method: str, url: str) -> str:
    """A metrics label such as ``POST /api/v1/customers/{id}/events``."""
    path = url.split("://", 1)[-1]
    path = path[path.find("/"):] if "/" in path else "/"
    path = path.split("?", 1)[0]
    for pattern, replacement in _PATH_PARTS:
        path = pattern.sub(replacement, path)
    return f"{method} {path}"


def single_call(outbound: Outbound, key: int | None = None) -> HttpCall:
    """The HTTP call of a request that is sent on its own (not batched)."""
    request = outbound.request
    return HttpCall(
        method=request.method,
        url=request.url,
        body=request.body,
        endpoint=endpoint_label(request.method, request.url),
        events=[outbound.event],
        batch=False,
        keys=None if key is None else [key],
    )


def single_call_of_wire(wire: tuple) -> HttpCall:
    """single_call of a request in wire form (with its fingerprint, if any)."""
    return single_call(Outbound.from_wire(wire), key_of(wire))
