"""The summary table and the closing hint, from counters (no pipeline run)."""

from types import SimpleNamespace

from pipeline.dead_letter import shorten
from pipeline.diagnosis import likely_cause
from pipeline.summary import format_summary, summary_rows
from transforms import ColumnMapping

# Counters shaped like a run of the bundled sample (examples/events.jsonl): one line
# holds an array of an event and a number.
SAMPLE = {
    ("cio", "lines_read"): 1027, ("cio", "events_read"): 1025, ("cio", "events_delivered"): 1020,
    ("cio.mapped", "track"): 1020, ("cio.dead_letter", "parse"): 3, ("cio.dead_letter", "map"): 5,
    ("cio.dead_letter_reasons", "map: Both userId and previousId are mandatory for merge operations"): 1,
}


def test_reasons_are_cut_at_a_word_with_an_ellipsis():
    reason = "map: Both userId and previousId are mandatory for merge operations"
    assert shorten(reason, 60) == "map: Both userId and previousId are mandatory for merge\u2026"
    assert shorten("short", 60) == "short"
    assert shorten("x" * 100, 10) == "x" * 9 + "\u2026", "one long word is cut where the room ends"


def test_the_summary_says_what_it_counts():
    table = dict(summary_rows(SAMPLE, 2.0))
    assert table["lines read (each holds an event or a JSON array of them)"] == "1027"
    assert table["  not an event: dead-lettered at parse"] == "3"
    assert table["events read"] == "1025"
    assert table["events delivered"] == "1020" and table["events dead-lettered at map"] == "5"
    assert table["dead-letter records"] == "8"
    assert "  map: Both userId and previousId are mandatory for merge\u2026" in table
    assert "customerio-beam summary" in format_summary(list(table.items()))


def test_a_dry_runs_summary_counts_the_requests_written():
    counters = {**SAMPLE, ("cio", "events_delivered"): 0,
                ("cio.dry_run", "requests_written"): 932, ("cio.dry_run", "events_written"): 1014}
    table = dict(summary_rows(counters, 1.0, dry_run=True))
    assert table["requests written (dry run)"] == "932"
    assert table["events in the requests written (dry run)"] == "1014"
    assert "events delivered" not in table and "retries" not in table
    sized = dict(summary_rows(counters, 1.0, dry_run=True, rate_limit=100))
    assert sized["time to send them at --rate_limit 100/s"] == "9s"  # 932 requests / 100 per second
    many = {**counters, ("cio.dry_run", "requests_written"): 1_000_000}
    assert dict(summary_rows(many, 1.0, dry_run=True, rate_limit=100))[
        "time to send them at --rate_limit 100/s"] == "2.8h"


def config(path, input_format="jsonl", columns=ColumnMapping()):
    return SimpleNamespace(input=str(path), input_format=input_format, columns=columns)


def all_failed(stage, n=5):
    return {("cio", "lines_read"): n, ("cio", "events_read"): 0 if stage == "parse" else n,
            ("cio.dead_letter", stage): n}


def test_a_csv_read_as_json_lines_is_named(tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("id,email,plan\n1,a@x.io,pro\n2,b@x.io,free\n")
    cause = likely_cause(all_failed("parse"), config(path))
    assert cause.endswith("looks like CSV (header: id, email, plan): add --input_format csv")


def test_an_image_is_named(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    assert "is a PNG image, not JSON lines, CSV or Parquet" in likely_cause(all_failed("parse"), config(path))
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00\x01\xfe" * 100)
    assert "is binary" in likely_cause(all_failed("parse"), config(path))


def test_csv_rows_without_an_identifier_column_name_the_header(tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("user_id,plan\n1,pro\n")
    cause = likely_cause(all_failed("map"), config(path, "csv", ColumnMapping(id_column="userid")))
    assert "the header of" in cause and "has user_id, plan" in cause and "--id_column (now 'userid')" in cause


def test_no_hint_when_few_fail(tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("id,email\n1,a@x.io\n")
    counters = {("cio", "lines_read"): 10, ("cio", "events_read"): 8, ("cio.dead_letter", "parse"): 2,
                ("cio.dead_letter", "map"): 4}
    assert likely_cause(counters, config(path)) is None
    assert likely_cause(all_failed("parse", 2), config(path)) is None, "two bad lines are just bad lines"


def test_a_follow_up_record_is_counted_as_a_record_not_as_an_event():
    # An identify naming an object was delivered, its relationship item refused:
    # the event counts once (delivered), its follow-up's record among the records.
    counters = {("cio", "lines_read"): 1, ("cio", "events_read"): 1, ("cio", "events_delivered"): 1,
                ("cio.mapped", "identify"): 1, ("cio.dead_letter_follow_up", "deliver"): 1}
    table = dict(summary_rows(counters, 1.0))
    assert table["events delivered"] == "1" and table["events dead-lettered at delivery"] == "0"
    assert table["follow-up requests dead-lettered (their event counted above)"] == "1"
    assert table["dead-letter records"] == "1"
