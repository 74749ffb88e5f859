"""Benchmark: decode + map throughput of the mapping layer on one core.

Not a test. Generates 200,000 events (seed 7), serializes them to JSON lines
in memory, then times ``decode_events`` alone on every line (the floor that
orjson sets) and, per API version, ``decode_events`` plus ``map_event`` on
every event (the request bodies come out serialized, so this is all the CPU
work the pipeline does per event before sending). Prints a Markdown table
for docs/performance.md.

    .venv/bin/python -m bench.bench_mapping [--count N] [--profile]
    .venv/bin/python -m bench.bench_mapping --against REV [--rounds 8]

Target: at least 60,000 events/s per pass on one core. Timings on a shared
machine vary by tens of percent: run it a few times (``taskset -c 1``
pins it to one core).

``--against REV`` compares this checkout's mapping with the one of git
revision REV, side by side in one process: REV's ``transforms/`` is
extracted to a temporary folder and imported next to this checkout's, and
each pass times the two versions in turns of 10,000 events, the order
swapped every turn. The host's swings, which on a shared machine outgrow
the differences worth measuring, last longer than a turn, so they hit both
versions alike. Prints each round's change and the median.
"""

from __future__ import annotations

import argparse
import importlib
import io
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import orjson

from bench.generate_events import generate_events

ROOT = Path(__file__).resolve().parents[1]
PASSES = ("decode", "v1", "v2")
TURN = 10_000  # events per turn in --against: ~0.1 s, shorter than the host's swings


@dataclass(frozen=True)
class Mapping:
    """The entry points of one version of ``transforms``."""

    decode_events: Callable
    load_settings: Callable
    map_event: Callable
    error: type

    def settings(self, api_version: str) -> Any:
        return self.load_settings(site_id="bench", api_key="bench-key", api_version=api_version)


def load_mapping(root: Path | None = None) -> Mapping:
    """The ``transforms`` package under ``root`` (this checkout's when None).

    Another root's package is imported apart: its modules are taken out of
    ``sys.modules`` again afterwards (its functions keep their own globals),
    so this checkout's ``transforms`` stays the one ``import`` finds.
    """
    if root is None:
        package = importlib.import_module("transforms")
    else:
        mine = {name: module for name, module in sys.modules.items() if name.partition(".")[0] == "transforms"}
        for name in mine:
            del sys.modules[name]
        sys.path.insert(0, str(root))
        try:
            package = importlib.import_module("transforms")
        finally:
            sys.path.remove(str(root))
            for name in [name for name in sys.modules if name.partition(".")[0] == "transforms"]:
                del sys.modules[name]
            sys.modules.update(mine)
    return Mapping(package.decode_events, package.load_settings, package.map_event, package.MappingError)


THIS = load_mapping()


def run(lines: list[bytes], settings, mapping: Mapping = THIS) -> tuple[int, int]:
    """Decode and map every line: (requests made, events refused)."""
    decode_events, map_event, error = mapping.decode_events, mapping.map_event, mapping.error
    requests = errors = 0
    for line in lines:
        for event in decode_events(line):
            if isinstance(event, error):
                errors += 1
                continue
            try:
                requests += len(map_event(event, settings))
            except error:
                errors += 1
    return requests, errors


def seconds_of_pass(lines: list[bytes], settings, mapping: Mapping) -> float:
    """Time of decoding ``lines``, and mapping them unless ``settings`` is None."""
    start = time.perf_counter()
    if settings is None:
        decode_events = mapping.decode_events
        for line in lines:
            decode_events(line)
    else:
        run(lines, settings, mapping)
    return time.perf_counter() - start


