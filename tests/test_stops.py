"""SIGINT and SIGTERM stop a batch job within seconds, with a summary and no traceback.

Real jobs (`python -m pipeline` in a subprocess) sending to the sandbox at
a low rate, so that they are mid-way when the signal comes; single-process
and multi-process (where a terminal's Ctrl-C reaches the whole process
group, workers included, and SIGTERM only the main process).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import orjson
import pytest

from bench.generate_events import generate_events
from tests.services import API_KEY, SITE_ID

# Each test starts a job in a child process: left out of ./dev.sh quick.
pytestmark = pytest.mark.subprocess

MULTI = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


def start_job(tmp_path, sandbox, *extra) -> subprocess.Popen:
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in generate_events(2000, seed=4)))
    argv = [sys.executable, "-m", "pipeline", "--input", str(source), "--site_id", SITE_ID,
            "--api_key", API_KEY, "--endpoint", sandbox.url, "--dead_letter", str(tmp_path / "dead" / "events"),
            "--rate_limit", "40", *extra]
    # A session of its own: the test can signal the job's whole process group, as a terminal does.
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=tmp_path)


def wait_until_sending(sandbox, job, requests=10) -> None:
    deadline = time.monotonic() + 60
    while sandbox.stats()["requests"] < requests:
        assert job.poll() is None, job.communicate()
        assert time.monotonic() < deadline, "the job did not start sending"
        time.sleep(0.05)


def finish(job, timeout) -> tuple[str, str, float]:
    started = time.monotonic()
    try:
        out, err = job.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        job.communicate()
        pytest.fail(f"the job did not stop within {timeout} s")
    return out, err, time.monotonic() - started


@pytest.mark.parametrize("signum,mode,group", [
    (signal.SIGINT, [], False),
    (signal.SIGTERM, [], False),
    (signal.SIGINT, MULTI, True),     # Ctrl-C in a terminal
    (signal.SIGTERM, MULTI, False),   # kill, a scheduler: the main process only
], ids=["SIGINT", "SIGTERM", "Ctrl-C multi-process", "SIGTERM multi-process"])
def test_a_signal_stops_the_job_with_a_summary(tmp_path, make_sandbox, signum, mode, group):
    sandbox = make_sandbox(latency_ms=20)
    job = start_job(tmp_path, sandbox, *mode)
    wait_until_sending(sandbox, job)

    (os.killpg if group else os.kill)(job.pid, signum)
    out, err, _ = finish(job, timeout=20)

    name = signal.Signals(signum).name
    assert job.returncode == 128 + signum, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert re.search(rf"^stopped +{name}$", out, re.M), out
    delivered = int(re.search(r"^events delivered +(\d+)$", out, re.M).group(1))
    if not mode:  # counted in this process: what the sandbox accepted, in-flight calls included
        assert 0 < delivered <= len(sandbox.accepted())
    lines = [line for line in err.splitlines() if line.startswith("cio-pipeline: stopped")]
    assert len(lines) == 1 and f"stopped by {name}" in lines[0] and "left undone" in lines[0], err
    assert sandbox.stats()["requests"] < 1000, "the job stopped sending"


@pytest.mark.parametrize("mode", [[], MULTI], ids=["one process", "multi-process"])
def test_a_second_signal_stops_at_once(tmp_path, make_sandbox, mode):
    """Calls in flight take 3 s: the first Ctrl-C waits for them, the second does not."""
    sandbox = make_sandbox(latency_ms=3000)
    job = start_job(tmp_path, sandbox, "--request_timeout", "10", *mode)
    wait_until_sending(sandbox, job, requests=3)

    os.killpg(job.pid, signal.SIGINT)
    time.sleep(0.3)
    os.killpg(job.pid, signal.SIGINT)
    _, err, took = finish(job, timeout=20)

    assert job.returncode == 130
    assert "second SIGINT received: stopped at once" in err
    assert took < 2.5, "the second signal did not wait for the calls in flight"
    # The workers went with it, and said nothing on the way out.
    deadline = time.monotonic() + 5
    while True:
        try:
            os.killpg(job.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "a process of the job outlived it"
        time.sleep(0.1)
    assert "Traceback" not in err, err
