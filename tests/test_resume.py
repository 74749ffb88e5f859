"""Resume: a backfill killed mid-way (SIGKILL) and started again sends only what was not done.

The job runs as `python -m pipeline` in a process of its own, against a
sandbox in a process of its own (slowed down with --latency_ms so that the
job can be killed mid-way); what arrived is counted at the sandbox, which
ignores an event whose dedup id it already has (like Customer.io) and counts
it under `duplicates`.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from cio_sandbox.process import SandboxProcess
from pipeline.main import run
from pipeline.resume import contains, load_done, run_totals
from tests.services import API_KEY, SITE_ID

ROOT = Path(__file__).resolve().parents[1]
THREADS = 4


def track_events(n: int, people: int) -> list[dict]:
    return [{"type": "track", "userId": f"user-{i % people}", "event": "Viewed", "messageId": f"m-{i}",
             "properties": {"n": i}, "timestamp": f"2026-11-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z"}
            for i in range(n)]


def write_input(path: Path, events: list[dict], bad_lines: int = 0) -> Path:
    with open(path, "wb") as out:
        for event in events:
            out.write(orjson.dumps(event) + b"\n")
        for i in range(bad_lines):
            out.write(b'{"type": "track", "userId": "u"}\n')  # no event name: dead-lettered at mapping
    return path


def job_argv(sandbox_url: str, source: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["--input", str(source), "--site_id", SITE_ID, "--api_key", API_KEY, "--endpoint", sandbox_url,
            "--dead_letter", str(tmp_path / "dead" / "events"), "--progress", str(tmp_path / "progress"),
            "--skip_credentials_check", "--max_in_flight", str(THREADS), *extra]


def start_job(argv: list[str], tmp_path: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    log = open(tmp_path / "job.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "pipeline", *argv], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def kill_when(job: subprocess.Popen, sandbox: SandboxProcess, accepted_at_least: int, tmp_path: Path,
              settle: float) -> dict:
    """SIGKILLs the job once the sandbox accepted that much; returns the sandbox's counts after it settled."""
    deadline = time.monotonic() + 120
    while sandbox.stats()["accepted"] < accepted_at_least:
        assert job.poll() is None, "the job ended before it could be killed:\n" + (tmp_path / "job.log").read_text()
        assert time.monotonic() < deadline, "the job sent too little in time"
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=30)
    time.sleep(settle)  # requests that reached the sandbox before the kill are answered by now
    return sandbox.stats()


def finish(job: subprocess.Popen, tmp_path: Path) -> str:
    assert job.wait(timeout=180) == 0, (tmp_path / "job.log").read_text()[-3000:]
    return (tmp_path / "job.log").read_text()


@pytest.mark.subprocess
@pytest.mark.parametrize("api_version", ["v1", "v2"])
def test_a_killed_backfill_resumes_where_it_stopped(tmp_path, api_version):
    if api_version == "v1":
        # 240 calls of ~60 ms each over 4 threads: a few seconds to kill it in.
        events, latency, kill_at, extra = track_events(240, people=48), 60, 60, []
    else:
        # 2,500 items in batches of up to 1,000, sent one after the other (one shard); the
        # sandbox applies a batch before it waits, so it is killed with the second in flight.
        events, latency, kill_at, extra = track_events(2500, people=100), 1500, 2000, ["--batch_shards", "1"]
    total = len(events)
    source = write_input(tmp_path / "events.jsonl", events, bad_lines=3)
    argv = job_argv("", source, tmp_path, "--api_version", api_version, *extra)

    with SandboxProcess(site_id=SITE_ID, api_key=API_KEY, latency_ms=latency) as sandbox:
        argv[argv.index("--endpoint") + 1] = sandbox.url
        first = kill_when(start_job(argv, tmp_path), sandbox, kill_at, tmp_path, settle=latency / 1000 + 1)
        assert first["accepted"] < total, "killed mid-way"
        done_first = len(load_done(str(tmp_path / "progress")))
        assert 0 < done_first <= first["accepted"], "only what was accepted is recorded as done"
        # Unrecorded but accepted: at most the calls in flight when it was killed.
        in_flight_items = THREADS if api_version == "v1" else 1000
        assert first["accepted"] - done_first <= in_flight_items
        # The dead letters found so far were written as they came, not lost with the process.
        killed_dead = [orjson.loads(line) for name in glob.glob(str(tmp_path / "dead" / "events-*.jsonl"))
                       for line in Path(name).read_bytes().splitlines()]
        assert len(killed_dead) == 3 and {r["stage"] for r in killed_dead} == {"map"}
        assert not glob.glob(str(tmp_path / "**" / "beam-temp-*"), recursive=True)

        log = finish(start_job(argv, tmp_path), tmp_path)
        second = sandbox.stats()

    sent_again = second["accepted"] - first["accepted"]
    assert sent_again <= total - done_first, "the second run sends at most what the first had not finished"
    assert second["applied"] == total, "every event delivered"
    assert second["duplicates"] == first["accepted"] - done_first, "only calls in flight at the kill are repeated"
    assert f"requests skipped: done in an earlier run" in log
    assert f"{done_first:>10}" in log.split("requests skipped: done in an earlier run")[1].splitlines()[0]
    # Both runs' dead letters are kept, each run in files of its own.
    runs = {Path(name).name.split("-")[1] for name in glob.glob(str(tmp_path / "dead" / "events-*.jsonl"))}
    assert len(runs) == 2


