"""Delivery against a distant Customer.io: one job into a sandbox that answers late.

The sandbox runs in its own process with `--latency_ms` (the round trip
from a cloud region to Customer.io is ~30-150 ms) and, if asked, its own
rate limit; the job runs in a fresh process (bench/measure_job.py) with
the given flags. Prints one JSON line: requests/s over the sending period
and as a share of the budget (also over the steady part, between 10% and
90% of the requests), the sandbox's busiest second, the share of requests
answered 429, events/s, and the job's CPU per request; and the v1 step's
own figures (its /api/v1 requests, from the sandbox's log: the job's few
/api/v2/batch requests of object items come from an earlier step): its
rate from its first request to its last, and how long its first and last
5% of requests took against the steady pace (what the start and the tail
cost).

    python -m bench.latency_probe --latency_ms 100 --rate_limit 100 --events 2000 \\
        [--workers 2] [--server_limit 1000] [--api_version v2]

With --delivery_only it measures delivery without the pipeline: `--events`
calls sent by CallSender through the process's gate (pipeline/in_flight.py,
at most --max_in_flight), with the CPU and context switches per request of
this process, to see what the number in flight costs.
"""

from __future__ import annotations

import argparse
import base64
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

from bench.generate_events import generate_events
from cio_sandbox.process import SandboxProcess

SITE, KEY = "probe-site", "probe-key"


