"""Secrets stay secret, request targets cannot be steered, TLS is verified.

Runs real jobs (in-process and as a subprocess, so that every log line is
captured) against the sandbox with faults and bad input, and greps every
output for the API key and the Authorization value.
"""

from __future__ import annotations

import base64
import datetime
import glob
import http.server
import os
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

from bench.generate_events import generate_events
from pipeline.main import run
from tests.services import API_KEY, SITE_ID

ROOT = Path(__file__).resolve().parents[1]
AUTH_VALUE = base64.b64encode(f"{SITE_ID}:{API_KEY}".encode()).decode()
SECRETS = [API_KEY, AUTH_VALUE]


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret appears in {where}"


def read_all(pattern: str) -> str:
    return "".join(Path(p).read_text(errors="replace") for p in sorted(glob.glob(pattern)))


@pytest.mark.pipeline
def test_key_is_in_no_output_log_or_dead_letter(tmp_path, make_sandbox):
    server = make_sandbox(error_rate=0.2, throttle_rate=0.1, drop_rate=0.05, seed=3)
    source = tmp_path / "events.jsonl"
    lines = [orjson.dumps(e) for e in generate_events(400, seed=9, invalid_fraction=0.05)]
    lines += [b"{broken", b'{"type":"identify","userId":{"nested":1}}', f'"{API_KEY}"'.encode()[:0] + b"[]"]
    source.write_bytes(b"\n".join(lines) + b"\n")
    env = dict(os.environ, CIO_API_KEY=API_KEY, CIO_SITE_ID=SITE_ID)
    job = subprocess.run(
        [sys.executable, "-m", "pipeline", "--input", str(source), "--endpoint", server.url,
         "--dead_letter", str(tmp_path / "dead" / "events"), "--max_retries", "1",
         "--backoff_seconds", "0.01", "--request_timeout", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert job.returncode == 0, job.stderr[-2000:]
    assert "customerio-beam summary" in job.stdout
    assert_no_secret(job.stdout + job.stderr, "the job's output and logs")
    dead = read_all(str(tmp_path / "dead" / "events*"))
    assert '"stage":"deliver"' in dead, "the faults dead-lettered some deliveries"
    assert_no_secret(dead, "dead-letter records")
    assert "Basic " not in dead and "Authorization" not in dead


@pytest.mark.pipeline
def test_key_given_as_a_flag_is_in_no_output_or_dry_run(tmp_path, capsys):
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(e) for e in generate_events(50, seed=1)) + b"\n")
    out = tmp_path / "dry" / "requests"
    assert run(["--input", str(source), "--site_id", SITE_ID, "--api_key", API_KEY,
                "--dry_run_output", str(out), "--dead_letter", str(tmp_path / "dead" / "x")]) == 0
    captured = capsys.readouterr()
    assert_no_secret(captured.out + captured.err, "the output")
    assert_no_secret(read_all(f"{out}*"), "the dry-run output")


def test_bad_settings_errors_do_not_echo_the_key(capsys):
    assert run(["--input", "x", "--site_id", SITE_ID, "--api_key", API_KEY, "--datacenter", "MARS"]) == 2
    err = capsys.readouterr().err
    assert "datacenter" in err
    assert_no_secret(err, "the error line")


def test_settings_repr_hides_the_key():
    from transforms import load_settings
    settings = load_settings(site_id=SITE_ID, api_key=API_KEY)
    assert_no_secret(repr(settings) + str(settings) + str(settings.model_dump()), "Settings repr")


def test_wrong_credentials_stop_the_launch_with_one_line(tmp_path, sandbox, capsys):
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(e) for e in generate_events(100, seed=2)) + b"\n")
    status = run(["--input", str(source), "--site_id", SITE_ID, "--api_key", "wrong-key-77",
                  "--endpoint", sandbox.url, "--dead_letter", str(tmp_path / "dead" / "events")])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["cio-pipeline: Customer.io rejected the credentials (401 Unauthorized): "
                   "check --site_id and the API key"]
    assert sandbox.stats()["requests"] == 1, "only the credentials check was sent"


@pytest.mark.pipeline
def test_credentials_revoked_mid_job_stop_sending(tmp_path, sandbox, capsys):
    source = tmp_path / "events.jsonl"
    events = [e for e in generate_events(300, seed=2) if e["type"] in ("identify", "track")]
    source.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    status = run(["--input", str(source), "--site_id", SITE_ID, "--api_key", "wrong-key-77",
                  "--endpoint", sandbox.url, "--dead_letter", str(tmp_path / "dead" / "events"),
                  "--skip_credentials_check", "--max_in_flight", "4"])
    assert status == 3
    err = capsys.readouterr().err
    assert "rejected the credentials (401) during the job" in err and "wrong-key-77" not in err
    assert sandbox.stats()["requests"] <= 4, "after the first 401 nothing more is sent"
    dead = [orjson.loads(line) for line in read_all(str(tmp_path / "dead" / "events*")).splitlines()]
    assert len(dead) == len(events)
    assert all(r["status"] == 401 for r in dead)


@pytest.mark.pipeline
def test_user_ids_cannot_change_the_request_target(tmp_path, sandbox):
    nasty = "../../api/v2/batch?x=1#"
    events = [
        {"type": "identify", "userId": nasty, "traits": {"plan": "pro"}},
        {"type": "track", "userId": nasty, "event": "Clicked"},
        {"type": "track", "userId": "ok", "event": "Application Uninstalled",
         "context": {"device": {"token": "../../../customers/x?y#"}}},
    ]
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    assert run(["--input", str(source), "--site_id", SITE_ID, "--api_key", API_KEY,
                "--endpoint", sandbox.url, "--dead_letter", str(tmp_path / "dead" / "events")]) == 0
    stats = sandbox.stats()
    assert stats["by_endpoint"] == {
        "GET /api/v1/accounts/region": 1,  # the credentials check at launch
        "PUT /api/v1/customers/{id}": 1,
        "POST /api/v1/customers/{id}/events": 1,
        "DELETE /api/v1/customers/{id}/devices/{device_id}": 1,
    }
    paths = sorted(r["path"] for r in sandbox.accepted())
    assert paths == sorted([f"/api/v1/customers/{nasty}", f"/api/v1/customers/{nasty}/events",
                            "/api/v1/customers/ok/devices/../../../customers/x?y#"])
    assert all(r["query"] == {} for r in sandbox.accepted())


def _self_signed_server(tmp_path):
    """An HTTPS server with a self-signed certificate that counts requests."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = do_PUT

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hits


@pytest.mark.pipeline
def test_tls_certificates_are_always_verified(tmp_path, capsys):
    server, hits = _self_signed_server(tmp_path)
    try:
        source = tmp_path / "events.jsonl"
        source.write_bytes(orjson.dumps({"type": "identify", "userId": "u1", "traits": {"a": 1}}) + b"\n")
        argv = ["--input", str(source), "--site_id", SITE_ID, "--api_key", API_KEY,
                "--endpoint", f"https://127.0.0.1:{server.server_address[1]}",
                "--dead_letter", str(tmp_path / "dead" / "events"), "--max_retries", "0"]
        # At launch: a certificate that does not verify makes Customer.io unreachable.
        assert run(argv) == 2
        assert "SSLError" in capsys.readouterr().err
        # Past the launch check, every call fails the same way: an outage, and the job stops.
        assert run(argv + ["--skip_credentials_check", "--outage_limit_seconds", "0.5",
                           "--backoff_seconds", "0.05"]) == 4
        assert hits == [], "no request may reach a server whose certificate does not verify"
    finally:
        server.shutdown()
