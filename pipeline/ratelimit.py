"""The request budget of one worker process, shared by all its senders.

Written by hand because no well-kept library does all the job needs:
pacing (requests spread evenly, not in bursts), a hard cap of the budget in
any one-second window (which a token bucket does not give: it allows a full
bucket plus the refill), sharing between threads and between the concurrent
bundles of one process, and slowing down on Customer.io's 429 answers,
honouring Retry-After, then recovering. Beam's AdaptiveThrottler only drops
requests client-side; it does not pace.

How: each request takes the next free slot, slots being 1/rate seconds apart,
and sleeps until its slot (outside the lock); then, at the moment it really
goes out, a sliding log of send times makes sure that no window of
`WINDOW_SECONDS` holds more than the budget of one second. The window is a
little longer than a second so that a request that reaches Customer.io a few
milliseconds late cannot be counted in the next second's budget there.
"""

from __future__ import annotations

import collections
import threading
import time

# One second plus a margin for the time between sending and arriving.
WINDOW_SECONDS = 1.02


class AdaptiveRateLimiter:
    """Paces requests to at most `rate` per second; halves it on throttling.

    After a 429 the rate halves (not below `min_fraction` of the budget) and
    no request starts before Retry-After has passed; each later success
    gives back 1% of the budget, so the rate climbs back within ~100 calls.
    """

    def __init__(self, rate: float, min_fraction: float = 0.05, clock=time.monotonic, sleep=time.sleep):
        if rate <= 0:
            raise ValueError("rate must be greater than 0")
        self.max_rate = float(rate)
        self.rate = float(rate)
        self.min_rate = max(self.max_rate * min_fraction, 0.1)
        self._clock = clock
        self._sleep = sleep
        self._next_slot = 0.0
        self._sent = collections.deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Waits until this request may go out; returns the seconds waited."""
        started = self._clock()
        with self._lock:
            slot = max(started, self._next_slot)
            self._next_slot = slot + 1.0 / self.rate
        if slot > started:
            self._sleep(slot - started)
        while True:
            with self._lock:
                now = self._clock()
                sent = self._sent
                while sent and now - sent[0] >= WINDOW_SECONDS - 1e-9:
                    sent.popleft()
                if len(sent) < max(1, int(self.rate)):
                    sent.append(now)
                    return now - started
                wait = WINDOW_SECONDS - (now - sent[0])
            self._sleep(max(wait, 1e-6))

    def throttled(self, retry_after: float | None = None) -> None:
        """Customer.io answered 429: slow down, and pause for Retry-After."""
        with self._lock:
            self.rate = max(self.min_rate, self.rate / 2)
            if retry_after:
                self._next_slot = max(self._next_slot, self._clock() + retry_after)

    def succeeded(self) -> None:
        """A request went through: creep back towards the full budget."""
        if self.rate < self.max_rate:
            with self._lock:
                self.rate = min(self.max_rate, self.rate + self.max_rate * 0.01)


_PROCESS_LIMITERS: dict[tuple[float, str], AdaptiveRateLimiter] = {}
_PROCESS_LIMITERS_LOCK = threading.Lock()


def process_limiter(rate: float, job_id: str = "") -> AdaptiveRateLimiter:
    """The one limiter of this process for a job's `rate`.

    A worker process runs one DoFn instance per concurrent bundle (Dataflow:
    one per harness thread), so the limiter lives at module level: every
    instance in the process draws from the same budget. It is per job, so
    that a job does not inherit another's slowed-down rate in a process that
    runs several (tests, notebooks).
    """
    with _PROCESS_LIMITERS_LOCK:
        limiter = _PROCESS_LIMITERS.get((rate, job_id))
        if limiter is None:
            limiter = _PROCESS_LIMITERS[(rate, job_id)] = AdaptiveRateLimiter(rate)
        return limiter
