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
its release until one second after its answer, less a credit for the
answer's trip back; at most `rate` requests count at any moment.

The guarantee. Let request i be released at r_i, arrive at s_i = r_i + u_i
and be answered at a_i = s_i + v_i (u: the trip there, v: the trip back,
both including the client's own delays). An answered request counts on
[r_i, a_i + 1 - c_i), with the credit c_i = half the shortest round trip
(a - r) this limiter had measured when i was answered, less 5 ms (never
below 0); a try with no
answer (timeout, dropped connection, error) counts on [r_i, f_i + 1), f_i
being when it failed, and gets no credit. Then no one-second window at the
server, [s, s+1), holds more than `rate` arrivals, provided that

    u_t + v_j >= c_j   for any two requests t and j   (the legs assumption)

that is: one request's trip there plus another's trip back is never
shorter than half the quickest round trip measured so far. It holds, for
instance, whenever the legs vary by less than their minimum (every trip
there within [U, 2U] and every trip back within [V, 2V]: then every round
trip is at most 2(U + V), so every credit is at most U + V). The 5 ms
keep it when the two ends' own delays (a thread waiting for a CPU before
it sends, or after its answer came) lengthen even the quickest round trip
by up to 10 ms beyond that: on a local network, where the legs are a
fraction of a millisecond, the credit is then 0.

Proof. Suppose [s, s+1) held rate+1 arrivals, and let t be the latest of
their releases: r_t = s_t - u_t < s + 1 - u_t. Every other one, j, was
released by r_t and still counted at r_t: if answered, its count ends at
a_j + 1 - c_j >= s + v_j + 1 - c_j > r_t + u_t + v_j - c_j >= r_t; if it
failed, at f_j + 1 >= s_j + 1 > r_t. So when t was released `rate`
requests counted, and it could not have been. Without the assumption the
bound degrades by the excess only: a window of 1 - e seconds, e being the
largest c_j - (u_t + v_j), still holds at most `rate`.

The price is the round trip less the credit: each request holds its place
for 1 + d/2 seconds (plus the 5 ms) with a round trip of d, so with enough
senders the limiter sends rate/(1 + d/2) per second (~95% at a 100 ms
round trip, ~89% at 250 ms, still cheaper than the halved rate a 429
brings). A larger
credit (up to U + V, e.g. the whole shortest round trip) would be safe only
if the shortest trip there and the shortest trip back happened to coincide
in one request; half of R needs no such luck.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time

# Customer.io's budget is per second; see the module docstring for why no
# margin for late arrivals is needed.
WINDOW_SECONDS = 1.0
# The credit is this share of the shortest round trip measured, less a
# margin (see the module docstring: half of it needs no luck in how the legs
# combine; the margin covers either end's own scheduling delays, which
# lengthen even the quickest round trip on a busy host and matter most when
# the network's part is small).
CREDIT_SHARE = 0.5
CREDIT_MARGIN_SECONDS = 0.005
# How long to wait before looking again when every counted request is still
# in flight (none of them will stop counting before it is answered).
IN_FLIGHT_POLL_SECONDS = 0.005
# Weight of the newest try in the round-trip average that sizes the work in
# flight (pipeline/delivery.py): ~1/16 follows a change within ~50 tries.
ROUND_TRIP_WEIGHT = 1 / 16


class _Waiter:
    """A request waiting for its turn to watch the count (see `acquire`)."""

    __slots__ = ("priority", "arrival", "turn")

    def __init__(self, priority: int, arrival: int):
        self.priority = priority
        self.arrival = arrival
        self.turn = threading.Event()

    def __lt__(self, other: "_Waiter") -> bool:
        return (-self.priority, self.arrival) < (-other.priority, other.arrival)


class Ticket:
    """One released request: when it went, and how long it waited to go."""

    __slots__ = ("released_at", "waited")

    def __init__(self, released_at: float, waited: float):
        self.released_at = released_at
        self.waited = waited


