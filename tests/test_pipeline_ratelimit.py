"""The adaptive limiter paces, slows down on 429 and recovers."""

import threading
import time

import pytest

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
    """When each of `count` requests through a fresh limiter went out (fake clock)."""
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(rate, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(count):
        limiter.acquire()
        starts.append(clock.now)
    return starts


def test_paces_requests_evenly_at_the_rate():
    starts = start_times(10, 10)
    assert starts[0] == 100.0
    assert all(b - a == pytest.approx(0.1) for a, b in zip(starts, starts[1:]))


def test_no_window_holds_more_than_the_budget():
    starts = start_times(10, 100)
    for i, start in enumerate(starts):
        assert sum(1 for s in starts[i:] if s - start < WINDOW_SECONDS - 1e-9) <= 10
    # ... and uses it: 100 requests at 10/s in about 10 s (the window margin costs 2%)
    assert starts[-1] - starts[0] <= 9.9 * WINDOW_SECONDS + 0.01


def test_one_limiter_per_process_and_job():
    assert process_limiter(123.0, "job-a") is process_limiter(123.0, "job-a")
    assert process_limiter(123.0, "job-a") is not process_limiter(123.0, "job-b")


def test_never_more_than_the_rate_in_any_second_with_threads():
    limiter = AdaptiveRateLimiter(200)
    starts = []
    lock = threading.Lock()

    def worker():
        for _ in range(40):
            limiter.acquire()
            with lock:
                starts.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    worst = max(sum(1 for s in starts[i:] if s - start < 1.0) for i, start in enumerate(starts))
    assert len(starts) == 320
    assert worst <= 200
    assert starts[-1] - starts[0] >= 1.5  # 320 requests at 200/s take >= 1.6 s


def test_throttle_halves_the_rate_and_waits_retry_after():
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(100, clock=clock, sleep=clock.sleep)
    limiter.acquire()
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