def test_the_done_set_of_a_million_requests_is_8_mb(tmp_path):
    keys = np.random.default_rng(1).integers(0, 2**63, size=1_000_000, dtype=np.uint64)
    from pipeline.resume import Journal
    journal = Journal(str(tmp_path), "20261204T000000Z-0000")
    for start in range(0, len(keys), 1000):
        journal.record(keys[start:start + 1000].tolist(), 1000, 0)
    done = load_done(str(tmp_path))
    assert done.nbytes == 8_000_000 and len(done) == len(np.unique(keys))
    assert contains(done, keys[:5].tolist()).all()
    assert not contains(done, [1, 2, 3]).any()
    assert run_totals(str(tmp_path), "20261204T000000Z-0000") == {
        "delivered": 1_000_000, "dead_lettered": 0, "calls": 1000}


def test_a_torn_last_journal_entry_is_ignored(tmp_path):
    from pipeline.resume import Journal
    journal = Journal(str(tmp_path), "r1")
    journal.record([1, 2, 3], 3, 0)
    journal.record([4, 5], 1, 1)
    (path,) = glob.glob(str(tmp_path / "journal-r1-*"))
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:-3])  # a kill in the middle of the last write
    assert load_done(str(tmp_path)).tolist() == [1, 2, 3]
    assert run_totals(str(tmp_path), "r1") == {"delivered": 3, "dead_lettered": 0, "calls": 1}
    assert run_totals(str(tmp_path), "r2") == {"delivered": 0, "dead_lettered": 0, "calls": 0}


def _in_process_argv(sandbox, source, *extra):
    return ["--input", str(source), "--site_id", SITE_ID, "--api_key", API_KEY, "--endpoint", sandbox.url,
            "--skip_credentials_check", *extra]


