"""Warehouse syncs (reverse ETL): table exports and record messages as input.

Unit tests of the row → record conversion and the CSV reader, the flags,
and the CLI through the sandbox: a CSV export → person items, a Parquet
export → event items, RudderStack-style record messages in JSON lines as
they are, and --audience_id → manual segment calls.
"""

from __future__ import annotations

import collections
import csv
import datetime
import decimal
import gzip
import io
import re

import orjson
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.main import run
from pipeline.options import OptionsError, job_config
from pipeline.warehouse import csv_records
from tests.services import API_KEY, SITE_ID
from tests.test_pipeline_end_to_end import read_dead_letters
from transforms import ColumnMapping, MappingError, load_settings, map_event, row_to_record
from transforms.warehouse import json_value

ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


# ---- row -> record ------------------------------------------------------------------

PEOPLE = ColumnMapping(id_column="user_id", timestamp_column="signed_up_at", action_column="op")


@pytest.mark.parametrize("row, mapping, empty_is_missing, record", [
    ({"id": "u1", "email": "a@b.co", "plan": "pro"}, ColumnMapping(), False,
     {"type": "record", "action": "insert", "identifiers": {"id": "u1", "email": "a@b.co"},
      "fields": {"plan": "pro"}}),
    ({"user_id": 7, "signed_up_at": "2024-05-01T10:00:00Z", "op": "UPDATE ", "id": "pk-1", "plan": None}, PEOPLE,
     False,
     {"type": "record", "action": "update", "identifiers": {"id": 7},
      "fields": {"created_at": "2024-05-01T10:00:00Z", "plan": None}}),
    ({"user_id": "", "email": "a@b.co", "op": "", "note": ""}, PEOPLE, True,
     {"type": "record", "action": "insert", "identifiers": {"email": "a@b.co"}, "fields": {}}),
    ({"user_id": "u", "op": "upsert"}, PEOPLE, True,
     {"type": "record", "action": "upsert", "identifiers": {"id": "u"}, "fields": {}}),
    ({"cid": "cio_9", "event": "Order Synced", "at": 1714557600}, ColumnMapping(
        cio_id_column="cid", event_name_column="event", timestamp_column="at"), False,
     {"type": "record", "action": "insert", "identifiers": {"cio_id": "cio_9"},
      "fields": {"name": "Order Synced", "created_at": 1714557600}}),
    ({"id": None, "email": None, "n": 1, None: ["extra"]}, ColumnMapping(), False,
     {"type": "record", "action": "insert", "identifiers": {}, "fields": {"n": 1}}),
])
def test_row_to_record(row, mapping, empty_is_missing, record):
    assert row_to_record(row, mapping, empty_is_missing) == record


def test_rows_map_as_records_do():
    s = load_settings(site_id="s", api_key="k")
    [request] = map_event(row_to_record({"user_id": 7, "signed_up_at": "2024-05-01T10:00:00Z", "op": "insert",
                                         "plan": "pro"}, PEOPLE), s)
    assert request.json() == {"type": "person", "identifiers": {"id": "7"}, "action": "identify",
                              "attributes": {"plan": "pro"}, "timestamp": 1714557600}
    with pytest.raises(MappingError, match=r"^record action must be insert, update or delete \(got upsert\)$"):
        map_event(row_to_record({"user_id": 7, "op": "upsert"}, PEOPLE), s)


@pytest.mark.parametrize("value, expected", [
    (datetime.datetime(2024, 5, 1, 10, 0, 0), "2024-05-01T10:00:00Z"),
    (datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
     "2024-05-01T12:00:00+02:00"),
    (datetime.date(2024, 5, 1), "2024-05-01"),
    (decimal.Decimal("12.00"), 12),
    (decimal.Decimal("12.5"), 12.5),
    (decimal.Decimal("NaN"), None),
    (float("inf"), None),
    (b"caf\xc3\xa9", "café"),
    (b"\xff\x00", "/wA="),
    ([("k", 1), ("j", b"x")], {"k": 1, "j": "x"}),
    ([1, decimal.Decimal("2")], [1, 2]),
    ({"a": {"b": datetime.date(2024, 1, 2)}}, {"a": {"b": "2024-01-02"}}),
    (True, True),
    (object, "<class 'object'>"),
])
def test_json_value(value, expected):
    assert json_value(value) == expected


