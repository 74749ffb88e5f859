"""The pipeline benchmark runs end to end at a smoke size, so it cannot rot.

Figures are not asserted (speed is measured by the benchmark, not by tests);
only that every section ran and produced its row.
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
                "5. growth, 3,000 events, v2 delivery, 2 processes"):
        assert row in table, (row, table)
    # the sandbox's CPU beside the job's, in the v2 delivery and growth rows
    assert "s CPU, and the sandbox's" in table and "the sandbox" in table and "µs per item" in table, table
