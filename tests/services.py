"""Session services for the tests: Google's Pub/Sub emulator and the sandbox.

Imported by conftest.py. The emulator is started once per test session (it
takes a few seconds) and stopped with its java child at the end; the
Customer.io sandbox is cheap, so every test that wants one gets a fresh one.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from cio_sandbox import Sandbox, SandboxConfig

SITE_ID = "test-site"
API_KEY = "sk-test-4f1c2a9b7d3e"  # a recognisable value the secrecy tests grep for


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Pub/Sub emulator exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the Pub/Sub emulator did not listen on port {port} within {timeout:.0f} s")


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory):
    """Starts `gcloud beta emulators pubsub start`; yields "127.0.0.1:PORT".

    Sets PUBSUB_EMULATOR_HOST for this process and its children, so the
    Pub/Sub client and Beam's ReadFromPubSub use the emulator without
    credentials.
    """
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        if os.environ.get("CI"):
            pytest.fail("gcloud (with the Pub/Sub emulator) is required in CI")
        pytest.skip("gcloud with the Pub/Sub emulator is not installed")
    port = _free_port()
    data_dir = tmp_path_factory.mktemp("pubsub-emulator")
    log = open(data_dir / "emulator.log", "wb")
    proc = subprocess.Popen(
        [gcloud, "beta", "emulators", "pubsub", "start", f"--host-port=127.0.0.1:{port}",
         f"--data-dir={data_dir}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    host = f"127.0.0.1:{port}"
    previous = os.environ.get("PUBSUB_EMULATOR_HOST")
    try:
        _wait_for_port(port, 90, proc)
        os.environ["PUBSUB_EMULATOR_HOST"] = host
        yield host
    finally:
        if previous is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = previous
        # The gcloud wrapper and its java child share the process group.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()


@pytest.fixture
def sandbox():
    """A fresh local Customer.io sandbox with the test credentials."""
    with Sandbox(SandboxConfig(site_id=SITE_ID, api_key=API_KEY)) as server:
        yield server


@pytest.fixture
def make_sandbox():
    """Factory for sandboxes with faults or limits: make_sandbox(error_rate=0.1)."""
    started = []

    def make(**overrides) -> Sandbox:
        server = Sandbox(SandboxConfig(site_id=SITE_ID, api_key=API_KEY, **overrides)).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
