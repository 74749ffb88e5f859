"""The adaptive limiter paces, slows down on 429 and recovers."""

import bisect
import heapq
import random
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ratelimit import CREDIT_MARGIN_SECONDS, WINDOW_SECONDS, AdaptiveRateLimiter, Ticket, process_limiter


class FakeClock:
    """A clock that only moves when the limiter sleeps (no real waiting)."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def start_times(rate, count):
    """When each of `count` requests through a fresh limiter went out (fake
    clock, answered at once)."""
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(rate, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(count):
        ticket = limiter.acquire()
        starts.append(clock.now)
        limiter.release(ticket, answered=True)
    return starts


def busiest_window(arrivals, window=1.0):
    """The most arrival times in one window [s, s + window) (a window that
    holds the most starts at one of them)."""
    arrivals = sorted(arrivals)
    return max((bisect.bisect_left(arrivals, s + window - 1e-9) - i for i, s in enumerate(arrivals)), default=0)


def busiest_window_at_the_server(spans, window=1.0):
    """The most requests a server could count in one window of `window`
    seconds, if each (sent, answered) request arrived at the worst moment
    of its span: the most spans that touch one window [s, s + window)."""
    answered = sorted(end for _, end in spans)
    return max(sum(1 for sent, end in spans if end >= s and sent < s + window) for s in answered)


class SimulatedSenders:
    """Senders on a fake clock. Each request has a trip there and a trip
    back: released at r, it arrives at r + there and is answered at
    r + there + back, also while the limiter sleeps. A failed try (back is
    None) gives up `failed_after` seconds after its release, having reached
    the server at r + there before that (or not at all: there is None). The
    arrivals at the server are recorded, so a test can place them anywhere
    its legs allow."""

    def __init__(self, rate):
        self.now = 100.0
        self.limiter = AdaptiveRateLimiter(rate, clock=lambda: self.now, sleep=self.sleep)
        self.in_flight = []  # heap of (answer due, order, ticket, answered)
        self.arrivals = []
        self.released = []
        self.order = 0

    def sleep(self, seconds):
        self.answer_until(self.now + seconds)

    def answer_until(self, until):
        while self.in_flight and self.in_flight[0][0] <= until:
            due, _, ticket, answered = heapq.heappop(self.in_flight)
            self.now = max(self.now, due)
            self.limiter.release(ticket, answered=answered)
        self.now = max(self.now, until)

    def send(self, there, back, failed_after=None):
        ticket = self.limiter.acquire()
        self.released.append(self.now)
        self.order += 1
        if there is not None:
            self.arrivals.append(self.now + there)
        if back is None:
            heapq.heappush(self.in_flight, (self.now + failed_after, self.order, ticket, False))
        else:
            heapq.heappush(self.in_flight, (self.now + there + back, self.order, ticket, True))


def simulate(rate, senders, legs):
    """`senders` requests in flight at most, the i-th with `legs[i]` =
    (there, back[, failed_after]); returns the simulation."""
    sim = SimulatedSenders(rate)
    for leg in legs:
        if len(sim.in_flight) == senders:
            sim.answer_until(sim.in_flight[0][0])  # a sender waits for its answer
        sim.send(*leg)
    sim.answer_until(float("inf"))
    return sim


def sending_rate(sim):
    sent = sorted(sim.released)
    return (len(sent) - 1) / (sent[-1] - sent[0])


def test_paces_requests_evenly_at_the_rate():
    starts = start_times(10, 10)
    assert starts[0] == 100.0
    assert all(b - a == pytest.approx(0.1) for a, b in zip(starts, starts[1:]))


def test_no_window_holds_more_than_the_budget():
    starts = start_times(10, 100)
    for i, start in enumerate(starts):
        assert sum(1 for s in starts[i:] if s - start < WINDOW_SECONDS - 1e-9) <= 10
    # ... and uses it all: 100 requests at 10/s in 9.9 s
    assert starts[-1] - starts[0] == pytest.approx(9.9)


def legs_within_the_assumption(draw, count):
    """Trips there within [U, 2U] and back within [V, 2V] (each drawn
    anywhere in its range, so arrivals fall anywhere the legs assumption of
    pipeline/ratelimit.py allows); some tries fail, at any time after their
    arrival, or with none."""
    shortest_there = draw(st.floats(0, 0.4))
    shortest_back = draw(st.floats(0, 0.4))
    stretch = st.sampled_from([1.0, 2.0, 1.5]) | st.floats(1.0, 2.0)
    legs = []
    for _ in range(count):
        there = shortest_there * draw(stretch)
        if draw(st.integers(0, 9)) == 0:
            there = draw(st.sampled_from([there, None]))
            legs.append((there, None, (there or 0.0) + draw(st.floats(0, 1.5))))
        else:
            legs.append((there, shortest_back * draw(stretch)))
    return legs


@pytest.mark.thorough
@settings(max_examples=300, deadline=None)
@given(rate=st.integers(1, 20), senders=st.integers(1, 40), data=st.data())
def test_no_server_window_above_the_budget_wherever_the_legs_put_arrivals(rate, senders, data):
    # Answered requests stop counting early by the credit (half the
    # shortest round trip); with every trip there within [U, 2U] and back
    # within [V, 2V] no one-second window at the server holds more than the
    # budget, however the arrivals fall.
    legs = legs_within_the_assumption(data.draw, data.draw(st.integers(1, 80)))
    sim = simulate(rate, senders, legs)
    assert len(sim.released) == len(legs)
    assert busiest_window(sim.arrivals) <= rate


def mixed_legs(count, leg):
    """Every third request quick there and slow back (L, 2L), the others
    the reverse (2L, L): the legs assumption holds (trips within [L, 2L]),
    every round trip is 3L, and a quick-there request can land right after
    quick-back ones have stopped counting."""
    return [(leg, 2 * leg) if i % 3 == 1 else (2 * leg, leg) for i in range(count)]


@pytest.mark.parametrize("leg", [0.05, 0.125, 0.2])
def test_the_credit_is_no_larger_than_the_legs_allow(leg):
    # Here the assumption allows a credit up to U + V = 2L, two thirds of
    # the shortest round trip; the limiter's, half of it, is 1.5L. A credit
    # of three quarters of the round trip (2.25L) lets a window at the
    # server hold more than the budget.
    for senders in (10, 20, 40):
        sim = simulate(10, senders, mixed_legs(400, leg))
        assert busiest_window(sim.arrivals) <= 10, senders


def test_the_credit_gives_back_half_the_round_trip():
    # Each request holds its place for 1 s + its round trip - the credit:
    # with a 100 ms round trip and enough senders 10/s becomes 10/1.055 per
    # second, at 250 ms 10/1.13 (the budget / (1 + round trip) without it).
    assert sending_rate(simulate(10, 20, [(0.05, 0.05)] * 201)) == pytest.approx(10 / 1.055, rel=0.01)
    assert sending_rate(simulate(10, 20, [(0.125, 0.125)] * 201)) == pytest.approx(10 / 1.13, rel=0.01)
    # ... and a local round trip next to nothing.
    assert sending_rate(simulate(10, 10, [(0.001, 0.001)] * 101)) == pytest.approx(10, rel=0.01)


def test_a_try_with_no_answer_gets_no_credit():
    sim = simulate(10, 20, [(0.05, 0.05)] * 20)
    assert sim.limiter.credit == pytest.approx(0.05 - CREDIT_MARGIN_SECONDS)
    ticket = sim.limiter.acquire()
    released = sim.now
    sim.limiter.release(ticket, answered=False)
    assert max(sim.limiter._counted_until) == pytest.approx(released + WINDOW_SECONDS)


def test_the_round_trip_average_follows_the_tries():
    sim = simulate(10, 20, [(0.05, 0.05)] * 50 + [(0.15, 0.15)] * 100)
    assert sim.limiter.round_trip == pytest.approx(0.3, rel=0.05)
    assert sim.limiter.credit == pytest.approx(0.05 - CREDIT_MARGIN_SECONDS)  # the shortest stays


def test_release_without_acquire_is_an_error():
    limiter = AdaptiveRateLimiter(10)
    with pytest.raises(RuntimeError):
        limiter.release(Ticket(0.0, 0.0), answered=True)


def test_one_limiter_per_process_and_job():
    assert process_limiter(123.0, "job-a") is process_limiter(123.0, "job-a")
    assert process_limiter(123.0, "job-a") is not process_limiter(123.0, "job-b")


@pytest.mark.thorough
def test_never_more_than_the_rate_in_any_second_with_threads():
    limiter = AdaptiveRateLimiter(200)
    spans = []
    lock = threading.Lock()
    pause = random.Random(7)

    def worker():
        for _ in range(40):
            ticket = limiter.acquire()
            sent = time.monotonic()
            time.sleep(pause.uniform(0, 0.03))  # the round trip
            answered = time.monotonic()
            limiter.release(ticket, answered=False)  # no credit: arrivals anywhere in the span
            with lock:
                spans.append((sent, answered))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(spans) == 320
    assert busiest_window_at_the_server(spans) <= 200
    starts = sorted(s for s, _ in spans)
    assert starts[-1] - starts[0] >= 1.5  # 320 requests at 200/s take >= 1.6 s


def test_throttle_halves_the_rate_and_waits_retry_after():
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(100, clock=clock, sleep=clock.sleep)
    limiter.release(limiter.acquire(), answered=True)
    limiter.throttled(retry_after=2)
    assert limiter.rate == 50
    assert limiter.acquire().waited == pytest.approx(2.0)


def test_rate_recovers_after_successes_but_not_above_budget():
    limiter = AdaptiveRateLimiter(100)
    for _ in range(5):
        limiter.throttled()
    assert limiter.rate == pytest.approx(5)  # floor: 5% of the budget
    for _ in range(200):
        limiter.succeeded()
    assert limiter.rate == 100


def test_rejects_a_rate_of_zero():
    with pytest.raises(ValueError):
        AdaptiveRateLimiter(0)


def test_of_the_requests_waiting_for_the_budget_the_highest_priority_goes_first():
    # A budget of one request, on a clock the test moves: one waiter watches
    # the count, two more queue behind it; the one given the higher
    # priority (a lane with more calls left) goes next, though it came last.
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(1, clock=clock, sleep=lambda seconds: time.sleep(0.001))
    limiter.release(limiter.acquire(), answered=False)  # counts until 101
    went, tickets = [], {}

    def waiter(name, priority):
        tickets[name] = limiter.acquire(priority)
        went.append(name)

    def until(condition):
        deadline = time.monotonic() + 10
        while not condition():
            assert time.monotonic() < deadline
            time.sleep(0.001)

    threads = [threading.Thread(target=waiter, args=("first", 1))]
    threads[0].start()
    until(lambda: limiter._watcher is not None)
    for name, priority in (("low", 1), ("high", 5)):
        threads.append(threading.Thread(target=waiter, args=(name, priority)))
        threads[-1].start()
        until(lambda n=len(threads) - 1: len(limiter._queue) == n)
    for turn in range(3):
        clock.now += 1000  # everything counted has expired
        until(lambda: len(went) == turn + 1)
        limiter.release(tickets[went[-1]], answered=False)
    for t in threads:
        t.join()
    assert went == ["first", "high", "low"]
