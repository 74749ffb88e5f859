"""Customer.io down or unreachable: fail the launch, wait out an outage, stop after the limit.

Whole jobs (pipeline.main.run) against a closed port, a sandbox answering
500 to everything, and a sandbox stopped and started again on the same port
in the middle of a job.
"""

from __future__ import annotations

import socket
import threading
import time

import orjson
import pytest

from bench.generate_events import generate_events, seq_of_request
from cio_sandbox import Sandbox, SandboxConfig
from pipeline.main import EXIT_NOTHING_DELIVERED, EXIT_OUTAGE, EXIT_SETTINGS, run
from tests.pipeline_helpers import mappable, read_dead_letters
from tests.services import API_KEY, SITE_ID

# Short waits, so that each job takes seconds.
QUICK = ["--backoff_seconds", "0.05", "--max_backoff_seconds", "0.2", "--request_timeout", "2"]


def closed_port_url() -> str:
    """A URL nothing listens on (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def write_events(path, count, seed=3):
    events = list(generate_events(count, seed=seed))
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return events


def job(source, dead_prefix, endpoint, *extra):
    return run(["--input", str(source), "--site_id", SITE_ID, "--api_key", API_KEY, "--endpoint", endpoint,
                "--dead_letter", str(dead_prefix), *QUICK, *extra])


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith("cio-pipeline:")]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.mark.pipeline
def test_an_unreachable_endpoint_fails_the_launch_with_one_line(tmp_path, capsys):
    source = tmp_path / "events.jsonl"
    write_events(source, 5)

    assert job(source, tmp_path / "dead" / "events", closed_port_url()) == EXIT_SETTINGS

    line = one_line(capsys.readouterr().err)
    assert "cannot reach Customer.io" in line and "--skip_credentials_check" in line
    assert API_KEY not in line


@pytest.mark.pipeline
@pytest.mark.parametrize("where", ["closed port", "500 to everything"])
def test_an_outage_longer_than_the_limit_stops_the_job_and_dead_letters_nothing(
        tmp_path, capsys, make_sandbox, where):
    source = tmp_path / "events.jsonl"
    write_events(source, 40)
    dead_prefix = tmp_path / "dead" / "events"
    endpoint = closed_port_url() if where == "closed port" else make_sandbox(error_rate=1.0).url

    status = job(source, dead_prefix, endpoint, "--skip_credentials_check", "--outage_limit_seconds", "1",
                 "--max_retries", "2")

    out, err = capsys.readouterr()
    assert status == EXIT_OUTAGE
    line = one_line(err)
    assert "Customer.io was down or unreachable" in line and "left undone" in line
    assert "stopped" in out and "outage" in out, "the summary says the job stopped"
    # The events were never at fault: none is dead-lettered for the outage.
    assert [r for r in read_dead_letters(dead_prefix) if r.get("stage") == "deliver"] == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.pipeline
def test_a_sandbox_stopped_and_started_again_mid_job_loses_nothing(tmp_path):
    """Down for ~2 s in the middle of a job: every event delivered, nothing dead-lettered.

    --max_retries 1 with short backoff: a call that spent its retries on the
    outage would be dead-lettered within a fraction of a second.
    """
    events = write_events(tmp_path / "events.jsonl", 300, seed=8)
    dead_prefix = tmp_path / "dead" / "events"
    port = _free_port()
    config = dict(site_id=SITE_ID, api_key=API_KEY, port=port, latency_ms=5)
    first = Sandbox(SandboxConfig(**config)).start()
    second = Sandbox(SandboxConfig(**config))
    restarted = threading.Event()

    def outage():
        deadline = time.monotonic() + 60
        while first.stats()["requests"] < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        first.stop()
        time.sleep(2.0)
        second.start()
        restarted.set()

    thread = threading.Thread(target=outage, daemon=True)
    thread.start()
    try:
        status = job(tmp_path / "events.jsonl", dead_prefix, first.url, "--max_retries", "1",
                     "--rate_limit", "200", "--max_in_flight", "4")
        thread.join(30)
        assert restarted.is_set(), "the sandbox was restarted during the job"
        assert status == 0
        assert read_dead_letters(dead_prefix) == [], "nothing is dead-lettered for an outage"
        delivered = set()
        for record in first.accepted() + second.accepted():
            body = record["item"] if "item" in record else record["body"]
            delivered.add(seq_of_request("POST" if "item" in record else record["method"], record["path"], body))
        assert first.accepted() and second.accepted(), "the job sent before and after the outage"
        valid, _ = mappable(events)
        assert valid <= delivered, "every event was delivered"
    finally:
        second.stop()
        first.stop()


@pytest.mark.pipeline
def test_a_job_whose_every_call_failed_does_not_exit_0(tmp_path, sandbox, capsys):
    """The sandbox answers 400 to event names over 100 bytes: nothing is delivered."""
    events = [{"type": "track", "userId": f"u{n}", "event": "x" * 150, "messageId": f"m{n}",
               "timestamp": "2026-11-01T00:00:00Z"} for n in range(5)]
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    dead_prefix = tmp_path / "dead" / "events"

    assert job(source, dead_prefix, sandbox.url) == EXIT_NOTHING_DELIVERED

    assert "every call to Customer.io failed" in one_line(capsys.readouterr().err)
    assert len(read_dead_letters(dead_prefix)) == 5


def test_without_a_limit_an_outage_is_waited_out_however_long():
    """A streaming job's watch (no limit): it probes until Customer.io answers and never stops the job."""
    from pipeline import stopping
    from pipeline.outage import OutageWatch

    stopping.reset()
    answers = iter([False] * 6 + [True])
    watch = OutageWatch(lambda: next(answers), None, backoff_seconds=0.01, max_backoff_seconds=0.05)
    assert watch.failed(time.monotonic(), giving_up=True, what="connection failed"), "the probe failed: down"
    assert watch.wait_until_up() > 0
    assert not watch.down and not stopping.stop_requested()
