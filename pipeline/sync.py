"""--sync_state: send only the rows of a warehouse export that changed since the last sync.

    rows read -> key each row (transforms/sync.py)  ┐
    previous state's entries, by key                ┴ CoGroupByKey -> per key:
        new or changed -> sent (a changed person: only what changed)
        gone           -> nothing, or with --sync_deletes a delete / segment remove
        unchanged      -> not sent; its entry is kept
        twice or more  -> every copy dead-lettered; the previous entry is kept
    sent rows' new entries ┐
    dead letters, by key   ┴ CoGroupByKey -> a dead-lettered row keeps its
        previous entry (tried again next run), a delivered one the new one
    -> new state files beside the old ones -> state.json switched to them

The state is a folder (any Beam filesystem): ``state.json`` names the
current files (``rows-<run id>-SSSSS-of-NNNNN.jsonl``, one entry per line
after a header line). Only the last step of a run that got that far
rewrites ``state.json``, so a run that fails or is killed leaves the
previous state as it was. One sync per state folder at a time.

The row's record message is rewritten before Parse, so mapping, batching,
resume and delivery work on it as on any record.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass

import apache_beam as beam
import orjson
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline.dead_letter import DEAD_LETTER, dead_letter_record
from transforms import sync as rows
from transforms.settings import Settings

LOG = logging.getLogger("cio-pipeline")

MANIFEST = "state.json"
NAMESPACE = "cio.sync"


class SyncStateError(ValueError):
    """The --sync_state folder cannot be used; ``str(err)`` is one line for the user."""


@dataclass(frozen=True)
class PreviousState:
    """The state a run starts from: its files (none on the first run) and the run that wrote them."""

    path: str
    run_id: str | None = None
    files: tuple[str, ...] = ()


def header_line(settings: Settings) -> bytes:
    return orjson.dumps({"format": rows.FORMAT, "version": rows.VERSION, "object": rows.synced_object(settings)})


def _is_local(path: str) -> bool:
    return FileSystems.get_scheme(path) in (None, "file")


def _read_first_line(path: str, limit: int = 4096) -> bytes:
    with FileSystems.open(path, compression_type="uncompressed") as handle:
        return handle.read(limit).split(b"\n", 1)[0]


def open_state(path: str, settings: Settings) -> PreviousState:
    """Checks the --sync_state folder at launch; raises SyncStateError (one line) when it is not ours or is damaged.

    No state.json: the first sync (every row is new).
    """
    if _is_local(path) and os.path.isfile(path):
        raise SyncStateError(f"--sync_state {path} is a file: give a folder for the sync state")
    manifest_path = FileSystems.join(path, MANIFEST)
    try:
        if not FileSystems.exists(manifest_path):
            return PreviousState(path)
        with FileSystems.open(manifest_path, compression_type="uncompressed") as handle:
            data = handle.read(1 << 24)
    except Exception as err:  # any filesystem or permission error: one line
        raise SyncStateError(f"cannot read the sync state {manifest_path}: {type(err).__name__}: {err}") from None
    try:
        manifest = orjson.loads(data)
    except orjson.JSONDecodeError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != rows.FORMAT:
        raise SyncStateError(f"{manifest_path} is not a customerio-beam sync state")
    if manifest.get("version") != rows.VERSION:
        raise SyncStateError(f"{manifest_path} is a sync state of version {manifest.get('version')!r}; "
                             f"this pipeline reads version {rows.VERSION}")
    files, sizes, run_id = manifest.get("files"), manifest.get("sizes"), manifest.get("run_id")
    if (not isinstance(files, list) or not all(isinstance(f, str) and f and "/" not in f for f in files)
            or not isinstance(sizes, list) or len(sizes) != len(files) or not isinstance(run_id, str)):
        raise SyncStateError(f"{manifest_path} is damaged (no valid run_id, files and sizes)")
    expected = rows.synced_object(settings)
    if manifest.get("object") != expected:
        raise SyncStateError(f"{manifest_path} is the state of a sync to {manifest.get('object')!r}, "
                             f"not to {expected!r}: give another --sync_state")
    paths = tuple(FileSystems.join(path, name) for name in files)
    for file_path, size in zip(paths, sizes):
        try:
            first = _read_first_line(file_path)
            actual = FileSystems.match([file_path])[0].metadata_list[0].size_in_bytes
        except Exception as err:
            raise SyncStateError(f"sync state file {file_path} cannot be read ({type(err).__name__}): "
                                 f"the state is damaged") from None
        # The sizes catch a cut or edited file here, at launch, rather than mid-job.
        if first != header_line(settings) or actual != size:
            raise SyncStateError(f"sync state file {file_path} is not a customerio-beam sync state "
                                 f"file of this sync: the state is damaged")
    return PreviousState(path, run_id, paths)


# --- the diff --------------------------------------------------------------------

UNKEYED = "unkeyed"


class KeyRows(beam.DoFn):
    """Record messages (bytes, or blocks of JSON lines) -> (key, (entry, record bytes)).

    What cannot be keyed (not JSON, not a record, no identifier) goes to
    the "unkeyed" output as it came, for Parse and the mapping to
    dead-letter with their usual reasons.
    """

    def __init__(self, settings: Settings):
        super().__init__()
        self.settings = settings
        self.read = Metrics.counter(NAMESPACE, "rows_read")

    def process(self, raw):
        for text in (raw if isinstance(raw, list) else (raw,)):
            self.read.inc()
            try:
                record = orjson.loads(text)
            except orjson.JSONDecodeError:
                record = None
            row = rows.keyed_row(record, self.settings)
            if row is None:
                yield beam.pvalue.TaggedOutput(UNKEYED, text)
            else:
                yield row.key, (row.entry, bytes(text))


def _previous_entry(line: str):
    try:
        entry = rows.parse_entry(line)
    except ValueError:
        # The header was checked at launch: a damaged line means a damaged state.
        raise SyncStateError(f"a sync state line is damaged: {line[:80]!r}") from None
    return entry[0], line.encode()


KEPT = "kept"  # state lines decided at the diff (unchanged rows, duplicates)
PENDING = "pending"  # (key, (new entry, previous entry)) of rows sent: decided by the delivery


class DiffRows(beam.DoFn):
    """(key, {"now": [(entry, record)], "before": [line]}) -> record bytes to send, plus state outputs."""

    def __init__(self, settings: Settings, sync_deletes: bool):
        super().__init__()
        self.settings = settings
        # Events cannot be deleted: a row gone from an event export is only forgotten.
        self.sync_deletes = sync_deletes and (settings.audience_id is not None or settings.record_object != "event")
        self.counts = {name: Metrics.counter(NAMESPACE, name)
                       for name in ("new", "changed", "unchanged", "removed", "duplicates", "sent")}

    def process(self, keyed):
        key, grouped = keyed
        now, before = list(grouped["now"]), list(grouped["before"])
        previous_line = before[0] if before else None
        previous = rows.parse_entry(previous_line) if previous_line is not None else None
        # No bare return in here: Beam warns about process methods that mix return and yield.
        if len(now) > 1:
            self.counts["duplicates"].inc(len(now))
            for _, record in now:
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter_record(
                    "sync", f"{key} is in this export {len(now)} times: none of its rows is sent", event=record))
            if previous_line is not None:
                yield beam.pvalue.TaggedOutput(KEPT, previous_line)
        elif not now:
            if not rows.is_removal(previous):  # else deleted already: nothing left to remove
                self.counts["removed"].inc()
                if self.sync_deletes:
                    self.counts["sent"].inc()
                    yield orjson.dumps(rows.removal_record(key))
                    yield beam.pvalue.TaggedOutput(PENDING, (key, (b"", previous_line)))
        elif previous is None:
            [(entry, record)] = now
            self.counts["new"].inc()
            self.counts["sent"].inc()
            yield record
            yield beam.pvalue.TaggedOutput(PENDING, (key, (entry, b"")))
        elif orjson.loads(now[0][0])[1] == previous[1]:
            self.counts["unchanged"].inc()
            yield beam.pvalue.TaggedOutput(KEPT, previous_line)
        else:
            [(entry, record)] = now
            self.counts["changed"].inc()
            self.counts["sent"].inc()
            row = rows.Row(key, entry, orjson.loads(record))
            yield orjson.dumps(rows.changed_record(row, previous))
            yield beam.pvalue.TaggedOutput(PENDING, (key, (entry, previous_line)))


class SyncDiff(beam.PTransform):
    """Raw rows -> the rows to send; keeps what the state write needs (see write_sync_state)."""

    def __init__(self, previous: PreviousState, settings: Settings, sync_deletes: bool):
        super().__init__()
        self.previous = previous
        self.settings = settings
        self.sync_deletes = sync_deletes
        self.kept = self.pending = self.dead = None

    def expand(self, raw):
        keyed = raw | "KeyRows" >> beam.ParDo(KeyRows(self.settings)).with_outputs(UNKEYED, main="keyed")
        p = raw.pipeline
        before = (
            p
            | "PreviousFiles" >> beam.Create(list(self.previous.files))
            | "ReadPrevious" >> beam.io.ReadAllFromText(skip_header_lines=1)
            | "KeyPrevious" >> beam.Map(_previous_entry)
        )
        diff = ({"now": keyed.keyed, "before": before}
                | "JoinPrevious" >> beam.CoGroupByKey()
                | "Diff" >> beam.ParDo(DiffRows(self.settings, self.sync_deletes)).with_outputs(
                    KEPT, PENDING, DEAD_LETTER, main="send"))
        self.kept, self.pending, self.dead = diff[KEPT], diff[PENDING], diff[DEAD_LETTER]
        return (keyed[UNKEYED], diff.send) | "RowsToSend" >> beam.Flatten()


# --- the new state ---------------------------------------------------------------------

def _dead_key(record: bytes, settings: Settings):
    try:
        event = orjson.loads(record).get("event")
    except (orjson.JSONDecodeError, AttributeError):
        return
    key = rows.key_of_record(event, settings)
    if key is not None:
        yield key, None


def _settle(keyed):
    """A sent row's state line: the new entry if it was delivered, else the previous one (if any)."""
    _, grouped = keyed
    dead = bool(list(grouped["dead"]))
    for new, previous in grouped["sent"]:
        line = previous if dead else new
        if line:
            yield line


