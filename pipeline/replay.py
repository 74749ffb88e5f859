"""`python -m pipeline.replay`: dead-letter records back into input lines.

Every dead-letter record (pipeline/dead_letter.py) keeps what failed as it
came: an event (or a warehouse row as its record message) under ``event``,
text that did not parse under ``raw``. This writes, for the records of the
stages asked for, one input line each that ``cio-pipeline --input`` reads
again (JSON lines): the event's JSON, or the raw line as it was (to be
fixed first: it did not parse). Records that cannot be read back are
counted and skipped, with the reason, on stderr:

- a raw text holding a line break (a Pub/Sub message): it cannot be one line;
- a raw text cut at its limit (pipeline/dead_letter.MAX_RAW_CHARS);
- a CSV row that could not be read (``warehouse_error``: wrong cell count,
  not UTF-8, a broken file): fix it in the export and read that again;
- an event that was no JSON object (kept as text), or a line that is no record.

Replays are safe: an event carries the same dedup id every time it is sent
(see the README), so Customer.io ignores what it already has.

Files and globs on any Beam filesystem (local, gs://) are read with Beam's
FileSystems, and --output may be on any of them too.
"""

from __future__ import annotations

import argparse
import collections
import sys
from typing import Iterable, Iterator

import orjson
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.dead_letter import MAX_RAW_CHARS, STAGES


def replay_line(record: dict) -> tuple[bytes | None, str | None]:
    """The input line that replays one dead-letter record: (line, None), or (None, why not)."""
    if "event" in record:
        event = record["event"]
        if not isinstance(event, dict):
            return None, "the event was not a JSON object (kept as text)"
        if event.get("warehouse_error"):
            return None, "a CSV row that could not be read: fix it in the export and read the export again"
        return orjson.dumps(event), None
    raw = record.get("raw")
    if not isinstance(raw, str):
        return None, "neither an event nor a raw line"
    if "\n" in raw or "\r" in raw:
        return None, "the raw text holds a line break (a message, not a line): publish it again instead"
    if len(raw) >= MAX_RAW_CHARS:
        return None, f"the raw line was cut at {MAX_RAW_CHARS:,} characters"
    return raw.encode("utf-8"), None


def matching_files(patterns: Iterable[str]) -> list[str]:
    """The files of each path or glob, in order; raises FileNotFoundError naming a pattern that matches none."""
    files = []
    for pattern in patterns:
        found = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
        if not found:
            raise FileNotFoundError(f"no dead-letter file matches {pattern}")
        files += [path for path in found if path not in files]
    return files


def _records(path: str) -> Iterator[dict | None]:
    with FileSystems.open(path, compression_type=CompressionTypes.AUTO) as handle:
        for line in handle.read().splitlines():
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                record = None
            yield record if isinstance(record, dict) else None


def replay(files: list[str], stages: set[str], out) -> tuple[collections.Counter, collections.Counter]:
    """Writes the replay lines of `files`' records of `stages` to `out` (binary).

    Returns (lines written per stage, records skipped per reason).
    """
    written, skipped = collections.Counter(), collections.Counter()
    for path in files:
        for record in _records(path):
            if record is None:
                skipped["not a dead-letter record (a line torn when a job was killed?)"] += 1
                continue
            stage = record.get("stage")
            if stage not in stages:
                continue
            line, why = replay_line(record)
            if line is None:
                skipped[f"{stage}: {why}"] += 1
                continue
            out.write(line + b"\n")
            written[stage] += 1
    return written, skipped


def _stages(value: str) -> set[str]:
    stages = {s.strip() for s in value.split(",") if s.strip()}
    unknown = stages - set(STAGES)
    if unknown or not stages:
        raise argparse.ArgumentTypeError(f"stages are {', '.join(STAGES)} (got {value!r})")
    return stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.replay",
        description="Writes the dead-letter records' events (and the raw lines that did not parse) as "
                    "input lines for cio-pipeline --input.",
        epilog="Example: python -m pipeline.replay 'out/dead_letter/events-*.jsonl' --stage map,deliver "
               "--output replay.jsonl && cio-pipeline --input replay.jsonl ...",
    )
    parser.add_argument("files", nargs="+", metavar="FILES",
                        help="dead-letter files or globs (local or any Beam filesystem, e.g. gs://)")
    parser.add_argument("--stage", type=_stages, default=set(STAGES), metavar="STAGES",
                        help=f"comma-separated stages whose records to replay (default: all, {','.join(STAGES)})")
    parser.add_argument("--output", default=None, metavar="FILE",
                        help="where to write the lines (default: standard output)")
    args = parser.parse_args(argv)
    try:
        files = matching_files(args.files)
        if args.output:
            with FileSystems.create(args.output) as out:
                written, skipped = replay(files, args.stage, out)
        else:
            written, skipped = replay(files, args.stage, sys.stdout.buffer)
            sys.stdout.flush()
    except (OSError, ValueError) as err:  # a missing file, an unknown filesystem: one line
        print(f"replay: {err}", file=sys.stderr)
        return 2
    by_stage = ", ".join(f"{stage} {written[stage]}" for stage in STAGES if written[stage]) or "none"
    where = args.output or "standard output"
    print(f"replay: {sum(written.values())} lines written to {where} (by stage: {by_stage}) "
          f"from {len(files)} files", file=sys.stderr)
    for why, n in skipped.most_common():
        print(f"replay: {n} records skipped: {why}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
