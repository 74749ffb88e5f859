"""Faults, order and nothing lost: whole jobs against a misbehaving sandbox.

The sandbox injects 10% HTTP 500, 5% 429 with Retry-After, 2% answers slower
than the client's timeout (applied, then retried: Customer.io-style dedup ids
make the retry count once) and 1% dropped connections, all at once.
"""

from __future__ import annotations

import collections
import random
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from bench.generate_events import generate_events, seq_of_event, seq_of_request
from pipeline.main import run
from tests.pipeline_helpers import mappable, read_dead_letters
from tests.services import API_KEY, SITE_ID

pytestmark = pytest.mark.pipeline

FAULTS = dict(error_rate=0.10, throttle_rate=0.05, slow_rate=0.02, slow_seconds=1.0, drop_rate=0.01)


def job(sandbox, source, dead_prefix, *extra):
    return run(["--input", str(source), "--site_id", SITE_ID, "--api_key", API_KEY,
                "--endpoint", sandbox.url, "--dead_letter", str(dead_prefix), *extra])


@pytest.mark.parametrize("api_version,count,extra", [
    ("v1", 400, []),
    ("v2", 6000, ["--batch_shards", "16"]),
])
def test_faults_lose_nothing_and_apply_nothing_twice(tmp_path, make_sandbox, api_version, count, extra):
    sandbox = make_sandbox(seed=42, **FAULTS)
    events = list(generate_events(count, seed=21, invalid_fraction=0.02))
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    dead_prefix = tmp_path / "dead" / "events"

    assert job(sandbox, source, dead_prefix, "--api_version", api_version, "--max_retries", "6",
               "--request_timeout", "0.5", "--backoff_seconds", "0.02", "--max_backoff_seconds", "0.2",
               *extra) == 0

    valid, _ = mappable(events, api_version)

    applied = collections.defaultdict(list)   # seq -> bodies applied (duplicates excluded)
    for record in sandbox.accepted():
        body = record["item"] if "item" in record else record["body"]
        seq = seq_of_request(record["method"], record["path"], body)
        if not record["duplicate"]:
            applied[seq].append(body)
    dead = read_dead_letters(dead_prefix)
    dead_seqs = {seq_of_event(r["event"]) for r in dead if "event" in r}

    assert valid <= set(applied) | dead_seqs, "every valid event is delivered or dead-lettered"
    assert set(applied) <= valid
    for seq, bodies in applied.items():
        if isinstance(bodies[0], dict) and "id" in bodies[0]:
            assert len(bodies) == 1, f"event {seq} was applied twice despite its dedup id"
        else:  # identify, devices, merges, objects: repeating them changes nothing
            assert all(b == bodies[0] for b in bodies), f"event {seq} was applied with different bodies"
    for record in dead:
        assert record["error"] and record["stage"] in ("map", "deliver")
    if api_version == "v1":
        faults = sandbox.stats()["faults"]
        assert faults["error"] and faults["throttle"], "the faults really happened"


def _person_events(person: str, start: datetime, alias_first: bool) -> list[dict]:
    """identify, 6 tracks and an alias of one person, one second apart."""
    def at(second):
        return (start + timedelta(seconds=second)).isoformat().replace("+00:00", "Z")

    events = [{"type": "identify", "userId": person, "traits": {"step": 1}, "timestamp": at(1),
               "messageId": f"{person}-identify"}]
    events += [{"type": "track", "userId": person, "event": "Step", "properties": {"step": i},
                "timestamp": at(i), "messageId": f"{person}-{i}"} for i in range(2, 8)]
    events.append({"type": "alias", "userId": person, "previousId": f"old-{person}",
                   "timestamp": at(0 if alias_first else 9), "messageId": f"{person}-alias"})
    return events


def test_shuffled_backfill_is_sent_in_event_time_order_one_at_a_time(tmp_path, make_sandbox):
    sandbox = make_sandbox(latency_ms=3)  # long enough that overlapping requests would be seen
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    events = []
    for n in range(30):
        events += _person_events(f"p{n}", start + timedelta(minutes=n), alias_first=n % 2 == 0)
    random.Random(5).shuffle(events)
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")

    assert job(sandbox, source, tmp_path / "dead" / "events", "--max_in_flight", "16") == 0

    stats = sandbox.stats()
    assert stats["overlapping_person_requests"] == 0, "one person's requests are never concurrent"
    by_person = collections.defaultdict(list)
    for record in sandbox.accepted():  # in arrival order
        if record["path"] == "/api/v1/merge_customers":
            by_person[record["body"]["primary"]["id"]].append(("merge", None))
        else:
            person = record["path"].split("/")[4]
            body = record["body"]
            by_person[person].append(("identify" if "step" in body and "data" not in body else "event",
                                      body.get("_timestamp", body.get("timestamp"))))
    assert len(by_person) == 30
    for person, sent in by_person.items():
        times = [t for kind, t in sent if kind != "merge"]
        assert times == sorted(times), f"{person}'s requests were sent out of event-time order"
        kinds = [kind for kind, _ in sent]
        assert kinds.index("merge") > kinds.index("identify"), f"{person} was merged before being identified"
        assert len(sent) == 8


class _AnswersOnce:
    """A real HTTP server: the first request gets `status` with Retry-After, the next ones 200."""

    def __init__(self, status: int, retry_after: str):
        import http.server

        answers = [(status, retry_after)]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - stdlib name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code, after = answers.pop() if answers else (200, None)
                self.send_response(code)
                if after is not None:
                    self.send_header("Retry-After", after)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("status,retry_after,expected", [
    (503, "2", 2.0),
    (408, "3", 3.0),
    (502, "2", 2.0),
    (500, "120", 5.0),  # no longer than the backoff cap
])
def test_a_retryable_answer_with_retry_after_waits_at_least_that_long(status, retry_after, expected):
    """Pins that the sender passes Retry-After on for 408 and 5xx, not only for a 429."""
    from pipeline.calls import HttpCall
    from pipeline.delivery import CallSender, RetryPolicy, _Outcome
    from pipeline.ratelimit import AdaptiveRateLimiter
    from pipeline.transport import Transport

    slept = []
    with _AnswersOnce(status, retry_after) as server:
        transport = Transport(server.url, 1, 5.0)
        # The backoff alone would wait at most 1 ms: any longer wait is Retry-After's.
        sender = CallSender(transport, "Basic x", AdaptiveRateLimiter(100), RetryPolicy(3, 0.001, 5.0),
                            sleep=slept.append)
        outcome = _Outcome()
        sender.send(HttpCall("POST", server.url + "/api/v1/events", b"{}", "POST /api/v1/events", [b"{}"],
                             batch=False), outcome)
        transport.close()
    assert outcome.dead_letters == [] and outcome.counts[("cio", "events_delivered")] == 1
    assert slept == [pytest.approx(expected)]
