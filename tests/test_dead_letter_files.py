"""Dead-letter files: one set per run, appended as they come, no temporary folders left."""

from __future__ import annotations

import dataclasses
import glob
import os
from pathlib import Path

import orjson
import pytest

from pipeline.append_files import AppendFile
from pipeline.main import run
from pipeline.sinks import removing_new_temp_folders
from tests.services import API_KEY, SITE_ID


@dataclasses.dataclass
class _Config:
    dry_run_output: str | None = None
    streaming: bool = False
    dead_letter: str | None = None


def test_temporary_folders_that_appear_during_a_job_are_removed_when_it_fails(tmp_path):
    older = tmp_path / "beam-temp-requests-older"  # another job's: left alone
    older.mkdir()
    config = _Config(dry_run_output=str(tmp_path / "requests"))
    with pytest.raises(KeyboardInterrupt):
        with removing_new_temp_folders(config):
            (tmp_path / "beam-temp-requests-1234").mkdir()
            (tmp_path / "beam-temp-requests-1234" / "part").write_text("x")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["beam-temp-requests-older"]


def test_streaming_dead_letter_temp_folders_are_removed_too(tmp_path):
    config = _Config(streaming=True, dead_letter=str(tmp_path / "dead" / "events"))
    (tmp_path / "dead").mkdir()
    with removing_new_temp_folders(config):
        (tmp_path / "dead" / ".temp5678").mkdir()
    assert list((tmp_path / "dead").iterdir()) == []


def test_an_append_file_is_created_at_the_first_record_and_never_shared(tmp_path):
    stem = str(tmp_path / "dead" / "events-run-abc")
    first = AppendFile(stem, ".jsonl")
    assert not (tmp_path / "dead").exists(), "nothing appended, no file"
    first.append(b"1\n")
    first.append(b"2\n")
    # Written through at once: another reader sees both lines before close().
    assert Path(stem + ".jsonl").read_bytes() == b"1\n2\n"
    with pytest.raises(FileExistsError):
        AppendFile(stem, ".jsonl").append(b"3\n")
    first.close()


def test_a_dry_run_and_a_failing_job_leave_no_temporary_folder(tmp_path, sandbox, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "events.jsonl"
    source.write_bytes(b'{"type": "track", "userId": "u1", "event": "A"}\n{"type": "track"}\n')
    assert run(["--input", str(source), "--dry_run_output", "out/dry/requests", "--site_id", SITE_ID,
                "--api_key", API_KEY]) == 0
    assert glob.glob("out/dry/requests-single-*")
    assert run(["--input", str(source), "--site_id", SITE_ID, "--api_key", API_KEY, "--endpoint", sandbox.url]) == 0
    assert not [d for d, _, _ in os.walk(tmp_path) if "temp" in os.path.basename(d)]


def test_on_a_filesystem_that_cannot_append_records_go_in_chunks_and_resume_works(tmp_path, sandbox, capsys):
    import tests.testfs  # noqa: F401 - registers testfs:// with Beam

    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(
        orjson.dumps({"type": "track", "userId": f"u{i % 3}", "event": "A", "messageId": f"m{i}"}) + b"\n"
        for i in range(12)) + b'{"type": "track"}\n')
    argv = ["--input", str(source), "--site_id", SITE_ID, "--api_key", API_KEY, "--endpoint", sandbox.url,
            "--dead_letter", f"testfs://{tmp_path}/dead/events", "--skip_credentials_check"]
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert f"progress record: testfs://{tmp_path}/dead/progress/" in out
    (dead,) = glob.glob(str(tmp_path / "dead" / "events-*-00000.jsonl"))
    assert orjson.loads(Path(dead).read_bytes())["stage"] == "map"
    journal_chunks = [Path(p).name.rsplit("-", 1)[1] for p in glob.glob(str(tmp_path / "dead" / "progress" / "*" / "*"))]
    assert "00000.bin" in journal_chunks, "delivery's journal, written in chunks"
    assert sandbox.stats()["accepted"] == 12

    assert run(argv) == 0
    assert "requests skipped: done in an earlier run" in capsys.readouterr().out
    assert sandbox.stats()["accepted"] == 12
