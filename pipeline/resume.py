"""The durable progress record of a backfill, so that a killed job resumes.

What is recorded: each request (a v1 call, or one v2 batch item) that is
*done*, i.e. delivered, or dead-lettered for a reason that sending it again
would not change (a 4xx, an item a 207 rejected). A request never sent (the
job stopped first) or failed only transiently (retries used up, 401) is not
done, and is sent again by the next run.

How: every worker process appends to a journal file of its own in the
record's folder (pipeline/append_files.py: locally each call's entry goes to
the operating system as the call finishes, so a SIGKILL loses at most the
calls in flight). A request is known by a 64-bit fingerprint of its method,
URL, body and source event: mapping is deterministic, so the same input
under the same flags gives the same fingerprints in every run.

Started again with the same flags, the job reads every earlier journal in
the folder into a sorted array of fingerprints (8 bytes per request: 8 MB
for a million) and drops the requests found there right after mapping
(`SkipDone`), before v1 calls are grouped or v2 items batched, so batches
stay full. The folder is derived from the job's identity (input, format,
API version, endpoint, site id, ...) unless --progress names one; --restart
ignores the record (it is never deleted).

Journal format: a sequence of entries, one per finished call,
``b"J" + <u32 n, u64 delivered, u64 dead-lettered> + n little-endian u64
fingerprints``; a torn last entry is ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import secrets as _random
import struct
import threading

import apache_beam as beam
import numpy as np
import orjson
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline.append_files import AppendFile, read_all
from pipeline.calls import WIRE_BODY, WIRE_KEY, WIRE_SOURCE, WIRE_URL

LOG = logging.getLogger("cio-pipeline")

_ENTRY = struct.Struct("<IQQ")
_blake2b = hashlib.blake2b
_MARK = b"J"
JOURNAL_PREFIX = "journal-"
JOURNAL_SUFFIX = ".bin"


def request_key(wire: tuple) -> int:
    """The 64-bit fingerprint of a request (wire form, see pipeline/calls.py)."""
    source, body = wire[WIRE_SOURCE], wire[WIRE_BODY] or b""
    # The lengths make the concatenation unambiguous.
    h = _blake2b(f"{wire[0]} {wire[WIRE_URL]} {len(source)} {len(body)} ".encode(), digest_size=8)
    h.update(source)
    h.update(body)
    return int.from_bytes(h.digest(), "little")


def job_identity(config) -> str:
    """A short hash of what decides the job's requests: same flags, same record.

    Not the rate, retry or thread flags: those change how, not what, is sent.
    The dead-letter output is in it: a job that writes elsewhere is another
    job (a benchmark running one input twice, say).
    """
    settings = config.settings
    identity = {
        "input": config.input,
        "dead_letter": config.dead_letter or config.dead_letter_topic,
        "input_format": config.input_format,
        "columns": dataclasses.asdict(config.columns),
        "base_url": settings.base_url,
        "settings": settings.model_dump(mode="json", exclude={"api_key"}),
    }
    previous = getattr(config, "sync_previous", None)
    if previous is not None:
        # A sync's requests depend on the state it starts from: a run killed
        # before switching the state resumes, the next day's sync is a new job.
        identity["sync_state"] = [previous.path, previous.run_id]
    return hashlib.sha256(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def default_progress_dir(dead_letter: str | None, identity: str) -> str:
    """``<folder of the dead-letter files>/progress/<identity>``."""
    folder = os.path.dirname(dead_letter) if dead_letter else "out"
    return FileSystems.join(folder or ".", "progress", identity)


def new_run_id() -> str:
    """A UTC time stamp and a short random part: 20261204T061500Z-3f2a."""
    import time

    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + _random.token_hex(2)


# --- writing -----------------------------------------------------------------


class Journal:
    """One worker process's journal of finished calls (shared by its DoFns)."""

    def __init__(self, progress_dir: str, run_id: str):
        stem = FileSystems.join(progress_dir, f"{JOURNAL_PREFIX}{run_id}-{os.getpid()}-{_random.token_hex(3)}")
        self.file = AppendFile(stem, JOURNAL_SUFFIX)

    def record(self, keys, delivered: int, dead_lettered: int) -> None:
        """Records one finished call: the fingerprints it made done, and its event counts."""
        keys = list(keys)
        self.file.append(_MARK + _ENTRY.pack(len(keys), delivered, dead_lettered)
                         + np.asarray(keys, dtype="<u8").tobytes())

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        """Flushes and closes the file (a later record opens it again)."""
        self.file.close()


