"""Benchmark: the whole pipeline side by side, from the floor to delivery.

Not a test. One run, one table, on the same generated events (the realistic
mix of bench/generate_events.py). Parts (`--only` picks some, by name):

  floor     1. read + parse + serialize, no mapping, no Beam (one core);
            2. mapping alone (decode + map + serialize, one core)
  dryrun    3. the whole pipeline on DirectRunner with --dry_run_output, v1
            and v2, in-process and with 2 worker processes
  delivery  4. delivery into the sandbox: v1 at --rate_limit 200 and 1000,
            v2 end to end (events/s, batch fill), and the sandbox alone
  growth    5. v2 delivery of 10k, 100k, 1M events (time, peak RSS)
  latency   6. the sandbox answering after 0/100/250 ms x 1/2/4 worker
            processes x (v1 at --rate_limit 100, v1 at 1000, v2): v1's
            requests/s as a share of the budget and the sandbox's busiest
            second; v2's events/s against the same process count at 0 ms
  enforce   7. the sandbox enforcing 1000 requests/s itself, the job given
            --rate_limit 1000 (no --rate_limit_shares): 429s and budget used
  memory    8. v1 peak RSS: dry run of 100k against 1M events, delivering
            100k against 200k (0 ms sandbox, a high rate limit)

Every figure with a target says beside it whether it is met.
A v1 cell sends about --cell_seconds of requests (events = budget x
seconds), and its rate is the v1 step's: the v1 requests the sandbox
accepted, over the span from the first to the last of them (the job's few
/api/v2/batch requests of object items come from another step, which the
local runner runs first; the notes give the rate over all requests too).
A job still running after twice that (plus start-up) is stopped there,
and its rate is still the sending period's. A v2 cell's rate is items
over the span from the sandbox's first request to its last.

    .venv/bin/python -m bench.bench_pipeline --work_dir /tmp/benchwork      # everything
    .venv/bin/python -m bench.bench_pipeline --only latency,enforce,memory   # round trips, processes, memory
    .venv/bin/python -m bench.bench_pipeline --smoke                        # every part, tiny (CI)

Each job runs in a fresh process (bench/measure_job.py) so that its peak
RSS is its own, and each delivery job gets a sandbox process of its own
(so --smoke can run several at once) and a dead-letter directory of its own.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

import orjson
import requests

from bench.bench_mapping import run as map_lines
from bench.generate_events import generate_events
from cio_sandbox.process import SandboxProcess
from pipeline.sizing import describe, v1_backfill, v2_backfill
from transforms import load_settings, map_event
from transforms.limits import BATCH_PATH, MAX_BATCH_BODY_BYTES, MAX_BATCH_ITEMS

ROOT = Path(__file__).resolve().parents[1]
SITE, KEY = "bench-site", "bench-key"
BATCH_ITEMS, BATCH_BYTES = MAX_BATCH_ITEMS, MAX_BATCH_BODY_BYTES
PARTS = ("floor", "dryrun", "delivery", "growth", "latency", "enforce", "memory")
Row = tuple[str, str, str, str]  # measurement, figure, notes, target


# --- events and jobs ----------------------------------------------------------

_writing = threading.Lock()


def write_events(path: Path, count: int, seed: int = 7) -> Path:
    with _writing:  # cells run in parallel with --smoke; each file is written once
        if not path.exists():
            partial = path.with_suffix(".partial")
            with open(partial, "wb") as out:
                for event in generate_events(count, seed):
                    out.write(orjson.dumps(event) + b"\n")
            partial.rename(path)
    return path


@functools.cache
def pipeline_flags() -> frozenset[str]:
    """The flags `python -m pipeline --help` lists: the bench passes a flag only if the job has it."""
    out = subprocess.run([sys.executable, "-m", "pipeline", "--help"], cwd=ROOT, capture_output=True, text=True)
    return frozenset(re.findall(r"--[a-z][a-z0-9_]*", out.stdout))


def if_listed(flag: str, *values: str) -> list[str]:
    return [flag, *values] if flag in pipeline_flags() else []


class Bench:
    """Where a run keeps its files, and how it starts jobs."""

    def __init__(self, work: Path, rss_cap_mb: float):
        self.work = work
        self.rss_cap_mb = rss_cap_mb
        (work / "jobs").mkdir(parents=True, exist_ok=True)

    def job_args(self, source: Path, *extra: str, endpoint: str | None = None, dry_run: bool = False) -> list[str]:
        """A job's flags: its own dead-letter (and dry-run) directory, and no resume record to skip work by."""
        own = Path(tempfile.mkdtemp(prefix="job-", dir=self.work / "jobs"))
        args = ["--input", str(source), "--site_id", SITE, "--api_key", KEY, "--dead_letter", str(own / "dead" / "events"),
                *if_listed("--restart"), *if_listed("--progress", str(own / "progress"))]
        if endpoint:
            args += ["--endpoint", endpoint, "--skip_credentials_check"]
        if dry_run:
            args += ["--dry_run_output", str(own / "dry" / "requests")]
        return args + list(extra)

    def run_job(self, args: list[str], time_cap: float | None = None) -> dict:
        """One pipeline job in a fresh process group: its measure_job JSON line, plus

        "wall": seconds from starting the process to its exit (what a user waits:
        imports, Beam's start-up and shut-down included); "tree_rss_mb": the
        largest RSS summed over the job's processes, sampled twice a second;
        "stopped": why the job was killed (over --rss_cap_mb, or past time_cap),
        else None: a stopped job has no measure_job figures.
        """
        logs = Path(tempfile.mkdtemp(prefix="log-", dir=self.work / "jobs"))
        started, started_at = time.monotonic(), time.time()
        with open(logs / "out", "w") as out, open(logs / "err", "w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "bench.measure_job", *args], cwd=ROOT,
                                    stdout=out, stderr=err, start_new_session=True)
        stopped, tree_rss = None, 0.0
        while proc.poll() is None:
            tree_rss = max(tree_rss, group_rss_mb(proc.pid))
            if tree_rss > self.rss_cap_mb:
                stopped = f"stopped: over {self.rss_cap_mb:,.0f} MB"
            elif time_cap and time.monotonic() - started > time_cap:
                stopped = f"stopped after {time_cap:.0f} s"
            if stopped:
                _kill_group(proc)
                break
            time.sleep(0.5)
        proc.wait()
        wall = time.monotonic() - started
        base = {"wall": wall, "started_at": started_at, "exited_at": started_at + wall, "tree_rss_mb": tree_rss,
                "stopped": stopped}
        if stopped:
            return base
        lines = [line for line in (logs / "out").read_text().splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"job failed ({proc.returncode}): {(logs / 'err').read_text()[-2000:]}")
        shutil.rmtree(logs, ignore_errors=True)
        return {**orjson.loads(lines[-1]), **base}


