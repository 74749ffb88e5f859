"""Sends HTTP calls to Customer.io: paced, retried, and nothing lost.

`DeliverCalls` receives ``(key, [HttpCall, ...])``: the calls of one person
(v1) or of one shard's batches (v2), already in send order. Each key has a
lane: one task of the process's thread pool that sends the key's groups
call after call, in the order they came; so one person's requests are never
concurrent while many people are served at once. How many lanes run at
once follows the measured round trip and the process's rate
(pipeline/in_flight.py). Every call ends delivered or dead-lettered (with
Customer.io's status and answer).

A DoFn of our own rather than Beam's RequestResponseIO: that one has no
dead-letter output in Python, a fixed retry policy, and fails the pipeline
on a 400 (see BEAM-NOTES.md).
"""

from __future__ import annotations

import collections
import email.utils
import heapq
import itertools
import logging
import random
import threading
import time

import apache_beam as beam
import orjson
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.calls import ALL_KEYS, HttpCall
from pipeline.dead_letter import DEAD_LETTER, dead_letter_record
from pipeline.in_flight import RECHECK_SECONDS, process_gate
from pipeline.outage import OutageWatch, is_outage_status, process_outage_watch, region_probe
from pipeline.progress import Progress
from pipeline.ratelimit import AdaptiveRateLimiter, process_limiter
from pipeline import resume, secrets, stopping
from pipeline.stopping import StopRequested
from pipeline.summary import IN_PROCESS_TALLY
from pipeline.transport import CONNECTION_ERRORS, TIMEOUT_ERRORS, TRANSPORT_ERRORS, Transport
from transforms import Settings

LOG = logging.getLogger("cio-pipeline")

RETRYABLE = frozenset({408, 429}) | frozenset(range(500, 600))
MAX_ERROR_BODY = 1000
USER_AGENT = "customerio-beam/0.1 (+apache-beam)"
# Groups a bundle may hold (handed in, not yet collected) per request the
# process may have in flight: enough to keep every lane busy, not the input.
PENDING_PER_RUNNING = 4
# Of those, groups waiting for a lane to start: the longest starts first
# (see _Lanes), so the more of them wait, the better the input's end is
# spread; fewer than PENDING_PER_RUNNING - 1, so that lanes and waiting
# groups fit in what a bundle may hold.
READY_PER_RUNNING = 2


