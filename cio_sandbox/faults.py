"""Fault injection: decide, per request, whether to misbehave and how.

Why this module exists: the pipeline's retry, timeout and dead-letter paths
can only be tested against a server that fails on purpose, reproducibly. One
seeded ``random.Random`` draw per request (under a lock, so threads share one
sequence) is mapped onto consecutive slices of [0, 1):
drop | error | throttle | slow | (normal).
"""

from __future__ import annotations

import random
import threading

DROP = "drop"          # close the connection without an answer
ERROR = "error"        # 500
THROTTLE = "throttle"  # 429 with Retry-After
SLOW = "slow"          # apply, then answer after slow_seconds


class FaultInjector:
    def __init__(self, drop_rate=0.0, error_rate=0.0, throttle_rate=0.0, slow_rate=0.0, seed=0):
        self._seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        # cumulative thresholds, in draw order
        self._slices = []
        edge = 0.0
        for kind, rate in ((DROP, drop_rate), (ERROR, error_rate),
                           (THROTTLE, throttle_rate), (SLOW, slow_rate)):
            if rate > 0:
                edge += rate
                self._slices.append((edge, kind))
        self.enabled = bool(self._slices)

    def decide(self) -> str | None:
        """The fault for this request, or None."""
        if not self.enabled:
            return None
        with self._lock:
            x = self._rng.random()
        for edge, kind in self._slices:
            if x < edge:
                return kind
        return None

    def reset(self):
        with self._lock:
            self._rng.seed(self._seed)
