"""The sizing arithmetic the docs (and a dry run's summary) quote."""

import pytest

from pipeline.sizing import describe, v1_backfill, v2_backfill


def test_a_v1_backfill_of_a_million_events_at_100_per_second_takes_about_three_hours():
    estimate = v1_backfill(1_000_000, rate_limit=100)
    assert estimate.seconds == 10_000 and estimate.bound == "rate limit"
    assert describe(estimate) == "~2.8 h at 100 events/s (bound by the rate limit)"


def test_v2_is_bound_by_the_cpu_until_the_budget_times_items_per_request_is_lower():
    cpu_bound = v2_backfill(1_000_000, rate_limit=100, events_per_second_per_process=15_000, processes=2)
    assert cpu_bound.bound == "CPU" and cpu_bound.events_per_second == 30_000
    assert describe(cpu_bound) == "~33 s at 30,000 events/s (bound by the CPU)"
    budget_bound = v2_backfill(1_000_000, rate_limit=10, events_per_second_per_process=15_000, processes=2,
                               items_per_request=500)
    assert budget_bound.bound == "rate limit" and budget_bound.events_per_second == 5_000
    assert budget_bound.seconds == 200


def test_nonsense_inputs_are_refused():
    with pytest.raises(ValueError):
        v1_backfill(10, rate_limit=0)
    with pytest.raises(ValueError):
        v2_backfill(10, rate_limit=100, events_per_second_per_process=0)
