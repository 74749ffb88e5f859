"""Instructions per event: the pipeline's cost in a unit the host's speed does not move.

A shared machine's speed drifts within minutes by more than the changes
worth measuring, which drowns them in wall-clock figures
(docs/performance.md shows the spread). Valgrind's cachegrind counts the
instructions a run executes, the same on a slow host as on a fast one. Two
runs of the same work, on N and on 3N events, differ only by 2N events:
their difference, divided by 2N, is the cost of one event, with start-up
and shut-down cancelled out; what is left of the small run is that fixed
cost.

    .venv/bin/python -m bench.instructions                  # the v2 dry-run job, one process (~2 min)
    .venv/bin/python -m bench.instructions --processes 2    # summed over every process (~5 min)
    .venv/bin/python -m bench.instructions --parts decode,map,steps,sandbox,job,deliver

Parts, each on its own (the differences between them are the cost of a stage):
  decode  orjson decoding of each line, nothing else
  map     decoding + the per-type mapping of transforms/ (no Beam)
  steps   the batch job's fused stage without Beam: reading 64-line blocks,
          parsing, routing, the per-type steps, splitting and batching into
          8 shards (the pipeline's own DoFns, called directly)
  sandbox the local Customer.io sandbox (in this process) accepting the
          events' v2 items in 1000-item /api/v2/batch requests, built
          beforehand: its cost per item (always v2)
  job     the whole dry-run job (Beam, the dry-run sink, start-up included)
  deliver the whole job delivering into the sandbox, which runs in a
          process of its own and is not counted

Needs valgrind (Debian: apt install valgrind). CI counts one small part
once (tests/test_bench_instructions.py); the figures are for docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

from bench.bench_pipeline import ROOT, v2_item_bodies, write_events
from cio_sandbox.process import SandboxProcess
from transforms.limits import BATCH_PATH, MAX_BATCH_ITEMS

# cachegrind's summary line, one per process: "==123== I   refs:      6,101,105,010"
_I_REFS = re.compile(r"^==\d+== I\s+refs:\s+([\d,]+)", re.MULTILINE)


def instructions_of(stderr: str) -> int:
    """All instructions cachegrind counted, summed over every process it traced."""
    counts = [int(found.replace(",", "")) for found in _I_REFS.findall(stderr)]
    if not counts:
        raise RuntimeError("cachegrind printed no instruction count:\n" + stderr[-2000:])
    return sum(counts)


PARTS = ("decode", "map", "steps", "sandbox", "job", "deliver")
# Parts that run the whole job (measure_job), not a piece of it in this module.
JOB_PARTS = ("job", "deliver")


def run_part(part: str, source: Path, api_version: str) -> int:
    """Does one part's work on `source` in this process (run under valgrind
    by count); returns how many results it made (events decoded, events
    mapped, batch items cut into calls)."""
    if part == "sandbox":
        return _run_sandbox(source)
    from transforms import MAPPERS, MappingError, event_type, load_settings

    settings = load_settings(site_id="s", api_key="k", api_version=api_version)
    if part == "steps":
        return _run_steps(source, settings)

    made = 0
    for line in source.read_bytes().splitlines():
        event = orjson.loads(line)
        if part == "map":
            try:
                MAPPERS[event_type(event)](event, settings)
            except MappingError:
                continue  # only with generate_events(invalid_fraction=...); not counted
        made += 1
    return made


def _run_steps(source: Path, settings) -> int:
    from apache_beam import pvalue
    from apache_beam.io.range_trackers import OffsetRangeTracker

    from pipeline.batching import BatchInBundle
    from pipeline.line_blocks import LineBlockSource
    from pipeline.parse import ParseEvents
    from pipeline.routing import BATCH_ITEMS, MapEvents, RouteByType, SplitRequests
    from transforms import EVENT_TYPES

    def main_output(results):
        return [r for r in results if not isinstance(r, pvalue.TaggedOutput)]

    parse, route, split, batch = ParseEvents(), RouteByType(), SplitRequests(), BatchInBundle(8)
    steps = [MapEvents(kind, settings) for kind in EVENT_TYPES]
    for dofn in (parse, *steps):
        dofn.setup()
    for dofn in (parse, *steps, batch):
        dofn.start_bundle()
    blocks = LineBlockSource(str(source)).read_records(str(source), OffsetRangeTracker(0, source.stat().st_size))
    calls = []
    for block in blocks:
        chunks = main_output(parse.process(block))
        for step in (route, *steps):
            chunks = [out for chunk in chunks for out in main_output(step.process(chunk))]
        for chunk in chunks:
            for out in split.process(chunk):
                if isinstance(out, pvalue.TaggedOutput) and out.tag == BATCH_ITEMS:
                    calls += [call for _, shard_calls in batch.process(out.value) for call in shard_calls]
    for leftover in batch.finish_bundle():
        calls += leftover.value[1]
    return sum(len(call.events) for call in calls)


def write_batch_bodies(source: Path, bodies: Path) -> Path:
    """The v2 items of `source`'s events as /api/v2/batch bodies of 1000 items, one per line."""
    from pipeline.batching import batch_body

    items = list(v2_item_bodies(source.read_bytes().splitlines()))
    bodies.write_bytes(b"".join(batch_body(items[i:i + MAX_BATCH_ITEMS]) + b"\n"
                                for i in range(0, len(items), MAX_BATCH_ITEMS)))
    return bodies


