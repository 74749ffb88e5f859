"""v1 requests put in order on disk (local runner): partition files, their
splitting and clean-up, and the whole job keeping one person's order."""

from __future__ import annotations

import collections
import glob
import os
import random
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.calls import Outbound
from pipeline.main import run
from pipeline.options import job_config
from pipeline.ordering import people_in_order
from pipeline.spill import (
    PartitionedFiles,
    PartitionWriter,
    SpillError,
    bounded_partitions,
    person_hash,
    read_blocks,
)
from tests.pipeline_helpers import wire

ROOT = Path(__file__).resolve().parents[1]


def single(person, ts, kind="track"):
    return wire(person=person, ts=ts, kind=kind, batch=False)


def markers(wires):
    return sorted((w[4], w[6], w[7]) for w in wires)


def test_each_person_lands_in_one_partition_and_nothing_is_lost(tmp_path):
    wires = [single(f"id:{i % 40}", float(i)) for i in range(2_000)]
    writer = PartitionWriter(str(tmp_path), partitions=8, buffer_bytes=20_000)  # many blocks per file
    for w in wires:
        writer.add(w)
    written = writer.close()
    assert len(written) == 8
    assert max(len(list(read_blocks(path))) for path in written.values()) > 1
    partition_of_person = {}
    read_back = []
    for partition, path in written.items():
        for w in PartitionedFiles([path]).requests():
            assert partition_of_person.setdefault(w[4], partition) == partition
            read_back.append(w)
    assert markers(read_back) == markers(wires)


@pytest.mark.subprocess
def test_the_persons_hash_is_the_same_in_every_process():
    # Workers of a multi-process job spill independently: they must agree on
    # a person's partition (Python's own str hash differs per process).
    code = "from pipeline.spill import person_hash; print(person_hash(('',)*4 + ('id:42', None)))"
    other = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "12345"}).stdout.strip()
    assert other == str(person_hash(single("id:42", 1.0)))


def test_a_partition_too_large_is_split_until_each_part_fits(tmp_path):
    wires = [single(f"id:{i % 300}", float(i)) for i in range(3_000)]
    writer = PartitionWriter(str(tmp_path), partitions=1)
    for w in wires:
        writer.add(w)
    (path,) = writer.close().values()
    limit = os.path.getsize(path) // 10
    parts = list(bounded_partitions(PartitionedFiles([path]), str(tmp_path), max_bytes=limit))
    assert len(parts) >= 10 and all(part.size() <= limit for part in parts)
    assert not os.path.exists(path), "the files split are deleted"
    people = [{w[4] for w in part.requests()} for part in parts]
    assert sum(len(p) for p in people) == len(set().union(*people)) == 300, "a person stays in one part"
    assert markers(w for part in parts for w in part.requests()) == markers(wires)


def test_one_persons_partition_is_loaded_as_it_is(tmp_path):
    wires = [single("id:only", float(i)) for i in range(500)]
    writer = PartitionWriter(str(tmp_path), partitions=1)
    for w in wires:
        writer.add(w)
    (path,) = writer.close().values()
    parts = list(bounded_partitions(PartitionedFiles([path]), str(tmp_path), max_bytes=1_000))
    assert len(parts) == 1, "no split can make one person smaller: it is not split over and over"
    assert markers(parts[0].requests()) == markers(wires)


def test_one_persons_requests_from_several_files_go_out_in_send_order(tmp_path):
    # Two bundles each wrote part of the person's requests, out of order.
    bundles = [[single("id:a", 4.0), single("id:a", 1.0, kind="alias"), single("id:b", 2.0)],
               [single("id:a", 3.0, kind="identify"), single("id:a", 2.0), single("id:b", 1.0)]]
    paths = []
    for requests in bundles:
        writer = PartitionWriter(str(tmp_path), partitions=1)
        for w in requests:
            writer.add(w)
        paths += writer.close().values()
    groups = {key: [(orjson.loads(call.events[0])["type"], orjson.loads(call.events[0])["ts"]) for call in calls]
              for key, calls in people_in_order(PartitionedFiles(paths).requests())}
    # event time, the merge held back until just after the first identify
    assert groups == {"id:a": [("track", 2.0), ("identify", 3.0), ("alias", 1.0), ("track", 4.0)],
                      "id:b": [("track", 1.0), ("track", 2.0)]}


def test_a_truncated_spill_file_is_an_error_not_a_silent_loss(tmp_path):
    path = str(tmp_path / "p.spill")
    writer = PartitionWriter(str(tmp_path), partitions=1)
    writer.add(single("id:a", 1.0))
    (written,) = writer.close().values()
    data = Path(written).read_bytes()
    Path(path).write_bytes(data[:-3])
    with pytest.raises(SpillError, match="truncated"):
        list(read_blocks(path))


