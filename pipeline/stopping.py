"""The process-wide stop request: a job that must end early, and why.

A batch job ends early for two reasons: the user asked (SIGINT, SIGTERM) or
Customer.io stayed unreachable longer than --outage_limit_seconds (see
pipeline/outage.py). Either way the senders must start nothing new, waits
must end at once, and `run()` must learn the reason to pick the exit status.
The request lives here so that the signal watcher (pipeline/main.py), the
outage watch and the delivery DoFn share one answer.

Across processes: in a local multi-process run the workers are
subprocesses that see no signal (run() blocks SIGINT/SIGTERM before they
start, and they inherit that), and an outage may be declared in any of them.
So a stop is also written to a file whose path run() puts in the
environment (``CIO_PIPELINE_STOP_FILE``) before the workers start; every
process looks for it at most every FILE_CHECK_SECONDS. The file holds the
reason, so the main process learns of an outage stop declared in a worker.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import socket
import sys
import threading
import time

import orjson

STOP_FILE_ENV = "CIO_PIPELINE_STOP_FILE"
MAIN_PID_ENV = "CIO_PIPELINE_MAIN_PID"
# How often a process looks for the stop file: a stat() per call would be
# wasted work at 1000 calls/s, and a stop may take this long to be seen.
FILE_CHECK_SECONDS = 0.1

# Begins the message of StopRequested: how a stop is told from a failure in
# what the runner reports and logs.
STOP_MARK = "the job is stopping"

SIGNAL = "signal"
OUTAGE = "outage"


class StopRequested(Exception):
    """Raised by delivery once the job is stopping, so that the runner aborts the job.

    The calls not sent are left undone: they are neither delivered nor
    dead-lettered, and a resumed run sends them.
    """


@dataclasses.dataclass(frozen=True)
class StopRequest:
    """Why the job stops: `reason` is SIGNAL or OUTAGE; `message` is for the user."""

    reason: str
    message: str
    signum: int | None = None

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""


_lock = threading.Lock()
_request: StopRequest | None = None
_requested = threading.Event()
_next_file_check = 0.0


def reset(stop_file: str | None = None) -> None:
    """Forgets any earlier stop (a new job in this process); `stop_file` is shared with workers."""
    global _request, _next_file_check
    with _lock:
        _request = None
        _requested.clear()
        _next_file_check = 0.0
    if stop_file is None:
        os.environ.pop(STOP_FILE_ENV, None)
        os.environ.pop(MAIN_PID_ENV, None)
    else:
        os.environ[STOP_FILE_ENV] = stop_file
        os.environ[MAIN_PID_ENV] = str(os.getpid())


def request_stop(reason: str, message: str, signum: int | None = None) -> StopRequest:
    """Asks every sender of the job to stop; the first request wins and is returned."""
    global _request
    with _lock:
        if _request is None:
            _request = StopRequest(reason, message, signum)
            _write_stop_file(_request)
            _requested.set()
        return _request


def _write_stop_file(request: StopRequest) -> None:
    path = os.environ.get(STOP_FILE_ENV)
    if not path:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:  # another process stopped first (its reason stands), or no such folder
        return
    with os.fdopen(fd, "wb") as out:
        out.write(orjson.dumps(dataclasses.asdict(request)))


def _read_stop_file() -> StopRequest | None:
    path = os.environ.get(STOP_FILE_ENV)
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            fields = orjson.loads(handle.read())
        return StopRequest(str(fields["reason"]), str(fields["message"]), fields.get("signum"))
    except (OSError, ValueError, KeyError, TypeError):
        # Absent, or being written right now: looked at again next time.
        return None


def stop_request(look_now: bool = False) -> StopRequest | None:
    """The stop asked for in this process or another of the job; None while the job goes on.

    The stop file is looked at every FILE_CHECK_SECONDS, or now with `look_now`.
    """
    global _request, _next_file_check
    if _request is not None:
        return _request
    now = time.monotonic()
    if now < _next_file_check and not look_now:
        return None
    _next_file_check = now + FILE_CHECK_SECONDS
    found = _read_stop_file()
    if found is not None:
        with _lock:
            if _request is None:
                _request = found
                _requested.set()
    return _request


def stop_requested() -> bool:
    return stop_request() is not None


def raise_if_stopping() -> None:
    """Raises StopRequested once the job is stopping."""
    request = stop_request()
    if request is not None:
        _quiet_worker_stderr()
        raise StopRequested(f"{STOP_MARK}: {request.message}")


def sleep(seconds: float) -> None:
    """time.sleep that ends early when the job is asked to stop (here or in another process)."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or stop_requested():
            return
        _requested.wait(min(left, FILE_CHECK_SECONDS))


