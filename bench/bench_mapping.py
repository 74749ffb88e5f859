"""Benchmark: decode + map throughput of the mapping layer on one core.

Not a test. Generates 200,000 events (seed 7), serializes them to JSON lines
in memory, then times ``decode_events`` alone on every line (the floor that
orjson sets) and, per API version, ``decode_events`` plus ``map_event`` on
every event (the request bodies come out serialized, so this is all the CPU
work the pipeline does per event before sending). Prints a Markdown table
for docs/performance.md.

    .venv/bin/python -m bench.bench_mapping [--count N] [--profile]

Target: at least 60,000 events/s per pass on one core. Timings on a shared
machine vary by tens of percent: run it a few times (``taskset -c 1``
pins it to one core).
"""

from __future__ import annotations

import argparse
import platform
import time

import orjson

from bench.generate_events import generate_events
from transforms import MappingError, decode_events, load_settings, map_event


def run(lines: list[bytes], settings) -> tuple[int, int]:
    requests = errors = 0
    for line in lines:
        for event in decode_events(line):
            if isinstance(event, MappingError):
                errors += 1
                continue
            try:
                requests += len(map_event(event, settings))
            except MappingError:
                errors += 1
    return requests, errors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="decode + map throughput")
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="cProfile the v1 pass instead of timing")
    args = parser.parse_args(argv)

    lines = [orjson.dumps(event) for event in generate_events(args.count, args.seed)]
    size = sum(map(len, lines)) / len(lines)
    print(f"{len(lines):,} events, {size:,.0f} bytes on average, Python {platform.python_version()}, one process")
    common = dict(site_id="bench", api_key="bench-key")
    passes = {
        "v1": load_settings(**common),
        "v2": load_settings(**common, api_version="v2"),
    }
    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx("run(lines, s)", globals(), {"run": run, "lines": lines, "s": passes["v1"]}, "/tmp/bench.prof")
        pstats.Stats("/tmp/bench.prof").sort_stats("tottime").print_stats(25)
        return
    start = time.perf_counter()
    for line in lines:
        decode_events(line)
    floor = len(lines) / (time.perf_counter() - start)
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