class AdaptiveRateLimiter:
    """Paces requests to at most `rate` per second; halves it on throttling.

    Every `acquire()` must be followed by one `release(ticket, answered)`
    when the request's answer came (answered=True) or the try failed. After a
    429 the rate halves (not below `min_fraction` of the budget) and no
    request starts before Retry-After has passed; each later success gives
    back 1% of the budget, so the rate climbs back within ~100 calls.
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
        self._counted_until = []  # heap: when each released request stops counting
        self._in_flight = 0
        self._shortest_round_trip = None  # of the answered tries
        self._round_trip = None  # running average of every try's duration
        self._lock = threading.Lock()
        # Only one waiter at a time watches the count (`_watcher`); the
        # others wait in `_queue`, each on its own event, until the watcher
        # hands over to the one with the highest priority. With hundreds in
        # flight, all waking at each expiry would cost CPU per request that
        # grows with the number in flight; a hand-over costs O(log waiters).
        self._watcher: _Waiter | None = None
        self._queue: list[_Waiter] = []  # heap: highest priority, then longest waiting, first
        self._arrivals = itertools.count()

    def acquire(self, priority: int = 0) -> Ticket:
        """Waits until this request may go out; returns its ticket for `release`.

        Of the requests waiting for the budget, those with a higher
        `priority` go first (equal ones in the order they came). The
        delivery gives a request the number of calls its lane still has to
        send, so that long lanes, which one person's order keeps one call at
        a time, are not also last in every queue: the input's end then finds
        the work spread evenly over the lanes rather than in a few long
        ones that send alone (docs/delivery.md). Which request goes first
        changes nothing in the pacing or the count.
        """
        started = self._clock()
        with self._lock:
            slot = max(started, self._next_slot)
            self._next_slot = slot + 1.0 / self.rate
        if slot > started:
            self._sleep(slot - started)
        me = _Waiter(priority, next(self._arrivals))
        with self._lock:
            if self._watcher is None:
                self._watcher = me
            else:
                heapq.heappush(self._queue, me)
        try:
            if self._watcher is not me:
                me.turn.wait()
            while True:
                with self._lock:
                    now = self._clock()
                    counted = self._counted_until
                    while counted and counted[0] <= now:
                        heapq.heappop(counted)
                    if len(counted) + self._in_flight < max(1, int(self.rate)):
                        self._in_flight += 1
                        return Ticket(now, now - started)
                    wait = counted[0] - now if counted else IN_FLIGHT_POLL_SECONDS
                self._sleep(max(wait, 1e-6))
        finally:
            self._leave(me)

    def _leave(self, me: "_Waiter") -> None:
        """`me` got through (or gave up): if it watched, the waiter with the
        highest priority watches next."""
        with self._lock:
            if self._watcher is me:
                self._watcher = heapq.heappop(self._queue) if self._queue else None
                if self._watcher is not None:
                    self._watcher.turn.set()
            elif me in self._queue:  # interrupted while queued
                self._queue.remove(me)
                heapq.heapify(self._queue)

    @property
    def in_flight(self) -> int:
        """Requests acquired and not yet released."""
        return self._in_flight

    @property
    def credit(self) -> float:
        """Seconds an answered request stops counting early (see the module docstring)."""
        shortest = self._shortest_round_trip
        if shortest is None:
            return 0.0
        return min(max(0.0, CREDIT_SHARE * shortest - CREDIT_MARGIN_SECONDS), WINDOW_SECONDS)

    @property
    def round_trip(self) -> float | None:
        """The recent average duration of a try (release to answer or failure)."""
        return self._round_trip

    def release(self, ticket: Ticket, answered: bool) -> None:
        """The try is over: it counts one more second, less the credit if `answered`."""
        with self._lock:
            if self._in_flight <= 0:
                raise RuntimeError("release() without a matching acquire()")
            self._in_flight -= 1
            now = self._clock()
            took = max(0.0, now - ticket.released_at)
            average = self._round_trip
            self._round_trip = took if average is None else average + ROUND_TRIP_WEIGHT * (took - average)
            if answered:
                if self._shortest_round_trip is None or took < self._shortest_round_trip:
                    self._shortest_round_trip = took
                heapq.heappush(self._counted_until, now + WINDOW_SECONDS - self.credit)
            else:
                heapq.heappush(self._counted_until, now + WINDOW_SECONDS)

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
