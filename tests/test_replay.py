"""python -m pipeline.replay: every stage's dead-letter records back into input lines."""

from pathlib import Path

import orjson

from pipeline.dead_letter import dead_letter_record
from pipeline.replay import main

EVENT = b'{"type":"track","userId":"u1","event":"A"}'


def write_dead_letters(path: Path) -> None:
    records = [
        dead_letter_record("parse", "invalid JSON", raw=b'{"type": "track", "userId": '),
        dead_letter_record("parse", "expected a JSON object, got number", raw=b'[{"type": "track"}, 42]'),
        dead_letter_record("parse", "invalid JSON", raw=b'{"a":\n1'),
        dead_letter_record("map", "Event is a required field", event=b'{"type":"track","userId":"u2"}'),
        dead_letter_record("deliver", "400 Bad Request", event=EVENT, status=400, attempts=1),
        dead_letter_record("sync", "id:7 is in this export 2 times",
                           event=b'{"type":"record","action":"insert","identifiers":{"id":"7"}}'),
        dead_letter_record("map", "CSV row 3 of f.csv has 2 cells, the header has 3",
                           event=b'{"type":"record","identifiers":{"id":"8"},"warehouse_error":"CSV row 3"}'),
    ]
    path.write_bytes(b"\n".join(records) + b'\n{"event": {"type": "tr')  # a line torn by a kill


def test_replay_writes_a_line_per_replayable_record_of_every_stage(tmp_path, capsys):
    write_dead_letters(tmp_path / "events-run-1.jsonl")
    out = tmp_path / "replay.jsonl"
    assert main([str(tmp_path / "events-*.jsonl"), "--output", str(out)]) == 0
    assert out.read_bytes().splitlines() == [
        b'{"type": "track", "userId": ',
        b'[{"type": "track"}, 42]',
        b'{"type":"track","userId":"u2"}',
        EVENT,
        b'{"type":"record","action":"insert","identifiers":{"id":"7"}}',
    ]
    err = capsys.readouterr().err
    assert "5 lines written" in err and "(by stage: parse 2, sync 1, map 1, deliver 1)" in err
    assert "1 records skipped: parse: the raw text holds a line break" in err
    assert "1 records skipped: map: a CSV row that could not be read" in err
    assert "1 records skipped: not a dead-letter record" in err


def test_replay_of_some_stages_from_a_remote_filesystem(tmp_path, capsys):
    import tests.testfs  # noqa: F401 - registers testfs:// (not local, like gs://)

    write_dead_letters(tmp_path / "events-run-1.jsonl")
    assert main([f"testfs://{tmp_path}/events-*.jsonl", "--stage", "deliver,map"]) == 0
    lines = capsys.readouterr().out.encode().splitlines()
    assert [orjson.loads(line)["userId"] for line in lines] == ["u2", "u1"]


def test_replay_of_no_file_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nothing-*.jsonl")]) == 2
    assert capsys.readouterr().err.strip() == f"replay: no dead-letter file matches {tmp_path}/nothing-*.jsonl"