def group_rss_mb(pgid: int) -> float:
    """RSS summed over the processes of a process group (the job and its workers), from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ..., rss is the 22nd
            total += int(fields[21])
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def peak_rss(result: dict) -> float:
    """The job's peak RSS: with worker processes, summed over them (sampled), which is what the machine must hold."""
    return max(result.get("max_rss_mb", 0), result.get("max_rss_children_mb", 0), result["tree_rss_mb"])


def multi(processes: int) -> list[str]:
    return [f"--direct_num_workers={processes}", "--direct_running_mode=multi_processing"] if processes > 1 else []


def sending_span(stats: dict) -> float:
    if stats["first_request_at"] is None:
        return 0.0
    return stats["last_request_at"] - stats["first_request_at"]


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


# --- 1-2. floor and mapping ---------------------------------------------------------

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


# --- 4. the sandbox alone ---------------------------------------------------------

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
            session.post(sandbox.url + BATCH_PATH, data=body, auth=(SITE, KEY), timeout=30)
            with lock:
                sent[0] += len(items)

    start = time.monotonic()
    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sent[0] / (time.monotonic() - start)


def items_while_sending(stats: dict) -> str:
    """Items/s between the sandbox's first and last request (a single request has no span)."""
    span = sending_span(stats)
    return f"{stats['batch_items_accepted'] / span:,.0f} items/s" if span > 0 else "one request"