class _SwitchState(beam.DoFn):
    """Writes state.json naming the new files (the switch), then removes the files it no longer names."""

    def __init__(self, path: str, run_id: str, settings: Settings):
        super().__init__()
        self.path = path
        self.run_id = run_id
        self.settings = settings

    def process(self, written):
        written = sorted(written, key=os.path.basename)
        names = [os.path.basename(f) for f in written]
        sizes = [FileSystems.match([f])[0].metadata_list[0].size_in_bytes for f in written]
        manifest = orjson.dumps({**orjson.loads(header_line(self.settings)), "run_id": self.run_id,
                                 "files": names, "sizes": sizes}, option=orjson.OPT_INDENT_2)
        target = FileSystems.join(self.path, MANIFEST)
        if _is_local(target):
            # A rename is atomic: a reader sees the old manifest or the new one.
            temp = f"{target}.{uuid.uuid4().hex}.tmp"
            with open(temp, "wb") as handle:
                handle.write(manifest)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        else:
            # An object store's write becomes visible whole, when it is closed.
            with FileSystems.create(target) as handle:
                handle.write(manifest)
        stale = [m.path for m in FileSystems.match([FileSystems.join(self.path, "rows-*")])[0].metadata_list
                 if os.path.basename(m.path) not in names]
        try:
            if stale:
                FileSystems.delete(stale)
        except Exception as err:  # the switch is done: leftovers only cost space
            LOG.warning("could not remove old sync state files (%s)", type(err).__name__)
        Metrics.counter(NAMESPACE, "state_written").inc()
        yield target


