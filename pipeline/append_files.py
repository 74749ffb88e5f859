"""Files that survive a crash of the process writing them, on any Beam filesystem.

Beam's file sinks (WriteToText, fileio) write to a temporary folder and move
the files into place when the job (or window) finishes: a job that is killed
keeps nothing and leaves a `beam-temp-*` folder behind. Dead letters and the
progress record must survive a SIGKILL, so they are written here instead:

- local files are opened for appending and every `append` goes straight to
  the operating system (no buffer in the process), so a killed process loses
  nothing it appended;
- other filesystems (gs://, ...) cannot append: what is appended is kept in
  memory and written as a new complete file (`<stem>-00000<suffix>`,
  `-00001`, ...) every `chunk_seconds` or `chunk_bytes`, and on `flush`.

No library does this: Beam's FileSystems only creates whole files.
"""

from __future__ import annotations

import os
import threading
import time

from apache_beam.io.filesystems import FileSystems


def is_local(path: str) -> bool:
    return FileSystems.get_scheme(path) in (None, "file")


class AppendFile:
    """One writer's output file(s): ``<stem><suffix>`` locally, numbered chunks elsewhere.

    Thread-safe. The file is created at the first append, so a writer that
    has nothing to say leaves no file.
    """

    def __init__(self, stem: str, suffix: str, chunk_seconds: float = 5.0, chunk_bytes: int = 8 << 20):
        self.stem = stem
        self.suffix = suffix
        self.chunk_seconds = chunk_seconds
        self.chunk_bytes = chunk_bytes
        self.local = is_local(stem)
        self.lock = threading.Lock()
        self.fd: int | None = None
        self.created = False
        self.buffer: list[bytes] = []
        self.buffered = 0
        self.chunks = 0
        self.first_buffered_at = 0.0

    def append(self, data: bytes) -> None:
        with self.lock:
            if self.local:
                if self.fd is None:
                    path = self.stem + self.suffix
                    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                    # O_EXCL at creation: a name that exists belongs to another
                    # writer. Reopened after close(), it is this writer's own.
                    flags = os.O_WRONLY | os.O_APPEND | (0 if self.created else os.O_CREAT | os.O_EXCL)
                    self.fd = os.open(path, flags, 0o644)
                    self.created = True
                view = memoryview(data)
                while view:
                    view = view[os.write(self.fd, view):]
                return
            if not self.buffer:
                self.first_buffered_at = time.monotonic()
            self.buffer.append(data)
            self.buffered += len(data)
            if self.buffered >= self.chunk_bytes or time.monotonic() - self.first_buffered_at >= self.chunk_seconds:
                self._write_chunk()

    def flush(self) -> None:
        """Makes everything appended so far durable (a no-op for local files)."""
        with self.lock:
            if self.buffer:
                self._write_chunk()

    def _write_chunk(self) -> None:
        path = f"{self.stem}-{self.chunks:05d}{self.suffix}"
        with FileSystems.create(path) as handle:
            handle.write(b"".join(self.buffer))
        self.chunks += 1
        self.buffer.clear()
        self.buffered = 0

    def close(self) -> None:
        """Flushes and closes; a later append opens the file again."""
        self.flush()
        with self.lock:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None


def read_all(pattern: str) -> list[tuple[str, bytes]]:
    """(path, contents) of every file matching the glob `pattern`, sorted by path."""
    try:
        matched = FileSystems.match([pattern])[0].metadata_list
    except Exception:  # nothing there yet (a missing folder is an error on some filesystems)
        return []
    out = []
    for meta in sorted(matched, key=lambda m: m.path):
        with FileSystems.open(meta.path, compression_type="uncompressed") as handle:
            out.append((meta.path, handle.read()))
    return out
