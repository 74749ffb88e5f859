"""The table a batch job prints when it ends: from Beam's metrics, or for a stopped job from what this process counted."""

from __future__ import annotations

import collections
import threading

from pipeline import resume
from pipeline.dead_letter import shorten
from pipeline.sinks import count_dead_letters, dead_letter_files

from pipeline.sync import summary_rows as sync_summary_rows
from transforms import EVENT_TYPES


class InProcessTally:
    """Events this process's senders took up but did not send when the job stopped ("abandoned").

    Beam's metrics come only with the result of a finished job, and a job
    that is stopped (a signal, an outage) returns none; so the senders count
    here. Only what ran in this process: the workers of a multi-process run
    count in their own processes.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: collections.Counter = collections.Counter()

    def add(self, what: str, n: int) -> None:
        if n:
            with self._lock:
                self._counts[what] += n

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


IN_PROCESS_TALLY = InProcessTally()


def stopped_job_counts(config) -> dict[str, int]:
    """What a stopped job did: {"delivered", "dead_lettered", "abandoned"} events.

    Beam's metrics are gone with a stopped job, so the figures come from
    what every worker process wrote as it went: delivered events from the
    progress record's journals of this run (pipeline/resume.py), events
    dead-lettered when sending from this run's dead-letter files. Calls taken
    up but not sent are known only to the senders of this process.
    """
    abandoned = IN_PROCESS_TALLY.snapshot().get("abandoned", 0)
    delivered = dead = 0
    if config.progress_dir:
        delivered = resume.run_totals(config.progress_dir, config.run_id)["delivered"]
    if config.dead_letter:
        dead = count_dead_letters(dead_letter_files(config.dead_letter, config.run_id), stage="deliver")
    return {"delivered": delivered, "dead_lettered": dead, "abandoned": abandoned}


def stopped_summary_rows(counts: dict[str, int], elapsed: float, why: str) -> list[tuple[str, str]]:
    """(label, value) rows of the summary of a job that stopped before its end."""
    return [
        ("stopped", why),
        ("events delivered", f"{counts.get('delivered', 0)}"),
        ("dead-lettered when sending", f"{counts.get('dead_lettered', 0)}"),
        ("taken up but not sent, left undone", f"{counts.get('abandoned', 0)}"),
        ("every other event", "left undone"),
        ("elapsed (s)", f"{elapsed:.1f}"),
    ]


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


# Reasons are shown up to this many characters (the records hold them whole).
REASON_WIDTH = 64
MAX_REASONS = 15

# How each stage's dead letters are counted, in reading order (pipeline/dead_letter.py STAGES).
_STAGE_ROWS = (
    ("parse", "  not an event: dead-lettered at parse"),
    ("sync", "rows dead-lettered at sync"),
    ("map", "events dead-lettered at map"),
    ("deliver", "events dead-lettered at delivery"),
)


def summary_rows(counters: dict[tuple[str, str], int], elapsed: float, *, dry_run: bool = False,
                 input_unit: str = "lines", rate_limit: float | None = None) -> list[tuple[str, str]]:
    """(label, value) rows of the summary, in reading order.

    Each row says what it counts, so that the figures add up for a reader:
    the input's lines (or rows) read; among them what was not an event
    (a line, or an element of a line's JSON array, dead-lettered at parse);
    the events read; then where each event ended: delivered (in a dry run:
    written as requests) or dead-lettered at a stage.
    """
    count = lambda namespace, name: counters.get((namespace, name), 0)  # noqa: E731
    dead_by_stage = {name: n for (namespace, name), n in counters.items() if namespace == "cio.dead_letter"}
    read = count("cio", "events_read")
    rows = [(f"{input_unit} read (each holds an event or a JSON array of them)" if input_unit == "lines"
             else f"{input_unit} read", f"{count('cio', 'lines_read')}")]
    rows.append((_STAGE_ROWS[0][1], f"{dead_by_stage.get('parse', 0)}"))
    rows.append(("events read", f"{read}"))
    rows += sync_summary_rows(counters)
    skipped = count("cio", "skipped_done")
    if skipped:
        rows.append(("requests skipped: done in an earlier run", f"{skipped}"))
    for kind in EVENT_TYPES:
        n = count("cio.mapped", kind)
        if n:
            rows.append((f"  mapped {kind}", f"{n}"))
    for (namespace, name), n in sorted(counters.items()):
        if namespace == "cio.requests":
            rows.append((f"requests {name}", f"{n}"))
    if dry_run:
        rows.append(("requests written (dry run)", f"{count('cio.dry_run', 'requests_written')}"))
        rows.append(("events in the requests written (dry run)", f"{count('cio.dry_run', 'events_written')}"))
        written = count("cio.dry_run", "requests_written")
        if rate_limit and written:
            # Customer.io counts requests: sending what was written takes at
            # least this long at the job's budget, however many workers send it.
            rows.append((f"time to send them at --rate_limit {rate_limit:g}/s", _duration(written / rate_limit)))
    else:
        rows.append(("events delivered", f"{count('cio', 'events_delivered')}"))
    for stage, label in _STAGE_ROWS[1:]:
        if stage in dead_by_stage or (stage == "map" or (stage == "deliver" and not dry_run)):
            rows.append((label, f"{dead_by_stage.get(stage, 0)}"))
    if not dry_run:
        rows.append(("retries", f"{count('cio', 'retries')}"))
        outage_ms = count("cio", "outage_waited_ms")
        if outage_ms:
            rows.append(("waited for Customer.io to answer again (s, summed over threads)", f"{outage_ms / 1000:.1f}"))
        rows.append(("waited for the rate limit (s, summed over threads)", f"{count('cio', 'throttled_ms') / 1000:.1f}"))
    follow_ups = sum(n for (namespace, _), n in counters.items() if namespace == "cio.dead_letter_follow_up")
    if follow_ups:
        rows.append(("follow-up requests dead-lettered (their event counted above)", f"{follow_ups}"))
    rows.append(("dead-letter records", f"{sum(dead_by_stage.values()) + follow_ups}"))
    reasons = sorted(
        ((n, name) for (namespace, name), n in counters.items() if namespace == "cio.dead_letter_reasons"),
        key=lambda reason: (-reason[0], reason[1]),
    )
    for n, name in reasons[:MAX_REASONS]:
        rows.append((f"  {shorten(name, REASON_WIDTH)}", f"{n}"))
    if len(reasons) > MAX_REASONS:
        rows.append((f"  ({len(reasons) - MAX_REASONS} more reasons)", f"{sum(n for n, _ in reasons[MAX_REASONS:])}"))
    rows.append(("elapsed (s)", f"{elapsed:.1f}"))
    rows.append(("events/s", f"{read / elapsed:.0f}" if elapsed > 0 else "-"))
    return rows


def format_summary(rows: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    value_width = max(10, max(len(value) for _, value in rows))
    lines = ["customerio-beam summary", "-" * (width + 2 + value_width)]
    lines += [f"{label:<{width}}  {value:>{value_width}}" for label, value in rows]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    """'2.8h', '14min' or '9s': one token, so the summary's value column stays one word."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds / 60:.0f}min"
    return f"{seconds:.0f}s"
