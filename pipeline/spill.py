"""Spill files: v1 requests partitioned by person on local disk.

On the local runner a GroupByKey holds every value in memory until its
input is done, so grouping a backfill's v1 requests per person that way
grows with the input. Instead (see `pipeline.ordering.OrderPerPersonOnDisk`)
each request is appended to one of PARTITIONS files by a stable hash of its
person, and each partition is later read back alone: memory holds one
partition, and a partition too large to hold is split again on disk
(`PartitionedFiles.split`), however large the input.

A spill file is a sequence of blocks; a block is a 4-byte little-endian
length then a list of requests in their wire form (`pipeline.calls`)
encoded with Beam's FastPrimitivesCoder (C code for tuples of str, bytes,
float, bool and None). Blocks rather than one record per frame: one coder
call per block, and a reader never needs more than one block in memory.

Why not Beam's fileio.WriteToFiles: it writes records of text-like sinks,
adds its own GroupByKey per destination and renames into a final
directory; here a bundle's files are temporary, read once and deleted.

The files live in a directory of their own (`job_directory`), made under
the job's temp location and removed when the process that made it exits.
Their names hold random ids and partition numbers only.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import uuid
from typing import Iterator

from apache_beam.coders import FastPrimitivesCoder

from pipeline.calls import WIRE_BODY, WIRE_MESSAGE_ID, WIRE_PERSON, WIRE_SOURCE, WIRE_URL

# Partitions of the first spill. A loaded partition holds ~1/PARTITIONS of
# the job's v1 requests; with ~2 KB per request on disk, a million
# requests make partitions of ~8 MB, and larger inputs are split again.
PARTITIONS = 256
# Bytes of requests a writer holds before it appends them to the files.
BUFFER_BYTES = 8 << 20
# A partition larger than this on disk is split again before it is loaded.
MAX_PARTITION_BYTES = 32 << 20
# How many times a partition may be split: each split uses the next 8
# bits of the person's hash (64 bits in all), and a partition that
# still holds one person only cannot get smaller.
MAX_SPLITS = 6
# Per request, the bytes of the tuple and its small fields (roughly).
_OVERHEAD_BYTES = 64

_CODER = FastPrimitivesCoder()
_HEADER_BYTES = 4


class SpillError(RuntimeError):
    """A spill file that cannot be written (disk full) or read back (truncated)."""


def person_hash(wire: tuple) -> int | None:
    """A stable 64-bit hash of the request's person (the same in every process).

    None for a request without person or message id: it needs no order
    and may go to any partition.
    """
    key = wire[WIRE_PERSON] or wire[WIRE_MESSAGE_ID]
    if not key:
        return None
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


def partition_of(hashed: int | None, partitions: int, level: int, fallback: int) -> int:
    """The partition at split `level` (0 = the first spill) of a person's hash.

    Level 0 uses the hash modulo PARTITIONS, each later level the next
    digit (base PARTITIONS) of it, so a split of a partition spreads its
    people over all the new parts. `fallback` places unkeyed requests.
    """
    if hashed is None:
        return fallback % partitions
    return (hashed // (PARTITIONS ** level)) % partitions


def _size_of(wire: tuple) -> int:
    return len(wire[WIRE_SOURCE]) + len(wire[WIRE_BODY] or b"") + len(wire[WIRE_URL]) + _OVERHEAD_BYTES


class PartitionWriter:
    """Appends requests to one file per partition, through a bounded buffer.

    Holds at most ~`buffer_bytes` of requests: when the buffer is full,
    every partition's buffered requests are appended to its file as one
    block. `close()` returns {partition: path} of the files written.
    """

    def __init__(self, directory: str, partitions: int, level: int = 0,
                 buffer_bytes: int = BUFFER_BYTES):
        self.directory = directory
        self.partitions = partitions
        self.level = level
        self.buffer_bytes = buffer_bytes
        self.name = uuid.uuid4().hex
        self.buffers: dict[int, list[tuple]] = {}
        self.buffered = 0
        self.paths: dict[int, str] = {}
        self.unkeyed = 0
        self.people_hashes: set[int | None] = set()  # up to two: enough to tell one person from several

    @property
    def one_person(self) -> bool:
        """Whether everything written so far belongs to one person."""
        return len(self.people_hashes) == 1 and None not in self.people_hashes

    def add(self, wire: tuple) -> None:
        hashed = person_hash(wire)
        if hashed is None:
            self.unkeyed += 1
        if len(self.people_hashes) < 2:
            self.people_hashes.add(hashed)
        index = partition_of(hashed, self.partitions, self.level, self.unkeyed)
        buffer = self.buffers.get(index)
        if buffer is None:
            buffer = self.buffers[index] = []
        buffer.append(wire)
        self.buffered += _size_of(wire)
        if self.buffered >= self.buffer_bytes:
            self.flush()

    def flush(self) -> None:
        for index, wires in self.buffers.items():
            path = self.paths.get(index)
            if path is None:
                path = self.paths[index] = os.path.join(
                    self.directory, f"{self.name}-L{self.level}-P{index:03d}.spill")
            write_block(path, wires)
        self.buffers = {}
        self.buffered = 0

    def close(self) -> dict[int, str]:
        self.flush()
        return dict(self.paths)


def write_block(path: str, wires: list[tuple]) -> None:
    """Appends one block of requests to the spill file at `path`."""
    payload = _CODER.encode(wires)
    try:
        with open(path, "ab") as out:
            out.write(len(payload).to_bytes(_HEADER_BYTES, "little"))
            out.write(payload)
    except OSError as err:  # a full disk, most likely: say where, and what to do
        raise SpillError(
            f"cannot write v1 requests to {os.path.dirname(path)} ({err.strerror}): point --temp_location "
            f"at a local directory with room for about 1.3 times the input") from None


def read_blocks(path: str) -> Iterator[list[tuple]]:
    """The blocks of requests of one spill file, in the order written."""
    with open(path, "rb") as source:
        while header := source.read(_HEADER_BYTES):
            size = int.from_bytes(header, "little")
            payload = source.read(size)
            if len(header) < _HEADER_BYTES or len(payload) < size:
                raise SpillError(f"spill file {os.path.basename(path)} is truncated")
            yield _CODER.decode(payload)


class PartitionedFiles:
    """The spill files of one partition, and how to read or split them."""

    def __init__(self, paths: list[str], level: int = 0):
        self.paths = sorted(paths)
        self.level = level

    def size(self) -> int:
        return sum(os.path.getsize(path) for path in self.paths)

    def requests(self) -> Iterator[tuple]:
        for path in self.paths:
            for block in read_blocks(path):
                yield from block

    def split(self, directory: str, parts: int) -> tuple[list["PartitionedFiles"], bool]:
        """Rewrites these files as `parts` partitions of the next level (by
        the next digit of the person's hash) and deletes them; returns the
        new partitions, and whether they all hold one person's requests."""
        writer = PartitionWriter(directory, parts, self.level + 1)
        for wire in self.requests():
            writer.add(wire)
        written = writer.close()
        self.remove()
        return [PartitionedFiles([path], self.level + 1) for _, path in sorted(written.items())], writer.one_person

    def remove(self) -> None:
        for path in self.paths:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass


def bounded_partitions(files: PartitionedFiles, directory: str,
                       max_bytes: int = MAX_PARTITION_BYTES) -> Iterator[PartitionedFiles]:
    """`files`, or the parts it is split into, each at most `max_bytes` on disk
    (unless it holds a single person's requests, or MAX_SPLITS is reached)."""
    size = files.size()
    if size <= max_bytes or files.level >= MAX_SPLITS:
        yield files
        return
    parts, one_person = files.split(directory, min(PARTITIONS, -(-size // max_bytes) * 2))
    if one_person:  # no split can make one person's requests smaller
        yield from parts
        return
    for part in parts:
        yield from bounded_partitions(part, directory, max_bytes)


def default_base_directory() -> str:
    """Where a local job spills when --temp_location names no local directory.

    $TMPDIR when set (the user's choice), else the user's cache directory
    (on disk: /tmp is memory-backed tmpfs on some systems, and the spill
    of a large backfill takes gigabytes), else the system's temp directory.
    """
    if os.environ.get("TMPDIR"):
        return os.environ["TMPDIR"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if os.path.isdir(cache) and os.access(cache, os.W_OK):
        return os.path.join(cache, "cio-pipeline")
    return tempfile.gettempdir()


def job_directory(base: str) -> str:
    """A new private directory for one job's spill files, under `base`.

    It is removed, with whatever is still in it, when this process exits
    (normally, by an exception or by sys.exit); the job itself deletes
    each partition's files once delivered.
    """
    os.makedirs(base, exist_ok=True)
    directory = tempfile.mkdtemp(prefix="cio-spill-", dir=base)
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory
