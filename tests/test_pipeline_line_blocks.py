"""ReadLineBlocks: blocks of lines that add up to exactly what ReadFromText reads.

Most tests call the source's split() and read() directly, as a runner
would, and compare with Beam's own `_TextSource` (ReadFromText's source)
read the same way, and with a plain Python reference. One small pipeline
runs the transform on DirectRunner.
"""

from __future__ import annotations

import bz2
import gzip
import itertools

import apache_beam as beam
import pytest
from apache_beam.coders import BytesCoder
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.range_trackers import OffsetRangeTracker
from apache_beam.io.textio import _TextSource
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import HealthCheck, given, settings, strategies as st

from pipeline.line_blocks import LineBlockSource, ReadLineBlocks

_names = itertools.count()


def write(directory, data: bytes, suffix: str = ".jsonl") -> str:
    path = directory / f"f{next(_names)}{suffix}"
    path.write_bytes(data)
    return str(path)


def reference_lines(data: bytes) -> list[bytes]:
    """The lines ReadFromText(coder=BytesCoder()) yields, computed plainly."""
    lines = data.split(b"\n")
    last = lines.pop()  # what follows the last b"\n": a line only when not empty
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    return lines + [last] if last else lines


def text_source(path: str) -> _TextSource:
    return _TextSource(path, 0, CompressionTypes.AUTO, True, BytesCoder())


def read_bundle(bundle) -> list:
    tracker = bundle.source.get_range_tracker(bundle.start_position, bundle.stop_position)
    return list(bundle.source.read(tracker))


def read_split(source, desired_bundle_size: int) -> list[list]:
    """Records of each bundle, the source split as a runner would."""
    return [read_bundle(b) for b in source.split(desired_bundle_size=desired_bundle_size)]


def flat(blocks) -> list[bytes]:
    return [line for block in blocks for line in block]


def check_blocks(blocks, lines_per_block: int):
    for block in blocks:
        assert isinstance(block, list) and 1 <= len(block) <= lines_per_block


CASES = {
    "lf": b'{"a":1}\n{"b":2}\n{"c":3}\n',
    "crlf": b'{"a":1}\r\n{"b":2}\r\n{"c":3}\r\n',
    "mixed": b"one\r\ntwo\nthree\r\nfour\n",
    "empty lines": b"\n\na\n\n\r\nb\n\n",
    "no final newline": b"a\nb\nlast",
    "final cr without newline": b"a\r\nb\r",
    "double cr": b"a\r\r\nb\n",
    "only newline": b"\n",
    "single line": b"x",
    "empty": b"",
}


@pytest.mark.parametrize("data", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("read_size", [1, 3, 1 << 20])
def test_whole_file_matches_read_from_text(tmp_path, data, read_size):
    path = write(tmp_path, data)
    source = LineBlockSource(path, lines_per_block=2, read_size=read_size)
    blocks = list(source.read(source.get_range_tracker(None, None)))
    text = text_source(path)
    check_blocks(blocks, 2)
    assert flat(blocks) == list(text.read(text.get_range_tracker(None, None))) == reference_lines(data)


@pytest.mark.parametrize("data", [d for d in CASES.values() if d], ids=[k for k, d in CASES.items() if d])
def test_every_split_size_gives_the_same_bundles_as_read_from_text(tmp_path, data):
    path = write(tmp_path, data * 3)
    source = LineBlockSource(path, lines_per_block=3, read_size=4)
    text = text_source(path)
    for size in range(1, 51):
        ours = read_split(source, size)
        # Same byte ranges, and each line in the same range as ReadFromText puts it.
        assert [flat(blocks) for blocks in ours] == read_split(text, size), size
        for blocks in ours:
            check_blocks(blocks, 3)


def test_a_line_longer_than_the_read_size_is_returned_whole(tmp_path):
    long_line = b"x" * 1000
    data = b"a\n" + long_line + b"\r\nb\n" + long_line
    path = write(tmp_path, data)
    source = LineBlockSource(path, lines_per_block=500, read_size=7)
    assert read_split(source, 1 << 20) == [[[b"a", long_line, b"b", long_line]]]
    # Ranges of 300 bytes: each long line goes to the range holding its first
    # byte (offsets 2 and 1004), the ranges inside it read nothing.
    assert [flat(b) for b in read_split(source, 300)] == [
        [b"a", long_line], [], [], [b"b", long_line], [], [], []]


def test_blocks_are_full_until_the_last_one(tmp_path):
    data = b"".join(b"%d\n" % i for i in range(1234))
    path = write(tmp_path, data)
    source = LineBlockSource(path, lines_per_block=500, read_size=100)
    [blocks] = read_split(source, 1 << 20)
    assert [len(b) for b in blocks] == [500, 500, 234]
    assert flat(blocks) == reference_lines(data)


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress)])
def test_compressed_files_are_read_whole(tmp_path, suffix, compress):
    data = b"".join(b'{"n":%d}\r\n' % i for i in range(300)) + b"\nlast"
    path = write(tmp_path, compress(data), suffix)
    source = LineBlockSource(path, lines_per_block=100, read_size=64)
    bundles = list(source.split(desired_bundle_size=10))
    assert len(bundles) == 1  # not splittable
    blocks = read_bundle(bundles[0])
    check_blocks(blocks, 100)
    assert flat(blocks) == reference_lines(data) == list(
        text_source(path).read(text_source(path).get_range_tracker(None, None)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=60).map(lambda b: bytes(b"a\r\n"[x % 3] for x in b)),
    read_size=st.integers(1, 9),
    lines_per_block=st.integers(1, 5),
    bundle_size=st.integers(1, 30),
)
def test_random_text_and_splits_match_read_from_text(tmp_path, data, read_size, lines_per_block, bundle_size):
    path = write(tmp_path, data)
    source = LineBlockSource(path, lines_per_block=lines_per_block, read_size=read_size)
    ours = read_split(source, bundle_size)
    for blocks in ours:
        check_blocks(blocks, lines_per_block)
    assert [flat(blocks) for blocks in ours] == read_split(text_source(path), bundle_size)
    assert flat(flat(ours)) == reference_lines(data)


