"""One person's requests, in event-time order, one at a time.

Customer.io orders attribute updates by timestamp and needs a person to exist
before a merge, so the v1 calls of one person are grouped by person and sent
by one delivery task in order (docs/ordering.md states the promise).

Two ways to group, one order (`in_send_order`):

- `OrderPerPerson`, a GroupByKey per window: works the same under
  TestStream and on Dataflow (whose shuffle is disk-backed), where
  BEAM-NOTES found OrderedListState does not. Streaming jobs and Dataflow
  use it.
- `OrderPerPersonOnDisk`, for batch jobs on the local runner, whose
  GroupByKey holds every request in memory until the input is done: the
  requests are spilled to partition files by person (`pipeline.spill`) as
  they are read, and each partition is then loaded, ordered and handed to
  delivery alone, so memory holds one partition at a time.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from pipeline.calls import WIRE_MESSAGE_ID, WIRE_PERSON, WIRE_TIME, WIRE_TYPE, single_call_of_wire
from pipeline.spill import PARTITIONS, PartitionedFiles, PartitionWriter, bounded_partitions

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
            | "SortByEventTime" >> beam.MapTuple(lambda key, group: (key, ordered_calls(group)))
        )


def ordered_calls(wire_group) -> list:
    """A person's requests (wire form) -> their HttpCalls, in send order."""
    return [single_call_of_wire(w) for w in in_send_order(wire_group)]


def people_in_order(wires: Iterable[tuple]) -> Iterator[tuple[str, list]]:
    """Requests of any people -> (person key, [HttpCall, ...] in send order) per person.

    Each person's list is built only when its turn comes, and the requests
    of people already handed on are released.
    """
    groups: dict[str, list[tuple]] = {}
    for wire in wires:
        key = person_key(wire)
        group = groups.get(key)
        if group is None:
            groups[key] = [wire]
        else:
            group.append(wire)
    while groups:
        key = next(iter(groups))
        yield key, ordered_calls(groups.pop(key))


class SpillToPartitions(beam.DoFn):
    """v1 requests -> (partition, spill file) per partition a bundle wrote to.

    Runs in the fused stage that reads and maps, so requests go to disk as
    they are mapped; only file names reach the GroupByKey after it.
    """

    def __init__(self, directory: str, partitions: int = PARTITIONS):
        self.directory = directory
        self.partitions = partitions

    def start_bundle(self):
        self.writer = PartitionWriter(self.directory, self.partitions)

    def process(self, wire):
        self.writer.add(wire)

    def finish_bundle(self):
        for partition, path in sorted(self.writer.close().items()):
            yield GlobalWindows.windowed_value((partition, path))
        self.writer = None


class OrderPartition(beam.DoFn):
    """(partition, [spill files]) -> (person, [HttpCall, ...] in send order)
    for every person of the partition.

    Loads one partition (split further on disk first when it is larger than
    spill.MAX_PARTITION_BYTES), so memory holds one partition's requests;
    deletes its files once everything in them has been handed on.
    """

    def __init__(self, directory: str):
        self.directory = directory

    def process(self, element):
        _, paths = element
        for part in bounded_partitions(PartitionedFiles(list(paths)), self.directory):
            yield from people_in_order(part.requests())
            part.remove()


class OrderPerPersonOnDisk(beam.PTransform):
    """Outbound v1 requests (wire form) -> (person, [HttpCall, ...] in send order),
    through partition files in `directory` (a batch job on the local runner)."""

    def __init__(self, directory: str, partitions: int = PARTITIONS):
        super().__init__()
        self.directory = directory
        self.partitions = partitions

    def expand(self, outbounds):
        return (
            outbounds
            | "SpillToPartitions" >> beam.ParDo(SpillToPartitions(self.directory, self.partitions))
            | "GroupFilesByPartition" >> beam.GroupByKey()
            | "OrderPartition" >> beam.ParDo(OrderPartition(self.directory))
        )