def sandbox_cpu_per_item(stats: dict) -> str:
    """The sandbox's CPU per item it accepted: its share of the two cores the job runs on."""
    items = stats["batch_items_accepted"]
    return f"{stats['cpu_seconds'] / items * 1e6:,.0f} µs per item" if items else "no items"


def delivered(bench: Bench, source: Path, *extra: str, sandbox_flags: dict | None = None,
              time_cap: float | None = None, v1_step: bool = False) -> tuple[dict, dict]:
    """A delivery job into a sandbox process of its own: (the job's figures, the sandbox's /_stats).

    With `v1_step`, the sandbox logs what it accepted, and the stats gain
    "v1_step": the v1 requests it accepted and the first and last one's
    arrival (see v1_step_figures).
    """
    flags = dict(sandbox_flags or {})
    log = Path(tempfile.mkdtemp(prefix="sandbox-", dir=bench.work / "jobs")) / "accepted.jsonl" if v1_step else None
    if log:
        flags["log"] = log
    with SandboxProcess(site_id=SITE, api_key=KEY, **flags) as sandbox:
        result = bench.run_job(bench.job_args(source, *extra, endpoint=sandbox.url), time_cap)
        stats = sandbox.stats()
    if log:
        stats["v1_step"] = v1_step_figures(log)
        shutil.rmtree(log.parent, ignore_errors=True)
    return result, stats


def v1_step_figures(log: Path) -> dict:
    """The v1 requests (/api/v1/...) a sandbox accepted, from its log: how
    many, and when the first and the last arrived.

    A v1 job also sends its object and relationship items in /api/v2/batch
    requests, from a step of its own. The local runner runs one step after
    the other, so those few requests come before the v1 step starts (0.3-1 s
    earlier, most of it the runner starting the next step); the v1 step's
    rate is measured from its own first request to its last.
    """
    count, first, last = 0, None, None
    with open(log, "rb") as lines:
        for line in lines:
            record = orjson.loads(line)
            if record["path"].startswith("/api/v1/"):
                count += 1
                first = record["ts"] if first is None else min(first, record["ts"])
                last = record["ts"] if last is None else max(last, record["ts"])
    return {"requests": count, "first": first, "last": last}


def v1_step_rate(stats: dict) -> tuple[float, float] | None:
    """(v1 requests/s from the step's first request to its last, that span), or None without one."""
    step = stats.get("v1_step")
    if not step or not step["requests"] or step["last"] <= step["first"]:
        return None
    span = step["last"] - step["first"]
    return step["requests"] / span, span


# --- the parts: each a list of cells (run one after the other, or a few at once
# with --parallel), and rows made from all their results ------------------------

Cell = Callable[[], dict]


def dryrun_part(bench: Bench, source: Path) -> tuple[list[Cell], Callable[[list[dict]], list[Row]]]:
    combos = [(version, processes) for version in ("v1", "v2") for processes in (1, 2)]

    def cell(version, processes):
        return lambda: bench.run_job(bench.job_args(source, "--api_version", version, *multi(processes),
                                                    dry_run=True))

    def rows(results):
        return [(f"3. pipeline dry run, {version}, {'in-process' if n == 1 else f'{n} processes'}",
                 f"{r['events_read'] / r['wall']:,.0f} events/s",
                 f"{r['wall']:.1f} s incl. start-up; peak RSS {peak_rss(r):,.0f} MB{' over all processes' if n > 1 else ''}",
                 "")
                for (version, n), r in zip(combos, results)]

    return [cell(*c) for c in combos], rows


