"""The sandbox in a process of its own, for rate and speed measurements.

In the caller's process the sandbox's handler threads share the GIL with
whatever sends to it, and a busy sender delays when requests are stamped;
in a process of its own it sees arrivals as they happen.

    with SandboxProcess(site_id="s", api_key="k", rate_limit=100) as sb:
        ...  # send to sb.url; sb.stats(), sb.reset()
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests


class SandboxProcess:
    """`python -m cio_sandbox` started with keyword flags (accepted records not kept).

    Its defaults are SandboxConfig's, as for a sandbox in the caller's
    process: no rate limit unless `rate_limit` is given (the command line's
    default is Customer.io's 100/s).
    """

    def __init__(self, **flags):
        flags.setdefault("rate_limit", 0)
        self._dir = tempfile.TemporaryDirectory(prefix="cio-sandbox-")
        ready = Path(self._dir.name) / "url"
        argv = [sys.executable, "-m", "cio_sandbox", "--no_memory", "--ready_file", str(ready)]
        for name, value in flags.items():
            argv += [f"--{name}", str(value)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("cio-sandbox did not start")
            time.sleep(0.05)
        self.url = ready.read_text().strip()

    def stats(self) -> dict:
        return requests.get(self.url + "/_stats", timeout=10).json()

    def reset(self) -> None:
        requests.post(self.url + "/_reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._dir.cleanup()

    def __enter__(self) -> "SandboxProcess":
        return self

    def __exit__(self, *exc):
        self.stop()
