"""How long a backfill takes, from the rate budget and the pipeline's speed.

Pure arithmetic, no Beam: the docs' sizing advice and a dry run's summary can
both say it the same way. Customer.io counts requests, not events, so:

- v1 sends one request per event (objects aside): a backfill of N events
  takes N / rate_limit seconds however many workers run it;
- v2 sends up to MAX_BATCH_ITEMS events per request: the budget allows
  rate_limit x items per request events/s, and below that the workers' CPU
  is the bound (events/s per worker process x processes).
"""

from __future__ import annotations

from dataclasses import dataclass

from transforms.limits import MAX_BATCH_ITEMS


@dataclass(frozen=True)
class BackfillEstimate:
    """What bounds a backfill and how long it takes."""

    events_per_second: float
    seconds: float
    bound: str  # "rate limit" or "CPU"


def v1_backfill(events: int, rate_limit: float, requests_per_event: float = 1.0) -> BackfillEstimate:
    """A v1 backfill: one request per event, so the budget alone sets its length."""
    if rate_limit <= 0:
        raise ValueError("rate_limit must be positive")
    rate = rate_limit / requests_per_event
    return BackfillEstimate(events_per_second=rate, seconds=events / rate, bound="rate limit")


def v2_backfill(events: int, rate_limit: float, events_per_second_per_process: float, processes: int = 1,
                items_per_request: float = MAX_BATCH_ITEMS) -> BackfillEstimate:
    """A v2 backfill: the lower of the budget (requests/s x items per request) and the workers' CPU."""
    if rate_limit <= 0 or events_per_second_per_process <= 0 or processes <= 0 or items_per_request <= 0:
        raise ValueError("rates, processes and items per request must be positive")
    by_budget = rate_limit * items_per_request
    by_cpu = events_per_second_per_process * processes
    rate, bound = (by_budget, "rate limit") if by_budget < by_cpu else (by_cpu, "CPU")
    return BackfillEstimate(events_per_second=rate, seconds=events / rate, bound=bound)


def describe(estimate: BackfillEstimate) -> str:
    """One line for a person: '~2.8 h at 100 events/s (bound by the rate limit)'."""
    seconds = estimate.seconds
    if seconds >= 3600:
        span = f"~{seconds / 3600:.1f} h"
    elif seconds >= 60:
        span = f"~{seconds / 60:.0f} min"
    else:
        span = f"~{seconds:.0f} s"
    return f"{span} at {estimate.events_per_second:,.0f} events/s (bound by the {estimate.bound})"