class RetryPolicy:
    """Capped exponential backoff with full jitter, honouring Retry-After."""

    def __init__(self, max_retries: int, base: float, cap: float, rng=None):
        self.max_retries = max_retries
        self.base = base
        self.cap = cap
        self.rng = rng or random.Random()

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (1, 2, ...)."""
        backoff = self.rng.uniform(0, min(self.cap, self.base * (2 ** (retry - 1))))
        if retry_after is not None:
            return max(min(retry_after, max(self.cap, 1.0)), backoff)
        return backoff


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_BODY else text[:MAX_ERROR_BODY] + "…"


class _Outcome:
    """What one task did: dead-letter records and metric increments.

    Beam metrics can only be updated on the bundle's own thread, so tasks
    collect their counts here and the DoFn adds them up when it collects.
    """

    __slots__ = ("dead_letters", "counts", "finished", "journal")

    def __init__(self, journal=None):
        self.dead_letters: list[bytes] = []
        self.counts: collections.Counter = collections.Counter()
        # (fingerprints, events delivered, events dead-lettered) of each call
        # with dead letters that is done for good, for the progress record
        # (pipeline/resume.py): recorded once its dead letters are written.
        self.finished: list[tuple] = []
        self.journal = journal

    def done(self, call: HttpCall, delivered: int, dead_lettered: int) -> None:
        """Notes a call that needs no sending again: delivered, or failed for a permanent reason."""
        if call.keys is None:
            return
        if dead_lettered == 0 and self.journal is not None:
            self.journal.record(call.keys, delivered, 0)  # now: a kill loses at most the calls in flight
        else:
            self.finished.append((call.keys, delivered, dead_lettered))


class CallSender:
    """Sends one call with retries; usable without Beam (tests, tools)."""

    def __init__(self, transport: Transport, authorization: str, limiter: AdaptiveRateLimiter,
                 policy: RetryPolicy, sleep=stopping.sleep, outage: OutageWatch | None = None):
        self.transport = transport
        self.headers = {
            "Authorization": authorization,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        self.limiter = limiter
        self.policy = policy
        self.sleep = sleep
        # Shared by the process's senders; None: no outage handling (tools, tests).
        self.outage = outage
        # Set by the first 401: the key is wrong or revoked, so every later
        # call would fail too. They are dead-lettered without being sent.
        self.credentials_rejected = False

    def send(self, call: HttpCall, outcome: _Outcome, priority: int = 0) -> None:
        """Sends `call` until delivered or dead-lettered (into `outcome`).

        `priority`: how many calls its lane still has to send, this one
        included; the limiter lets higher ones go first (pipeline/ratelimit.py).

        Raises StopRequested when the job is stopping: the call is then
        neither delivered nor dead-lettered, but left undone.
        """
        counts = outcome.counts
        if self.credentials_rejected:
            counts[("cio", "unauthorized")] += len(call.events)
            for index, event in enumerate(call.events):
                outcome.dead_letters.append(dead_letter_record(
                    "deliver", "not sent: Customer.io rejected the credentials (401) earlier in this job",
                    event=event, status=401, attempts=0, follow_up=index in call.follow_ups))
            return
        failing_since = None  # when this call's first outage-like failure came
        attempts = 0
        while True:
            self._wait_for_customerio(call, counts)
            attempts += 1
            ticket = self.limiter.acquire(priority)
            if ticket.waited:
                counts[("cio", "throttled_ms")] += int(ticket.waited * 1000)
            status = None
            try:
                status, text, retry_after = self._attempt(call)
            finally:
                # Counts against the budget until a second after the answer,
                # less a credit for the trip back if there was an answer.
                self.limiter.release(ticket, answered=status is not None)
            counts[("cio.requests", f"{call.endpoint} {status or 'no answer'}")] += 1
            if self.outage is not None and not is_outage_status(status):
                self.outage.succeeded()
            if status is not None and 200 <= status < 300 and status != 207:
                self.limiter.succeeded()
                delivered, _ = call.events_counted()
                counts[("cio", "events_delivered")] += delivered
                outcome.done(call, delivered, 0)
                return
            if status == 207 and call.batch:
                self.limiter.succeeded()
                self._partial(call, text, attempts, outcome)
                return
            if status is None or status in RETRYABLE:
                if status == 429:
                    self.limiter.throttled(retry_after)
                elif self.outage is not None and is_outage_status(status):
                    failing_since = failing_since or time.monotonic()
                    if self.outage.failed(failing_since, giving_up=attempts > self.policy.max_retries, what=text):
                        # Customer.io is down: this call is not at fault, and its
                        # tries so far (the outage's start) do not spend its retries.
                        attempts = 0
                        failing_since = None
                        continue
                if attempts <= self.policy.max_retries:
                    counts[("cio", "retries")] += 1
                    self.sleep(self.policy.delay(attempts, retry_after))
                    continue
                reason = f"gave up after {attempts} attempts: {text}"
            else:
                reason = f"Customer.io answered {status}: {text}"
                if status == 401:
                    self.credentials_rejected = True
                    counts[("cio", "unauthorized")] += len(call.events)
            for index, event in enumerate(call.events):
                outcome.dead_letters.append(dead_letter_record(
                    "deliver", reason, event=event, status=status, attempts=attempts,
                    follow_up=index in call.follow_ups))
            if status is not None and status not in RETRYABLE and status != 401:
                # a 4xx: sending it again would not help
                outcome.done(call, 0, call.events_counted(range(len(call.events)))[1])
            return

    def _wait_for_customerio(self, call: HttpCall, counts) -> None:
        """Before each try: waits out an outage; raises StopRequested if the job is stopping."""
        try:
            if self.outage is None:
                stopping.raise_if_stopping()
                return
            waited = self.outage.wait_until_up()
        except StopRequested:
            IN_PROCESS_TALLY.add("abandoned", len(call.events))
            raise
        if waited:
            counts[("cio", "outage_waits")] += 1
            counts[("cio", "outage_waited_ms")] += int(waited * 1000)

    def _attempt(self, call: HttpCall):
        """One try: (status or None, short text for errors, Retry-After)."""
        # Only the error's class is reported: its text may hold the URL.
        try:
            response = self.transport.request(call.method, call.url, call.body, self.headers)
        except CONNECTION_ERRORS as err:
            return None, f"connection failed ({type(err).__name__})", None
        except TIMEOUT_ERRORS:
            return None, f"no answer within {self.transport.timeout_seconds:g} s", None
        except TRANSPORT_ERRORS as err:
            return None, f"request failed ({type(err).__name__})", None
        status = response.status
        if 200 <= status < 300 and status != 207:
            return status, "", None
        text = _short(response.text) if status != 207 else response.text
        if status in RETRYABLE:
            text = f"HTTP {status} {_short(response.text)}".strip()
        return status, text, parse_retry_after(response.retry_after)

    def _partial(self, call: HttpCall, text: str, attempts: int, outcome: _Outcome) -> None:
        """A 207: dead-letter exactly the items listed, the rest are delivered."""
        try:
            errors = orjson.loads(text).get("errors") or []
        except (orjson.JSONDecodeError, AttributeError):
            errors = []
        failed: dict[int, list[str]] = {}
        for error in errors:
            if not isinstance(error, dict):
                continue
            index = error.get("batch_index")
            if isinstance(index, int) and 0 <= index < len(call.events):
                parts = [str(error[k]) for k in ("reason", "field", "message") if error.get(k)]
                failed.setdefault(index, []).append(" ".join(parts) or "invalid item")
        if not failed and errors:
            # Errors we cannot attribute to an item: fail the whole batch
            # rather than count anything as delivered that may not be.
            failed = {i: [_short(text)] for i in range(len(call.events))}
        for index, reasons in failed.items():
            outcome.dead_letters.append(dead_letter_record(
                "deliver", "Customer.io rejected the item: " + "; ".join(reasons),
                event=call.events[index], status=207, attempts=attempts,
                follow_up=index in call.follow_ups,
            ))
        delivered, dead_lettered = call.events_counted(failed)
        outcome.counts[("cio", "events_delivered")] += delivered
        outcome.done(call, delivered, dead_lettered)


class _Group:
    """One element's calls, sent in order by one lane, and where its results go."""

    __slots__ = ("key", "calls", "outcome", "window", "timestamp")

    def __init__(self, key, calls: list[HttpCall], journal, window, timestamp):
        self.key = key
        self.calls = calls
        self.outcome = _Outcome(journal)
        self.window = window
        self.timestamp = timestamp


