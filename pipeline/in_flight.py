"""How many requests a worker process keeps in flight: its rate × the round trip.

A sender waits for each answer, so a process that may send `rate` requests
a second with a round trip of d seconds needs about rate × d requests in
flight to use its budget (Little's law); with fewer the round trip, not the
budget, sets the pace, and with many more the extra senders only queue at
the limiter. So the number is measured, not configured: `SendingGate`
lets a new group of calls start while fewer than

    target = ceil(current rate × average try duration × HEADROOM) + SPARE

are running, never more than the cap (--max_in_flight). The rate is the
limiter's current one (it halves on a 429), the duration its running
average of every try (pipeline/ratelimit.py), so the target follows both.

It is per process, like the limiter: a worker runs one DoFn instance per
concurrent bundle, and all of them share one thread pool and one target.
The pool's threads block on their socket while a request is in flight, so
the number in flight costs no CPU per request; senders waiting for the
budget cost a little (the limiter lets one waiter at a time watch its
count), which is why the headroom is modest (docs/delivery.md).
"""

from __future__ import annotations

import concurrent.futures
import math
import threading

from pipeline.ratelimit import AdaptiveRateLimiter
from pipeline.stopping import StopRequested

# Room above rate × round trip: the round trip varies, and a sender also
# spends time outside the try (waiting for its slot, reading the answer).
HEADROOM = 1.5
SPARE = 4
# Before the first try has been timed.
FIRST_TARGET = 8
# How often a caller waiting for room looks at the target again (it grows
# as round trips are measured, with no sender finishing to announce it).
RECHECK_SECONDS = 0.05


class SendingGate:
    """A process-wide thread pool whose running tasks follow the target above."""

    def __init__(self, limiter: AdaptiveRateLimiter, cap: int):
        if cap < 1:
            raise ValueError("cap must be at least 1")
        self.limiter = limiter
        self.cap = cap
        self.pool = _process_pool(cap)
        self._running = 0
        self._changed = threading.Condition()

    def target(self) -> int:
        """How many tasks may run now."""
        round_trip = self.limiter.round_trip
        if round_trip is None:
            return min(self.cap, FIRST_TARGET)
        wanted = math.ceil(self.limiter.rate * round_trip * HEADROOM) + SPARE
        return max(1, min(self.cap, wanted))

    @property
    def running(self) -> int:
        return self._running

    def submit(self, fn, *args, wait: bool = True) -> concurrent.futures.Future | None:
        """Runs fn(*args) on the pool once fewer than `target()` tasks run;
        with wait=False, only if that is so now (else returns None)."""
        with self._changed:
            while self._running >= self.target():
                if not wait:
                    return None
                self._changed.wait(RECHECK_SECONDS)
            self._running += 1
        try:
            return self.pool.submit(self._run, fn, args)
        except RuntimeError as err:
            # The pool refuses work once the interpreter is exiting: a worker
            # process whose job was stopped and whose runner is gone. Its
            # calls are left undone, as for any stop.
            self._finished()
            raise StopRequested("this process is exiting: the job was stopped") from err
        except BaseException:
            self._finished()
            raise

    def _run(self, fn, args):
        try:
            return fn(*args)
        finally:
            self._finished()

    def _finished(self) -> None:
        with self._changed:
            self._running -= 1
            self._changed.notify_all()

    def wait_until_idle(self) -> None:
        """Waits until no task of this gate runs."""
        with self._changed:
            while self._running:
                self._changed.wait(RECHECK_SECONDS)


_PROCESS_POOLS: dict[int, concurrent.futures.ThreadPoolExecutor] = {}
_PROCESS_POOLS_LOCK = threading.Lock()
_PROCESS_GATES: dict[tuple[int, int], SendingGate] = {}
_PROCESS_GATES_LOCK = threading.Lock()


def _process_pool(cap: int) -> concurrent.futures.ThreadPoolExecutor:
    """One pool per cap, kept for the process's life: its idle threads serve
    the next job in the process (tests, notebooks) instead of piling up."""
    with _PROCESS_POOLS_LOCK:
        pool = _PROCESS_POOLS.get(cap)
        if pool is None:
            pool = _PROCESS_POOLS[cap] = concurrent.futures.ThreadPoolExecutor(cap, thread_name_prefix="cio-deliver")
        return pool


def process_gate(limiter: AdaptiveRateLimiter, cap: int) -> SendingGate:
    """The one gate of this process for `limiter` (one per job, see process_limiter)."""
    with _PROCESS_GATES_LOCK:
        gate = _PROCESS_GATES.get((id(limiter), cap))
        if gate is None or gate.limiter is not limiter:
            gate = _PROCESS_GATES[(id(limiter), cap)] = SendingGate(limiter, cap)
        return gate


def wait_for_senders() -> None:
    """Waits until no sender of this process has a call in flight.

    A stopped job's bundle fails at once, while the process's pool (which
    outlives the job) may still be finishing the calls in flight; run()
    waits here so that those end, and are counted, before it reports and
    stops listening for a second signal.
    """
    with _PROCESS_GATES_LOCK:
        gates = list(_PROCESS_GATES.values())
    for gate in gates:
        gate.wait_until_idle()
