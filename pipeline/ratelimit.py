"""The request budget of one worker process, shared by its delivery threads.

Written by hand because no well-kept library does all three things the job
needs: pacing (never more than the budget in any one-second window, which a
bursty token bucket allows), sharing between threads, and slowing down on
Customer.io's 429 answers, honouring Retry-After, then recovering. Beam's
AdaptiveThrottler only drops requests client-side; it does not pace.

It paces by reserving slots: each request takes the next free slot, slots
being 1/rate seconds apart, and sleeps until its slot (outside the lock).
"""

from __future__ import annotations

import threading
import time


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
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Waits for this request's slot; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1.0 / self.rate
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return max(wait, 0.0)

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
