"""Stopping a local streaming job without losing the messages it pulled.

Beam's DirectRunner acknowledges each pull's messages at once, before any
step has processed them (docs/streaming.md), so cancelling it while a
pull's messages are on their way loses them. Two things of its streaming
executor make a clean stop possible: it pulls again only when every other
step is idle (the messages of the pull before have been delivered or
dead-lettered), and it pulls in one place,
``_PubSubReadEvaluator._read_from_pubsub``
(apache_beam/runners/direct/transform_evaluator.py). Beam offers no hook
there, so ``stoppable_pulls`` wraps that method while a local streaming job
runs:

- every call to it marks the pipeline idle, until a pull's messages are
  acknowledged;
- once a stop is requested, no message is acknowledged any more: what a
  pull returns after it stays in the subscription (Pub/Sub delivers it
  again after its ack deadline, to the next job) even if this job gets to
  deliver it too (Customer.io drops a repeated event by its dedup id; a
  repeated identify sets the same attributes again).

So the job can be cancelled as soon as it is idle: nothing it acknowledged
is left undone. ``run_until_stopped`` runs a job that way on SIGINT or
SIGTERM (pipeline/main.py calls it for a local streaming job);
tests/test_pipeline_end_to_end.py stops a real job, and
``bench/streaming.py`` counts what a stop under load loses.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Callable, Iterator

# How long a stopping job may take to finish the messages it has taken: one
# pull's (at most 10), through every step and Customer.io.
STOP_SECONDS = 60

_STOP = threading.Event()
_IDLE = threading.Event()


def _acknowledging_until_stop(client) -> None:
    """Makes ``client.acknowledge`` do nothing once a stop is requested (once per client)."""
    if getattr(client, "_cio_acks_until_stop", False):
        return
    acknowledge = client.acknowledge

    def acknowledge_unless_stopping(*args, **kwargs):
        # Busy before the stop is looked at: a stop requested after this
        # line waits for these messages; one requested before leaves them
        # unacknowledged, so either way none is lost.
        _IDLE.clear()
        if _STOP.is_set():
            return None  # left in the subscription for the next job
        return acknowledge(*args, **kwargs)

    client.acknowledge = acknowledge_unless_stopping
    client._cio_acks_until_stop = True


@contextlib.contextmanager
def stoppable_pulls() -> Iterator[None]:
    """While inside, ``request_stop`` then ``wait_until_idle`` stop the local runner's reads cleanly."""
    from apache_beam.runners.direct.transform_evaluator import _PubSubReadEvaluator

    read = _PubSubReadEvaluator._read_from_pubsub

    def read_until_stop(evaluator, timestamp_attribute):
        _acknowledging_until_stop(evaluator._get_subscriber_client(evaluator._applied_ptransform))
        _IDLE.set()  # the executor pulls only when every other step is idle
        if _STOP.is_set():
            return []
        return read(evaluator, timestamp_attribute)

    _STOP.clear()
    _IDLE.clear()
    _PubSubReadEvaluator._read_from_pubsub = read_until_stop
    try:
        yield
    finally:
        _PubSubReadEvaluator._read_from_pubsub = read


def request_stop() -> None:
    """No message is acknowledged from now on."""
    _STOP.set()


def wait_until_idle(timeout: float) -> bool:
    """Whether every message the job acknowledged has been through the pipeline, within ``timeout`` s."""
    return _IDLE.wait(timeout)


class _Signalled(Exception):
    """SIGINT or SIGTERM, raised in the main thread of a local streaming job."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_signalled(signum, frame):
    raise _Signalled(signum)


def _wait_until_finish(result) -> None:
    """``result.wait_until_finish()``, with the main thread free to take signals meanwhile.

    The local runner's wait blocks the main thread until the runner has
    news, which an idle job waiting out a 30 s pull has none of; a signal's
    Python handler runs only then. So another thread waits, and this one
    wakes every half second.
    """
    finished = threading.Event()
    failure: list[BaseException] = []

    def wait() -> None:
        try:
            result.wait_until_finish()
        except BaseException as err:  # re-raised in the main thread
            failure.append(err)
        finally:
            finished.set()

    threading.Thread(target=wait, name="cio-wait", daemon=True).start()
    while not finished.wait(0.5):
        pass
    if failure:
        raise failure[0]


def _cancel(result, timeout: float = 1.0) -> None:
    """Cancels a local streaming job, waiting at most ``timeout`` s.

    The runner's cancel waits for its threads, one of which may be waiting
    out a 30 s pull of an empty subscription; nothing of the job's is left
    to wait for by then (pipeline/local_stop.py), so the process may exit
    without it.
    """
    def cancel() -> None:
        with contextlib.suppress(Exception):  # the runner may be stopping already
            result.cancel()

    thread = threading.Thread(target=cancel, name="cio-cancel", daemon=True)
    thread.start()
    thread.join(timeout)


def run_until_stopped(pipeline, say: Callable[[str], None]) -> int:
    """Runs a local streaming job until SIGINT or SIGTERM; returns the exit status (128 + the signal).

    The first signal stops acknowledging, waits until what was acknowledged
    is through (at most ``STOP_SECONDS``), cancels the job and says how it
    ended (``say``); a second one stops at once.
    """
    result = None
    with stoppable_pulls():
        previous = {signum: signal.signal(signum, _raise_signalled) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            result = pipeline.run()
            _wait_until_finish(result)
            return 0
        except _Signalled as stop:
            name = signal.Signals(stop.signum).name
            request_stop()
            say(f"{name} received: finishing the messages already taken from the subscription "
                f"(a second signal stops at once)")
            try:
                clean = wait_until_idle(STOP_SECONDS)
            except _Signalled:
                clean = False
            for signum in previous:  # a third signal would only interrupt the cancelling
                signal.signal(signum, signal.SIG_IGN)
            if result is not None:
                _cancel(result)
            if clean:
                say(f"stopped by {name}: every message taken from the subscription was delivered or "
                    f"dead-lettered; the others stay in it for the next job")
            else:
                say(f"stopped by {name} before the job was through the messages it had taken: those "
                    f"not yet delivered or dead-lettered (at most one pull, 10 messages) are lost "
                    f"(docs/streaming.md)")
            return 128 + stop.signum
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
