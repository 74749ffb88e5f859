"""The adaptive limiter paces, slows down on 429 and recovers."""

import heapq
import random
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ratelimit import WINDOW_SECONDS, AdaptiveRateLimiter, process_limiter


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
        limiter.acquire()
        starts.append(clock.now)
        limiter.release()
    return starts


def busiest_window_at_the_server(spans, window=1.0):
    """The most requests a server could count in one window of `window`
    seconds, if each (sent, answered) request arrived at the worst moment
    of its span: the most spans that touch one window [s, s + window)."""
    answered = sorted(end for _, end in spans)
    return max(sum(1 for sent, end in spans if end >= s and sent < s + window) for s in answered)


class SimulatedSenders:
    """Senders on a fake clock: requests are answered `round_trip` seconds
    after they go out, also while the limiter sleeps; (sent, answered) spans
    are recorded."""

    def __init__(self, rate):
        self.now = 100.0
        self.limiter = AdaptiveRateLimiter(rate, clock=lambda: self.now, sleep=self.sleep)
        self.in_flight = []  # heap of (answer due, sent)
        self.spans = []

    def sleep(self, seconds):
        self.answer_until(self.now + seconds)

    def answer_until(self, until):
        while self.in_flight and self.in_flight[0][0] <= until:
            due, sent = heapq.heappop(self.in_flight)
            self.now = max(self.now, due)
            self.limiter.release()
            self.spans.append((sent, self.now))
        self.now = max(self.now, until)

    def send(self, round_trip):
        self.limiter.acquire()
        heapq.heappush(self.in_flight, (self.now + round_trip, self.now))


def simulate(rate, senders, round_trips):
    """`senders` requests in flight at most, the i-th answered
    `round_trips[i]` seconds after it went out; returns the spans."""
    sim = SimulatedSenders(rate)
    for round_trip in round_trips:
        if len(sim.in_flight) == senders:
            sim.answer_until(sim.in_flight[0][0])  # a sender waits for its answer
        sim.send(round_trip)
    sim.answer_until(float("inf"))
    return sim.spans


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


@settings(max_examples=200, deadline=None)
@given(rate=st.integers(1, 20), senders=st.integers(1, 20), data=st.data())
def test_no_server_window_above_the_budget_however_late_requests_arrive(rate, senders, data):
    # A request may reach the server at any moment between its release and
    # its answer; even if each arrives at the worst one, no one-second window
    # at the server holds more than the budget.
    round_trips = data.draw(st.lists(st.floats(0, 1.5), min_size=1, max_size=60))
    spans = simulate(rate, senders, round_trips)
    assert len(spans) == len(round_trips)
    assert busiest_window_at_the_server(spans) <= rate


def test_a_round_trip_costs_its_share_of_the_budget():
    # Each request holds its place for a second plus its round trip: with a
    # 100 ms round trip and enough senders, 10/s becomes 10/1.1 per second.
    spans = simulate(10, 10, [0.1] * 101)
    sent = sorted(s for s, _ in spans)
    assert (len(sent) - 1) / (sent[-1] - sent[0]) == pytest.approx(10 / 1.1, rel=0.03)
    # ... and a local round trip next to nothing.
    spans = simulate(10, 10, [0.002] * 101)
    sent = sorted(s for s, _ in spans)
    assert (len(sent) - 1) / (sent[-1] - sent[0]) == pytest.approx(10, rel=0.01)


def test_release_without_acquire_is_an_error():
    with pytest.raises(RuntimeError):
        AdaptiveRateLimiter(10).release()


def test_one_limiter_per_process_and_job():
    assert process_limiter(123.0, "job-a") is process_limiter(123.0, "job-a")
    assert process_limiter(123.0, "job-a") is not process_limiter(123.0, "job-b")


def test_never_more_than_the_rate_in_any_second_with_threads():
    limiter = AdaptiveRateLimiter(200)
    spans = []
    lock = threading.Lock()
    pause = random.Random(7)

    def worker():
        for _ in range(40):
            limiter.acquire()
            sent = time.monotonic()
            time.sleep(pause.uniform(0, 0.03))  # the round trip
            answered = time.monotonic()
            limiter.release()
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
    limiter.acquire()
    limiter.release()
    limiter.throttled(retry_after=2)
    assert limiter.rate == 50
    waited = limiter.acquire()
    assert waited == pytest.approx(2.0)


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