# ---- dynamic splitting -------------------------------------------------------------

DYNAMIC = b"".join(b"line %d%s\n" % (i, b"\r" if i % 3 == 0 else b"") for i in range(40)) + b"\n\nend"


def read_with_dynamic_split(source, size: int, blocks_before: int, split_at: int) -> tuple[list, list, bool]:
    """Reads `blocks_before` blocks, asks the tracker to split at `split_at`, then reads on.

    Returns the lines of the primary, the lines of the residual (empty when
    the split was refused), and whether it was accepted.
    """
    [bundle] = source.split(desired_bundle_size=1 << 20)
    tracker = bundle.source.get_range_tracker(0, size)
    reader = bundle.source.read(tracker)
    primary = flat(itertools.islice(reader, blocks_before))
    result = tracker.try_split(split_at)
    primary += flat(reader)
    residual = []
    if result:
        residual_tracker = bundle.source.get_range_tracker(result[0], size)
        residual = flat(bundle.source.read(residual_tracker))
    return primary, residual, bool(result)


@pytest.mark.parametrize("lines_per_block", [1, 3, 7])
def test_dynamic_split_anywhere_reads_every_line_once(tmp_path, lines_per_block):
    path = write(tmp_path, DYNAMIC)
    source = LineBlockSource(path, lines_per_block=lines_per_block, read_size=16)
    expected = reference_lines(DYNAMIC)
    accepted = 0
    blocks = -(-len(expected) // lines_per_block)
    for blocks_before in sorted({0, 1, 2, blocks // 2, blocks - 1, blocks, blocks + 1}):
        for split_at in range(1, len(DYNAMIC)):
            primary, residual, ok = read_with_dynamic_split(source, len(DYNAMIC), blocks_before, split_at)
            assert primary + residual == expected, (blocks_before, split_at)
            accepted += ok
    assert accepted > 0


class _SplitAfterFirstClaim(OffsetRangeTracker):
    """A tracker that is split (as by another thread) right after a try_claim succeeds.

    This lands the split inside the block being claimed: after its first
    line is claimed but before the rest of it is.
    """

    def __init__(self, start, end, split_at):
        super().__init__(start, end)
        self.split_at = split_at
        self.result = None

    def try_claim(self, position):
        claimed = super().try_claim(position)
        if claimed and self.result is None and self.split_at > position:
            self.result = self.try_split(self.split_at) or False
        return claimed


def test_a_split_racing_with_the_claim_of_a_block_loses_and_repeats_no_line(tmp_path):
    path = write(tmp_path, DYNAMIC)
    source = LineBlockSource(path, lines_per_block=5, read_size=16)
    expected = reference_lines(DYNAMIC)
    [bundle] = source.split(desired_bundle_size=1 << 20)
    for split_at in range(1, len(DYNAMIC)):
        tracker = _SplitAfterFirstClaim(0, len(DYNAMIC), split_at)
        primary = flat(bundle.source.read(tracker))
        assert tracker.result, split_at  # the split was accepted, inside the first block
        residual = flat(bundle.source.read(bundle.source.get_range_tracker(split_at, len(DYNAMIC))))
        assert primary + residual == expected, split_at


# ---- pipeline ----------------------------------------------------------------------

@pytest.mark.pipeline
def test_read_line_blocks_in_a_pipeline(tmp_path):
    first = b"".join(b'{"f":1,"n":%d}\n' % i for i in range(25))
    second = b'{"f":2}\r\n\n{"f":2,"last":true}'
    write(tmp_path, first, ".jsonl")
    write(tmp_path, second, ".jsonl")
    with BeamPipeline() as p:
        blocks = p | ReadLineBlocks(str(tmp_path / "*.jsonl"), lines_per_block=10)
        assert_that(blocks | beam.FlatMap(lambda block: block),
                    equal_to(reference_lines(first) + reference_lines(second)), label="Lines")
        assert_that(blocks | beam.Map(len), _sizes_between_1_and_10, label="BlockSizes")


def _sizes_between_1_and_10(sizes):
    assert sizes and all(1 <= size <= 10 for size in sizes), sizes
