"""bench/bench_mapping.py --against: two versions of the mapping timed side by side.

Figures are not asserted (the benchmark measures speed); only that a
comparison runs through and says what it compared, and that a revision git
does not know is a clear error.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.subprocess,
    pytest.mark.skipif(not (ROOT / ".git").exists(), reason="--against reads revisions from the git checkout"),
]


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.bench_mapping", "--count", "300", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_against_a_revision_prints_each_round_and_the_median_change():
    out = _bench("--against", "HEAD", "--rounds", "2")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "this checkout against HEAD" in out.stdout
    for number in (1, 2):
        for name in ("decode", "v1", "v2"):
            assert f"| {number} | {name} | " in out.stdout, out.stdout
    assert "| pass | median change | range |" in out.stdout
    for name in ("decode", "v1", "v2"):
        assert f"\n| {name} | " in out.stdout.split("median change")[1]


def test_an_unknown_revision_is_a_clear_error():
    out = _bench("--against", "no-such-revision-42")
    assert out.returncode != 0
    assert "--against no-such-revision-42: git archive failed" in out.stderr
    assert "Traceback" not in out.stderr
