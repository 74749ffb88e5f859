"""The pipeline benchmark runs end to end at a smoke size, so it cannot rot.

Figures are not asserted (speed is measured by the benchmark, not by tests);
only that every part ran and produced its rows, with issue 15's targets
beside the figures that have one.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.pipeline


def test_bench_pipeline_smoke():
    out = subprocess.run([sys.executable, "-m", "bench.bench_pipeline", "--smoke"], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    table = out.stdout
    for row in ("1. floor", "2. mapping alone, v1", "2. mapping alone, v2",
                "3. pipeline dry run, v1, in-process", "3. pipeline dry run, v2, 2 processes",
                "4. sandbox alone", "4. v1 delivery, --rate_limit 200", "4. v1 delivery, --rate_limit 1000",
                "4. v2 delivery end to end", "4. v2 batch fill", "5. growth, 3,000 events",
                "5. growth, 3,000 events, v2 delivery, 2 processes",
                "6. 0 ms, 1 process, v1 100/s", "6. 100 ms, 1 process, v1 1000/s", "6. 100 ms, 1 process, v2",
                "7. sandbox limits 1000/s, 100 ms, 1 process, v1",
                "8. v1 dry run, peak RSS 2,000 / 1,000 events", "8. v1 delivering, peak RSS 2,000 / 1,000 events",
                "v1: ~2.8 h at 100 events/s"):
        assert row in table, (row, table)
    # the sandbox's CPU beside the job's, in the v2 delivery and growth rows
    assert "s CPU, and the sandbox's" in table and "µs per item" in table, table
    # each figure with a target says whether it is met
    for target in ("≥ 90%: ", "busiest ≤ budget: ", "≥ 90% of 0 ms: ", "< 1% 429: ", "≥ 85% used: ", "≤ 1.3×: "):
        assert target in table, (target, table)


def test_bench_pipeline_runs_only_the_parts_asked_for():
    out = subprocess.run([sys.executable, "-m", "bench.bench_pipeline", "--smoke", "--only", "enforce"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "7. sandbox limits 1000/s, 0 ms" in out.stdout and "6. " not in out.stdout and "1. floor" not in out.stdout
