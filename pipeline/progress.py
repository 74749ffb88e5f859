"""A log line every few seconds, so that a long backfill shows it is moving.

Beam's metrics are only readable once a DirectRunner job ends; this counts
in the worker itself and logs ``read 120000 events (41000/s)``-style lines.
"""

from __future__ import annotations

import logging
import time

LOG = logging.getLogger("cio-pipeline")


class Progress:
    """Counts what one worker process did and logs it at most every `every` s."""

    def __init__(self, what: str, unit: str = "events", every: float = 10.0):
        self.what = what
        self.unit = unit
        self.every = every
        self.count = 0
        self.started = time.monotonic()
        self.next_log = self.started + every

    def tick(self, n: int = 1) -> None:
        self.count += n
        now = time.monotonic()
        if now >= self.next_log:
            self.next_log = now + self.every
            rate = self.count / max(now - self.started, 1e-9)
            LOG.info("%s %d %s (%.0f/s)", self.what, self.count, self.unit, rate)