class _Lanes:
    """One bundle's groups, by key, on their way to the process's senders.

    A key's groups go one after another in one lane, in the order they came.
    A group whose key has no lane yet waits in `ready` until a sender is
    free, and then the group with the most calls starts first: one
    person's calls go one at a time, a round trip each, so a long group
    that started late would be the input's end, sending alone while the
    budget goes unused; started first, the long groups run while the short
    ones fill the budget around them (docs/delivery.md). Finished groups
    queue in `finished` for the bundle's thread to hand back.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.behind: dict = {}  # key -> its groups waiting behind the one started or ready
        self.ready: list = []  # heap of (-calls, arrival, group)
        self.arrivals = itertools.count()
        self.finished: collections.deque = collections.deque()
        self.finishes = threading.Semaphore(0)

    def add(self, group: _Group) -> None:
        with self.lock:
            behind = self.behind.get(group.key)
            if behind is not None:
                behind.append(group)
                return
            self.behind[group.key] = collections.deque()
            heapq.heappush(self.ready, (-len(group.calls), next(self.arrivals), group))

    def waiting(self) -> int:
        """Groups waiting for a lane to start."""
        return len(self.ready)

    def next_ready(self) -> _Group | None:
        """The longest group waiting for a lane, taken off the queue."""
        with self.lock:
            return heapq.heappop(self.ready)[2] if self.ready else None

    def next_of(self, key) -> _Group | None:
        """The key's next group, or None: then the key's lane is over."""
        with self.lock:
            behind = self.behind.get(key)
            if behind:
                return behind.popleft()
            self.behind.pop(key, None)  # (gone already if the job stopped: see abandon)
            return None

    def finish(self, group: _Group) -> None:
        """`group` is sent (or left undone by a stop): the bundle's thread may hand it back."""
        self.finished.append(group)
        self.finishes.release()

    def abandon(self) -> None:
        """The job is stopping: every group not started is left undone."""
        with self.lock:
            left = [group for _, _, group in self.ready]
            for behind in self.behind.values():
                left.extend(behind)
            self.ready.clear()
            self.behind.clear()
        for group in left:
            self.finish(group)


