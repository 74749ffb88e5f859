"""The worker's garbage collector, tuned for chunks of short-lived events.

CPython runs a young-generation collection every 700 net new container
objects. A 64-line chunk of events, decoded and then mapped, makes about a
thousand of them (dicts, lists, tuples, requests) that stay alive until the
chunk is done, so with the default nearly every chunk was traversed by a
collection that found nothing to free (they die by reference counting a
moment later). Waiting for 50,000 lets most chunks die before any
collection sees them: a v2 job then runs ~3% fewer instructions per event
(cachegrind, a 5,000 vs 15,000-event dry run: 173,400 -> 167,900).

It is a process-wide setting, made once per worker process from a DoFn's
setup(): it only makes young collections rarer (cyclic garbage waits for at
most 50,000 allocations more), and it never lowers a threshold the process
already raised.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_garbage_collector() -> None:
    """Raises the young-generation threshold to YOUNG_THRESHOLD (others unchanged)."""
    young, middle, old = gc.get_threshold()
    if young < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)
