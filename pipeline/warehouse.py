"""Warehouse exports as input: CSV or Parquet files → record messages (reverse ETL).

`ReadWarehouseRows` reads --input with Beam's own file I/O and turns each
row into a record message (`transforms.warehouse.row_to_record`) serialized
as JSON bytes, the same element the JSON-lines source yields, so the rows
flow into Parse and MapRecord unchanged. A row that cannot be converted
becomes a record carrying `warehouse_error` and is dead-lettered by the
mapping with that reason: nothing stops the job and nothing is dropped.

- Parquet: `beam.io.ReadFromParquet` (pyarrow), split by row groups; values
  pyarrow gives as datetimes, decimals or bytes are made JSON first.
- CSV: `fileio.MatchFiles` + `ReadMatches`, parsed per file with Python's
  `csv` module. `beam.io.ReadFromCsv` needs pandas (not a dependency of this
  project: a large install on every worker for one reader), and line-based reading
  (`ReadFromText`) would cut quoted cells that hold newlines. The price: one
  file is parsed by one worker, so large exports should be split into
  several files (warehouses write exports that way anyway). The first row is
  the header; a UTF-8 byte-order mark is skipped; .gz/.bz2/.zst are
  decompressed by extension.
"""

from __future__ import annotations

import csv
import io

import apache_beam as beam
import orjson
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from transforms.warehouse import ColumnMapping, error_record, row_to_record

FORMATS = ("jsonl", "csv", "parquet")


def _dumps(record: dict) -> bytes:
    # json_value made every value JSON already; OPT_NON_STR_KEYS is a safety net.
    return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS)


class _RawReader(io.RawIOBase):
    """A binary file object with only ``read`` (Beam's CompressedFile) as a raw stream.

    ``io.TextIOWrapper`` wants the full io interface (readable, writable,
    readinto, ...), which Beam's compressed files do not have.
    """

    def __init__(self, handle):
        super().__init__()
        self._handle = handle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._handle.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _replaced(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def csv_records(handle, mapping: ColumnMapping, path: str):
    """Record messages (JSON bytes) of one CSV file opened as bytes.

    Bytes that are not UTF-8 are kept as lone surrogates while parsing
    (``surrogateescape``), so only the rows holding them are dead-lettered
    (shown with U+FFFD), not the rest of the file.
    """
    raw = io.BufferedReader(_RawReader(handle), buffer_size=1 << 16)
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    row_number = 1  # the header is row 1, as in a spreadsheet
    try:
        header = next(reader, None)
        if header is None:
            return
        header = [_replaced(name) for name in header]
        width = len(header)
        for cells in reader:
            row_number += 1
            if not cells:
                continue  # a blank line
            reason = None
            try:
                "".join(cells).encode("utf-8")
            except UnicodeEncodeError:
                cells = [_replaced(cell) for cell in cells]
                reason = f"CSV row {row_number} of {path} is not valid UTF-8"
            if len(cells) != width:
                reason = f"CSV row {row_number} of {path} has {len(cells)} cells, the header has {width}"
            row = dict(zip(header, cells))
            if reason is not None:
                yield _dumps(error_record(reason, row, mapping))
                continue
            yield _dumps(row_to_record(row, mapping, empty_is_missing=True))
    except csv.Error as err:
        # The rest of the file cannot be read reliably: one dead letter says where it stopped.
        reason = f"CSV file {path} could not be read after row {row_number}: {err}"
        yield _dumps(error_record(reason[:300]))


class _CsvRows(beam.DoFn):
    def __init__(self, mapping: ColumnMapping):
        super().__init__()
        self.mapping = mapping

    def process(self, readable_file):
        path = readable_file.metadata.path
        with readable_file.open(compression_type=CompressionTypes.AUTO) as handle:
            yield from csv_records(handle, self.mapping, path)


def parquet_record(row: dict, mapping: ColumnMapping) -> bytes:
    return _dumps(row_to_record(row, mapping))


class ReadWarehouseRows(beam.PTransform):
    """--input CSV or Parquet files -> record messages as JSON bytes."""

    def __init__(self, pattern: str, input_format: str, mapping: ColumnMapping, validate: bool = True):
        super().__init__()
        if input_format not in ("csv", "parquet"):
            raise ValueError(f"not a warehouse format: {input_format!r}")
        self.pattern = pattern
        self.input_format = input_format
        self.mapping = mapping
        self.validate = validate

    def expand(self, pbegin):
        mapping = self.mapping
        if self.input_format == "parquet":
            rows = pbegin | "ReadParquet" >> beam.io.ReadFromParquet(self.pattern, validate=self.validate)
            return rows | "RowsToRecords" >> beam.Map(parquet_record, mapping)
        if self.validate and not FileSystems.match([self.pattern])[0].metadata_list:
            raise OSError(f"No files found based on the file pattern {self.pattern}")
        return (
            pbegin
            | "MatchCsv" >> fileio.MatchFiles(self.pattern)
            | "SpreadFiles" >> beam.Reshuffle()
            | "OpenCsv" >> fileio.ReadMatches()
            | "CsvToRecords" >> beam.ParDo(_CsvRows(mapping))
        )
