"""Benchmark: what the progress record costs per request, and its memory.

Not a test. Maps generated events (v2), then runs resume.SkipDone's
fingerprint-and-skip over 64-request chunks, with an empty record and with
a record of a million requests; and reports the size of that record in
memory (a sorted array of 64-bit fingerprints).

    .venv/bin/python -m bench.bench_resume
"""

from __future__ import annotations

import time

import numpy as np
import orjson

from bench.generate_events import generate_events
from pipeline import resume
from pipeline.calls import Outbound
from pipeline.routing import BATCH_ITEM
from transforms import MappingError, load_settings, map_event


def mapped_chunks(n: int, chunk: int = 64) -> tuple[list, int]:
    settings = load_settings(site_id="s", api_key="k", api_version="v2")
    entries = []
    for event in generate_events(n, seed=1, invalid_fraction=0):
        source = orjson.dumps(event)
        try:
            requests = map_event(event, settings)
        except MappingError:
            continue
        entries += [(BATCH_ITEM, Outbound.wire(r, source)) for r in requests]
    return [entries[i:i + chunk] for i in range(0, len(entries), chunk)], len(entries)


def main() -> None:
    chunks, count = mapped_chunks(50_000)
    million = np.unique(np.random.default_rng(1).integers(0, 2**63, 1_000_000, dtype=np.uint64))
    print(f"record of 1,000,000 requests in memory: {million.nbytes / 1e6:.1f} MB")
    for label, done in (("empty record", np.empty(0, np.uint64)), ("record of 1M requests", million)):
        skip = resume.SkipDone("unused", "run", restart=False)
        skip.done = done
        started = time.perf_counter()
        for chunk in chunks:
            for _ in skip.process(chunk):
                pass
        elapsed = time.perf_counter() - started
        print(f"{label}: {elapsed / count * 1e6:.2f} us per request ({count} requests)")


if __name__ == "__main__":
    main()