class SignalWatcher:
    """SIGINT/SIGTERM during a batch job: the first asks for a stop, a second ends the process at once.

    The signals are taken by a thread of our own, not by a Python handler
    in the main thread: during a job the main thread waits inside Beam (in
    C, for a local multi-process run) and would run a handler only when the
    job ends; and a KeyboardInterrupt raised in whatever it runs is what
    printed tracebacks and went on. Python's C-level handler, on whichever
    thread the kernel picks, writes the signal's number to the wakeup file
    descriptor (signal.set_wakeup_fd); our thread reads it from there.
    Only from the main thread (where signal handlers can be set); elsewhere
    it does nothing.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, announce):
        """`announce(line)` tells the user that the job is stopping (one line)."""
        self.announce = announce
        self._received = 0
        self._active = False
        self._previous_handlers: dict = {}

    def __enter__(self) -> "SignalWatcher":
        if threading.current_thread() is not threading.main_thread():
            return self
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._previous_wakeup = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for signum in self.SIGNALS:
            # The handler itself does nothing: the watcher thread acts on the byte.
            self._previous_handlers[signum] = signal.signal(signum, _ignore_here)
        self._active = True
        self._thread = threading.Thread(target=self._watch, name="cio-signals", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if not self._active:
            return
        self._active = False
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._previous_wakeup)
        self._writer.close()  # ends the watcher's recv()
        self._thread.join(timeout=5)
        self._reader.close()

    def _watch(self) -> None:
        while True:
            try:
                data = self._reader.recv(64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum in self.SIGNALS:
                    self.received(signum)

    def received(self, signum: int) -> None:
        self._received += 1
        name = signal.Signals(signum).name
        if self._received == 1:
            request_stop(SIGNAL, f"{name} received", signum)
            self.announce(f"{name} received: stopping (no new calls; calls in flight end within seconds); "
                          f"a second {name} stops at once")
            return
        self.announce(f"second {name} received: stopped at once; calls in flight were abandoned, "
                      f"the events not delivered are left undone")
        _kill_worker_processes()
        stop_file = os.environ.get(STOP_FILE_ENV)
        if stop_file:  # run() made its folder; os._exit skips run()'s own clean-up
            shutil.rmtree(os.path.dirname(stop_file), ignore_errors=True)
        os._exit(128 + signum)  # at once: no cleanup that could hang


def _kill_worker_processes() -> None:
    """SIGKILLs this process's descendants (the local runner's worker subprocesses).

    Left behind, they would lose their connection to the runner and print
    gRPC tracebacks on the user's terminal. Linux (/proc) only; elsewhere
    they are left to end by themselves.
    """
    try:
        parents = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", "rb") as handle:
                        # pid (comm) state ppid ...: comm may hold spaces, so split after its ")"
                        fields = handle.read().rsplit(b")", 1)[1].split()
                    parents[int(entry)] = int(fields[1])
                except (OSError, IndexError, ValueError):
                    continue
    except OSError:
        return
    found, frontier = [], [os.getpid()]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _ignore_here(_signum, _frame) -> None:
    """The Python-level handler: the signal was already passed on through the wakeup fd."""


class _StderrWithoutStops:
    """sys.stderr of a worker process, without the traceback of a bundle failed by a stop."""

    def __init__(self, stream):
        self._stream = stream
        self._dropped = False

    def write(self, text):
        # print() writes its text, then the line end on its own.
        if STOP_MARK in text or "StopRequested" in text or (self._dropped and text == "\n"):
            self._dropped = text != "\n"
            return len(text)
        self._dropped = False
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _quiet_worker_stderr() -> None:
    """In a worker subprocess: keeps Beam's print of the failed bundle's traceback off the terminal.

    Beam's SDK worker prints the traceback of a failed instruction to
    stderr (sdk_worker.py, not through logging, so HideStopTracebacks does
    not see it), and a worker's stderr is the user's terminal. The main
    process prints no such trace.
    """
    main_pid = os.environ.get(MAIN_PID_ENV)
    if main_pid and main_pid != str(os.getpid()) and not isinstance(sys.stderr, _StderrWithoutStops):
        sys.stderr = _StderrWithoutStops(sys.stderr)


def is_stop(exc: BaseException | None) -> bool:
    """Whether `exc` is, wraps or names a StopRequested (runners wrap what a bundle raised)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, StopRequested) or STOP_MARK in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


class HideStopTracebacks(logging.Filter):
    """Drops the runner's log records about a bundle failed by a stop.

    Failing a bundle is how a stop ends the job (see StopRequested); the
    runner logs that failure with a traceback that would only frighten the
    user: the one line run() prints says what happened.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and is_stop(record.exc_info[1]):
            return False
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        return not (STOP_MARK in message or "StopRequested" in message)