def probe(latency_ms: float, rate_limit: float, events: int, workers: int = 1, server_limit: float = 0,
          api_version: str = "v1", extra: tuple = ()) -> dict:
    with tempfile.TemporaryDirectory(prefix="latency-probe-") as work, \
            SandboxProcess(site_id=SITE, api_key=KEY, latency_ms=latency_ms, rate_limit=server_limit,
                           log=Path(work) / "accepted.jsonl") as sandbox:
        source = Path(work) / "events.jsonl"
        with open(source, "wb") as out:
            for event in generate_events(events, seed=7):
                out.write(orjson.dumps(event) + b"\n")
        argv = ["--input", str(source), "--site_id", SITE, "--api_key", KEY, "--endpoint", sandbox.url,
                "--dead_letter", str(Path(work) / "dead" / "events"), "--api_version", api_version,
                "--rate_limit", str(rate_limit), "--skip_credentials_check", *extra]
        if workers > 1:
            argv += [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
        samples, stop = [], threading.Event()
        watcher = threading.Thread(target=_watch, args=(sandbox, samples, stop), daemon=True)
        watcher.start()
        done = subprocess.run([sys.executable, "-m", "bench.measure_job", *argv],
                              capture_output=True, text=True, check=False)
        stop.set()
        watcher.join()
        job = orjson.loads(done.stdout.strip().splitlines()[-1])
        stats = sandbox.stats()
        sandbox.stop()  # its log is complete once it has exited
        v1_arrivals = sorted(record["ts"] for record in map(orjson.loads, open(Path(work) / "accepted.jsonl", "rb"))
                             if record["path"].startswith("/api/v1/"))
    requests = stats["requests"]
    throttled = stats["by_status"].get("429", 0)
    span = max(stats["last_request_at"] - stats["first_request_at"], 1e-9)
    return {
        "api_version": api_version, "latency_ms": latency_ms, "rate_limit": rate_limit, "workers": workers,
        "server_limit": server_limit, "events": events, "status": job["status"],
        "requests": requests, "seconds": round(span, 1), "requests_per_s": round(requests / span, 1),
        "of_budget": round(requests / span / rate_limit, 3),
        "steady_of_budget": round(_steady_rate(samples, requests) / rate_limit, 3),
        "max_requests_1s": stats["max_requests_1s"],
        "answered_429": round(throttled / max(requests, 1), 4),
        "events_delivered": job["events_delivered"],
        "events_per_s": round(job["events_delivered"] / span, 1),
        "job_seconds": round(job["elapsed"], 1),
        "events_per_job_s": round(job["events_delivered"] / job["elapsed"], 1),
        "cpu_ms_per_request": round(1000 * job["cpu_seconds"] / max(requests, 1), 3),
        **_v1_step(v1_arrivals, rate_limit),
        "per_second": _per_second(samples),
    }


def _watch(sandbox, samples: list, stop: threading.Event) -> None:
    """(time, requests so far) every quarter second, for the steady rate."""
    while not stop.wait(0.25):
        samples.append((time.monotonic(), sandbox.stats()["requests"]))


def _per_second(samples: list) -> list:
    """Requests that arrived in each second of the run (from the samples)."""
    if not samples:
        return []
    start, counts, last = samples[0][0], [], 0
    for when, total in samples:
        second = int(when - start)
        while len(counts) <= second:
            counts.append(0)
        counts[second] += total - last
        last = total
    return counts


def _v1_step(arrivals: list, rate_limit: float) -> dict:
    """The v1 step's figures (its accepted /api/v1 requests, by arrival):
    its rate from its first request to its last as a share of the budget,
    and how long its first and its last 5% of requests took (at the steady
    rate each takes 5% of the sending time: the excess is the start's or
    the tail's cost)."""
    n = len(arrivals)
    if n < 20 or arrivals[-1] <= arrivals[0]:
        return {}
    low, high = arrivals[n // 10], arrivals[9 * n // 10]
    steady = 0.8 * n / (high - low) if high > low else 0.0  # requests/s between the 10% and 90% marks
    return {"v1_step_of_budget": round(n / (arrivals[-1] - arrivals[0]) / rate_limit, 3),
            "v1_steady_of_budget": round(steady / rate_limit, 3),
            "v1_first_5pct_s": round(arrivals[n // 20] - arrivals[0], 2),
            "v1_last_5pct_s": round(arrivals[-1] - arrivals[-(n // 20)], 2),
            "v1_steady_5pct_s": round(0.05 * n / steady, 2) if steady else None}


def _steady_rate(samples: list, total: int) -> float:
    """Requests/s between the moments 10% and 90% of them had arrived: the
    rate without the start (workers starting) and the tail (the last
    process finishing its part alone)."""
    low = next((s for s in samples if s[1] >= 0.1 * total), None)
    high = next((s for s in samples if s[1] >= 0.9 * total), None)
    if low is None or high is None or high[0] <= low[0]:
        return 0.0
    return (high[1] - low[1]) / (high[0] - low[0])


def delivery_only(latency_ms: float, rate_limit: float, calls: int, max_in_flight: int) -> dict:
    from pipeline.calls import HttpCall
    from pipeline.delivery import CallSender, RetryPolicy, _Outcome
    from pipeline.in_flight import SendingGate
    from pipeline.ratelimit import AdaptiveRateLimiter
    from pipeline.transport import Transport

    def usage():
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_utime + u.ru_stime, u.ru_nvcsw + u.ru_nivcsw

    with SandboxProcess(site_id=SITE, api_key=KEY, latency_ms=latency_ms) as sandbox:
        auth = "Basic " + base64.b64encode(f"{SITE}:{KEY}".encode()).decode()
        limiter = AdaptiveRateLimiter(rate_limit)
        sender = CallSender(Transport(sandbox.url, max_in_flight, 10), auth, limiter, RetryPolicy(0, 0.01, 0.05))
        gate = SendingGate(limiter, max_in_flight)
        work = [HttpCall("PUT", f"{sandbox.url}/api/v1/customers/p{n}", orjson.dumps({"n": n}),
                         "PUT /api/v1/customers/{id}", [b"{}"], False) for n in range(calls)]
        peak = [0]

        def send(call):
            peak[0] = max(peak[0], limiter.in_flight)
            sender.send(call, _Outcome())

        (cpu0, switches0), started = usage(), time.monotonic()
        for future in [gate.submit(send, call) for call in work]:
            future.result()
        (cpu1, switches1), took = usage(), time.monotonic() - started
        stats = sandbox.stats()
    return {"latency_ms": latency_ms, "rate_limit": rate_limit, "max_in_flight": max_in_flight,
            "requests": stats["requests"], "requests_per_s": round(stats["requests"] / took),
            "peak_in_flight": peak[0], "max_requests_1s": stats["max_requests_1s"],
            "cpu_us_per_request": round(1e6 * (cpu1 - cpu0) / calls),
            "context_switches_per_request": round((switches1 - switches0) / calls, 1)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latency_ms", type=float, default=100)
    p.add_argument("--rate_limit", type=float, default=100)
    p.add_argument("--events", type=int, default=2000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--server_limit", type=float, default=0, help="the sandbox's own rate limit (0: none)")
    p.add_argument("--api_version", default="v1")
    p.add_argument("--delivery_only", action="store_true", help="delivery alone, see the module docstring")
    p.add_argument("--max_in_flight", type=int, default=512, help="with --delivery_only: the gate's cap")
    args, extra = p.parse_known_args(argv)
    if args.delivery_only:
        print(orjson.dumps(delivery_only(args.latency_ms, args.rate_limit, args.events,
                                         args.max_in_flight)).decode(), flush=True)
        return
    print(orjson.dumps(probe(args.latency_ms, args.rate_limit, args.events, args.workers, args.server_limit,
                             args.api_version, tuple(extra))).decode(), flush=True)


if __name__ == "__main__":
    main()