def delivery_part(bench: Bench, source: Path, lines: list[bytes], smoke: bool):
    v1_events = {200: 400 if smoke else 2_400, 1000: 1_000 if smoke else 12_000}
    cells: list[Cell] = []

    def alone():
        with SandboxProcess(site_id=SITE, api_key=KEY) as sandbox:
            return {"alone": sandbox_alone(sandbox, lines, 1.0 if smoke else 3.0)}

    cells.append(alone)
    for rate, count in v1_events.items():
        v1_source = write_events(bench.work / f"v1-{count}.jsonl", count, seed=3)
        cells.append(functools.partial(delivered, bench, v1_source, "--rate_limit", str(rate), "--api_version", "v1",
                                       *if_listed("--delivery_threads", "32")))
    for processes in (1, 2):
        cells.append(functools.partial(delivered, bench, source, "--api_version", "v2", *multi(processes)))

    def rows(results):
        out = [("4. sandbox alone, 1000-item batches", f"{results[0]['alone']:,.0f} items/s", "4 senders", "")]
        for rate, (result, stats) in zip(v1_events, results[1:3]):
            achieved = stats["requests"] / max(sending_span(stats), 1e-9)
            out.append((f"4. v1 delivery, --rate_limit {rate}",
                        f"{achieved:,.0f} requests/s = {achieved / rate:.0%} of the budget",
                        f"busiest 1 s: {stats['max_requests_1s']}, busiest 3 s: {stats['max_requests_3s']} "
                        f"(budget {rate}/{3 * rate}); {stats['requests']} requests", ""))
        for processes, (result, stats) in zip((1, 2), results[3:5]):
            label = "in-process" if processes == 1 else "2 processes"
            batches = stats["by_endpoint"].get("POST /api/v2/batch", 0) or 1
            items = stats["batch_items_accepted"] / batches
            size = stats["bytes_received"] / batches
            out.append((f"4. v2 delivery end to end, {label}",
                        f"{result['events_delivered'] / result['wall']:,.0f} events/s",
                        f"{result['events_delivered']} events in {result['wall']:.1f} s incl. start-up; "
                        f"{items_while_sending(stats)} from first to last request; "
                        f"{result['cpu_seconds']:.1f} s CPU, and the sandbox's {stats['cpu_seconds']:.2f} s", ""))
            out.append((f"4. v2 batch fill, {label}", f"{items:,.0f} items, {size:,.0f} bytes per request",
                        f"{items / BATCH_ITEMS:.0%} of the item cap, {size / BATCH_BYTES:.0%} of the byte cap; "
                        f"{batches} requests", ""))
        return out

    return cells, rows


def growth_part(bench: Bench, sizes: list[int]):
    # Every size in one process; the largest also with 2, where start-up
    # weighs least: the end-to-end rate of a real backfill.
    runs = [(count, 1) for count in sizes] + [(sizes[-1], 2)]
    cells = [functools.partial(delivered, bench, write_events(bench.work / f"events-{count}.jsonl", count, seed=11),
                               "--api_version", "v2", *multi(processes)) for count, processes in runs]

    def rows(results):
        out = []
        for (count, processes), (result, stats) in zip(runs, results):
            out.append((f"5. growth, {count:,} events, v2 delivery{', 2 processes' if processes > 1 else ''}",
                        f"{result['wall']:.1f} s",
                        f"{result['events_delivered'] / result['wall']:,.0f} events/s; "
                        f"{items_while_sending(stats)} while sending "
                        f"(first request {stats['first_request_at'] - result['started_at']:.1f} s after the start, "
                        f"exit {result['exited_at'] - stats['last_request_at']:.1f} s after the last); "
                        f"peak RSS {peak_rss(result):,.0f} MB{' over all processes' if processes > 1 else ''}; "
                        f"{result['cpu_seconds'] / count * 1e6:,.0f} µs CPU "
                        f"per event, the sandbox {sandbox_cpu_per_item(stats)}", ""))
        return out

    return cells, rows


def v1_rate_target(latency_ms: int) -> tuple[float | None, str]:
    """Issue 15's share of the budget a v1 job must reach at a round trip (none set at 0 ms)."""
    return {100: (0.90, "≥ 90%"), 250: (0.80, "≥ 80%")}.get(latency_ms, (None, ""))


def v1_cell_events(budget: int, seconds: float) -> int:
    return max(200, int(budget * seconds))


