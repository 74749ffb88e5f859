"""Benchmark: incremental warehouse syncs (--sync_state), time and peak memory of the diff.

Not a test. Writes two CSV exports of one people table (N rows; the second
with 1% of rows changed, 0.5% added, 0.5% removed), then runs three syncs in
a row into the local sandbox (its own process), each in a fresh process
through bench/measure_job.py:

    1. the first export, no state yet: every row is sent
    2. the second export: the diff against the state of run 1
    3. the second export again (another file, as a warehouse writes it): nothing is sent

    .venv/bin/python -m bench.bench_sync --rows 1000000

prints one line per run (elapsed, CPU, peak RSS of the job's process,
events delivered) and the table for docs/warehouse-sync.md.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
from pathlib import Path

from bench.bench_pipeline import KEY, SITE, Bench, table
from cio_sandbox.process import SandboxProcess

PLANS = ("free", "starter", "pro", "team", "enterprise")
CITIES = ("Lisbon", "Oslo", "Lagos", "Lima", "Osaka", "Perth", "Quito", "Accra")


def person_row(n: int, rng: random.Random) -> str:
    return (f"u-{n},u{n}@example.com,{rng.choice(PLANS)},{rng.randint(1, 500)},{rng.choice(CITIES)},"
            f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00Z")


def write_exports(folder: Path, rows: int) -> tuple[Path, Path, Path, int]:
    """Day 1, day 2, day 2 again under another name; and the number of changes on day 2."""
    header = "user_id,email,plan,seats,city,signed_up_at\n"
    rng = random.Random(17)
    day1, day2 = folder / "people-day1.csv", folder / "people-day2.csv"
    changes = 0
    with open(day1, "w") as one, open(day2, "w") as two:
        one.write(header)
        two.write(header)
        for n in range(rows):
            row = person_row(n, rng)
            one.write(row + "\n")
            roll = n % 200
            if roll in (0, 1):  # 1% changed: a new plan
                cells = row.split(",")
                cells[2] = "legacy-" + cells[2]
                two.write(",".join(cells) + "\n")
                changes += 1
            elif roll == 2:  # 0.5% removed
                changes += 1
            else:
                two.write(row + "\n")
        for n in range(rows, rows + rows // 200):  # 0.5% added
            two.write(person_row(n, rng) + "\n")
            changes += 1
    day3 = folder / "people-day3.csv"
    shutil.copyfile(day2, day3)
    return day1, day2, day3, changes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the table (default 100,000)")
    parser.add_argument("--folder", default=None, help="where the exports and the state go (default: a temp folder)")
    args = parser.parse_args(argv)
    folder = Path(args.folder or tempfile.mkdtemp(prefix="bench-sync-"))
    folder.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(folder / "state", ignore_errors=True)
    shutil.rmtree(folder / "dead", ignore_errors=True)
    day1, day2, day3, changes = write_exports(folder, args.rows)
    rows = []
    bench = Bench(folder, rss_cap_mb=16_000)
    with SandboxProcess(site_id=SITE, api_key=KEY) as sandbox:
        for label, source in (("first sync (all new)", day1), ("second sync (the diff)", day2),
                              ("third sync (unchanged)", day3)):
            sandbox.reset()
            result = bench.run_job(["--input", str(source), "--input_format", "csv", "--id_column", "user_id",
                              "--timestamp_column", "signed_up_at", "--site_id", SITE, "--api_key", KEY,
                              "--endpoint", sandbox.url, "--dead_letter", str(folder / "dead" / "events"),
                              "--sync_state", str(folder / "state"), "--sync_deletes"])
            if result["status"] != 0:
                raise SystemExit(f"{label}: the job exited with status {result['status']}")
            items = sandbox.stats()["batch_items_accepted"]
            print(f"{label}: {result['elapsed']:.1f} s, cpu {result['cpu_seconds']:.1f} s, "
                  f"max_rss_mb {result['max_rss_mb']:.0f}, items accepted {items}", flush=True)
            rows.append((f"{args.rows:,} rows: {label}",
                         f"{result['elapsed']:.1f} s, {result['max_rss_mb']:,.0f} MB peak RSS",
                         f"{items:,} items sent", ""))
    print(f"changes in the second export: {changes:,}")
    print(table(rows))


if __name__ == "__main__":
    main()