# ---- the CSV reader -------------------------------------------------------------------

def csv_lines(text: bytes, mapping=PEOPLE):
    return [orjson.loads(line) for line in csv_records(io.BytesIO(text), mapping, "x.csv")]


def test_csv_quoted_newlines_bom_and_blank_lines():
    text = '\ufeffuser_id,op,note\r\nu1,insert,"two\nlines, and ""quotes"""\r\n\r\nu2,delete,\r\n'.encode()
    assert csv_lines(text) == [
        {"type": "record", "action": "insert", "identifiers": {"id": "u1"},
         "fields": {"note": 'two\nlines, and "quotes"'}},
        {"type": "record", "action": "delete", "identifiers": {"id": "u2"}, "fields": {}},
    ]


def test_csv_ragged_rows_and_unreadable_files_become_dead_letter_records():
    [short, ok, long] = csv_lines(b"user_id,op,note\nu1,insert\nu2,,n\nu3,insert,a,b\n")
    assert short["warehouse_error"] == "CSV row 2 of x.csv has 2 cells, the header has 3"
    assert short["identifiers"] == {"id": "u1"}  # the row is kept, for the dead-letter file
    assert ok == {"type": "record", "action": "insert", "identifiers": {"id": "u2"}, "fields": {"note": "n"}}
    assert long["warehouse_error"] == "CSV row 4 of x.csv has 4 cells, the header has 3"
    [good, broken, after] = csv_lines(b"user_id,op,note\nu1,insert,\nu2,insert,caf\xe9\nu3,insert,\n")
    assert good["identifiers"] == {"id": "u1"} and after["identifiers"] == {"id": "u3"}
    assert broken["warehouse_error"] == "CSV row 3 of x.csv is not valid UTF-8"
    assert broken["fields"] == {"note": "caf\ufffd"}
    [cut] = csv_lines(b"user_id,op\nu1,\"" + b"x" * (csv.field_size_limit() + 1) + b"\"\n")
    assert cut["warehouse_error"].startswith("CSV file x.csv could not be read after row 1: field larger than")
    assert csv_lines(b"") == []


def test_records_from_bad_rows_are_dead_lettered_with_the_reason():
    s = load_settings(site_id="s", api_key="k")
    [short] = csv_lines(b"user_id,op,note\nu1,insert\n")
    with pytest.raises(MappingError) as err:
        map_event(short, s)
    assert str(err.value) == "CSV row 2 of x.csv has 2 cells, the header has 3"


# ---- flags ------------------------------------------------------------------------------

BASE = ["--input", "x.csv", "--site_id", "s", "--api_key", "k"]


def test_warehouse_flags_become_the_config():
    c = job_config(PipelineOptions(BASE + ["--input_format", "CSV", "--id_column", "user_id", "--action_column", "op",
                                           "--audience_id", "12", "--id_type", "email"]))
    assert c.input_format == "csv"
    assert c.columns == ColumnMapping(id_column="user_id", action_column="op")
    assert (c.settings.audience_id, c.settings.id_type) == ("12", "email")
    assert job_config(PipelineOptions(BASE)).input_format == "jsonl"


@pytest.mark.parametrize("args, message", [
    (BASE + ["--input_format", "xlsx"], "invalid settings: --input_format must be jsonl, csv or parquet (got 'xlsx')"),
    (["--topic", "projects/p/topics/t", "--site_id", "s", "--api_key", "k", "--input_format", "csv"],
     "invalid settings: --input_format csv reads files: give --input"),
    (BASE + ["--id_column", "uid", "--action_column", "op"],
     "invalid settings: --id_column, --action_column only apply to --input_format csv or parquet"),
    (BASE + ["--input_format", "csv", "--id_column", " "], "invalid settings: --id_column must not be empty"),
    (BASE + ["--input_format", "csv", "--id_column", "email"],
     "invalid settings: column 'email' is mapped twice (check the --*_column flags and their defaults)"),
    (BASE + ["--audience_id", "7", "--record_object", "event"],
     "invalid settings: --audience_id syncs records to a segment: do not combine it with --record_object event"),
    (BASE + ["--audience_id", "seg-7"],
     "invalid settings: audience_id must be a segment id, a whole number (got 'seg-7')"),
    (BASE + ["--audience_id", "7", "--id_type", "phone"],
     "invalid settings: id_type must be id, email or cio_id (got 'phone')"),
])
def test_bad_warehouse_flags_give_one_line(args, message):
    with pytest.raises(OptionsError) as err:
        job_config(PipelineOptions(args))
    assert str(err.value) == message


