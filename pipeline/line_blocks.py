"""Reads text files as blocks of lines rather than one element per line.

`ReadLineBlocks` yields `list[bytes]` elements, each holding consecutive
lines of one file; concatenated, the blocks are exactly the lines that
`beam.io.ReadFromText(pattern, coder=BytesCoder())` yields, in file order
within each block.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from typing import BinaryIO, Iterator

import apache_beam as beam
from apache_beam.io import filebasedsource
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.iobase import RangeTracker

# Lines per block. The steps after the read hold a whole block's events at
# once: blocks of a few dozen lines already make Beam's per-element cost
# small per event, while much larger blocks cost more per event (more live
# objects for the garbage collector to walk, and less of them in cache).
# bench/bench_pipeline.py (its dryrun part) measures the whole pipeline.
DEFAULT_LINES_PER_BLOCK = 64
DEFAULT_READ_SIZE = 1 << 20  # bytes per file.read()


class LineBlockSource(filebasedsource.FileBasedSource):
    """A file source whose records are blocks (lists) of up to `lines_per_block` lines.

    Lines follow `ReadFromText`'s rules: they are split on b"\\n", a line
    ending in b"\\r\\n" loses the b"\\r" too, empty lines are kept as b"", and
    a last line without a newline is kept (an empty file has no lines).

    A line belongs to the byte range (bundle) in which its first byte lies.
    Uncompressed files can be split, initially and dynamically; compressed
    ones are read whole (FileBasedSource decides that from the file name).
    """

    def __init__(
        self,
        file_pattern: str,
        lines_per_block: int = DEFAULT_LINES_PER_BLOCK,
        read_size: int = DEFAULT_READ_SIZE,
        compression_type: str = CompressionTypes.AUTO,
        validate: bool = True,
        min_bundle_size: int = 0,
    ):
        if lines_per_block < 1:
            raise ValueError(f"lines_per_block must be at least 1, not {lines_per_block}")
        if read_size < 1:
            raise ValueError(f"read_size must be at least 1, not {read_size}")
        super().__init__(
            file_pattern,
            min_bundle_size=min_bundle_size,
            compression_type=compression_type,
            validate=validate,
        )
        self._lines_per_block = lines_per_block
        self._read_size = read_size

    def read_records(self, file_name: str, range_tracker: RangeTracker) -> Iterator[list[bytes]]:
        with self.open_file(file_name) as file:
            first = self._first_line_in_range(file, range_tracker.start_position())
            if first is None:
                return  # no line starts inside this range
            offset, leftover = first
            for lines, starts in self._blocks(file, offset, leftover):
                owned = _claim_block(range_tracker, starts)
                if owned:
                    yield lines if owned == len(lines) else lines[:owned]
                if owned < len(lines):
                    # The rest of the block (and of the file) starts at or
                    # after this range's stop: it belongs to the next range.
                    return

    def _first_line_in_range(self, file: BinaryIO, start: int) -> tuple[int, bytes] | None:
        """Finds the first line that starts at or after byte `start`.

        Returns its offset and the bytes already read from it on, or None
        when no line starts at or after `start`. Like `ReadFromText`, a range
        that does not start at 0 skips the line it starts in the middle of:
        that line belongs to the previous range. Searching for b"\\n" from
        `start - 1` (not `start`) keeps a line that starts exactly at
        `start`, since the byte before it is then the b"\\n" we find.
        """
        if start == 0:
            return 0, b""
        file.seek(start - 1)
        position = start - 1
        while True:
            data = file.read(self._read_size)
            if not data:
                return None
            newline = data.find(b"\n")
            if newline >= 0:
                return position + newline + 1, data[newline + 1:]
            position += len(data)

    def _blocks(self, file: BinaryIO, offset: int, leftover: bytes) -> Iterator[tuple[list[bytes], list[int]]]:
        """Yields (lines, start offsets) blocks of up to lines_per_block lines, to the end of the file.

        Reading is lazy: the caller stops consuming once a block reaches past
        its range, so little is read beyond the range's end.
        """
        size = self._lines_per_block
        pending_lines: list[bytes] = []
        pending_starts: list[int] = []
        for lines, starts in self._lines(file, offset, leftover):
            pending_lines += lines
            pending_starts += starts
            while len(pending_lines) >= size:
                yield pending_lines[:size], pending_starts[:size]
                del pending_lines[:size], pending_starts[:size]
        if pending_lines:
            yield pending_lines, pending_starts

    def _lines(self, file: BinaryIO, offset: int, leftover: bytes) -> Iterator[tuple[list[bytes], list[int]]]:
        """Yields (lines, start offsets) for the complete lines of each read, from `offset` to the end.

        `leftover` holds bytes of the file from `offset` on that were already
        read. A line longer than the read size is collected over several
        reads and returned whole.
        """
        # Lines are cut with bytes.find, one line at a time, rather than with
        # bytes.split(b"\n"): CPython's split looks at every byte in a loop
        # of its own (its comment: memchr "makes no difference"), while find
        # uses memchr, so find costs fewer instructions per line on event-sized
        # lines (bench/instructions.py counts them under cachegrind).
        parts: list[bytes] = []  # the start of an unfinished line, possibly over several reads
        line_start = offset  # where that unfinished line starts in the file
        position = offset  # where the next data starts in the file
        reads = iter(lambda: file.read(self._read_size), b"")  # until end of file
        for data in itertools.chain([leftover], reads):
            find = data.find
            end = find(b"\n")
            if end < 0:
                parts.append(data)
                position += len(data)
                continue
            parts.append(data[:end])
            lines = [b"".join(parts)]
            starts = [line_start]
            pos = end + 1
            while True:
                end = find(b"\n", pos)
                if end < 0:
                    break
                starts.append(position + pos)
                lines.append(data[pos:end])
                pos = end + 1
            parts = [data[pos:]]
            line_start = position + pos
            position += len(data)
            # Every line here ended at a b"\n" in this data, so a b"\r" before
            # it is in this data too, or ends the first line.
            if b"\r" in data or lines[0].endswith(b"\r"):
                lines = _strip_carriage_returns(lines)
            yield lines, starts
        rest = b"".join(parts)
        if rest:
            # A last line without a newline: kept as it is (even a final b"\r"),
            # as ReadFromText does.
            yield [rest], [line_start]


def _strip_carriage_returns(lines: list[bytes]) -> list[bytes]:
    """Removes one trailing b"\\r" from each line (they were all ended by a b"\\n")."""
    if not any(line.endswith(b"\r") for line in lines):
        return lines
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def _claim_block(range_tracker: RangeTracker, starts: list[int]) -> int:
    """Claims a block of lines, given their start offsets; returns how many of them this range owns.

    A line belongs to the range its start offset lies in, and the range's
    stop can move earlier at any time: the runner may split the rest of the
    range off (try_split) from another thread. So the block is claimed in a
    way that leaves no moment where a split could land inside it unnoticed:

    1. try_claim(first line's start): fails if the block starts at or after
       the stop, i.e. no line of it is ours. The first line of each block is
       the block's split point, as for the records of any source.
    2. set_current_position(last line's start): the tracker refuses from now
       on any split at or before that offset (the other lines of the block
       are records that are not split points), so the stop can no longer
       move into the block.
    3. Read the stop only now. If a split landed inside the block between
       steps 1 and 2, the stop is before the last line; it is then frozen
       (a new split would have to be after the last line yet before the
       stop), so the lines starting before it are ours and the rest belong
       to the split-off range, which skips to the first line starting at or
       after its start (see _first_line_in_range).
    """
    if not range_tracker.try_claim(starts[0]):
        return 0
    if len(starts) > 1:
        range_tracker.set_current_position(starts[-1])
    stop = range_tracker.stop_position()
    if starts[-1] < stop:
        return len(starts)
    return bisect_left(starts, stop)


class ReadLineBlocks(beam.PTransform):
    """Reads the lines of text files matching `file_pattern`, as blocks of lines.

    Each element is a `list[bytes]` of up to `lines_per_block` consecutive
    lines of one file, without their line endings; together the blocks hold
    exactly the lines `beam.io.ReadFromText(file_pattern,
    coder=BytesCoder())` would yield.

    Why: ReadFromText runs Python code per line to find and claim it, and
    Beam adds its per-element cost (coding, bundling, function calls) for
    every line on top. Here a line costs a share of a scan of a 1 MiB read,
    and Beam's per-element cost is paid once per block
    (bench/bench_pipeline.py, its dryrun part, measures the whole job).
    Downstream steps iterate over the lines of each block.

    Compressed files (.gz, .bz2, ... detected from the name) are read whole;
    uncompressed files are split into ranges that are read in parallel.
    `validate` checks at build time that the pattern matches files (leave it
    off for remote paths when building a graph without credentials).
    """

    def __init__(self, file_pattern: str, lines_per_block: int = DEFAULT_LINES_PER_BLOCK, validate: bool = True):
        super().__init__()
        self._source = LineBlockSource(
            file_pattern,
            lines_per_block=lines_per_block,
            compression_type=CompressionTypes.AUTO,
            validate=validate,
        )

    def expand(self, pbegin):
        return pbegin | beam.io.Read(self._source)
