"""One person's requests, in event-time order, one at a time.

Customer.io orders attribute updates by timestamp and needs a person to exist
before a merge, so the v1 calls of one person are grouped by person and sent
by one delivery task in order. Grouping (GroupByKey per window) works the same
on DirectRunner, under TestStream and on Dataflow, where BEAM-NOTES found
OrderedListState does not.
"""

from __future__ import annotations

import apache_beam as beam

from pipeline.calls import HttpCall, Outbound, single_call

_NO_TIME = float("inf")


def _time_of(outbound: Outbound) -> float:
    ts = outbound.request.timestamp
    return _NO_TIME if ts is None else ts


def in_send_order(outbounds) -> list[Outbound]:
    """Sorts requests by event time (unknown times last), stable otherwise.

    A merge (alias) that would go before the first identify of its primary
    person is held back until just after that identify: Customer.io can only
    merge into a person that exists.
    """
    ordered = sorted(outbounds, key=_time_of)
    first_identify: dict[str, int] = {}
    for i, outbound in enumerate(ordered):
        if outbound.request.event_type == "identify":
            first_identify.setdefault(outbound.request.person_key, i)
    if not first_identify:
        return ordered
    result: list[Outbound] = []
    held: dict[str, list[Outbound]] = {}
    for i, outbound in enumerate(ordered):
        key = outbound.request.person_key
        if outbound.request.event_type == "alias" and first_identify.get(key, -1) > i:
            held.setdefault(key, []).append(outbound)
            continue
        result.append(outbound)
        if key in held and first_identify.get(key) == i:
            result.extend(held.pop(key))
    return result


def person_key(outbound: Outbound) -> str:
    """The grouping key: the person, else the event itself (no order needed)."""
    request = outbound.request
    return request.person_key or f"message:{request.message_id or id(outbound)}"


class OrderPerPerson(beam.PTransform):
    """Outbound v1 requests (wire form) -> (person, [HttpCall, ...] in send order)."""

    def expand(self, outbounds):
        return (
            outbounds
            | "KeyByPerson" >> beam.Map(lambda wire: (person_key(Outbound.from_wire(wire)), wire))
            | "GroupByPerson" >> beam.GroupByKey()
            | "SortByEventTime" >> beam.MapTuple(
                lambda key, group: (
                    key, [single_call(o) for o in in_send_order(map(Outbound.from_wire, group))]
                )
            )
        )
