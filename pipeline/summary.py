"""The table a batch job prints when it ends, from Beam's metrics."""

from __future__ import annotations

import collections

from pipeline.sync import summary_rows as sync_summary_rows
from transforms import EVENT_TYPES


def collect_counters(result) -> dict[tuple[str, str], int]:
    """All counters of a finished job, summed over steps: {(namespace, name): n}."""
    totals: dict[tuple[str, str], int] = collections.Counter()
    try:
        counters = result.metrics().query()["counters"]
    except (AttributeError, NotImplementedError):
        return totals
    for counter in counters:
        name = counter.key.metric
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[(name.namespace, name.name)] += value or 0
    return totals


def summary_rows(counters: dict[tuple[str, str], int], elapsed: float) -> list[tuple[str, str]]:
    """(label, value) rows of the summary, in reading order."""
    read = counters.get(("cio", "events_read"), 0)
    rows = [("events read", f"{read}")]
    rows += sync_summary_rows(counters)
    skipped = counters.get(("cio", "skipped_done"), 0)
    if skipped:
        rows.append(("requests skipped: done in an earlier run", f"{skipped}"))
    for kind in EVENT_TYPES:
        n = counters.get(("cio.mapped", kind), 0)
        if n:
            rows.append((f"mapped {kind}", f"{n}"))
    for (namespace, name), n in sorted(counters.items()):
        if namespace == "cio.requests":
            rows.append((f"requests {name}", f"{n}"))
    rows.append(("events delivered", f"{counters.get(('cio', 'events_delivered'), 0)}"))
    rows.append(("retries", f"{counters.get(('cio', 'retries'), 0)}"))
    rows.append(("waited for the rate limit (s, summed over threads)", f"{counters.get(('cio', 'throttled_ms'), 0) / 1000:.1f}"))
    dead = sum(n for (namespace, _), n in counters.items() if namespace == "cio.dead_letter")
    rows.append(("dead-lettered", f"{dead}"))
    reasons = sorted(
        ((n, name) for (namespace, name), n in counters.items() if namespace == "cio.dead_letter_reasons"),
        reverse=True,
    )
    for n, name in reasons[:15]:
        rows.append((f"  {name[:60]}", f"{n}"))
    if len(reasons) > 15:
        rows.append((f"  ({len(reasons) - 15} more reasons)", f"{sum(n for n, _ in reasons[15:])}"))
    rows.append(("elapsed (s)", f"{elapsed:.1f}"))
    rows.append(("events/s", f"{read / elapsed:.0f}" if elapsed > 0 else "-"))
    return rows


def format_summary(rows: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    lines = ["customerio-beam summary", "-" * (width + 12)]
    lines += [f"{label:<{width}}  {value:>10}" for label, value in rows]
    return "\n".join(lines)
