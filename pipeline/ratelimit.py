"""The request budget of one worker process, shared by all its senders.

Written by hand because no well-kept library does all the job needs:
pacing (requests spread evenly, not in bursts), a hard cap of the budget in
any one-second window as Customer.io counts it (which a token bucket does
not give: it allows a full bucket plus the refill), sharing between threads
and between the concurrent bundles of one process, and slowing down on
Customer.io's 429 answers, honouring Retry-After, then recovering. Beam's
AdaptiveThrottler only drops requests client-side; it does not pace.

How: each request takes the next free slot, slots being 1/rate seconds
apart, and sleeps until its slot (outside the lock). Then comes the cap.
Customer.io counts a request when it arrives, and the sender cannot see
that moment: only that it lies between the request's release (`acquire`)
and its answer (`release`). So a request counts against the budget from
its release until one second after its answer. At most `rate` requests
are counted at any moment, and so no one-second window at the server can
hold more than `rate` arrivals, however late a request arrives on a loaded
host. (Suppose a window [s, s+1) held rate+1 arrivals, and let t be the
latest of their releases: t < s+1, since that request arrived before s+1.
The others were released by t and answered after they arrived, at or after
s > t-1: at t each was in flight or answered less than a second before, so
all rate of them counted, and the last one could not have been released.)
The price is the round trip: each request holds its place for one second
plus its round trip, so with a round trip of d seconds and enough senders
the limiter sends rate/(1+d) per second (~99.8% locally; ~91% at a 100 ms
round trip, still cheaper than the halved rate a 429 brings).
"""

from __future__ import annotations

import collections
import threading
import time

# Customer.io's budget is per second; see the module docstring for why no
# margin for late arrivals is needed.
WINDOW_SECONDS = 1.0
# How long to wait before looking again when every counted request is still
# in flight (none of them will stop counting before it is answered).
IN_FLIGHT_POLL_SECONDS = 0.005


class AdaptiveRateLimiter:
    """Paces requests to at most `rate` per second; halves it on throttling.

    Every `acquire()` must be followed by one `release()` when the request's
    answer came (or the try failed). After a 429 the rate halves (not below
    `min_fraction` of the budget) and no request starts before Retry-After
    has passed; each later success gives back 1% of the budget, so the rate
    climbs back within ~100 calls.
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
        self._answered = collections.deque()  # answer times of the last second
        self._in_flight = 0
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
                answered = self._answered
                while answered and now - answered[0] >= WINDOW_SECONDS:
                    answered.popleft()
                if len(answered) + self._in_flight < max(1, int(self.rate)):
                    self._in_flight += 1
                    return now - started
                if answered:
                    wait = WINDOW_SECONDS - (now - answered[0])
                else:
                    wait = IN_FLIGHT_POLL_SECONDS
            self._sleep(max(wait, 1e-6))

    @property
    def in_flight(self) -> int:
        """Requests acquired and not yet released."""
        return self._in_flight

    def release(self) -> None:
        """The request's answer came (or it failed): it counts one more second."""
        with self._lock:
            if self._in_flight <= 0:
                raise RuntimeError("release() without a matching acquire()")
            self._in_flight -= 1
            self._answered.append(self._clock())

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
