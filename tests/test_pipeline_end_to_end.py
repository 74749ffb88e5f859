"""The whole job on DirectRunner against the sandbox over real sockets.

Backfills from files (v1 and v2), a dry run, the bundled sample, and a
streaming job reading Google's Pub/Sub emulator.
"""

from __future__ import annotations

import collections
import glob
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from bench.generate_events import generate_events, seq_of_event, seq_of_request
from pipeline.main import run
from tests.pipeline_helpers import mappable, read_dead_letters
from tests.services import API_KEY, SITE_ID

pytestmark = pytest.mark.pipeline

ROOT = Path(__file__).resolve().parents[1]


def write_jsonl(path: Path, events, extra_lines=()) -> Path:
    with open(path, "wb") as out:
        for event in events:
            out.write(orjson.dumps(event) + b"\n")
        for line in extra_lines:
            out.write(line + b"\n")
    return path


def delivered_seqs(sandbox) -> collections.Counter:
    """How often each event's marker reached the sandbox (duplicates excluded)."""
    seen = collections.Counter()
    for record in sandbox.accepted():
        if record.get("duplicate"):
            continue
        if "item" in record:
            seq = seq_of_request("POST", record["path"], record["item"])
        else:
            seq = seq_of_request(record["method"], record["path"], record["body"])
        seen[seq] += 1
    return seen


def job_args(sandbox, input_path, dead_letter, *extra):
    return ["--input", str(input_path), "--site_id", SITE_ID, "--api_key", API_KEY,
            "--endpoint", sandbox.url, "--dead_letter", str(dead_letter), *extra]


@pytest.mark.parametrize("api_version,count", [("v2", 50_000), ("v1", 3_000)])
def test_backfill_delivers_every_valid_event_exactly_once(tmp_path, sandbox, api_version, count):
    events = list(generate_events(count, seed=11, invalid_fraction=0.02))
    bad_lines = [b"{not json", b'"a string"', b"[1, 2]"]
    source = write_jsonl(tmp_path / "events.jsonl", events, bad_lines)
    dead_prefix = tmp_path / "dead" / "events"

    assert run(job_args(sandbox, source, dead_prefix, "--api_version", api_version,
                        "--rate_limit", "5000")) == 0

    valid, invalid = mappable(events, api_version)
    assert len(invalid) >= count * 0.015
    seen = delivered_seqs(sandbox)
    assert set(seen) == valid, "every valid event is delivered, and nothing else"
    assert max(seen.values()) == 1, "no event is delivered twice"

    dead = read_dead_letters(dead_prefix)
    assert {seq_of_event(r["event"]) for r in dead if "event" in r} == invalid
    assert all(r["stage"] == "map" and r["error"] for r in dead if "event" in r)
    raw = [r for r in dead if "raw" in r]
    # one record per element of the array that is not an object
    assert sorted(r["raw"] for r in raw) == sorted(["{not json", '"a string"', "[1, 2]", "[1, 2]"])
    assert all(r["stage"] == "parse" for r in raw)
    if api_version == "v2":
        stats = sandbox.stats()
        batches = stats["by_endpoint"]["POST /api/v2/batch"]
        assert batches <= len(valid) / 500, "v2 items travel in large batches"


def test_dry_run_writes_requests_without_secrets(tmp_path, sandbox, caplog):
    events = list(generate_events(300, seed=3))
    source = write_jsonl(tmp_path / "events.jsonl", events)
    out = tmp_path / "dry" / "requests"
    with caplog.at_level(logging.INFO):
        assert run(job_args(sandbox, source, tmp_path / "dead" / "events", "--dry_run_output", str(out))) == 0
    # no --runner: straight to the FnApiRunner, without DirectRunner's Prism attempt (pipeline/runner.py)
    assert not [r for r in caplog.records if "prism" in r.getMessage().lower()]
    assert sandbox.stats()["requests"] == 0, "a dry run sends nothing"
    lines = b"".join(Path(p).read_bytes() for p in glob.glob(f"{out}*"))
    assert API_KEY.encode() not in lines and b"Authorization" not in lines and b"Basic " not in lines
    requests = [orjson.loads(line) for line in lines.splitlines()]
    assert {tuple(sorted(r)) for r in requests} == {("json", "method", "url")}
    assert all(r["url"].startswith(sandbox.url + "/api/") for r in requests)
    valid, _ = mappable(events, "v1")
    found = collections.Counter()
    for r in requests:
        path = r["url"][len(sandbox.url):].split("?")[0]
        if path == "/api/v2/batch":
            for item in r["json"]["batch"]:
                found[seq_of_request("POST", path, item)] += 1
        else:
            found[seq_of_request(r["method"], path, r["json"])] += 1
    assert set(found) == valid and max(found.values()) == 1


