"""Rate limiting and rate observation over sliding time windows.

Why this module exists: Customer.io allows about 1000 requests/s per
workspace, and a benchmark needs to prove the pipeline stays under a limit.
``SlidingWindowLimiter`` refuses requests beyond N per any 1-second window
(so an admitted stream never exceeds N in any window, exactly what
``WindowPeak`` measures); ``WindowPeak`` records the largest number of arrivals
seen in any window of a given length, in O(1) amortized time and memory
bounded by the requests of one window.

Neither takes a lock: callers hold the sandbox's state lock.
"""

from __future__ import annotations

import math
from collections import deque


class SlidingWindowLimiter:
    """Admit at most ``limit`` requests in any ``window`` seconds."""

    def __init__(self, rate: float, window: float = 1.0):
        self.limit = max(1, int(rate)) if rate > 0 else 0
        self.window = window
        self._admitted: deque[float] = deque()

    def admit(self, now: float) -> int:
        """0 when admitted, else the seconds to wait (integer >= 1)."""
        if not self.limit:
            return 0
        admitted = self._admitted
        horizon = now - self.window
        while admitted and admitted[0] <= horizon:
            admitted.popleft()
        if len(admitted) < self.limit:
            admitted.append(now)
            return 0
        return max(1, math.ceil(admitted[0] + self.window - now))

    def reset(self):
        self._admitted.clear()


class WindowPeak:
    """Largest number of arrivals in any sliding window of ``window`` seconds.

    Arrival times must be fed in non-decreasing order (the caller stamps them
    under its lock with a monotonic clock).
    """

    def __init__(self, window: float):
        self.window = window
        self.peak = 0
        self._times: deque[float] = deque()

    def add(self, now: float):
        times = self._times
        times.append(now)
        horizon = now - self.window
        while times[0] <= horizon:
            times.popleft()
        if len(times) > self.peak:
            self.peak = len(times)

    def reset(self):
        self.peak = 0
        self._times.clear()