_journals: dict[tuple[str, str], Journal] = {}
_journals_lock = threading.Lock()


def journal_for(progress_dir: str, run_id: str) -> Journal:
    """This process's journal for the run (one file per process, whatever the DoFns)."""
    with _journals_lock:
        journal = _journals.get((progress_dir, run_id))
        if journal is None:
            journal = _journals[(progress_dir, run_id)] = Journal(progress_dir, run_id)
        return journal


# --- reading -----------------------------------------------------------------


def _entries(data: bytes):
    """(keys as a uint64 array, delivered, dead-lettered) per whole entry of a journal."""
    pos, end = 0, len(data)
    while pos + 1 + _ENTRY.size <= end and data[pos:pos + 1] == _MARK:
        n, delivered, dead = _ENTRY.unpack_from(data, pos + 1)
        start = pos + 1 + _ENTRY.size
        stop = start + 8 * n
        if stop > end:
            return  # torn by a kill mid-write
        yield np.frombuffer(data, dtype="<u8", count=n, offset=start), delivered, dead
        pos = stop


def _journal_files(progress_dir: str, run_id: str = "") -> list[tuple[str, bytes]]:
    return read_all(FileSystems.join(progress_dir, f"{JOURNAL_PREFIX}{run_id}*"))


def load_done(progress_dir: str, except_run: str = "") -> np.ndarray:
    """The sorted fingerprints recorded as done by every run but `except_run`."""
    parts = []
    for path, data in _journal_files(progress_dir):
        if except_run and os.path.basename(path).startswith(f"{JOURNAL_PREFIX}{except_run}-"):
            continue
        parts += [keys for keys, _, _ in _entries(data)]
    if not parts:
        return np.empty(0, dtype=np.uint64)
    return np.unique(np.concatenate(parts).astype(np.uint64))


def run_totals(progress_dir: str, run_id: str) -> dict[str, int]:
    """What one run recorded: {"delivered": events, "dead_lettered": events, "calls": n}.

    Read from the journals, so it is known even when the job was stopped and
    Beam's metrics are gone. Calls never sent or failed transiently are not
    in it.
    """
    totals = {"delivered": 0, "dead_lettered": 0, "calls": 0}
    for _, data in _journal_files(progress_dir, run_id + "-"):
        for _, delivered, dead in _entries(data):
            totals["delivered"] += delivered
            totals["dead_lettered"] += dead
            totals["calls"] += 1
    return totals


_done_cache: dict[tuple[str, str], np.ndarray] = {}
_done_lock = threading.Lock()


def done_set(progress_dir: str, run_id: str) -> np.ndarray:
    """load_done(progress_dir, run_id), read once per process."""
    with _done_lock:
        done = _done_cache.get((progress_dir, run_id))
        if done is None:
            done = _done_cache[(progress_dir, run_id)] = load_done(progress_dir, run_id)
        return done


# --- skipping ----------------------------------------------------------------


def contains(done: np.ndarray, keys: list[int]) -> np.ndarray:
    """A boolean mask: which of `keys` are in the sorted array `done`."""
    wanted = np.fromiter(keys, dtype=np.uint64, count=len(keys))
    at = np.searchsorted(done, wanted)
    at[at == len(done)] = 0
    return done[at] == wanted


class SkipDone(beam.DoFn):
    """Chunks of mapped requests -> the same, less the requests done in an earlier run.

    Each request's wire form gets its fingerprint appended (WIRE_KEY, read by
    delivery to journal it). With `restart`, nothing is skipped but the
    fingerprints are still added, so this run's record is complete.
    """

    def __init__(self, progress_dir: str, run_id: str, restart: bool):
        self.progress_dir = progress_dir
        self.run_id = run_id
        self.restart = restart
        self.skipped = Metrics.counter("cio", "skipped_done")

    def setup(self):
        self.done = np.empty(0, dtype=np.uint64) if self.restart else done_set(self.progress_dir, self.run_id)

    def process(self, chunk):
        # Entries other than requests cannot reach here (see routing.py), but
        # pass them on untouched so that SplitRequests reports them.
        keyed = [(entry[0], entry[1] + (request_key(entry[1]),)) if len(entry) == 2 else entry
                 for entry in chunk]
        if not len(self.done) or not keyed:
            yield keyed
            return
        mask = contains(self.done, [e[1][WIRE_KEY] if len(e) == 2 else 0 for e in keyed])
        kept = [entry for entry, done in zip(keyed, mask) if not done]
        if len(kept) < len(keyed):
            self.skipped.inc(len(keyed) - len(kept))
        if kept:
            yield kept
