"""Transport over real sockets: direct, through an HTTP proxy, and its failures."""

import base64
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.transport import CONNECTION_ERRORS, TIMEOUT_ERRORS, Transport


class _Recorder(BaseHTTPRequestHandler):
    """Answers 202 with a Retry-After, and records each request line and headers."""

    protocol_version = "HTTP/1.1"
    seen: list = []
    delay = 0.0

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        type(self).seen.append((self.requestline, dict(self.headers), body))
        time.sleep(type(self).delay)
        answer = "é ok".encode()
        try:
            self.send_response(202)
            self.send_header("Retry-After", "7")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the timeout test)

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    handler = type("Handler", (_Recorder,), {"seen": [], "delay": 0.0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_request_goes_straight_to_the_host_with_its_path(recorder, monkeypatch):
    handler, url = recorder
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    transport = Transport(url, 2, timeout=5)
    answer = transport.request("POST", url + "/api/v2/batch?x=1", b'{"batch":[]}', {"X-Test": "1"})
    assert (answer.status, answer.text, answer.retry_after) == (202, "é ok", "7")
    ((line, headers, body),) = handler.seen
    assert line == "POST /api/v2/batch?x=1 HTTP/1.1"
    assert headers["X-Test"] == "1" and body == b'{"batch":[]}'


def test_a_plain_http_proxy_gets_the_full_url_and_its_credentials(recorder, monkeypatch):
    handler, proxy = recorder
    monkeypatch.setenv("HTTP_PROXY", proxy.replace("http://", "http://user:s3cret@"))
    monkeypatch.setenv("NO_PROXY", "")
    transport = Transport("http://track.example", 2, timeout=5)
    assert transport.request("POST", "http://track.example/api/v1/customers/1", b"{}", {}).status == 202
    ((line, headers, _),) = handler.seen
    assert line == "POST http://track.example/api/v1/customers/1 HTTP/1.1"
    assert headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"user:s3cret").decode()


def test_no_proxy_is_honoured(recorder, monkeypatch):
    handler, url = recorder
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert Transport(url, 2, timeout=5).request("POST", url + "/x", b"", {}).status == 202
    assert handler.seen[0][0] == "POST /x HTTP/1.1"


def test_a_refused_connection_is_a_connection_error_not_a_timeout():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(CONNECTION_ERRORS):
        Transport(url, 2, timeout=5).request("POST", url + "/x", b"", {})


def test_a_slow_answer_is_a_timeout(recorder):
    handler, url = recorder
    handler.delay = 1.0
    with pytest.raises(TIMEOUT_ERRORS) as raised:
        Transport(url, 2, timeout=0.2).request("POST", url + "/x", b"", {})
    assert not isinstance(raised.value, CONNECTION_ERRORS)