def test_the_bundled_sample_runs_and_dead_letters_its_bad_lines(tmp_path, sandbox, capsys):
    dead_prefix = tmp_path / "dead" / "events"
    assert run(job_args(sandbox, ROOT / "examples" / "events.jsonl", dead_prefix)) == 0
    summary = capsys.readouterr().out
    assert "customerio-beam summary" in summary and "events read" in summary
    dead = read_dead_letters(dead_prefix)
    assert 5 <= len(dead) <= 20
    assert {r["stage"] for r in dead} <= {"parse", "map", "deliver"}
    assert not [r for r in dead if r["stage"] == "deliver"], "the sandbox accepts every mapped sample event"
    assert sandbox.stats()["requests"] > 100


def topic_with_subscription(topic_name: str, subscription_name: str):
    """Creates a topic and a subscription to it in the emulator's project."""
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path("cio-test", topic_name)
    subscription = subscriber.subscription_path("cio-test", subscription_name)
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic)
    return publisher, subscriber, topic, subscription


def job_output(job) -> str:
    """The last lines a job subprocess printed (it is stopped first)."""
    job.terminate()
    try:
        out, _ = job.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        job.kill()
        out, _ = job.communicate()
    return out.decode(errors="replace")[-3000:]


@pytest.mark.emulator
def test_streaming_job_reads_pubsub_and_delivers_batched_objects(tmp_path, sandbox, pubsub_emulator):
    publisher, subscriber, topic, subscription = topic_with_subscription("events", "events-pipeline")

    events = [e for e in generate_events(200, seed=5) if e["type"] in ("group", "identify", "track")][:60]
    assert len([e for e in events if e["type"] == "group"]) >= 2
    # Published before the job starts: DirectRunner's Pub/Sub read pulls with a
    # 30 s timeout that the emulator waits out when the subscription is empty,
    # so messages published into an idle job show up only after that pull.
    # One message per event, plus one array message and one bad message.
    futures = [publisher.publish(topic, orjson.dumps(event)) for event in events[:-4]]
    futures.append(publisher.publish(topic, orjson.dumps(events[-4:])))
    futures.append(publisher.publish(topic, b"this is not json"))
    for future in futures:
        future.result()

    dead_dir = tmp_path / "dead"
    env = dict(os.environ, PUBSUB_EMULATOR_HOST=pubsub_emulator)
    job = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--subscription", subscription, "--site_id", SITE_ID,
         "--api_key", API_KEY, "--endpoint", sandbox.url, "--dead_letter", str(dead_dir / "events"),
         "--window_seconds", "2", "--batch_shards", "1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        valid, _ = mappable(events, "v1")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and set(delivered_seqs(sandbox)) != valid:
            assert job.poll() is None, job_output(job)
            time.sleep(0.5)
        seen = delivered_seqs(sandbox)
        assert set(seen) == valid, job_output(job)
        assert max(seen.values()) == 1
        # Objects published close together share a batch request.
        assert max(r["batch_index"] for r in sandbox.accepted() if "item" in r) >= 1, "objects arrive batched"
        while time.monotonic() < deadline and not read_dead_letters(dead_dir / "events"):
            time.sleep(0.5)
        (bad,) = read_dead_letters(dead_dir / "events")
        assert bad["raw"] == "this is not json" and bad["stage"] == "parse"

        # Ctrl-C stops a local streaming job once what it took is through (pipeline/local_stop.py),
        # at once here since it is idle, with one line and no traceback.
        job.send_signal(signal.SIGINT)
        out, _ = job.communicate(timeout=15)  # not waiting out the runner's 30 s pull
        said = out.decode(errors="replace")
        assert job.returncode == 130, said[-3000:]
        assert "Traceback" not in said and "KeyboardInterrupt" not in said, said[-3000:]
        assert ("stopped by SIGINT: every message taken from the subscription was delivered or dead-lettered"
                in said), said[-3000:]
        assert set(delivered_seqs(sandbox)) == valid
    finally:
        job.terminate()
        try:
            job.wait(timeout=20)
        except subprocess.TimeoutExpired:
            job.kill()


