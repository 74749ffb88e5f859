"""One person's requests, in event-time order, one at a time.

Customer.io orders attribute updates by timestamp and needs a person to exist
before a merge, so the v1 calls of one person are grouped by person and sent
by one delivery task in order. Grouping (GroupByKey per window) works the same
on DirectRunner, under TestStream and on Dataflow, where BEAM-NOTES found
OrderedListState does not.
"""

from __future__ import annotations

import apache_beam as beam

from pipeline.calls import WIRE_MESSAGE_ID, WIRE_PERSON, WIRE_TIME, WIRE_TYPE, single_call_of_wire

_NO_TIME = float("inf")


def _time_of(wire: tuple) -> float:
    ts = wire[WIRE_TIME]
    return _NO_TIME if ts is None else ts


def in_send_order(wires) -> list[tuple]:
    """Sorts requests (wire form) by event time (unknown times last), stable otherwise.

    A merge (alias) that would go before the first identify of its primary
    person is held back until just after that identify: Customer.io can only
    merge into a person that exists.
    """
    ordered = sorted(wires, key=_time_of)
    first_identify: dict[str, int] = {}
    for i, wire in enumerate(ordered):
        if wire[WIRE_TYPE] == "identify":
            first_identify.setdefault(wire[WIRE_PERSON], i)
    if not first_identify:
        return ordered
    result: list[tuple] = []
    held: dict[str, list[tuple]] = {}
    for i, wire in enumerate(ordered):
        key = wire[WIRE_PERSON]
        if wire[WIRE_TYPE] == "alias" and first_identify.get(key, -1) > i:
            held.setdefault(key, []).append(wire)
            continue
        result.append(wire)
        if key in held and first_identify.get(key) == i:
            result.extend(held.pop(key))
    return result


def person_key(wire: tuple) -> str:
    """The grouping key of a request (wire form): the person, else the event itself (no order needed)."""
    return wire[WIRE_PERSON] or f"message:{wire[WIRE_MESSAGE_ID] or id(wire)}"


class OrderPerPerson(beam.PTransform):
    """Outbound v1 requests (wire form) -> (person, [HttpCall, ...] in send order)."""

    def expand(self, outbounds):
        return (
            outbounds
            | "KeyByPerson" >> beam.Map(lambda wire: (person_key(wire), wire))
            | "GroupByPerson" >> beam.GroupByKey()
            | "SortByEventTime" >> beam.MapTuple(
                lambda key, group: (key, [single_call_of_wire(w) for w in in_send_order(group)])
            )
        )