def test_a_spill_that_cannot_be_written_says_where_and_what_to_do(tmp_path):
    writer = PartitionWriter(str(tmp_path / "gone"), partitions=1)  # a directory that does not exist
    writer.add(single("id:a", 1.0))
    with pytest.raises(SpillError, match="--temp_location"):
        writer.close()


@pytest.mark.subprocess
@pytest.mark.parametrize("ending", ["return", "raise SystemExit(3)", "raise RuntimeError('boom')"])
def test_the_job_directory_is_removed_when_the_process_exits(tmp_path, ending):
    code = ("import sys; from pipeline.spill import job_directory\n"
            "d = job_directory(sys.argv[1]); open(d + '/x.spill', 'wb').write(b'x'); print(d, flush=True)\n"
            f"def end():\n    {ending}\n"
            "end()\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "base")], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    directory = out.stdout.strip()
    assert directory.startswith(str(tmp_path / "base")), out.stderr
    assert not os.path.exists(directory)


@pytest.mark.parametrize("flags,spills", [
    ([], True),
    (["--runner=DirectRunner"], True),
    (["--runner=direct"], True),
    (["--runner=DataflowRunner", "--project=p", "--temp_location=gs://example-bucket/tmp"], False),
])
def test_only_a_local_batch_job_spills(flags, spills):
    config = job_config(PipelineOptions(["--input=x.jsonl", "--site_id=s", "--api_key=k", *flags]))
    assert (config.spill_base is not None) == spills
    streaming = job_config(PipelineOptions(["--subscription=projects/p/subscriptions/s", "--site_id=s",
                                            "--api_key=k", *flags]))
    assert streaming.spill_base is None


def test_the_spill_goes_under_a_local_temp_location(tmp_path):
    config = job_config(PipelineOptions(["--input=x.jsonl", "--site_id=s", "--api_key=k",
                                         f"--temp_location={tmp_path}"]))
    assert config.spill_base == str(tmp_path)


@pytest.mark.pipeline
def test_a_local_v1_job_keeps_each_persons_order_across_files_and_bundles(tmp_path):
    # Four people, twelve events each (one second apart), shuffled over three
    # files; the first identify at t=5, a merge at t=2 (before it).
    rng = random.Random(5)
    events = []
    for person in ("u1", "u2", "u3", "u4"):
        for t in range(1, 13):
            stamp = f"2025-01-01T00:00:{t:02d}Z"
            if t == 2:
                events.append({"type": "alias", "userId": person, "previousId": f"old-{person}", "timestamp": stamp})
            elif t in (5, 9):
                events.append({"type": "identify", "userId": person, "timestamp": stamp, "traits": {"n": t}})
            else:
                events.append({"type": "track", "userId": person, "event": "E", "timestamp": stamp,
                               "properties": {"n": t}})
    rng.shuffle(events)
    for i in range(3):
        (tmp_path / f"events-{i}.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events[i::3]))
    spill = tmp_path / "spill"
    out = tmp_path / "dry" / "requests"
    assert run(["--input", str(tmp_path / "events-*.jsonl"), "--site_id", "s", "--api_key", "k",
                "--dry_run_output", str(out), "--dead_letter", str(tmp_path / "dead" / "events"),
                f"--temp_location={spill}", "--direct_num_workers=2",
                "--direct_running_mode=multi_threading"]) == 0

    sent = collections.defaultdict(list)  # person -> [(kind, n)] in the order written
    for name in sorted(glob.glob(f"{out}-single-*")):
        for line in Path(name).read_bytes().splitlines():
            request = orjson.loads(line)
            body = request["json"]
            if request["url"].endswith("/merge_customers"):
                sent[body["primary"]["id"]].append(("merge", 2))
            elif request["url"].endswith("/events"):
                sent[request["url"].split("/")[-2]].append(("track", body["data"]["n"]))
            else:
                sent[request["url"].split("/")[-1]].append(("identify", body["n"]))
    tracks = [("track", t) for t in (1, 3, 4)]
    later = [("track", t) for t in (6, 7, 8)] + [("identify", 9)] + [("track", t) for t in (10, 11, 12)]
    expected = tracks + [("identify", 5), ("merge", 2)] + later
    assert dict(sent) == {person: expected for person in ("u1", "u2", "u3", "u4")}
    assert glob.glob(f"{spill}/cio-spill-*"), "the job spilled under --temp_location"
    assert not glob.glob(f"{spill}/**/*.spill", recursive=True), "each partition's files are deleted once sent"