def write_sync_state(diff: SyncDiff, dead_letters, settings: Settings, run_id: str):
    """Adds the steps that write the new state after delivery, and switch to it; returns the manifest's path."""
    dead_keys = (
        tuple(dead_letters)
        | "SyncDeadLetters" >> beam.Flatten()
        | "KeyDeadLetters" >> beam.FlatMap(_dead_key, settings)
    )
    settled = ({"sent": diff.pending, "dead": dead_keys}
               | "JoinDelivered" >> beam.CoGroupByKey()
               | "Settle" >> beam.FlatMap(_settle))
    header = header_line(settings).decode()
    written = (
        (diff.kept, settled)
        | "StateLines" >> beam.Flatten()
        | "AsText" >> beam.Map(bytes.decode)
        | "WriteState" >> beam.io.WriteToText(
            FileSystems.join(diff.previous.path, f"rows-{run_id}"), file_name_suffix=".jsonl", header=header)
    )
    return (written
            | "AllStateFiles" >> beam.combiners.ToList()
            | "SwitchState" >> beam.ParDo(_SwitchState(diff.previous.path, run_id, settings)))


def summary_rows(counters: dict) -> list[tuple[str, str]]:
    """The sync's rows of the summary table (none when the job had no --sync_state)."""
    if not any(namespace == NAMESPACE for namespace, _ in counters):
        return []
    count = lambda name: f"{counters.get((NAMESPACE, name), 0)}"  # noqa: E731
    out = [("sync: rows read", count("rows_read")), ("sync: new", count("new")),
           ("sync: changed", count("changed")), ("sync: unchanged (skipped)", count("unchanged")),
           ("sync: removed (gone from the export)", count("removed"))]
    if counters.get((NAMESPACE, "duplicates")):
        out.append(("sync: rows sharing an identifier (dead-lettered)", count("duplicates")))
    out.append(("sync: rows sent", count("sent")))
    out.append(("sync: new state written", "yes" if counters.get((NAMESPACE, "state_written")) else "no"))
    return out