@pytest.mark.pipeline
def test_two_runs_with_the_default_dead_letter_path_keep_both_files(tmp_path, sandbox, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    source = write_input(tmp_path / "events.jsonl", track_events(5, people=2), bad_lines=2)
    assert run(_in_process_argv(sandbox, source)) == 0
    first_out = capsys.readouterr().out
    assert run(_in_process_argv(sandbox, source)) == 0
    second_out = capsys.readouterr().out

    files = sorted(glob.glob("out/dead_letter/events-*.jsonl"))
    runs = {name.split("events-")[1].rsplit("-", 1)[0] for name in files}
    assert len(runs) == 2, files
    for run_id in runs:
        records = [orjson.loads(line) for name in glob.glob(f"out/dead_letter/events-{run_id}-*.jsonl")
                   for line in Path(name).read_bytes().splitlines()]
        assert len(records) == 2 and all(r["stage"] == "map" for r in records)
    # The summary names the run's files.
    for out in (first_out, second_out):
        (line,) = [line for line in out.splitlines() if line.startswith("dead letters: ")]
        assert len(glob.glob(line.removeprefix("dead letters: "))) >= 1
    assert not glob.glob("**/beam-temp-*", recursive=True)


@pytest.mark.pipeline
def test_restart_sends_again_and_other_flags_do_not_use_the_record(tmp_path, sandbox, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = write_input(tmp_path / "events.jsonl", track_events(20, people=4))
    assert run(_in_process_argv(sandbox, source)) == 0
    assert sandbox.stats()["accepted"] == 20

    assert run(_in_process_argv(sandbox, source)) == 0
    assert sandbox.stats()["accepted"] == 20, "the same flags again: nothing is sent"

    assert run(_in_process_argv(sandbox, source, "--restart")) == 0
    stats = sandbox.stats()
    assert stats["accepted"] == 40 and stats["duplicates"] == 20, "--restart sends everything again"

    # Other flags (a v2 job of the same input) are another job: its record is its own.
    assert run(_in_process_argv(sandbox, source, "--api_version", "v2")) == 0
    assert sandbox.stats()["accepted"] == 60
    records = glob.glob("out/dead_letter/progress/*")
    assert len(records) == 2, records


def _run_id(out: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith("run id: ")]
    return line.removeprefix("run id: ")


@pytest.mark.pipeline
def test_a_permanent_failure_is_done_and_a_transient_one_is_not(tmp_path, make_sandbox, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    events = track_events(6, people=2)
    events[0]["event"] = "x" * 150  # Customer.io answers 400: longer than 100 bytes
    source = write_input(tmp_path / "events.jsonl", events)
    progress = tmp_path / "progress"

    # Every call answered 500 (an outage, pipeline/outage.py): the job stops,
    # nothing is dead-lettered for it and nothing is done.
    failing = make_sandbox(error_rate=1.0)
    assert run(_in_process_argv(failing, source, "--max_retries", "0", "--outage_limit_seconds", "1",
                                "--progress", str(progress))) == 4
    first = _run_id(capsys.readouterr().out)
    assert run_totals(str(progress), first) == {"delivered": 0, "dead_lettered": 0, "calls": 0}
    assert glob.glob(f"out/dead_letter/events-{first}-*.jsonl") == []

    # The same record against a working Customer.io: everything is sent.
    healthy = make_sandbox()
    assert run(_in_process_argv(healthy, source, "--progress", str(progress))) == 0
    second = _run_id(capsys.readouterr().out)
    assert healthy.stats()["accepted"] == 5
    assert run_totals(str(progress), second) == {"delivered": 5, "dead_lettered": 1, "calls": 6}
    (record,) = [orjson.loads(line) for name in glob.glob(f"out/dead_letter/events-{second}-*.jsonl")
                 for line in Path(name).read_bytes().splitlines()]
    assert record["stage"] == "deliver" and record["status"] == 400

    # The 400 is done for good: a third run sends nothing.
    requests = healthy.stats()["requests"]
    assert run(_in_process_argv(healthy, source, "--progress", str(progress))) == 0
    assert healthy.stats()["requests"] == requests


def test_progress_flags_are_for_batch_jobs_and_the_default_record_is_beside_the_dead_letters(tmp_path):
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.options import OptionsError, job_config

    base = ["--site_id", SITE_ID, "--api_key", API_KEY]
    with pytest.raises(OptionsError, match="--progress and --restart apply to batch jobs"):
        job_config(PipelineOptions(["--subscription", "projects/p/subscriptions/s", "--restart", *base]))
    assert job_config(PipelineOptions(["--subscription", "projects/p/subscriptions/s", *base])).progress_dir is None
    assert job_config(PipelineOptions(["--input", "x.jsonl", "--dry_run_output", "d", *base])).progress_dir is None

    def config(*argv):
        return job_config(PipelineOptions(["--input", "x.jsonl", *base, *argv]))

    one, again = config("--dead_letter", "gs://b/dead/events"), config("--dead_letter", "gs://b/dead/events")
    assert one.progress_dir.startswith("gs://b/dead/progress/") and one.progress_dir == again.progress_dir
    assert one.run_id != again.run_id
    assert config("--rate_limit", "10").progress_dir == config().progress_dir, "how it sends is not what it sends"
    assert config("--api_version", "v2").progress_dir != config().progress_dir
    assert config("--progress", str(tmp_path)).progress_dir == str(tmp_path)
