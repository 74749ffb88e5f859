"""Tells "Customer.io is down or unreachable" from "this call failed".

A failed call (no connection, no answer in time, 408 or 5xx) alone says
little: retrying it is the sender's job. But when every call fails for a
while, retrying each one wastes the events' retries and, after the last
one, dead-letters events that were never at fault. So the senders of a
process report each such failure here, and the watch asks a cheap probe
(``GET /api/v1/accounts/region``, which needs no event) whether Customer.io
answers at all:

- when failures pile up with no success (OUTAGE_FAILURES in a row and
  nothing delivered for OUTAGE_QUIET_SECONDS), or a call is about to give
  up and nothing succeeded since its first failed try, the watch probes once;
- if the probe fails too, Customer.io is *down*: every sender of the process
  waits (`wait_until_up`) instead of sending, the failed try does not count
  against the call's retries, and one waiting thread probes again with
  capped exponential backoff until Customer.io answers;
- if the outage lasts longer than the limit (--outage_limit_seconds, batch
  jobs), the watch asks the job to stop (pipeline/stopping.py): the calls
  not sent are left undone, not dead-lettered. A streaming job has no limit:
  it keeps waiting and logs that it does.

A probe that gets any HTTP answer but 408 or 5xx counts as "up" (a 401 or a
429 comes from a live Customer.io). If only the track calls fail while the
probe is answered, the calls are retried and dead-lettered as usual.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import requests

from pipeline import stopping
from transforms.limits import REGION_PATH

LOG = logging.getLogger("cio-pipeline")

# "Every call fails for a while": this many failures in a row, across the
# process's senders, with nothing delivered for this long.
OUTAGE_FAILURES = 3
OUTAGE_QUIET_SECONDS = 1.0
# How often a long outage is reported in the log.
REPORT_EVERY_SECONDS = 30.0


def is_outage_status(status: int | None) -> bool:
    """A try that says Customer.io may be down: no answer, 408 or 5xx."""
    return status is None or status == 408 or 500 <= status < 600


def region_probe(base_url: str, authorization: str, timeout: float) -> Callable[[], bool]:
    """A probe: True when Customer.io answers ``GET /api/v1/accounts/region`` (not 408/5xx).

    Its own connection per probe (probes are rare): it must not depend on a
    sender's connection pool, which a finished DoFn instance closes.
    """
    url = base_url.rstrip("/") + REGION_PATH

    def probe() -> bool:
        try:
            response = requests.get(url, headers={"Authorization": authorization}, timeout=timeout)
        except requests.RequestException:
            return False
        return not is_outage_status(response.status_code)

    return probe


class OutageWatch:
    """Whether Customer.io is reachable, shared by every sender of one process.

    `probe()` returns True when Customer.io answers. `limit_seconds` None
    means wait for ever (streaming). Thread-safe.
    """

    def __init__(self, probe: Callable[[], bool], limit_seconds: float | None,
                 backoff_seconds: float = 0.5, max_backoff_seconds: float = 30.0,
                 clock=time.monotonic):
        self.probe = probe
        self.limit_seconds = limit_seconds
        self.backoff_seconds = max(backoff_seconds, 0.05)
        self.max_backoff_seconds = max(max_backoff_seconds, self.backoff_seconds)
        self._clock = clock
        self._cond = threading.Condition()
        self._failures = 0            # outage-like failures since the last success
        self._last_success = clock()  # a job's start counts as one
        self._down_since: float | None = None
        self._probing = False
        self._delay = self.backoff_seconds
        self._next_report = 0.0
        self.outages = 0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def succeeded(self) -> None:
        """A call got an answer that is not an outage's."""
        with self._cond:
            self._failures = 0
            self._last_success = self._clock()

    def failed(self, failing_since: float, giving_up: bool, what: str) -> bool:
        """A try failed with no answer, 408 or 5xx (`what` says how, for the log).

        Returns True when Customer.io is down: the caller waits with
        `wait_until_up()` and does not count the try against its retries.
        `failing_since` is when the call's first failed try ended (this clock).
        """
        with self._cond:
            self._failures += 1
            if self.down:
                return True
            quiet = self._clock() - self._last_success
            suspect = ((self._failures >= OUTAGE_FAILURES and quiet >= OUTAGE_QUIET_SECONDS)
                       or (giving_up and self._last_success <= failing_since))
            if not suspect:
                return False
            if self._probing:  # someone is asking already: take their answer
                while self._probing:
                    self._cond.wait(0.1)
                return self.down
            self._probing = True
        up = self.probe()
        with self._cond:
            self._probing = False
            if up:
                self._failures = 0
                self._last_success = self._clock()
            else:
                self._down_since = self._clock()
                self._delay = self.backoff_seconds
                self._next_report = self._down_since + REPORT_EVERY_SECONDS
                self.outages += 1
                limit = (f"the job stops after {self.limit_seconds:g} s of it (--outage_limit_seconds)"
                         if self.limit_seconds is not None else "waiting for as long as it lasts")
                LOG.warning("Customer.io is down or unreachable (%s, and the probe failed): sending paused, "
                            "no event's retries spent; %s", what, limit)
            self._cond.notify_all()
            return not up

    def wait_until_up(self) -> float:
        """Waits while Customer.io is down; returns the seconds waited.

        One waiting thread probes at a time; the others wait for its answer.
        Raises StopRequested when the job is stopping (a signal, or this
        outage outlasted the limit).
        """
        if not self.down:
            stopping.raise_if_stopping()
            return 0.0
        started = self._clock()
        with self._cond:
            while self.down:
                stopping.raise_if_stopping()
                if self._probing:
                    self._cond.wait(0.1)
                    continue
                self._probing = True
                delay = self._delay
                self._cond.release()
                try:
                    stopping.sleep(delay)
                    up = not stopping.stop_requested() and self.probe()
                finally:
                    self._cond.acquire()
                    self._probing = False
                self._after_probe(up)
                self._cond.notify_all()
        stopping.raise_if_stopping()
        return self._clock() - started

    def _after_probe(self, up: bool) -> None:
        """Called with the lock held after a probe during an outage."""
        now = self._clock()
        lasted = now - self._down_since
        if up:
            LOG.warning("Customer.io answers again after %.0f s: sending resumed", lasted)
            self._down_since = None
            self._failures = 0
            self._last_success = now
            return
        self._delay = min(self._delay * 2, self.max_backoff_seconds)
        if self.limit_seconds is not None and lasted >= self.limit_seconds:
            stopping.request_stop(stopping.OUTAGE, f"Customer.io was down or unreachable for {lasted:.0f} s "
                                                   f"(--outage_limit_seconds {self.limit_seconds:g})")
        elif now >= self._next_report:
            self._next_report = now + REPORT_EVERY_SECONDS
            LOG.warning("Customer.io still down or unreachable after %.0f s; %s", lasted,
                        "waiting" if self.limit_seconds is None
                        else f"the job stops at {self.limit_seconds:g} s")


_PROCESS_WATCHES: dict[tuple, OutageWatch] = {}
_PROCESS_WATCHES_LOCK = threading.Lock()


def process_outage_watch(job_id: str, base_url: str, make: Callable[[], OutageWatch]) -> OutageWatch:
    """The one watch of this process for a job and endpoint (like pipeline.ratelimit.process_limiter).

    Every DoFn instance of the process shares it: when Customer.io is down,
    all of the process's senders wait. Keyed by the endpoint too, so that
    jobs without an id in one process (tests, tools) never share a watch
    that probes another endpoint.
    """
    with _PROCESS_WATCHES_LOCK:
        watch = _PROCESS_WATCHES.get((job_id, base_url))
        if watch is None:
            watch = _PROCESS_WATCHES[(job_id, base_url)] = make()
        return watch