class DeliverCalls(beam.DoFn):
    """Sends groups of calls to Customer.io; failures to the dead-letter tag."""

    def __init__(self, settings: Settings, rate_per_process: float, max_retries: int,
                 request_timeout: float, backoff_seconds: float, max_backoff_seconds: float,
                 max_in_flight: int, job_id: str = "", api_key_secret: str | None = None,
                 progress_dir: str | None = None, run_id: str = "",
                 outage_limit_seconds: float | None = None):
        self.settings = settings
        self.progress_dir = progress_dir
        self.run_id = run_id
        # None: wait out an outage for ever (streaming); see pipeline/outage.py.
        self.outage_limit_seconds = outage_limit_seconds
        self.api_key_secret = api_key_secret
        self.job_id = job_id
        self.rate_per_process = rate_per_process
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.max_in_flight = max_in_flight

    def setup(self):
        # As many pooled connections as requests may be in flight: a request
        # that finds none free would open (and then drop) one of its own.
        self.transport = Transport(self.settings.base_url, self.max_in_flight, self.request_timeout)
        api_key = secrets.read_secret(self.api_key_secret) if self.api_key_secret else None
        authorization = self.settings.authorization(api_key)
        limiter = process_limiter(self.rate_per_process, self.job_id)
        self.sender = CallSender(
            self.transport,
            authorization,
            limiter,
            RetryPolicy(self.max_retries, self.backoff_seconds, self.max_backoff_seconds),
            outage=process_outage_watch(self.job_id, self.settings.base_url, lambda: OutageWatch(
                region_probe(self.settings.base_url, authorization, self.request_timeout),
                self.outage_limit_seconds, self.backoff_seconds, self.max_backoff_seconds)),
        )
        self.gate = process_gate(limiter, self.max_in_flight)
        self.progress = Progress("sent", unit="calls")
        self.journal = resume.journal_for(self.progress_dir, self.run_id) if self.progress_dir else None

    def start_bundle(self):
        self.lanes = _Lanes()
        self.outstanding = 0  # groups handed in and not yet handed back

    def _send_group(self, calls: list[HttpCall], outcome: _Outcome) -> None:
        for sent, call in enumerate(calls):
            try:
                self.sender.send(call, outcome, priority=len(calls) - sent)
            except StopRequested:  # the job is stopping: this call and the rest are left undone
                raise
            except Exception as err:  # never lose the events of a call to a bug
                LOG.exception("unexpected error delivering a call")
                for event in call.events:
                    outcome.dead_letters.append(dead_letter_record(
                        "deliver", f"internal error while delivering: {type(err).__name__}", event=event))

    def _run_lanes(self, lanes: _Lanes) -> None:
        """One sender: runs the longest waiting group's lane (that group, then
        every group of its key that queued behind it), then the next longest,
        while the process's target of requests in flight allows.

        When the job stops, every group not yet sent is left undone: handed
        back with nothing sent, so that no one waits for it.
        """
        group = lanes.next_ready()
        while group is not None:
            try:
                self._send_group(group.calls, group.outcome)
            except BaseException as err:
                # The job is stopping (or something escaped _send_group):
                # this group, its key's later ones and every group not
                # started are left undone, so that no one waits for them.
                lanes.finish(group)
                while (group := lanes.next_of(group.key)) is not None:
                    lanes.finish(group)
                lanes.abandon()
                if isinstance(err, StopRequested):
                    return
                raise
            lanes.finish(group)
            following = lanes.next_of(group.key)
            if following is not None:
                group = following
            elif self.gate.running <= self.gate.target():  # this sender counts among those running
                group = lanes.next_ready()
            else:
                return

    def _start_senders(self, block: bool) -> None:
        """Starts a sender for the waiting groups if the target allows; with
        `block`, waits until one can start while too many groups wait (or,
        at a bundle's end, while any does)."""
        lanes = self.lanes
        if not lanes.waiting():
            return
        if self.gate.submit(self._run_lanes, lanes, wait=False) is not None:
            return
        ready_most = 0 if block else READY_PER_RUNNING * self.gate.target()
        while lanes.waiting() > ready_most:
            # Blocks while the process has its target of requests in flight.
            self.gate.submit(self._run_lanes, lanes)

    def _collect(self, group: _Group):
        outcome = group.outcome
        for (namespace, name), value in outcome.counts.items():
            Metrics.counter(namespace, name).inc(value)
        for record in outcome.dead_letters:
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, WindowedValue(record, group.timestamp, [group.window]))
        # Recorded only now: the dead-letter sink (fused after this step) has
        # written the call's dead letters, so a call in the record never
        # lacks its dead letters after a kill.
        if self.journal is not None:
            for keys, delivered, dead_lettered in outcome.finished:
                self.journal.record(keys, delivered, dead_lettered)

    def _collect_finished(self, most: int):
        """Hands back every finished group, waiting for more while over `most` are out."""
        lanes = self.lanes
        while self.outstanding and (self.outstanding > most or lanes.finished):
            if not lanes.finishes.acquire(timeout=RECHECK_SECONDS):
                # Other bundles' senders may fill the process's target: start
                # one for this bundle's waiting groups as soon as one ends.
                self._start_senders(block=False)
                continue
            self.outstanding -= 1
            yield from self._collect(lanes.finished.popleft())

    def process(self, element, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        key, calls = element
        # Once the job is stopping, failing the bundle is how the runner is
        # made to abort the job (pipeline/main.py catches it).
        stopping.raise_if_stopping()
        self.progress.tick(len(calls))
        group = _Group(key, list(calls), self.journal, window, timestamp)
        if key == ALL_KEYS:
            # Anyone's requests: after everything in flight, before anything later.
            yield from self._collect_all()
            self._send_group(group.calls, group.outcome)
            yield from self._collect(group)
            return
        self.outstanding += 1
        self.lanes.add(group)
        self._start_senders(block=False)
        # Bound the groups held; hand back whatever is already finished.
        yield from self._collect_finished(PENDING_PER_RUNNING * self.gate.target())

    def _collect_all(self):
        """Sends every waiting group and hands back what all of them did."""
        self._start_senders(block=True)
        yield from self._collect_finished(0)

    def finish_bundle(self):
        yield from self._collect_all()
        if self.journal is not None:
            self.journal.flush()
        # A stop that came while the last groups were sent: the bundle must
        # still fail, or the runner would report a job that ran to its end.
        stopping.raise_if_stopping()

    def teardown(self):
        # The thread pool is the process's (pipeline/in_flight.py) and stays.
        transport = getattr(self, "transport", None)
        if transport is not None:
            transport.close()
        journal = getattr(self, "journal", None)
        if journal is not None:
            journal.close()