# ---- the CLI through the sandbox ----------------------------------------------------------

def cli(sandbox, input_path, dead_prefix, *extra):
    return run(["--input", str(input_path), "--site_id", SITE_ID, "--api_key", API_KEY, "--endpoint", sandbox.url,
                "--dead_letter", str(dead_prefix), *extra])


def batch_items(sandbox) -> list[dict]:
    return [r["item"] for r in sandbox.accepted() if r["path"] == "/api/v2/batch"]


@pytest.mark.pipeline
def test_csv_export_becomes_person_items(tmp_path, sandbox):
    source = tmp_path / "people.csv.gz"
    source.write_bytes(gzip.compress(
        b"user_id,email,plan,seats,signed_up_at,op,note\n"
        b"u-1,ada@example.com,pro,12,2026-11-02T09:15:00Z,insert,\n"
        b'u-2,grace@example.com,starter,1,2026-11-03T17:40:00Z,update,"two\nlines"\n'
        b"u-3,linus@example.com,free,,1762300800,delete,\n"
        b",,pro,3,2026-11-04T08:00:00Z,insert,no identifier at all\n"
        b"u-5,short@example.com,pro\n"
    ))
    dead = tmp_path / "dead" / "events"
    assert cli(sandbox, source, dead, "--input_format", "csv", "--id_column", "user_id",
               "--timestamp_column", "signed_up_at", "--action_column", "op") == 0
    items = sorted(batch_items(sandbox), key=lambda i: i["identifiers"]["id"])
    assert items == [
        {"type": "person", "identifiers": {"id": "u-1"}, "action": "identify",
         "attributes": {"email": "ada@example.com", "plan": "pro", "seats": "12"}, "timestamp": 1793610900},
        {"type": "person", "identifiers": {"id": "u-2"}, "action": "identify",
         "attributes": {"email": "grace@example.com", "plan": "starter", "seats": "1", "note": "two\nlines"},
         "timestamp": 1793727600},
        {"type": "person", "identifiers": {"id": "u-3"}, "action": "delete"},
    ]
    reasons = sorted(r["error"] for r in read_dead_letters(dead))
    assert reasons == [f"CSV row 6 of {source} has 3 cells, the header has 7",
                       "record needs a non-empty cio_id, id or email in identifiers or fields"]
    assert {r["stage"] for r in read_dead_letters(dead)} == {"map"}


@pytest.mark.pipeline
def test_parquet_export_becomes_event_items(tmp_path, sandbox):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({
        "customer": pa.array([101, 102, 103], pa.int64()),
        "event": pa.array(["Order Synced", "Order Synced", None]),
        "occurred_at": pa.array([datetime.datetime(2026, 11, 2, 9, 15), datetime.datetime(2026, 11, 3, 8, 0),
                                 datetime.datetime(2026, 11, 3, 9, 0)], pa.timestamp("ms")),
        "total": pa.array([decimal.Decimal("19.90"), decimal.Decimal("5.00"), None], pa.decimal128(10, 2)),
        "skus": pa.array([["a", "b"], [], None], pa.list_(pa.string())),
    })
    source = tmp_path / "orders.parquet"
    pq.write_table(table, source)
    dead = tmp_path / "dead" / "events"
    assert cli(sandbox, source, dead, "--input_format", "parquet", "--record_object", "event",
               "--id_column", "customer", "--event_name_column", "event", "--timestamp_column", "occurred_at") == 0
    items = sorted(batch_items(sandbox), key=lambda i: i["identifiers"]["id"])
    ids = [item.pop("id") for item in items]
    assert all(ULID.fullmatch(i) for i in ids) and len(set(ids)) == 2
    assert items == [
        {"type": "person", "identifiers": {"id": "101"}, "action": "event", "name": "Order Synced",
         "attributes": {"total": 19.9, "skus": ["a", "b"]}, "timestamp": 1793610900},
        {"type": "person", "identifiers": {"id": "102"}, "action": "event", "name": "Order Synced",
         "attributes": {"total": 5, "skus": []}, "timestamp": 1793692800},
    ]
    [dead_record] = read_dead_letters(dead)
    assert dead_record["error"] == "an event record needs a non-empty string name"
    assert dead_record["event"]["identifiers"] == {"id": 103}


