"""pipeline/local_stop.py: a stopping local streaming job acknowledges nothing more, and waits for what it did.

Beam's own pull (``_PubSubReadEvaluator._read_from_pubsub``) runs here for
real, against a stand-in for Google's subscriber client that records what
is acknowledged; ``run_until_stopped`` runs with a stand-in job and real
signals. tests/test_pipeline_end_to_end.py stops a real job, and
bench/streaming.py one under load.
"""

import os
import signal
import threading
import time
from datetime import datetime, timezone

import pytest
from apache_beam.runners.direct.transform_evaluator import _PubSubReadEvaluator
from google.cloud.pubsub_v1 import types

from pipeline import local_stop


def received(ack_id: str) -> types.ReceivedMessage:
    message = types.PubsubMessage(data=ack_id.encode(), publish_time=datetime(2026, 1, 1, tzinfo=timezone.utc))
    return types.ReceivedMessage(ack_id=ack_id, message=message)


class Subscriber:
    """Google's subscriber client as Beam's pull uses it: pull, then acknowledge."""

    def __init__(self, *pulls, during_pull=None):
        self.pulls = [list(pull) for pull in pulls]
        self.acknowledged: list[str] = []
        self.during_pull = during_pull

    def pull(self, subscription, max_messages, timeout):
        if self.during_pull:
            self.during_pull()
        return types.PullResponse(received_messages=self.pulls.pop(0) if self.pulls else [])

    def acknowledge(self, subscription, ack_ids):
        self.acknowledged.extend(ack_ids)


class Evaluator:
    """What Beam's pull reads of its evaluator."""

    _sub_name = "projects/p/subscriptions/events"
    _applied_ptransform = None

    def __init__(self, client):
        self.client = client

    def _get_subscriber_client(self, transform):
        return self.client


def test_after_a_stop_the_job_waits_for_what_it_acknowledged_and_pulls_no_more():
    beams_pull = _PubSubReadEvaluator._read_from_pubsub
    client = Subscriber([received("a"), received("b")], [received("c")])
    evaluator = Evaluator(client)
    with local_stop.stoppable_pulls():
        pull = _PubSubReadEvaluator._read_from_pubsub
        assert not local_stop.wait_until_idle(0)  # not started
        assert [m.data for _, m in pull(evaluator, None)] == [b"a", b"b"]
        assert client.acknowledged == ["a", "b"]
        local_stop.request_stop()
        assert not local_stop.wait_until_idle(0)  # a and b are on their way
        assert pull(evaluator, None) == []  # the runner asks again: a and b are through
        assert local_stop.wait_until_idle(0)
        assert client.pulls == [[received("c")]], "nothing pulled after the stop"
    assert _PubSubReadEvaluator._read_from_pubsub is beams_pull


def test_what_a_pull_returns_after_the_stop_is_not_acknowledged():
    client = Subscriber([received("a")], during_pull=local_stop.request_stop)  # the signal comes mid-pull
    with local_stop.stoppable_pulls():
        pulled = _PubSubReadEvaluator._read_from_pubsub(Evaluator(client), None)
        assert [m.data for _, m in pulled] == [b"a"]
        assert client.acknowledged == [], "left in the subscription for the next job"
        assert not local_stop.wait_until_idle(0)  # a may still be delivered; the job waits for it


def test_an_idle_job_stops_at_once():
    client = Subscriber()
    with local_stop.stoppable_pulls():
        assert _PubSubReadEvaluator._read_from_pubsub(Evaluator(client), None) == []
        local_stop.request_stop()
        assert local_stop.wait_until_idle(0)


class Job:
    """A running job as run_until_stopped sees it: a pipeline whose result waits until cancelled."""

    def __init__(self):
        self.cancelled = threading.Event()

    def run(self):
        return self

    def wait_until_finish(self):
        self.cancelled.wait()

    def cancel(self):
        self.cancelled.set()


def _in_a_while(*steps):
    """Runs each step after a short pause, in order, on a thread of its own."""
    def run():
        for step in steps:
            time.sleep(0.3)
            step()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _pull(client):
    return lambda: _PubSubReadEvaluator._read_from_pubsub(Evaluator(client), None)


def _signal(signum):
    return lambda: os.kill(os.getpid(), signum)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_an_idle_job_cancels_it_at_once(signum):
    job, said = Job(), []
    _in_a_while(_pull(Subscriber()), _signal(signum))
    started = time.monotonic()
    assert local_stop.run_until_stopped(job, said.append) == 128 + signum
    assert time.monotonic() - started < 5
    assert job.cancelled.is_set()
    name = signal.Signals(signum).name
    assert said[-1].startswith(f"stopped by {name}: every message taken from the subscription was delivered")
    assert signal.getsignal(signum) is not local_stop._raise_signalled, "the handlers are put back"


def test_a_second_signal_stops_before_what_was_taken_is_through():
    job, said = Job(), []
    client = Subscriber([received("a")])
    _in_a_while(_pull(client), _signal(signal.SIGINT), _signal(signal.SIGINT))  # "a" never gets through
    assert local_stop.run_until_stopped(job, said.append) == 130
    assert client.acknowledged == ["a"]
    assert said[0].startswith("SIGINT received: finishing the messages already taken")
    assert said[-1].startswith("stopped by SIGINT before the job was through the messages it had taken")
    assert job.cancelled.is_set()