def _run_sandbox(bodies: Path) -> int:
    import requests

    from cio_sandbox.config import SandboxConfig
    from cio_sandbox.server import Sandbox

    with Sandbox(SandboxConfig(site_id="s", api_key="k", keep_in_memory=False)) as sandbox, \
            requests.Session() as session:
        for body in bodies.read_bytes().splitlines():
            answer = session.post(sandbox.url + BATCH_PATH, data=body, auth=("s", "k"), timeout=60)
            if answer.status_code != 200:
                raise RuntimeError(f"the sandbox answered {answer.status_code}: {answer.text[:500]}")
        return sandbox.stats()["batch_items_accepted"]


def count(part: str, source: Path, work: Path, api_version: str, processes: int) -> int:
    """Instructions of one part's run on `source`, every process included."""
    out = Path(tempfile.mkdtemp(dir=work))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, out, ignore_errors=True)
        if part in JOB_PARTS:
            job = [sys.executable, "-m", "bench.measure_job", "--input", str(source), "--site_id", "s",
                   "--api_key", "k", "--api_version", api_version, "--dead_letter", str(out / "dead" / "events")]
            if part == "job":
                job += ["--dry_run_output", str(out / "dry" / "calls")]
            else:  # started here, outside valgrind: only the job is counted
                sandbox = stack.enter_context(SandboxProcess(site_id="s", api_key="k"))
                job += ["--endpoint", sandbox.url, "--skip_credentials_check"]
            if processes > 1:
                job += [f"--direct_num_workers={processes}", "--direct_running_mode=multi_processing"]
        else:
            if part == "sandbox":
                source = write_batch_bodies(source, out / "bodies")
            job = [sys.executable, "-m", "bench.instructions", "--run_part", part, "--input", str(source),
                   "--api_version", api_version]
        command = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                   "--trace-children=yes", *job]
        # A fixed hash seed: set and dict layouts, and so the instruction
        # count, are then the same from run to run.
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{part} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return instructions_of(done.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5_000, help="N: the small run's events (the large run has 3N)")
    parser.add_argument("--api_version", choices=("v1", "v2"), default="v2")
    parser.add_argument("--processes", type=int, default=1, help="worker processes (multi_processing when > 1)")
    parser.add_argument("--parts", default="job", help=f"comma-separated, of {', '.join(PARTS)} (default: job)")
    parser.add_argument("--work_dir", help="keep generated events here and reuse them (default: a new temp dir)")
    # The work that count() runs under valgrind:
    parser.add_argument("--run_part", choices=[p for p in PARTS if p not in JOB_PARTS], help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_part:
        print(f"{args.run_part}: {run_part(args.run_part, Path(args.input), args.api_version):,} made")
        return
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        parser.error(f"--parts: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(PARTS)}")
    if shutil.which("valgrind") is None:
        parser.exit(2, "bench.instructions needs valgrind on the PATH (Debian: apt install valgrind)\n")
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="cio-instructions-"))
    work.mkdir(parents=True, exist_ok=True)
    small_n, large_n = args.events, 3 * args.events
    sources = (write_events(work / f"events-{small_n}.jsonl", small_n),
               write_events(work / f"events-{large_n}.jsonl", large_n))
    for part in parts:
        small, large = (count(part, source, work, args.api_version, args.processes) for source in sources)
        per_event = (large - small) / (large_n - small_n)
        where = f"{args.processes} processes" if part in JOB_PARTS and args.processes > 1 else "one process"
        print(f"{part:6s} {args.api_version}, {where}: {per_event:,.0f} instructions per event; "
              f"fixed {(small - per_event * small_n) / 1e9:.1f} billion "
              f"({small_n:,} events: {small / 1e9:.2f} billion, {large_n:,}: {large / 1e9:.2f} billion)", flush=True)


if __name__ == "__main__":
    main()
