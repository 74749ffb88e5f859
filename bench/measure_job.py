"""Runs one pipeline job and prints what it cost, as one JSON line.

Used by bench_pipeline.py in a fresh subprocess per measurement, so that
peak RSS belongs to that job alone:

    python -m bench.measure_job <cio-pipeline arguments...>

prints {"elapsed": s spent in run() (imports and interpreter exit not
included: bench_pipeline.py times the whole process), "events_read": n, "events_delivered": n, "cpu_seconds":
user+system CPU of this process and its workers,
"max_rss_mb": MB of this process, "max_rss_children_mb": MB of the largest
worker process (multi-processing mode)}.
"""

from __future__ import annotations

import contextlib
import io
import logging
import resource
import sys
import time

import orjson


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING)
    from pipeline.main import run  # imported before the clock starts; bench_pipeline.py times the whole process

    started = time.monotonic()
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        status = run(argv)
    elapsed = time.monotonic() - started
    counts = {}
    for line in summary.getvalue().splitlines():
        label, _, value = line.rpartition("  ")
        counts[label.strip()] = value.strip()
    print(orjson.dumps({
        "status": status,
        "elapsed": elapsed,
        "events_read": int(counts.get("events read", 0) or 0),
        "events_delivered": int(counts.get("events delivered", 0) or 0),
        "cpu_seconds": sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
                           for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "max_rss_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }).decode())


if __name__ == "__main__":
    main(sys.argv[1:])
