"""Incremental warehouse syncs (--sync_state, --sync_deletes): only what changed is sent.

Unit tests of the row keys and the changed record, the launch checks of the
state folder, and exports of one table run in a row through the sandbox,
counting there exactly the changes. Each day's export has its own file, as
a warehouse writes them (so each run is a new job for the resume record).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import apache_beam as beam
import orjson
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.build import build_pipeline
from pipeline.options import OptionsError, job_config
from pipeline.sync import MANIFEST
from tests.test_pipeline_end_to_end import read_dead_letters
from tests.test_warehouse import batch_items, cli
from transforms import load_settings
from transforms.sync import changed_record, keyed_row, parse_entry

PERSON = load_settings(site_id="s", api_key="k")


def record(ident: dict, fields: dict, action="insert") -> dict:
    return {"type": "record", "action": action, "identifiers": ident, "fields": fields}


# ---- keys and the changed record ------------------------------------------------------------

def test_a_changed_person_sends_only_changed_and_cleared_attributes():
    before = keyed_row(record({"id": 7, "email": "a@x.co"}, {"plan": "pro", "seats": "3", "note": "n"}), PERSON)
    after = keyed_row(record({"id": 7, "email": "a@x.co"},
                             {"plan": "team", "seats": None, "created_at": "2026-12-02T00:00:00Z"}), PERSON)
    assert before.key == after.key == "id:7"
    assert parse_entry(before.entry)[1] != parse_entry(after.entry)[1]
    assert changed_record(after, parse_entry(before.entry)) == record(
        {"id": 7}, {"plan": "team", "seats": None, "note": None, "created_at": "2026-12-02T00:00:00Z"}, "insert")
    # the row's time is not compared
    same = keyed_row(record({"id": 7, "email": "a@x.co"}, {"plan": "pro", "seats": "3", "note": "n",
                                                           "created_at": 1}), PERSON)
    assert parse_entry(same.entry)[1] == parse_entry(before.entry)[1]


def test_keys_of_events_segments_and_rows_the_mapping_dead_letters():
    events = load_settings(site_id="s", api_key="k", record_object="event")
    a = keyed_row(record({"id": 1}, {"name": "Order", "total": 5}), events)
    b = keyed_row(record({"id": 1}, {"name": "Order", "total": 6}), events)
    assert a.key.startswith("event:") and a.key != b.key
    segment = load_settings(site_id="s", api_key="k", audience_id="7", id_type="email")
    assert keyed_row(record({"id": 1, "email": "a@x.co"}, {}), segment).key == "email:a@x.co"
    assert keyed_row(record({}, {"plan": "pro"}), PERSON) is None  # no identifier
    assert keyed_row(record({"id": 1}, {}, "upsert"), PERSON) is None  # an action the mapping refuses
    assert keyed_row({"type": "track", "event": "x"}, PERSON) is None


# ---- launch checks --------------------------------------------------------------------------

BASE = ["--input", "x.csv", "--input_format", "csv", "--site_id", "s", "--api_key", "k"]


def one_line_error(args) -> str:
    with pytest.raises(OptionsError) as err:
        job_config(PipelineOptions(args))
    assert "\n" not in str(err.value)
    return str(err.value)


def test_a_state_that_is_not_ours_or_is_damaged_stops_the_run_at_launch(tmp_path):
    state = tmp_path / "state"
    assert job_config(PipelineOptions(BASE + ["--sync_state", str(state)])).sync_previous.files == ()
    state.mkdir()
    (state / MANIFEST).write_text("id,email\n1,a@x.co\n")
    assert one_line_error(BASE + ["--sync_state", str(state)]) == \
        f"invalid settings: {state / MANIFEST} is not a customerio-beam sync state"
    manifest = {"format": "customerio-beam sync state", "version": 1, "object": "person", "run_id": "r",
                "files": ["rows-r-00000-of-00001.jsonl"], "sizes": [70]}
    (state / MANIFEST).write_text(json.dumps(manifest))
    assert "cannot be read (" in one_line_error(BASE + ["--sync_state", str(state)])
    (state / "rows-r-00000-of-00001.jsonl").write_text('{"format":"something else"}\n')
    assert one_line_error(BASE + ["--sync_state", str(state)]).endswith(
        "is not a customerio-beam sync state file of this sync: the state is damaged")
    header = b'{"format":"customerio-beam sync state","version":1,"object":"person"}\n'
    line = b'["id:1","0123456789abcdef",{}]\n'
    manifest["sizes"] = [len(header + line)]
    (state / MANIFEST).write_text(json.dumps(manifest))
    (state / "rows-r-00000-of-00001.jsonl").write_bytes(header + line[:10])
    assert one_line_error(BASE + ["--sync_state", str(state)]).endswith(  # cut short: the size says so
        "is not a customerio-beam sync state file of this sync: the state is damaged")
    (state / "rows-r-00000-of-00001.jsonl").write_bytes(header + line)
    assert job_config(PipelineOptions(BASE + ["--sync_state", str(state)])).sync_previous.run_id == "r"
    (state / MANIFEST).write_text(json.dumps({**manifest, "version": 9}))
    assert one_line_error(BASE + ["--sync_state", str(state)]).endswith("this pipeline reads version 1")
    (state / MANIFEST).write_text(json.dumps({**manifest, "object": "event"}))
    assert one_line_error(BASE + ["--sync_state", str(state)]) == (
        f"invalid settings: {state / MANIFEST} is the state of a sync to 'event', not to 'person': "
        f"give another --sync_state")
    (tmp_path / "export.csv").write_text("id\n1\n")
    assert one_line_error(BASE + ["--sync_state", str(tmp_path / "export.csv")]) == \
        f"invalid settings: --sync_state {tmp_path / 'export.csv'} is a file: give a folder for the sync state"
    assert one_line_error(BASE + ["--sync_deletes"]) == "invalid settings: --sync_deletes needs --sync_state"
    assert one_line_error(["--topic", "projects/p/topics/t", "--site_id", "s", "--api_key", "k",
                           "--sync_state", str(tmp_path / "s2")]) == \
        "invalid settings: --sync_state applies to batch jobs (--input)"


# ---- three exports in a row through the sandbox -----------------------------------------------

def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("user_id,email,plan,seats\n" + "".join(r + "\n" for r in rows))
    return path


def sync_run(sandbox, tmp_path, source, *extra) -> list[dict]:
    """Runs one sync of `source`; returns the batch items the sandbox accepted during it."""
    before = len(batch_items(sandbox))
    assert cli(sandbox, source, tmp_path / "dead" / "events", "--sync_state", str(tmp_path / "state"),
               *extra) == 0
    return sorted(batch_items(sandbox)[before:], key=lambda i: (i["action"], str(i["identifiers"])))


def person(ident, **attributes):
    item = {"type": "person", "identifiers": {"id": ident}, "action": "identify"}
    if attributes:
        item["attributes"] = attributes
    return item


DAY1 = ["u1,u1@x.co,pro,3", "u2,u2@x.co,free,1", "u3,u3@x.co,pro,5", "u4,u4@x.co,team,9", "u5,u5@x.co,free,1"]
# u1 changes plan, u2's seats become empty, u4 is gone, u6 is new; u3 and u5 are as they were.
DAY2 = ["u1,u1@x.co,team,3", "u2,u2@x.co,free,", "u3,u3@x.co,pro,5", "u5,u5@x.co,free,1", "u6,u6@x.co,pro,2"]


def summary_counts(out: str) -> dict[str, int]:
    """The "sync: ..." rows of the summary table printed by a run."""
    counts = {}
    for line in out.splitlines():
        if line.startswith("sync: ") and line.split()[-1].isdigit():
            label, value = line.rsplit(None, 1)
            counts[label.removeprefix("sync: ")] = int(value)
    return counts


@pytest.mark.pipeline
def test_three_csv_exports_send_all_then_the_changes_then_nothing(tmp_path, sandbox, capsys):
    flags = ("--input_format", "csv", "--id_column", "user_id", "--sync_deletes")
    first = sync_run(sandbox, tmp_path, write_csv(tmp_path / "people-1.csv", DAY1), *flags)
    assert first == [person(f"u{n}", email=f"u{n}@x.co", plan=p, seats=s)
                     for n, p, s in ((1, "pro", "3"), (2, "free", "1"), (3, "pro", "5"), (4, "team", "9"),
                                     (5, "free", "1"))]
    capsys.readouterr()
    second = sync_run(sandbox, tmp_path, write_csv(tmp_path / "people-2.csv", DAY2), *flags)
    assert summary_counts(capsys.readouterr().out) == {
        "rows read": 5, "new": 1, "changed": 2, "unchanged (skipped)": 2, "removed (gone from the export)": 1,
        "rows sent": 4}
    assert second == [
        {"type": "person", "identifiers": {"id": "u4"}, "action": "delete"},
        person("u1", plan="team"),
        person("u2", seats=None),
        person("u6", email="u6@x.co", plan="pro", seats="2"),
    ]
    assert sync_run(sandbox, tmp_path, write_csv(tmp_path / "people-3.csv", DAY2), *flags) == []
    assert read_dead_letters(tmp_path / "dead" / "events") == []
    manifest = orjson.loads((tmp_path / "state" / MANIFEST).read_bytes())
    # the old state files are gone once the new ones are in use
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == sorted([MANIFEST, *manifest["files"]])


@pytest.mark.pipeline
def test_three_parquet_exports_send_all_then_the_changes_then_nothing(tmp_path, sandbox):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")

    def export(name, rows):
        ids, plans, seats = zip(*rows)
        table = pa.table({"user_id": pa.array(ids), "plan": pa.array(plans),
                          "seats": pa.array(seats, pa.int64())})
        pq.write_table(table, tmp_path / name)
        return tmp_path / name

    day1 = [("u1", "pro", 3), ("u2", "free", 1), ("u3", "pro", 5), ("u4", "team", 9)]
    day2 = [("u1", "team", 3), ("u2", "free", None), ("u3", "pro", 5), ("u5", "pro", 2)]
    flags = ("--input_format", "parquet", "--id_column", "user_id")  # no --sync_deletes: u4 stays
    assert sync_run(sandbox, tmp_path, export("people-1.parquet", day1), *flags) == [
        person(i, plan=p, seats=s) for i, p, s in day1]
    assert sync_run(sandbox, tmp_path, export("people-2.parquet", day2), *flags) == [
        person("u1", plan="team"), person("u2", seats=None), person("u5", plan="pro", seats=2)]
    assert sync_run(sandbox, tmp_path, export("people-3.parquet", day2), *flags) == []


@pytest.mark.pipeline
def test_a_dead_lettered_row_keeps_its_previous_state_and_is_sent_next_time(tmp_path, sandbox, make_sandbox):
    flags = ("--input_format", "csv", "--id_column", "user_id")
    sync_run(sandbox, tmp_path, write_csv(tmp_path / "people-1.csv", DAY1[:2]), *flags)
    # two rows of u1 in one export: both dead-lettered, named; u2's change is refused by
    # Customer.io (a value over its 1000 bytes: the item is rejected in a 207)
    source = write_csv(tmp_path / "people-2.csv", ["u1,u1@x.co,team,3", "u1,u1@x.co,team,4",
                                                   "u2,u2@x.co,team," + "9" * 1001])
    # Nothing of this export was delivered: exit status 5 (pipeline/main.py).
    assert cli(sandbox, source, tmp_path / "dead" / "events", "--sync_state", str(tmp_path / "state"),
               "--max_retries", "0", "--backoff_seconds", "0", *flags) == 5
    reasons = sorted(r["error"] for r in read_dead_letters(tmp_path / "dead" / "events"))
    assert reasons[1:] == ["id:u1 is in this export 2 times: none of its rows is sent"] * 2
    assert reasons[0].startswith("Customer.io rejected the item")
    # fixed: both are sent as changed, against the state of the first run
    assert sync_run(sandbox, tmp_path, write_csv(tmp_path / "people-3.csv", ["u1,u1@x.co,team,3",
                                                                             "u2,u2@x.co,team,1"]), *flags) == [
        person("u1", plan="team"), person("u2", plan="team")]


@pytest.mark.pipeline
def test_an_event_row_is_sent_once_ever(tmp_path, sandbox):
    def export(name, rows):
        (tmp_path / name).write_text("user_id,name,total\n" + "".join(r + "\n" for r in rows))
        return tmp_path / name

    flags = ("--input_format", "csv", "--id_column", "user_id", "--record_object", "event", "--sync_deletes")
    first = sync_run(sandbox, tmp_path, export("orders-1.csv", ["u1,Order,5", "u2,Order,7"]), *flags)
    assert [(i["identifiers"]["id"], i["attributes"]) for i in first] == [("u1", {"total": "5"}),
                                                                         ("u2", {"total": "7"})]
    # u1's row is gone (events are never deleted), u2's is there again, u1 ordered again
    second = sync_run(sandbox, tmp_path, export("orders-2.csv", ["u2,Order,7", "u1,Order,9"]), *flags)
    assert [(i["identifiers"]["id"], i["attributes"]) for i in second] == [("u1", {"total": "9"})]


@pytest.mark.pipeline
def test_segment_members_are_added_and_removed_by_difference(tmp_path, sandbox):
    def export(name, ids):
        (tmp_path / name).write_text("user_id\n" + "".join(i + "\n" for i in ids))
        return tmp_path / name

    def calls():
        return sorted((r["path"].rsplit("/", 1)[1], i) for r in sandbox.accepted()
                      if r["path"].startswith("/api/v1/segments/") for i in r["body"]["ids"])

    flags = ("--input_format", "csv", "--id_column", "user_id", "--audience_id", "7", "--sync_deletes")
    sync_run(sandbox, tmp_path, export("members-1.csv", ["m1", "m2", "m3"]), *flags)
    assert calls() == [("add_customers", "m1"), ("add_customers", "m2"), ("add_customers", "m3")]
    sync_run(sandbox, tmp_path, export("members-2.csv", ["m2", "m3", "m4"]), *flags)
    assert calls() == [("add_customers", "m1"), ("add_customers", "m2"), ("add_customers", "m3"),
                       ("add_customers", "m4"), ("remove_customers", "m1")]


@pytest.mark.pipeline
def test_a_sync_killed_before_its_switch_resumes_and_then_switches(tmp_path, sandbox):
    flags = ("--input_format", "csv", "--id_column", "user_id", "--sync_deletes")
    sync_run(sandbox, tmp_path, write_csv(tmp_path / "people-1.csv", DAY1), *flags)
    saved = tmp_path / "saved-state"
    shutil.copytree(tmp_path / "state", saved)
    day2 = write_csv(tmp_path / "people-2.csv", DAY2)
    assert len(sync_run(sandbox, tmp_path, day2, *flags)) == 4
    # As if killed after delivering, before switching: the state is the one of day 1.
    shutil.rmtree(tmp_path / "state")
    shutil.copytree(saved, tmp_path / "state")
    # Started again with the same flags it is the same job: the progress record skips what was sent ...
    assert sync_run(sandbox, tmp_path, day2, *flags) == []
    # ... and the state it switches to counts those rows as synced.
    assert sync_run(sandbox, tmp_path, write_csv(tmp_path / "people-3.csv", DAY2), *flags) == []


def test_the_sync_translates_for_dataflow(tmp_path):
    # A local state folder: a gs:// one would be checked over the network at launch.
    from tests.test_dataflow_graph import DATAFLOW, GBK

    options = PipelineOptions(DATAFLOW + ["--input=gs://example-bucket/exports/people-*.csv", "--input_format=csv",
                                          "--dead_letter=gs://example-bucket/cio/dead/events",
                                          f"--sync_state={tmp_path / 'state'}", "--sync_deletes"])
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, job_config(options))
    job = pipeline.run().job
    transforms = {t.unique_name: t for t in job.proto_pipeline.components.transforms.values()}
    shuffles = {name.split("/")[0] for name, t in transforms.items() if t.spec.urn == GBK}
    assert {"SyncDiff", "JoinDelivered"} <= shuffles
    assert "SwitchState" in transforms


@pytest.mark.pipeline
def test_an_export_that_keeps_its_file_name_is_a_new_job_each_day(tmp_path, sandbox):
    # The state's run id is part of the job's identity: yesterday's progress record hides nothing today.
    flags = ("--input_format", "csv", "--id_column", "user_id")
    source = tmp_path / "people.csv"
    assert len(sync_run(sandbox, tmp_path, write_csv(source, DAY1[:1]), *flags)) == 1
    assert sync_run(sandbox, tmp_path, write_csv(source, ["u1,u1@x.co,team,3"]), *flags) == [person("u1", plan="team")]
    assert sync_run(sandbox, tmp_path, write_csv(source, DAY1[:1]), *flags) == [person("u1", plan="pro")]
    # the same request as two days ago, sent again
    assert sync_run(sandbox, tmp_path, write_csv(source, ["u1,u1@x.co,team,3"]), *flags) == [person("u1", plan="team")]


@pytest.mark.pipeline
def test_record_messages_in_json_lines_are_synced_too(tmp_path, sandbox):
    def export(name, plans):
        lines = [orjson.dumps(record({"id": f"u{n}"}, {"plan": plan})) for n, plan in enumerate(plans)]
        lines.append(b'{"type": "track", "userId": "u9", "event": "Not a record"}')  # passes through, unkeyed
        (tmp_path / name).write_bytes(b"\n".join(lines) + b"\n")
        return tmp_path / name

    first = sync_run(sandbox, tmp_path, export("records-1.jsonl", ["pro", "free"]), "--api_version", "v2")
    assert [i["identifiers"] for i in first if i["action"] == "identify"] == [{"id": "u0"}, {"id": "u1"}]
    second = sync_run(sandbox, tmp_path, export("records-2.jsonl", ["pro", "team"]), "--api_version", "v2")
    assert [i for i in second if i["action"] == "identify"] == [person("u1", plan="team")]
    assert [i["action"] for i in second] == ["event", "identify"]  # the track event is sent each time


@pytest.mark.pipeline
def test_the_sync_benchmark_runs_at_a_smoke_size(tmp_path):
    # figures are not asserted (speed belongs to the benchmark): only that the three syncs ran and sent the changes
    out = subprocess.run([sys.executable, "-m", "bench.bench_sync", "--rows", "1000", "--folder", str(tmp_path)],
                         cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "items accepted 1000\n" in out.stdout and "items accepted 20\n" in out.stdout, out.stdout
    assert "third sync (unchanged):" in out.stdout and out.stdout.count("items accepted 0\n") == 1, out.stdout


@pytest.mark.pipeline
def test_a_dry_run_writes_the_diff_and_leaves_the_state_alone(tmp_path, sandbox):
    flags = ("--input_format", "csv", "--id_column", "user_id", "--sync_deletes")
    sync_run(sandbox, tmp_path, write_csv(tmp_path / "people-1.csv", DAY1), *flags)
    state_before = {p.name: p.read_bytes() for p in (tmp_path / "state").iterdir()}
    assert sync_run(sandbox, tmp_path, write_csv(tmp_path / "people-2.csv", DAY2), *flags,
                    "--dry_run_output", str(tmp_path / "dry" / "requests")) == []
    written = [orjson.loads(line) for p in sorted((tmp_path / "dry").iterdir()) for line in p.read_bytes().splitlines()]
    items = sorted((i for w in written for i in w["json"]["batch"]), key=lambda i: i["identifiers"]["id"])
    assert [(i["identifiers"]["id"], i["action"]) for i in items] == [
        ("u1", "identify"), ("u2", "identify"), ("u4", "delete"), ("u6", "identify")]
    assert {p.name: p.read_bytes() for p in (tmp_path / "state").iterdir()} == state_before
