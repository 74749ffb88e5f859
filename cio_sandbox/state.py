"""Everything the sandbox remembers: counters, accepted records, dedup ids, log.

Why this module exists: the HTTP handler threads only *decide* what happens to
a request; this class is the one place that stores the outcome, under one
lock, so ``/_stats``, ``accepted()`` and the JSON-lines log always agree.

Accepted records (one per accepted operation; the log holds the same dicts,
one JSON object per line):

- v1 call: ``{"ts", "method", "path", "query", "body", "duplicate"}``;
  ``path`` is percent-decoded, ``query`` a dict of query parameters (last value
  wins), ``body`` the parsed JSON or None.
- v2 batch item: ``{"ts", "method": "POST", "path": "/api/v2/batch",
  "batch_index", "item", "duplicate"}``.

``duplicate`` is True for an event whose ``id`` was already accepted: it is
recorded (and answered 200, like Customer.io) but not counted as applied.

The log is written as it goes: lines are gathered in memory (writing each
one would cost the handler threads a system call per operation, which the
benchmarks would measure) and written once 1 MB has gathered, and by a
background thread every ``LOG_FLUSH_SECONDS``, so ``tail -f`` on the log
shows what was accepted within a fraction of a second, and the last lines
of a quiet sandbox do not wait for ``/_stats`` or its exit.
"""

from __future__ import annotations

import os

import threading
import time

import orjson

from transforms.limits import BATCH_PATH

from .ratelimit import SlidingWindowLimiter, WindowPeak

_LOG_FLUSH_BYTES = 1 << 20
LOG_FLUSH_SECONDS = 0.2