def latency_part(bench: Bench, latencies: list[int], processes: list[int], seconds: float, v2_events: int):
    """6: v1 at 100 and 1000 requests/s, and v2, per round trip and process count."""
    # The v2 cells run after the v1 ones, each process count's round trips
    # one after the other: the figure compares a cell with the same count's
    # 0 ms cell, and the shared host's speed drifts within minutes.
    combos = [(mode, ms, n) for ms in latencies for n in processes for mode in ("v1 100", "v1 1000")]
    combos += [("v2", ms, n) for n in processes for ms in latencies]
    cap = 2 * seconds + 40  # start-up with 4 processes and v1's grouping before the first request

    def cell(mode, ms, n):
        if mode == "v2":
            source = write_events(bench.work / f"events-{v2_events}.jsonl", v2_events, seed=11)
            # at least 10,000 events/s, the slowest a v2 cell has gone on this host
            return functools.partial(delivered, bench, source, "--api_version", "v2", *multi(n),
                                     sandbox_flags={"latency_ms": ms}, time_cap=max(cap, v2_events / 10_000 + 40))
        budget = int(mode.split()[1])
        count = v1_cell_events(budget, seconds)
        source = write_events(bench.work / f"v1-{count}.jsonl", count, seed=3)
        return functools.partial(delivered, bench, source, "--api_version", "v1", "--rate_limit", str(budget),
                                 *multi(n), sandbox_flags={"latency_ms": ms}, time_cap=cap, v1_step=True)

    def rows(results):
        by_combo = dict(zip(combos, results))
        out = []
        for (mode, ms, n), (result, stats) in by_combo.items():
            label = f"6. {ms} ms, {n} process{'es' if n > 1 else ''}, {mode if mode == 'v2' else mode + '/s'}"
            span = sending_span(stats)
            stopped = f"; {result['stopped']}" if result["stopped"] else ""
            if span <= 0:
                out.append((label, "no requests", f"{stats['requests']} requests{stopped}", "NOT met"))
                continue
            if mode == "v2":
                rate = stats["batch_items_accepted"] / span
                zero = by_combo.get(("v2", 0, n))
                zero_rate = zero[1]["batch_items_accepted"] / max(sending_span(zero[1]), 1e-9) if zero else None
                share = f" = {rate / zero_rate:.0%} of 0 ms" if zero_rate and ms else ""
                target = (f"≥ 90% of 0 ms: {met(rate / zero_rate >= 0.9)}" if ms == 100 and zero_rate else "")
                out.append((label, f"{rate:,.0f} events/s{share}",
                            f"{stats['batch_items_accepted']:,} items in {span:.1f} s of sending, "
                            f"{stats['requests']} requests{stopped}", target))
                continue
            budget = int(mode.split()[1])
            whole = stats["requests"] / span
            step = v1_step_rate(stats)
            if step is None:
                out.append((label, "no v1 requests", f"{stats['requests']} requests{stopped}", "NOT met"))
                continue
            achieved, step_span = step
            share, wanted = achieved / budget, v1_rate_target(ms)
            targets = [f"{wanted[1]}: {met(share >= wanted[0])}"] if wanted[0] else []
            targets.append(f"busiest ≤ budget: {met(stats['max_requests_1s'] <= budget)}")
            out.append((label, f"{achieved:,.0f} requests/s = {share:.0%} of the budget",
                        f"busiest 1 s {stats['max_requests_1s']} (budget {budget}); "
                        f"{stats['v1_step']['requests']:,} v1 requests in {step_span:.1f} s; all {stats['requests']:,} "
                        f"requests in {span:.1f} s = {whole / budget:.0%}{stopped}", "; ".join(targets)))
        return out

    return [cell(*c) for c in combos], rows