def extract_transforms(rev: str, into: Path) -> None:
    """``transforms/`` as of git revision ``rev``, written under ``into``."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "transforms"],
                                 capture_output=True, check=True).stdout
    except FileNotFoundError:
        sys.exit("--against needs git")
    except subprocess.CalledProcessError as err:
        sys.exit(f"--against {rev}: git archive failed: {err.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def compare(rev: str, lines: list[bytes], rounds: int) -> None:
    """Print this checkout's events/s against ``rev``'s, round by round, and the median change."""
    with tempfile.TemporaryDirectory(prefix="bench_mapping_") as tmp:
        extract_transforms(rev, Path(tmp))
        theirs = load_mapping(Path(tmp))
    versions = {"theirs": theirs, "mine": THIS}
    settings = {(name, api): None if api == "decode" else mapping.settings(api)
                for name, mapping in versions.items() for api in PASSES}
    turns = [lines[start:start + TURN] for start in range(0, len(lines), TURN)]
    for name, mapping in versions.items():  # warm up
        for api in PASSES:
            seconds_of_pass(turns[0], settings[name, api], mapping)
    print(f"this checkout against {rev}: events/s of each pass, turns of {TURN:,} events in one process")
    print(f"| round | pass | {rev} | this checkout | change |")
    print("|---:|---|---:|---:|---:|")
    changes: dict[str, list[float]] = {api: [] for api in PASSES}
    for number in range(1, rounds + 1):
        for api in PASSES:
            spent = {"theirs": 0.0, "mine": 0.0}
            for index, turn in enumerate(turns):
                order = ("theirs", "mine") if (index + number) % 2 else ("mine", "theirs")
                for name in order:
                    spent[name] += seconds_of_pass(turn, settings[name, api], versions[name])
            rates = {name: len(lines) / seconds for name, seconds in spent.items()}
            changes[api].append(rates["mine"] / rates["theirs"] - 1)
            print(f"| {number} | {api} | {rates['theirs']:,.0f} | {rates['mine']:,.0f} | "
                  f"{100 * changes[api][-1]:+.1f}% |", flush=True)
    print()
    print("| pass | median change | range |")
    print("|---|---:|---|")
    for api in PASSES:
        values = changes[api]
        print(f"| {api} | {100 * statistics.median(values):+.1f}% | "
              f"{100 * min(values):+.1f}% to {100 * max(values):+.1f}% |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="decode + map throughput")
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="cProfile the v1 pass instead of timing")
    parser.add_argument("--against", metavar="REV", help="compare with git revision REV's mapping, side by side")
    parser.add_argument("--rounds", type=int, default=8, help="with --against: rounds, each timing both versions")
    args = parser.parse_args(argv)

    lines = [orjson.dumps(event) for event in generate_events(args.count, args.seed)]
    size = sum(map(len, lines)) / len(lines)
    print(f"{len(lines):,} events, {size:,.0f} bytes on average, Python {platform.python_version()}, one process")
    if args.against:
        compare(args.against, lines, args.rounds)
        return
    passes = {"v1": THIS.settings("v1"), "v2": THIS.settings("v2")}
    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx("run(lines, s)", globals(), {"run": run, "lines": lines, "s": passes["v1"]}, "/tmp/bench.prof")
        pstats.Stats("/tmp/bench.prof").sort_stats("tottime").print_stats(25)
        return
    floor = len(lines) / seconds_of_pass(lines, None, THIS)
    rows = [("decode only (orjson floor)", floor, "")]
    for name, settings in passes.items():
        run(lines[:2000], settings)  # warm up
        start = time.perf_counter()
        requests, errors = run(lines, settings)
        rate = len(lines) / (time.perf_counter() - start)
        mapping = 1e6 / rate - 1e6 / floor
        rows.append((f"{name}: decode + map + serialize", rate,
                     f"{mapping:.1f} µs mapping = {mapping * floor / 1e6:.1f}× decode; "
                     f"{requests} requests, {errors} errors"))
    print("| pass | events/s | µs/event | % of floor | notes |")
    print("|---|---:|---:|---:|---|")
    for label, rate, notes in rows:
        print(f"| {label} | {rate:,.0f} | {1e6 / rate:.1f} | {100 * rate / floor:.0f}% | {notes} |")


if __name__ == "__main__":
    main()
