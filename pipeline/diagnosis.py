"""The likely cause when most of a batch job's input failed at one stage.

A wrong flag (a CSV read as JSON lines, a mistyped --id_column) or a file
that is no input at all (an image) makes every line fail the same way; the
job still runs to its end and dead-letters each of them. One line at the end
says what most probably went wrong, from the counters and the first bytes of
the first input file.
"""

from __future__ import annotations

import csv
import io

from pipeline.input_files import first_bytes

# A stage "explains" the run when it failed more than this share of what
# reached it, and at least MIN_FAILED elements (a few bad lines are just bad lines).
MOST = 0.5
MIN_FAILED = 3

# File signatures of formats that are neither JSON lines nor CSV.
_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or an .xlsx workbook)",
    b"\x1f\x8b": "gzip-compressed without a .gz name",
    b"BZh": "bzip2-compressed without a .bz2 name",
    b"\x28\xb5\x2f\xfd": "zstd-compressed without a .zst name",
}


def likely_cause(counters: dict, config) -> str | None:
    """One line naming the likely cause, or None when no stage failed for most of the input."""
    dead = {name: n for (namespace, name), n in counters.items() if namespace == "cio.dead_letter"}
    lines = counters.get(("cio", "lines_read"), 0)
    events = counters.get(("cio", "events_read"), 0)
    parse_failed = dead.get("parse", 0)
    if _most(parse_failed, lines):
        return f"{parse_failed} of {lines} {_unit(config)} are not events: {_parse_cause(config)}"
    map_failed = dead.get("map", 0)
    if _most(map_failed, events):
        return f"{map_failed} of {events} events failed at mapping: {_map_cause(counters, config)}"
    sent_failed = dead.get("deliver", 0)
    if _most(sent_failed, events - map_failed):
        return (f"{sent_failed} events failed at delivery: Customer.io refused them (its answers are in the "
                f"dead-letter records' error and status)")
    return None


def _most(failed: int, total: int) -> bool:
    return failed >= MIN_FAILED and failed > MOST * total


def _unit(config) -> str:
    return "lines" if config.input_format == "jsonl" else "rows"


def _parse_cause(config) -> str:
    head = first_bytes(config.input) if config.input else None
    if head is None:
        return "see the reasons above"
    path, data = head
    for signature, what in _SIGNATURES.items():
        if data.startswith(signature):
            return f"{path} is {what}, not JSON lines, CSV or Parquet"
    if data.startswith(b"PAR1"):
        return f"{path} looks like Parquet: add --input_format parquet"
    header = _csv_header(data)
    if config.input_format == "jsonl" and header:
        return f"{path} looks like CSV (header: {', '.join(header[:8])}): add --input_format csv"
    if b"\x00" in data or not _is_text(data):
        return f"{path} is binary, not JSON lines, CSV or Parquet"
    return "each line must be one JSON object (or a JSON array of them); see the reasons above"


def _map_cause(counters: dict, config) -> str:
    if config.input_format == "csv":
        head = first_bytes(config.input)
        header = _csv_header(head[1], need_rows=False) if head else None
        identifiers = (config.columns.id_column, config.columns.email_column, config.columns.cio_id_column)
        if header is not None and not set(identifiers) & set(header):
            return (f"no identifier column: the header of {head[0]} has {', '.join(header[:12])}; "
                    f"name the id column with --id_column (now {config.columns.id_column!r}), "
                    f"or --email_column / --cio_id_column")
    reasons = sorted(((n, name) for (namespace, name), n in counters.items()
                      if namespace == "cio.dead_letter_reasons" and name.startswith("map: ")), reverse=True)
    if reasons:
        return f"most often {reasons[0][1].removeprefix('map: ')!r}"
    return "see the reasons above"


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start >= len(data) - 3  # only a character cut by the end of the sample
    return True


def _csv_header(data: bytes, need_rows: bool = True) -> list[str] | None:
    """The header of `data` when it reads as CSV: a first line of 2+ cells that is not JSON
    (and, with `need_rows`, a second line with as many cells); None otherwise."""
    if not _is_text(data):
        return None
    text = data.decode("utf-8", errors="ignore").lstrip("\ufeff")
    if text.lstrip()[:1] in ("{", "[", '"'):
        return None
    rows = list(csv.reader(io.StringIO(text)))[:3]
    if not rows or len(rows[0]) < 2:
        return None
    if need_rows and (len(rows) < 2 or len(rows[1]) != len(rows[0])):
        return None
    return [cell.strip() for cell in rows[0]]