def enforce_part(bench: Bench, latencies: list[int], processes: list[int], seconds: float):
    """7: the sandbox answers 429 above 1000 requests/s; the job is told 1000 and nothing about shares."""
    combos = [(ms, n) for ms in latencies for n in processes]
    budget, cap = 1000, 2 * seconds + 40
    count = v1_cell_events(budget, seconds)

    def cell(ms, n):
        source = write_events(bench.work / f"v1-{count}.jsonl", count, seed=3)
        return functools.partial(delivered, bench, source, "--api_version", "v1", "--rate_limit", str(budget),
                                 *multi(n), sandbox_flags={"latency_ms": ms, "rate_limit": budget}, time_cap=cap,
                                 v1_step=True)

    def rows(results):
        out = []
        for (ms, n), (result, stats) in zip(combos, results):
            label = f"7. sandbox limits 1000/s, {ms} ms, {n} process{'es' if n > 1 else ''}, v1"
            span = sending_span(stats)
            stopped = f"; {result['stopped']}" if result["stopped"] else ""
            if span <= 0:
                out.append((label, "no requests", stopped, "NOT met"))
                continue
            refused = stats["by_status"].get("429", 0)
            share_429 = refused / stats["requests"]
            whole = (stats["requests"] - refused) / span / budget
            step = v1_step_rate(stats)
            if step is None:
                out.append((label, "no v1 requests", stopped, "NOT met"))
                continue
            used = step[0] / budget  # the sandbox logs only the requests it accepted
            out.append((label, f"{share_429:.1%} answered 429; {used:.0%} of the budget used",
                        f"{stats['v1_step']['requests']:,} v1 requests accepted in {step[1]:.1f} s; all "
                        f"{stats['requests']:,} requests in {span:.1f} s = {whole:.0%}; busiest 1 s "
                        f"{stats['max_requests_1s']}{stopped}",
                        f"< 1% 429: {met(share_429 < 0.01)}; ≥ 85% used: {met(used >= 0.85)}"))
        return out

    return [cell(*c) for c in combos], rows


def memory_part(bench: Bench, dry_sizes: list[int], delivery_sizes: list[int]):
    """8: a v1 batch job's peak RSS as the input grows (target: at most 1.3x)."""
    runs = [("dry run", count) for count in dry_sizes] + [("delivering", count) for count in delivery_sizes]

    def cell(kind, count):
        source = write_events(bench.work / f"events-{count}.jsonl", count, seed=11)
        if kind == "dry run":
            return lambda: bench.run_job(bench.job_args(source, "--api_version", "v1", dry_run=True))
        # a high rate limit into a 0 ms sandbox: the job's own speed, not the budget, sets the length
        return lambda: delivered(bench, source, "--api_version", "v1", "--rate_limit", "100000")[0]

    def rows(results):
        out = []
        for kind in ("dry run", "delivering"):
            mine = [(count, r) for (k, count), r in zip(runs, results) if k == kind]
            for count, r in mine:
                figure = r["stopped"] or f"peak RSS {peak_rss(r):,.0f} MB"
                out.append((f"8. v1 {kind}, {count:,} events", figure, f"{r['wall']:.1f} s incl. start-up", ""))
            if len(mine) >= 2:
                (small, r_small), (large, r_large) = mine[0], mine[-1]
                if r_small["stopped"]:
                    ratio, ok = "—", False
                elif r_large["stopped"]:  # stopped over --rss_cap_mb: the ratio is at least the cap's
                    ratio, ok = f"> {bench.rss_cap_mb / peak_rss(r_small):.2f}×", False
                else:
                    ratio_value = peak_rss(r_large) / peak_rss(r_small)
                    ratio, ok = f"{ratio_value:.2f}×", ratio_value <= 1.3
                out.append((f"8. v1 {kind}, peak RSS {large:,} / {small:,} events", ratio, "", f"≤ 1.3×: {met(ok)}"))
        return out

    return [cell(*r) for r in runs], rows