class SandboxState:
    def __init__(self, log_path: str | None, keep_in_memory: bool, rate_limit: float):
        self.lock = threading.Lock()
        self.log_path = log_path
        self.keep_in_memory = keep_in_memory
        if log_path:
            # `--log out/accepted.jsonl` on a fresh clone: make the folder
            # rather than fail on a missing one.
            os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
        self._log_file = open(log_path, "wb") if log_path else None
        self._log_buffer: list[bytes] = []
        self._log_buffered = 0
        self._closed = threading.Event()
        if self._log_file is not None:
            threading.Thread(target=self._flush_periodically, name="cio-sandbox-log", daemon=True).start()
        self.limiter = SlidingWindowLimiter(rate_limit)
        self.limits_rate = bool(self.limiter.limit)  # whether rate_check can refuse anything
        self._clear()

    def _clear(self):
        self.records: list[dict] = []  # replaced, never cleared in place: accepted() copies
        self.seen_event_ids: set[str] = set()
        self.requests = 0
        self.by_status: dict[int, int] = {}
        self.by_endpoint: dict[str, int] = {}
        self.accepted_count = 0
        self.duplicates = 0
        self.batch_items_accepted = 0
        self.batch_items_rejected = 0
        self.bytes_received = 0
        self.faults = {"drop": 0, "error": 0, "throttle": 0, "slow": 0}
        self.rate_limited = 0
        self.in_flight_people: dict[str, int] = {}
        self.overlapping_person_requests = 0
        self.first_request_at: float | None = None
        self.last_request_at: float | None = None
        self.peak_1s = WindowPeak(1.0)
        self.peak_3s = WindowPeak(3.0)
        # The process's CPU (every thread) when the counts were last cleared:
        # /_stats reports what the sandbox has used since, which tells a
        # benchmark how much of a shared machine the sandbox itself took.
        self.cpu_at_clear = time.process_time()
        self.limiter.reset()

    # --- per request -------------------------------------------------------

    def arrive(self, nbytes: int, person: str | None = None) -> float:
        """Count an API request as it arrives; returns its monotonic time.

        ``person``: the person an authorized request is about, now in flight
        until ``answered``. Customer.io applies one person's updates in arrival
        order, so a client must never have two requests about one person in
        flight at once: each such overlap is counted.
        """
        wall = time.time()
        with self.lock:
            now = time.monotonic()
            self.requests += 1
            self.bytes_received += nbytes
            if self.first_request_at is None:
                self.first_request_at = wall
            self.last_request_at = wall
            self.peak_1s.add(now)
            self.peak_3s.add(now)
            if person is not None:
                open_now = self.in_flight_people.get(person, 0)
                if open_now:
                    self.overlapping_person_requests += 1
                self.in_flight_people[person] = open_now + 1
        return now

    def answered(self, endpoint: str, status: int | None, fault: str | None = None, person: str | None = None):
        """Count the outcome of a request (status None = dropped); ``person`` is no longer in flight."""
        with self.lock:
            self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + 1
            if status is not None:
                self.by_status[status] = self.by_status.get(status, 0) + 1
            if fault is not None:
                self.faults[fault] += 1
            if person is not None:
                left = self.in_flight_people.get(person, 1) - 1
                if left:
                    self.in_flight_people[person] = left
                else:
                    self.in_flight_people.pop(person, None)

    def rate_check(self) -> int:
        """0 when admitted by the rate limit, else Retry-After seconds."""
        if not self.limiter.limit:
            return 0
        with self.lock:
            wait = self.limiter.admit(time.monotonic())
            if wait:
                self.rate_limited += 1
            return wait

    # --- accepting -----------------------------------------------------------

    def accept_v1(self, method: str, path: str, query: dict, body, event_id=None) -> bool:
        """Record an accepted v1 call; returns True when it was a duplicate event."""
        ts = time.time()
        with self.lock:
            dup = False
            if event_id is not None:
                if event_id in self.seen_event_ids:
                    dup = True
                    self.duplicates += 1
                else:
                    self.seen_event_ids.add(event_id)
            self.accepted_count += 1
            if self.keep_in_memory or self._log_file is not None:
                record = {"ts": ts, "method": method, "path": path, "query": query, "body": body, "duplicate": dup}
                if self.keep_in_memory:
                    self.records.append(record)
                if self._log_file is not None:
                    line = orjson.dumps(record) + b"\n"
                    self._log_buffer.append(line)
                    self._log_buffered += len(line)
                    if self._log_buffered >= _LOG_FLUSH_BYTES:
                        self._flush_locked()
        return dup

    @property
    def writes_log(self) -> bool:
        """Whether accepted operations are written to a log file."""
        return self._log_file is not None

    def accept_batch(self, items: list, rejected, event_ids: dict, raws: list | None = None):
        """Record a batch's accepted items: every item whose index is not in ``rejected``.

        ``event_ids`` maps the index of each accepted event that carries an
        ``id`` to that id (for deduplication). ``raws`` holds each item as
        serialized by orjson (or None): when given, a log line is assembled
        around it instead of serializing the item again, byte-for-byte what
        ``orjson.dumps(record)`` would give.
        """
        ts = time.time()
        accepted = len(items) - len(rejected)
        with self.lock:
            self.batch_items_accepted += accepted
            self.batch_items_rejected += len(rejected)
            self.accepted_count += accepted
            seen = self.seen_event_ids
            keep = self.records.append if self.keep_in_memory else None
            log = self._log_buffer.append if self._log_file is not None else None
            if keep is None and log is None:  # only the duplicate count is wanted
                # the ids that grow ``seen`` are the new distinct ones; every
                # other id (seen before, or repeated within the batch) is a
                # duplicate. One C-level update, no temporary set.
                known = len(seen)
                seen.update(event_ids.values())
                self.duplicates += len(event_ids) - (len(seen) - known)
                return
            prefix = b'{"ts":' + orjson.dumps(ts) + b',"method":"POST","path":"' + BATCH_PATH.encode() \
                + b'","batch_index":'
            logged = 0
            for index, item in enumerate(items):
                if index in rejected:
                    continue
                dup = False
                event_id = event_ids.get(index)
                if event_id is not None:
                    if event_id in seen:
                        dup = True
                        self.duplicates += 1
                    else:
                        seen.add(event_id)
                if keep is not None:
                    keep({"ts": ts, "method": "POST", "path": BATCH_PATH,
                          "batch_index": index, "item": item, "duplicate": dup})
                if log is not None:
                    raw = raws[index] if raws is not None else None
                    if raw is None:
                        raw = orjson.dumps(item)
                    line = b"".join((prefix, str(index).encode(), b',"item":', raw,
                                     b',"duplicate":true}\n' if dup else b',"duplicate":false}\n'))
                    log(line)
                    logged += len(line)
            if log is not None:
                self._log_buffered += logged
                if self._log_buffered >= _LOG_FLUSH_BYTES:
                    self._flush_locked()

    def reject_batch_items(self, count: int):
        with self.lock:
            self.batch_items_rejected += count

    # --- reading / housekeeping --------------------------------------------

    def _flush_locked(self):
        if self._log_file is not None and self._log_buffer:
            self._log_file.write(b"".join(self._log_buffer))
            self._log_file.flush()
        self._log_buffer.clear()
        self._log_buffered = 0

    def flush(self):
        with self.lock:
            self._flush_locked()

    def _flush_periodically(self):
        while not self._closed.wait(LOG_FLUSH_SECONDS):
            if self._log_buffer:  # read without the lock: a stale answer only delays the write a period
                self.flush()

    def stats(self) -> dict:
        with self.lock:
            self._flush_locked()
            return {
                "requests": self.requests,
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "by_endpoint": dict(sorted(self.by_endpoint.items())),
                "accepted": self.accepted_count,
                "applied": self.accepted_count - self.duplicates,
                "duplicates": self.duplicates,
                "batch_items_accepted": self.batch_items_accepted,
                "batch_items_rejected": self.batch_items_rejected,
                "bytes_received": self.bytes_received,
                "faults": dict(self.faults),
                "rate_limited": self.rate_limited,
                "overlapping_person_requests": self.overlapping_person_requests,
                "max_requests_1s": self.peak_1s.peak,
                "max_requests_3s": self.peak_3s.peak,
                "first_request_at": self.first_request_at,
                "last_request_at": self.last_request_at,
                "cpu_seconds": round(time.process_time() - self.cpu_at_clear, 3),
            }

    def accepted(self) -> list[dict]:
        with self.lock:
            return list(self.records)

    def reset(self):
        """Forget everything, including the log file's contents."""
        with self.lock:
            self._clear()
            self._log_buffer.clear()
            self._log_buffered = 0
            if self._log_file is not None:
                self._log_file.seek(0)
                self._log_file.truncate()

    def close(self):
        self._closed.set()
        with self.lock:
            self._flush_locked()
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
