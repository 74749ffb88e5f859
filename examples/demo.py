"""The Quickstart demo: bundled sample events -> pipeline -> local sandbox.

Starts the Customer.io sandbox on a free local port, runs the real pipeline
(DirectRunner) on ``examples/events.jsonl`` against it, and prints the job's
summary plus what the sandbox accepted. Extra arguments go to the pipeline,
e.g. ``./dev.sh demo --api_version v2``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from cio_sandbox import DEMO_API_KEY, DEMO_SITE_ID, Sandbox, SandboxConfig
from pipeline.main import run

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "out" / "demo"


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("apache_beam", "urllib3", "google"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    OUT.mkdir(parents=True, exist_ok=True)
    log_path = OUT / "sandbox-accepted.jsonl"
    with Sandbox(SandboxConfig(site_id=DEMO_SITE_ID, api_key=DEMO_API_KEY, log_path=str(log_path))) as sandbox:
        print(f"cio-sandbox listening on {sandbox.url}")
        status = run([
            "--input", str(HERE / "events.jsonl"),
            "--site_id", DEMO_SITE_ID,
            "--api_key", DEMO_API_KEY,
            "--endpoint", sandbox.url,
            "--dead_letter", str(OUT / "dead_letter" / "events"),
            *argv,
        ])
        stats = sandbox.stats()
    print()
    print(f"sandbox accepted {stats.get('accepted', '?')} operations in {stats.get('requests', '?')} requests"
          f" (by status: {stats.get('by_status', {})})")
    print(f"accepted operations: {log_path}")
    print(f"dead-letter records: {OUT / 'dead_letter'}/events-*.jsonl")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
