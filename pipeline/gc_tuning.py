"""The garbage collector, tuned for chunks of short-lived events and for a quick exit.

CPython runs a young-generation collection every 700 net new container
objects. A 64-line chunk of events, decoded and then mapped, makes about a
thousand of them (dicts, lists, tuples, requests) that stay alive until the
chunk is done, so with the default nearly every chunk was traversed by a
collection that found nothing to free (they die by reference counting a
moment later). Waiting for 50,000 lets most chunks die before any
collection sees them, so the collector stops walking live chunks for
nothing (`bench/instructions.py` counts the instructions per event this
saves).

It is a process-wide setting, made once per worker process from a DoFn's
setup(): it only makes young collections rarer (cyclic garbage waits for at
most 50,000 allocations more), and it never lowers a threshold the process
already raised.

Exit: when a process ends, CPython collects garbage again and again while
it tears its modules down, and each collection walks every object still
tracked. With Beam loaded those are many objects, walked many times
(compare how long `python -c "import apache_beam"` lives on after its last
statement with and without a gc.freeze()). A DirectRunner job pays it in
its own process and in every worker, and the runner stops its workers one
after another, so a multi-process job pays it several times over just
exiting (`bench/bench_pipeline.py` reports each job's time including
start-up and exit). `freeze_heap_at_exit()` moves every
object to the permanent generation, which those collections skip, as the
last thing before the interpreter starts tearing down.
"""

from __future__ import annotations

import atexit
import gc

YOUNG_THRESHOLD = 50_000


def tune_garbage_collector() -> None:
    """Raises the young-generation threshold to YOUNG_THRESHOLD (others unchanged)."""
    young, middle, old = gc.get_threshold()
    if young < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)


_exit_freeze_registered = False


def freeze_heap_at_exit() -> None:
    """At interpreter exit, exempts every object from the final garbage collections.

    Registered once per process; an atexit hook registered later (so run
    earlier, they run last-in first-out) still sees a normal collector.
    Nothing is lost: objects are still freed by reference counting as the
    modules are cleared, files are closed by whoever opened them (Beam's
    sinks, logging's own atexit hook), and weakref finalizers marked for
    exit still run. Only reference cycles left at the very end are not
    freed one by one; the operating system takes their memory back at once.
    """
    global _exit_freeze_registered
    if not _exit_freeze_registered:
        atexit.register(gc.freeze)
        _exit_freeze_registered = True