def table(rows: list[Row]) -> str:
    header = ("measurement", "figure", "notes", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = lambda cells: "| " + " | ".join(f"{c:<{w}}" for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def ints(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="every part at tiny sizes, several jobs at once (CI; figures mean nothing)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"parts to run, comma-separated ({', '.join(PARTS)})")
    parser.add_argument("--events", type=int, default=50_000, help="events for parts floor, dryrun, delivery")
    parser.add_argument("--growth", default="10000,100000,1000000", help="sizes for part growth")
    parser.add_argument("--latencies", default="0,100,250", help="sandbox --latency_ms values (parts latency, enforce)")
    parser.add_argument("--processes", default="1,2,4", help="local worker process counts (parts latency, enforce)")
    parser.add_argument("--cell_seconds", type=float, default=20,
                        help="seconds of sending a v1 cell is sized for (events = budget x seconds)")
    parser.add_argument("--v2_events", type=int, default=1_000_000,
                        help="events per v2 cell of part latency (1M: 15-40 s of sending, so that a cell's start "
                             "and the host's moments weigh little)")
    parser.add_argument("--memory_dry", default="100000,1000000", help="v1 dry-run sizes (part memory)")
    parser.add_argument("--memory_deliver", default="100000,200000", help="v1 delivery sizes (part memory)")
    parser.add_argument("--rss_cap_mb", type=float, default=8000, help="stop a job whose processes use more")
    parser.add_argument("--parallel", type=int, default=1, help="jobs run at once (1: figures from an idle host)")
    parser.add_argument("--work_dir", help="keep generated events here and reuse them (default: a new temp dir)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.events, args.growth, args.latencies, args.processes = 2_000, "3000", "0,100", "1"
        args.cell_seconds, args.v2_events, args.memory_dry, args.memory_deliver = 1.5, 2_000, "1000,2000", "1000,2000"
        args.parallel = max(args.parallel, 4)
    parts = [p for p in args.only.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")

    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="cio-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    bench = Bench(work, args.rss_cap_mb)
    started = time.monotonic()
    source = write_events(work / f"events-{args.events}.jsonl", args.events)
    lines = source.read_bytes().splitlines()
    print(f"{len(lines)} events, {sum(map(len, lines)) / len(lines):.0f} bytes on average; work dir {work}",
          file=sys.stderr)

    rows: list[Row] = []
    floor = None
    if "floor" in parts:
        floor = measure_floor(lines)
        rows.append(("1. floor: parse + serialize, no mapping, no Beam", f"{floor:,.0f} events/s", "one core", ""))
        for version in ("v1", "v2"):
            rate = measure_mapping(lines, version)
            rows.append((f"2. mapping alone, {version}", f"{rate:,.0f} events/s", f"{rate / floor:.0%} of the floor",
                         ""))

    latencies, processes = ints(args.latencies), ints(args.processes)
    planned = []  # (part, cells, rows from the cells' results)
    for part in parts:
        if part == "dryrun":
            planned.append((part, *dryrun_part(bench, source)))
        elif part == "delivery":
            planned.append((part, *delivery_part(bench, source, lines, args.smoke)))
        elif part == "growth":
            planned.append((part, *growth_part(bench, ints(args.growth))))
        elif part == "latency":
            planned.append((part, *latency_part(bench, latencies, processes, args.cell_seconds, args.v2_events)))
        elif part == "enforce":
            planned.append((part, *enforce_part(bench, latencies, processes, args.cell_seconds)))
        elif part == "memory":
            planned.append((part, *memory_part(bench, ints(args.memory_dry), ints(args.memory_deliver))))
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        futures = [[pool.submit(cell) for cell in cells] for _, cells, _ in planned]
        for (part, _, make_rows), part_futures in zip(planned, futures):
            try:
                rows += make_rows([f.result() for f in part_futures])
            except Exception as err:  # noqa: BLE001 - one failed job must not cost a long run's other parts
                print(f"part {part} failed: {err}", file=sys.stderr)
                rows.append((f"{part}: failed", type(err).__name__, str(err).splitlines()[0][:200], ""))

    if floor is not None:
        # This host's speed drifts by up to ~2x within minutes: the floor measured
        # again at the end shows whether the run stayed in one phase.
        rows[0] = (*rows[0][:2], f"one core; {measure_floor(lines):,.0f} events/s at the end of the run", "")
    print(table(rows))
    dry_v2 = next((r for r in rows if r[0] == "3. pipeline dry run, v2, in-process"), None)
    print("\nsizing (pipeline/sizing.py), 1,000,000 events at Customer.io's 100 requests/s:")
    print(f"  v1: {describe(v1_backfill(1_000_000, 100))}")
    if dry_v2:
        per_process = float(dry_v2[1].split()[0].replace(",", ""))
        print(f"  v2, one process at this run's dry-run rate (start-up included): "
              f"{describe(v2_backfill(1_000_000, 100, per_process))}")
    print(f"\n(command: {' '.join(['.venv/bin/python -m bench.bench_pipeline', *(argv or sys.argv[1:])])}; "
          f"{os.cpu_count()} cores; {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
