"""Measures a local streaming job (DirectRunner, Pub/Sub emulator): delivery
latency per burst, and what a Ctrl-C loses.

Not a test. Starts Google's Pub/Sub emulator (`gcloud beta emulators pubsub
start`), the sandbox in its own process (logging what it accepts) and
`python -m pipeline --subscription ...` (v1, default flags unless given after
`--`), then:

1. latency: publishes --bursts bursts of --burst_size track events, each
   after --gap seconds of quiet, and times every event from its publishing
   to the sandbox accepting it;
2. Ctrl-C: publishes --stream_rate events/s for --stream_seconds, sends the
   job SIGINT (and stops publishing), waits for it to exit, then waits out
   the subscription's ack deadline and pulls what is left. An event neither
   delivered nor left in the subscription is lost: the job had pulled (and
   so acknowledged) it, but not sent it.

    .venv/bin/python -m bench.streaming                              # default flags
    .venv/bin/python -m bench.streaming -- --window_seconds 1        # flags for the job
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson

from cio_sandbox.process import SandboxProcess

ROOT = Path(__file__).resolve().parents[1]
SITE, KEY, PROJECT = "bench-site", "bench-key", "cio-bench"
ACK_DEADLINE = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def pubsub_emulator(data_dir: Path):
    """The Pub/Sub emulator on a free port; sets PUBSUB_EMULATOR_HOST for this process and its children."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        sys.exit("bench.streaming needs gcloud with the Pub/Sub emulator")
    port = _free_port()
    log = open(data_dir / "emulator.log", "wb")
    proc = subprocess.Popen([gcloud, "beta", "emulators", "pubsub", "start", f"--host-port=127.0.0.1:{port}",
                             f"--data-dir={data_dir}"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the Pub/Sub emulator did not start")
                time.sleep(0.2)
        os.environ["PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the gcloud wrapper and its java child
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def track_event(seq: int) -> bytes:
    now = datetime.now(timezone.utc).isoformat()
    return orjson.dumps({"type": "track", "userId": f"u{seq % 997}", "event": "bench", "messageId": f"m-{seq}",
                         "timestamp": now, "properties": {"seq": seq, "sent": time.time()}})


class Arrivals:
    """The sandbox's log read as it grows: seq -> the time the sandbox accepted it."""

    def __init__(self, sandbox: SandboxProcess, path: Path):
        self.sandbox, self.path, self.offset, self.at, self.sent = sandbox, path, 0, {}, {}

    def poll(self) -> dict[int, float]:
        self.sandbox.stats()  # which writes out the sandbox's buffered log
        if self.path.exists():
            with open(self.path, "rb") as log:
                log.seek(self.offset)
                data = log.read()
            end = data.rfind(b"\n") + 1
            self.offset += end
            for line in data[:end].splitlines():
                record = orjson.loads(line)
                # a v1 call's body, or a v2 batch item
                fields = (record.get("body") or {}).get("data") or (record.get("item") or {}).get("attributes") or {}
                if fields.get("seq") is not None:
                    self.at.setdefault(fields["seq"], record["ts"])
                    self.sent.setdefault(fields["seq"], fields["sent"])
        return self.at


def wait_for(arrivals: Arrivals, seqs: range, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(s in arrivals.poll() for s in seqs):
            return True
        time.sleep(0.2)
    return False


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    job_flags = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=4)
    parser.add_argument("--burst_size", type=int, default=50)
    parser.add_argument("--gap", type=float, default=15, help="quiet seconds before each burst")
    parser.add_argument("--stream_rate", type=float, default=20, help="events/s published before the Ctrl-C")
    parser.add_argument("--stream_seconds", type=float, default=30)
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)

    from google.cloud import pubsub_v1

    work = Path(tempfile.mkdtemp(prefix="cio-streaming-"))
    with pubsub_emulator(work), SandboxProcess(site_id=SITE, api_key=KEY, log=work / "accepted.jsonl") as sandbox:
        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        topic = publisher.topic_path(PROJECT, "events")
        subscription = subscriber.subscription_path(PROJECT, "events-job")
        publisher.create_topic(name=topic)
        subscriber.create_subscription(name=subscription, topic=topic, ack_deadline_seconds=ACK_DEADLINE)
        command = [sys.executable, "-m", "pipeline", "--subscription", subscription, "--site_id", SITE,
                   "--api_key", KEY, "--endpoint", sandbox.url, "--skip_credentials_check",
                   "--dead_letter", str(work / "dead" / "events"), *job_flags]
        print("job:", " ".join(command[1:]).replace(sandbox.url, "SANDBOX").replace(str(work), "TMP"))
        with open(work / "job.log", "wb") as job_log:
            job = subprocess.Popen(command, cwd=ROOT, stdout=job_log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        arrivals = Arrivals(sandbox, work / "accepted.jsonl")
        try:
            started = time.time()
            publisher.publish(topic, track_event(0)).result()
            if not wait_for(arrivals, range(0, 1), 180):
                raise RuntimeError(f"the job delivered nothing in 180 s; its log: {work / 'job.log'}")
            print(f"first event delivered {arrivals.at[0] - started:.1f} s after the job started")

            print(f"\nlatency: {args.bursts} bursts of {args.burst_size} events, each after {args.gap:.0f} s quiet")
            seq = 1
            for burst in range(args.bursts):
                time.sleep(args.gap)
                seqs = range(seq, seq + args.burst_size)
                published = time.time()
                for future in [publisher.publish(topic, track_event(s)) for s in seqs]:
                    future.result()
                done = wait_for(arrivals, seqs, 120)
                times = sorted(arrivals.at[s] - published for s in seqs if s in arrivals.at)
                print(f"  burst {burst + 1}: first event after {times[0]:.1f} s, last after {times[-1]:.1f} s"
                      + ("" if done else f" ({len(times)} of {len(seqs)} within 120 s)"))
                seq += args.burst_size

            stream_start, stop = seq, threading.Event()
            published_seqs: list[int] = []

            def publish_steadily():
                nonlocal seq
                while not stop.is_set():
                    publisher.publish(topic, track_event(seq)).result()
                    published_seqs.append(seq)
                    seq += 1
                    time.sleep(1 / args.stream_rate)

            publishing = threading.Thread(target=publish_steadily)
            publishing.start()
            time.sleep(args.stream_seconds)
            stop.set()
            publishing.join()
            interrupted = time.time()
            job.send_signal(signal.SIGINT)
            try:
                status = job.wait(timeout=60)
                exited = f"exited {time.time() - interrupted:.1f} s after SIGINT, status {status}"
            except subprocess.TimeoutExpired:
                os.killpg(job.pid, signal.SIGKILL)
                job.wait()
                exited = "still running 60 s after SIGINT: killed"
            delivered = {s for s in published_seqs if s in arrivals.poll()}
            waits = sorted(arrivals.at[s] - arrivals.sent[s] for s in delivered)
            before = [s for s in published_seqs if arrivals.at.get(s, interrupted + 1) <= interrupted]
            time.sleep(ACK_DEADLINE + 2)
            left: set[int] = set()
            while True:
                response = subscriber.pull(subscription=subscription, max_messages=500, timeout=10)
                if not response.received_messages:
                    break
                left |= {orjson.loads(m.message.data)["properties"]["seq"] for m in response.received_messages}
                subscriber.acknowledge(subscription=subscription, ack_ids=[m.ack_id for m in response.received_messages])
            lost = [s for s in published_seqs if s not in delivered and s not in left]
            print(f"\nCtrl-C: {len(published_seqs)} events published at {args.stream_rate:.0f}/s over "
                  f"{args.stream_seconds:.0f} s, then SIGINT; the job {exited}")
            if waits:
                print(f"  while streaming, publish to delivery: median {waits[len(waits) // 2]:.1f} s, "
                      f"90th percentile {waits[len(waits) * 9 // 10]:.1f} s, longest {waits[-1]:.1f} s")
            print(f"  delivered {len(delivered)} ({len(before)} before the SIGINT), left in the subscription "
                  f"{len(left & set(published_seqs))}, lost {len(lost)} "
                  f"(= {len(lost) / args.stream_rate:.1f} s of messages)")
            if lost:
                print(f"  lost: seq {lost[0]}..{lost[-1]} (the stream began at {stream_start})")
        finally:
            if job.poll() is None:
                os.killpg(job.pid, signal.SIGKILL)
                job.wait()
    print(f"\n(command: .venv/bin/python -m bench.streaming {' '.join(argv)}; work dir {work})")


if __name__ == "__main__":
    main()
