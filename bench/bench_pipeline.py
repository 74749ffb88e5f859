"""Benchmark: the whole pipeline side by side, from the floor to delivery.

Not a test. One run, one table, on the same generated events (the realistic
mix of bench/generate_events.py):

 1. floor: read + parse + serialize, no mapping, no Beam (one core)
 2. mapping alone (decode + map + serialize, one core), as a fraction of 1
 3. the whole pipeline on DirectRunner with --dry_run_output, v1 and v2:
    in-process, and with --direct_num_workers=2 multi_processing
 4. delivery into the local sandbox (its own process):
    v1 at --rate_limit 200 and 1000 (achieved rate, busiest 1 s and 3 s),
    v2 end to end (events/s, batch fill), and the sandbox alone
 5. growth: 10k, 100k, 1M events through v2 delivery (time, peak RSS);
    1M also with 2 processes

    .venv/bin/python -m bench.bench_pipeline            # full run (~10 min)
    .venv/bin/python -m bench.bench_pipeline --smoke    # a few thousand events (CI)

Each job runs in a fresh process (bench/measure_job.py) so that its peak
RSS is its own.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import orjson
import requests

from bench.bench_mapping import run as map_lines
from bench.generate_events import generate_events
from cio_sandbox.process import SandboxProcess
from transforms import load_settings, map_event

ROOT = Path(__file__).resolve().parents[1]
SITE, KEY = "bench-site", "bench-key"
BATCH_ITEMS, BATCH_BYTES = 1000, 500_000


def write_events(path: Path, count: int, seed: int = 7) -> Path:
    if not path.exists():
        with open(path, "wb") as out:
            for event in generate_events(count, seed):
                out.write(orjson.dumps(event) + b"\n")
    return path


def measure_floor(lines: list[bytes]) -> float:
    start = time.perf_counter()
    for line in lines:
        orjson.dumps(orjson.loads(line))
    return len(lines) / (time.perf_counter() - start)


def measure_mapping(lines: list[bytes], version: str) -> float:
    settings = load_settings(site_id=SITE, api_key=KEY, api_version=version)
    map_lines(lines[:2000], settings)
    start = time.perf_counter()
    map_lines(lines, settings)
    return len(lines) / (time.perf_counter() - start)


def run_job(args: list[str]) -> dict:
    """One pipeline job in a fresh process: its measure_job JSON line, plus
    "wall", the seconds from starting the process to its exit (what a user
    waits: imports, Beam's start-up and shut-down included)."""
    started, started_at = time.monotonic(), time.time()
    out = subprocess.run([sys.executable, "-m", "bench.measure_job", *args], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"job failed ({out.returncode}): {out.stderr[-2000:]}")
    # started_at/exited_at: wall-clock times, comparable with the sandbox's request times
    return {**orjson.loads(lines[-1]), "wall": wall, "started_at": started_at, "exited_at": started_at + wall}


def v2_item_bodies(lines) -> Iterator[bytes]:
    """The serialized v2 batch items of the events in `lines`, in order
    (events that cannot be mapped are skipped: not part of a measurement)."""
    settings = load_settings(site_id=SITE, api_key=KEY, api_version="v2")
    for line in lines:
        try:
            yield from (request.body for request in map_event(orjson.loads(line), settings))
        except Exception:  # noqa: BLE001
            continue


def sandbox_alone(sandbox: SandboxProcess, lines: list[bytes], seconds: float = 3.0) -> float:
    """Items/s the sandbox absorbs in full 1000-item batches from 4 senders."""
    from pipeline.batching import batch_body  # imports Beam, which the other measurements here do not need

    items = list(itertools.islice(v2_item_bodies(lines), BATCH_ITEMS))
    body = batch_body(items)
    while len(body) > BATCH_BYTES:
        items = items[: len(items) * 9 // 10]
        body = batch_body(items)
    sent = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def sender():
        session = requests.Session()
        while time.monotonic() < stop:
            session.post(sandbox.url + "/api/v2/batch", data=body, auth=(SITE, KEY), timeout=30)
            with lock:
                sent[0] += len(items)

    start = time.monotonic()
    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sent[0] / (time.monotonic() - start)


def delivery_job(sandbox, source, dead, *extra) -> tuple[dict, dict]:
    sandbox.reset()
    # --restart: each measurement sends everything, whatever an earlier run of
    # the same job recorded as done (pipeline/resume.py).
    result = run_job(["--input", str(source), "--site_id", SITE, "--api_key", KEY,
                      "--endpoint", sandbox.url, "--dead_letter", str(dead), "--restart", *extra])
    return result, sandbox.stats()


def items_while_sending(stats: dict) -> str:
    """Items/s between the sandbox's first and last request (a single request has no span)."""
    span = stats["last_request_at"] - stats["first_request_at"]
    return f"{stats['batch_items_accepted'] / span:,.0f} items/s" if span > 0 else "one request"


def sandbox_cpu_per_item(stats: dict) -> str:
    """The sandbox's CPU per item it accepted: its share of the two cores the job runs on."""
    items = stats["batch_items_accepted"]
    return f"{stats['cpu_seconds'] / items * 1e6:,.0f} µs per item" if items else "no items"


def table(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    out = [f"| {'measurement':<{widths[0]}} | {'figure':<{widths[1]}} | {'notes':<{widths[2]}} |",
           f"|{'-' * (widths[0] + 2)}|{'-' * (widths[1] + 2)}|{'-' * (widths[2] + 2)}|"]
    out += [f"| {a:<{widths[0]}} | {b:<{widths[1]}} | {c:<{widths[2]}} |" for a, b, c in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, so CI can run it")
    parser.add_argument("--events", type=int, default=50_000, help="events for sections 1-4 (default 50,000)")
    parser.add_argument("--growth", default="10000,100000,1000000", help="sizes for section 5")
    parser.add_argument("--work_dir", help="keep generated events here and reuse them (default: a new temp dir)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.events, args.growth = 2_000, "1000,3000"
    v1_events = {200: 400 if args.smoke else 2_400, 1000: 1_000 if args.smoke else 12_000}

    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="cio-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    source = write_events(work / f"events-{args.events}.jsonl", args.events)
    lines = source.read_bytes().splitlines()
    rows: list[tuple[str, str, str]] = []
    print(f"{len(lines)} events, {sum(map(len, lines)) / len(lines):.0f} bytes on average; work dir {work}",
          file=sys.stderr)

    floor = measure_floor(lines)
    rows.append(("1. floor: parse + serialize, no mapping, no Beam", f"{floor:,.0f} events/s", "one core"))
    for version in ("v1", "v2"):
        rate = measure_mapping(lines, version)
        rows.append((f"2. mapping alone, {version}", f"{rate:,.0f} events/s", f"{rate / floor:.0%} of the floor"))

    multi = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    for version in ("v1", "v2"):
        for label, extra in (("in-process", []), ("2 processes", multi)):
            result = run_job(["--input", str(source), "--site_id", SITE, "--api_key", KEY,
                              "--api_version", version, "--dry_run_output", str(work / "dry" / "requests"),
                              "--dead_letter", str(work / "dead" / "events"), *extra])
            rss = max(result["max_rss_mb"], result["max_rss_children_mb"])
            rows.append((f"3. pipeline dry run, {version}, {label}",
                         f"{result['events_read'] / result['wall']:,.0f} events/s",
                         f"{result['wall']:.1f} s incl. start-up; peak RSS {rss:,.0f} MB"))

    sandbox = SandboxProcess(site_id=SITE, api_key=KEY)
    try:
        alone = sandbox_alone(sandbox, lines)
        rows.append(("4. sandbox alone, 1000-item batches", f"{alone:,.0f} items/s", "4 senders, 3 s"))
        for rate, count in v1_events.items():
            v1_source = write_events(work / f"v1-{count}.jsonl", count, seed=3)
            result, stats = delivery_job(sandbox, v1_source, work / "dead" / f"v1-{rate}",
                                         "--rate_limit", str(rate), "--api_version", "v1",
                                         "--skip_credentials_check")
            span = max(stats["last_request_at"] - stats["first_request_at"], 1e-9)
            achieved = stats["requests"] / span
            rows.append((f"4. v1 delivery, --rate_limit {rate}",
                         f"{achieved:,.0f} requests/s = {achieved / rate:.0%} of the budget",
                         f"busiest 1 s: {stats['max_requests_1s']}, busiest 3 s: {stats['max_requests_3s']} "
                         f"(budget {rate}/{3 * rate}); {stats['requests']} requests"))
        for label, extra in (("in-process", []), ("2 processes", multi)):
            result, stats = delivery_job(sandbox, source, work / "dead" / "v2", "--api_version", "v2",
                                         "--skip_credentials_check", *extra)
            batches = stats["by_endpoint"].get("POST /api/v2/batch", 0) or 1
            items = stats["batch_items_accepted"] / batches
            size = stats["bytes_received"] / batches
            rows.append((f"4. v2 delivery end to end, {label}",
                         f"{result['events_delivered'] / result['wall']:,.0f} events/s",
                         f"{result['events_delivered']} events in {result['wall']:.1f} s incl. start-up; "
                         f"{items_while_sending(stats)} from first to last request; "
                         f"{result['cpu_seconds']:.1f} s CPU, and the sandbox's {stats['cpu_seconds']:.2f} s"))
            rows.append((f"4. v2 batch fill, {label}", f"{items:,.0f} items, {size:,.0f} bytes per request",
                         f"{items / BATCH_ITEMS:.0%} of the item cap, {size / BATCH_BYTES:.0%} of the byte cap; "
                         f"{batches} requests"))
        sizes = [int(n) for n in args.growth.split(",")]
        # Every size in one process; the largest also with 2, where start-up
        # weighs least: the end-to-end rate of a real backfill.
        runs = [(count, "", []) for count in sizes] + [(sizes[-1], ", 2 processes", multi)]
        for count, label, extra in runs:
            grown = write_events(work / f"events-{count}.jsonl", count, seed=11)
            result, stats = delivery_job(sandbox, grown, work / "dead" / f"g{count}", "--api_version", "v2",
                                         "--skip_credentials_check", *extra)
            rss = max(result["max_rss_mb"], result["max_rss_children_mb"])
            rows.append((f"5. growth, {count:,} events, v2 delivery{label}", f"{result['wall']:.1f} s",
                         f"{result['events_delivered'] / result['wall']:,.0f} events/s; "
                         f"{items_while_sending(stats)} while sending "
                         f"(first request {stats['first_request_at'] - result['started_at']:.1f} s after the start, "
                         f"exit {result['exited_at'] - stats['last_request_at']:.1f} s after the last); "
                         f"peak RSS {rss:,.0f} MB; {result['cpu_seconds'] / count * 1e6:,.0f} µs CPU per event, "
                         f"the sandbox {sandbox_cpu_per_item(stats)}"))
    finally:
        sandbox.stop()
    # This host's speed drifts by up to ~2x within minutes: the floor measured
    # again at the end shows whether the run stayed in one phase.
    rows[0] = (*rows[0][:2], f"one core; {measure_floor(lines):,.0f} events/s at the end of the run")
    print(table(rows))
    print(f"\n(command: {' '.join(['.venv/bin/python -m bench.bench_pipeline', *(argv or sys.argv[1:])])}; "
          f"{os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