@pytest.mark.emulator
def test_dead_letters_can_go_to_a_pubsub_topic(tmp_path, sandbox, pubsub_emulator):
    _, subscriber, topic, subscription = topic_with_subscription("dead-letters", "dead-letters-check")

    source = write_jsonl(tmp_path / "events.jsonl",
                         [{"type": "identify", "userId": "u1", "traits": {"a": 1}}, {"type": "track", "userId": "u1"}],
                         [b"not json"])
    assert run(["--input", str(source), "--site_id", SITE_ID, "--api_key", API_KEY, "--endpoint", sandbox.url,
                "--dead_letter_topic", topic]) == 0

    records = []
    deadline = time.monotonic() + 30
    while len(records) < 2 and time.monotonic() < deadline:
        response = subscriber.pull(subscription=subscription, max_messages=10, timeout=5)
        records += [orjson.loads(m.message.data) for m in response.received_messages]
        if response.received_messages:
            subscriber.acknowledge(subscription=subscription,
                                   ack_ids=[m.ack_id for m in response.received_messages])
    by_stage = {r["stage"]: r for r in records}
    assert len(records) == 2 and set(by_stage) == {"map", "parse"}
    assert by_stage["map"]["error"] == "Event is a required field and should be a string"
    assert by_stage["map"]["event"] == {"type": "track", "userId": "u1"}
    assert by_stage["parse"]["raw"] == "not json" and by_stage["parse"]["error"].startswith("invalid JSON")
    assert len(sandbox.accepted()) == 1


def test_a_dry_run_needs_no_credentials_reads_a_folder_and_counts_its_requests(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CIO_SITE_ID", raising=False)
    monkeypatch.delenv("CIO_API_KEY", raising=False)
    folder = tmp_path / "events"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [{"type": "track", "userId": f"u{i}", "event": "A"} for i in range(3)])
    write_jsonl(folder / "b.jsonl", [{"type": "identify", "userId": "u9"}], extra_lines=[b"not json"])
    out = tmp_path / "dry" / "requests"
    assert run(["--input", str(folder), "--dry_run_output", str(out),
                "--dead_letter", str(tmp_path / "dead" / "events")]) == 0
    summary = dict(line.strip().rsplit(None, 1) for line in capsys.readouterr().out.splitlines()
                   if line[-1:].isdigit() and "  " in line)
    written = b"".join(Path(p).read_bytes() for p in glob.glob(f"{out}-*.jsonl"))
    assert len(written.splitlines()) == 4
    assert summary["requests written (dry run)"] == "4" and summary["events read"] == "4"
    assert summary["lines read (each holds an event or a JSON array of them)"] == "5"
    assert summary["not an event: dead-lettered at parse"] == "1"
    assert b"Authorization" not in written and b"dry-run" not in written


def test_a_csv_read_as_json_lines_names_the_cause_and_exits_5(tmp_path, capsys):
    source = tmp_path / "users.csv"
    source.write_text("id,email,plan\n1,a@x.io,pro\n2,b@x.io,free\n3,c@x.io,pro\n")
    assert run(["--input", str(source), "--dry_run_output", str(tmp_path / "requests"),
                "--dead_letter", str(tmp_path / "dead" / "events")]) == 5
    err = capsys.readouterr().err
    assert "likely cause: 4 of 4 lines are not events:" in err and "add --input_format csv" in err