@pytest.mark.pipeline
def test_rudderstack_record_messages_in_json_lines_work_as_they_are(tmp_path, sandbox):
    # RudderStack's reverse ETL puts every mapped column in identifiers or fields
    messages = [
        {"type": "record", "action": "insert", "messageId": "r-1", "recordId": "1", "rudderId": "x",
         "identifiers": {"id": "u-1", "email": "ada@example.com"}, "fields": {"plan": "pro", "seats": 12},
         "context": {"sources": {"job_id": "j1", "version": "v1.2"}}},
        {"type": "record", "action": "update", "messageId": "r-2",
         "identifiers": {"id": 2}, "fields": {"plan": "free", "created_at": "2026-11-02T09:15:00Z"}},
        {"type": "record", "action": "delete", "messageId": "r-3", "identifiers": {"email": "old@example.com"}},
        {"type": "record", "action": "upsert", "messageId": "r-4", "identifiers": {"id": "u-4"}},
    ]
    source = tmp_path / "records.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(m) for m in messages) + b"\n")
    dead = tmp_path / "dead" / "events"
    assert cli(sandbox, source, dead) == 0
    items = sorted(batch_items(sandbox), key=lambda i: str(i["identifiers"]))
    assert items == [
        {"type": "person", "identifiers": {"email": "old@example.com"}, "action": "delete"},
        {"type": "person", "identifiers": {"id": "2"}, "action": "identify", "attributes": {"plan": "free"},
         "timestamp": 1793610900},
        {"type": "person", "identifiers": {"id": "u-1"}, "action": "identify",
         "attributes": {"email": "ada@example.com", "plan": "pro", "seats": 12}},
    ]
    [dead_record] = read_dead_letters(dead)
    assert dead_record["error"] == "record action must be insert, update or delete (got upsert)"


@pytest.mark.pipeline
def test_audience_id_adds_and_removes_segment_members(tmp_path, sandbox):
    rows = [b"user_id,op"] + [b"m-%d,insert" % i for i in range(2300)] + [b"m-%d,delete" % i for i in range(5)]
    rows += [b",insert"]  # no id: dead-lettered
    source = tmp_path / "members.csv"
    source.write_bytes(b"\n".join(rows) + b"\n")
    dead = tmp_path / "dead" / "events"
    # one shard, so the count of requests is exact: ceil(2300 / 1000) adds, one remove
    assert cli(sandbox, source, dead, "--input_format", "csv", "--id_column", "user_id", "--action_column", "op",
               "--audience_id", "77", "--batch_shards", "1") == 0
    calls = [r for r in sandbox.accepted() if r["path"].startswith("/api/v1/segments/")]
    assert {(r["method"], r["path"], orjson.dumps(r["query"])) for r in calls} == {
        ("POST", "/api/v1/segments/77/add_customers", b'{"id_type":"id"}'),
        ("POST", "/api/v1/segments/77/remove_customers", b'{"id_type":"id"}'),
    }
    assert all(set(r["body"]) == {"ids"} and 1 <= len(r["body"]["ids"]) <= 1000 for r in calls)
    added = collections.Counter(i for r in calls if r["path"].endswith("/add_customers") for i in r["body"]["ids"])
    removed = collections.Counter(i for r in calls if r["path"].endswith("/remove_customers") for i in r["body"]["ids"])
    assert added == collections.Counter(f"m-{i}" for i in range(2300))
    assert removed == collections.Counter(f"m-{i}" for i in range(5))
    assert sum(r["path"].endswith("/add_customers") for r in calls) == 3, "2300 ids in requests of up to 1000"
    assert sum(r["path"].endswith("/remove_customers") for r in calls) == 1
    assert batch_items(sandbox) == []
    [dead_record] = read_dead_letters(dead)
    assert dead_record["error"] == "segment record needs a non-empty id in identifiers or fields"
