"""bench/instructions.py: cachegrind's counts read, each part's work, a clear word without valgrind.

A full count takes minutes under valgrind; here the parts run without it,
and one small part once under it.
"""

import shutil

import pytest

from bench import instructions
from bench.instructions import instructions_of

CACHEGRIND_STDERR = """\
==30039== Cachegrind, a cache and branch-prediction profiler
==30039== I   refs:      6,101,105,010
some output of the job
==30032== I   refs:      235,196
==29970== I   refs:      7,132,865,736
"""


def test_counts_of_every_traced_process_are_summed():
    assert instructions_of(CACHEGRIND_STDERR) == 6_101_105_010 + 235_196 + 7_132_865_736


def test_no_count_is_an_error_that_shows_the_output():
    with pytest.raises(RuntimeError, match="(?s)no instruction count.*job crashed"):
        instructions_of("job crashed\n")


def test_without_valgrind_it_says_so(monkeypatch, capsys):
    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit) as exit_:
        instructions.main([])
    assert exit_.value.code == 2
    assert "needs valgrind" in capsys.readouterr().err


@pytest.mark.parametrize("part", ["decode", "map", "steps"])
def test_each_part_runs_on_generated_events(tmp_path, part):
    # What valgrind counts for a part is this work; it must keep running
    # as the pipeline's steps change.
    source = instructions.write_events(tmp_path / "events.jsonl", 300)
    made = instructions.run_part(part, source, "v2")
    # Every generated event decodes, maps, and becomes one v2 item.
    assert made == 300


def test_the_sandbox_part_accepts_every_item(tmp_path):
    source = instructions.write_events(tmp_path / "events.jsonl", 1_200)
    bodies = instructions.write_batch_bodies(source, tmp_path / "bodies")
    assert len(bodies.read_bytes().splitlines()) == 2  # 1000 + 200 items
    assert instructions.run_part("sandbox", bodies, "v2") == 1_200


def test_unknown_parts_are_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        instructions.main(["--parts", "decode,nonsense"])
    assert exit_.value.code == 2
    assert "unknown nonsense" in capsys.readouterr().err


@pytest.mark.subprocess
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind")
def test_a_part_is_counted_under_valgrind(tmp_path):
    # The slowest part of the tool that CI can afford (~20 s): one count of
    # the smallest part. Python's start alone is some hundred million.
    source = instructions.write_events(tmp_path / "events.jsonl", 50)
    assert instructions.count("decode", source, tmp_path, "v2", 1) > 100_000_000
