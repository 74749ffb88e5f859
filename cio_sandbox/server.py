"""The HTTP side of the sandbox: routing, auth, faults, answers; and ``Sandbox``.

Why this module exists: the pipeline must be tested and benchmarked against
something that speaks Customer.io's Track API over real sockets without
touching Customer.io. This is that test double.

It is built on the standard library's ``ThreadingHTTPServer`` plus orjson, on
purpose: no web framework, so it starts in milliseconds with no extra
dependencies. One thread serves each (keep-alive) connection. Per request the
work is kept lean, because the sandbox shares the machine's cores with the
pipeline it measures: no request logging; the header block taken whole from the
read buffer and its lines, which repeat from request to request, parsed once;
one ``sendall`` per answer (headers and body together, TCP_NODELAY; the usual
``200 {}`` built once); two lock round trips for the counters; orjson for all
JSON; valid batch items accepted by quick checks (see ``validation``).

Order of decisions for an API request:
  read body -> route (404 / 405) -> Basic auth (401; not for the open
  POST /api/v1/metrics) -> fault draw
  (drop / 500 / 429) -> rate limit (429) -> validation (400, or 207 for a batch
  with invalid items) -> record accepted operations -> slow fault sleep ->
  ``latency_ms`` (added to every API answer, whatever its status) -> answer.
A bug in the sandbox itself answers 500 "sandbox internal error" and prints a
traceback to stderr, so it cannot pass for an injected fault silently.
``GET /_stats`` and ``POST /_reset`` need no auth, get no faults and are not
counted.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote

import orjson

from transforms.limits import BATCH_PATH

from . import validation as V
from .config import SandboxConfig
from .faults import DROP, ERROR, SLOW, THROTTLE, FaultInjector
from .state import SandboxState

_MAX_READ_BYTES = 64 * 1024 * 1024  # beyond this we refuse to even drain a body
_OK = b"{}"
_JSON = "application/json"

# --- Customer.io-style error bodies -----------------------------------------


def v1_errors(*messages: str) -> bytes:
    return orjson.dumps({"meta": {"errors": list(messages)}})


def v2_errors(reason: str, field: str, message: str) -> bytes:
    return orjson.dumps({"errors": [{"reason": reason, "field": field, "message": message}]})


def _error_body(v2: bool, reason: str, message: str, field: str = "") -> bytes:
    return v2_errors(reason, field, message) if v2 else v1_errors(message)


UNAUTHORIZED = v1_errors("Unauthorized request")
# GET /api/v1/accounts/region: how clients check their credentials.
REGION = orjson.dumps({"url": "https://track.customer.io", "region": "us", "environment_id": 1})

# --- routing -------------------------------------------------------------------
# A route is (template, {method: operation}, params). Templates name endpoints
# in /_stats, e.g. "PUT /api/v1/customers/{id}".

_CUSTOMER = "/api/v1/customers/{id}"
_CUSTOMER_METHODS = {"PUT": "identify", "DELETE": "delete"}
_CUSTOMER_TAIL = {
    "suppress": (_CUSTOMER + "/suppress", {"POST": "suppress"}),
    "unsuppress": (_CUSTOMER + "/unsuppress", {"POST": "unsuppress"}),
    "events": (_CUSTOMER + "/events", {"POST": "event"}),
    "devices": (_CUSTOMER + "/devices", {"PUT": "add_device"}),
}
V_BATCH = BATCH_PATH
# Operations Customer.io serves without authorization (no security requirement
# in its OpenAPI document): delivery metrics come from anywhere a message went.
_OPEN_OPERATIONS = frozenset(("metrics",))
_SEGMENT_TAIL = {
    "add_customers": "/api/v1/segments/{segment_id}/add_customers",
    "remove_customers": "/api/v1/segments/{segment_id}/remove_customers",
}


def _unquote(text: str) -> str:
    """``unquote(text)``, skipping the call in the usual case of nothing to decode."""
    return unquote(text) if "%" in text else text


def route(raw_path: str):
    """Match a raw (still percent-encoded) path; None when unknown."""
    segs = raw_path.split("/")
    # segs[0] is "" for a path starting with "/"
    n = len(segs)
    if n < 4 or segs[0] != "" or segs[1] != "api":
        return None
    version, base = segs[2], segs[3]
    if version == "v1":
        if base == "customers":
            if n == 5:
                return _CUSTOMER, _CUSTOMER_METHODS, {"id": _unquote(segs[4])}
            if n == 6 and segs[5] in _CUSTOMER_TAIL:
                template, methods = _CUSTOMER_TAIL[segs[5]]
                return template, methods, {"id": _unquote(segs[4])}
            if n == 7 and segs[5] == "devices":
                return (_CUSTOMER + "/devices/{device_id}", {"DELETE": "delete_device"},
                        {"id": unquote(segs[4]), "device_id": unquote(segs[6])})
        elif n == 4 and base == "events":
            return "/api/v1/events", {"POST": "anonymous_event"}, {}
        elif n == 4 and base == "merge_customers":
            return "/api/v1/merge_customers", {"POST": "merge"}, {}
        elif n == 4 and base == "metrics":
            return "/api/v1/metrics", {"POST": "metrics"}, {}
        elif n == 6 and base == "segments" and segs[5] in _SEGMENT_TAIL:
            return _SEGMENT_TAIL[segs[5]], {"POST": "segment"}, {"segment_id": unquote(segs[4])}
        elif n == 5 and base == "accounts" and segs[4] == "region":
            return "/api/v1/accounts/region", {"GET": "region"}, {}
    elif version == "v2" and n == 4 and base == "batch":
        return V_BATCH, {"POST": "batch"}, {}
    return None


def _header_field(line: bytes) -> tuple[str, str] | None:
    """(lower-case name, value) of a header line; None when it has no colon."""
    name, sep, value = line.partition(b":")
    if not sep:
        return None
    return name.strip().lower().decode("latin-1"), value.strip().decode("latin-1")


# header line -> _header_field(line), for lines seen before; bounded in entries
# and line length, so hostile headers cannot grow it without end
_HEADER_FIELDS: dict[bytes, tuple[str, str]] = {}
_HEADER_FIELDS_MAX = 4096
_HEADER_LINE_CACHED_MAX = 512


def _remember_header_field(line: bytes, field: tuple[str, str]):
    if len(line) <= _HEADER_LINE_CACHED_MAX:
        if len(_HEADER_FIELDS) >= _HEADER_FIELDS_MAX:
            _HEADER_FIELDS.clear()
        _HEADER_FIELDS[line] = field


def _status_head(status: int, reason: str) -> bytes:
    """An answer's first lines, up to the Content-Length value."""
    return (f"HTTP/1.1 {status} {reason}\r\nServer: cio-sandbox\r\nContent-Type: {_JSON}\r\n"
            f"Content-Length: ").encode("latin-1")


_STATUS_HEADS: dict[int, bytes] = {}  # status -> _status_head(...), filled as statuses are first sent
_OK_ANSWER = _status_head(200, "OK") + b"%d\r\n\r\n%b" % (len(_OK), _OK)  # 200 "{}", keep-alive


# v1 operations whose body is required
_BODY_OPERATIONS = frozenset(("identify", "event", "anonymous_event", "add_device", "merge", "segment", "metrics"))


class _Answer(Exception):
    """Raised inside the handler to answer early with (status, body)."""

    def __init__(self, status: int, body: bytes, headers=()):
        self.status, self.body, self.headers = status, body, headers


# --- the request handler ----------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cio-sandbox"
    disable_nagle_algorithm = True
    sandbox: "Sandbox"  # set on the per-server subclass

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass  # no per-request logging: it costs throughput and could leak data

    def setup(self):
        super().setup()
        self.sandbox._connections.add(self.connection)

    def finish(self):
        self.sandbox._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def handle_one_request(self):
        """Read one request and answer it.

        Replaces BaseHTTPRequestHandler's version, whose header parsing goes
        through the email package and cost more than everything else per
        request. Headers end up in a plain dict with lower-case names.
        """
        rfile = self.rfile
        self.request_version = "HTTP/1.1"
        line = rfile.readline(65537)
        if not line:
            self.close_connection = True
            return
        if line in (b"\r\n", b"\n"):  # stray blank line between requests
            self.close_connection = False
            return
        parts = line.split()
        if len(line) > 65536 or len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            self.command, self.close_connection = "", True
            self._send(400, v1_errors("bad request line"))
            return
        command, path, version = parts
        self.command, self.path = command.decode("latin-1"), path.decode("latin-1")
        self.request_version = version.decode("latin-1")
        self.requestline = ""  # never kept: could carry ids
        headers = self._read_headers()
        if headers is None:
            return
        self.headers = headers
        connection = headers.get("connection", "").lower()
        if self.request_version == "HTTP/1.1":
            self.close_connection = "close" in connection
        else:
            self.close_connection = "keep-alive" not in connection
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            self._dispatch()
        except OSError:
            self.close_connection = True
        except Exception as e:  # a sandbox bug: say so loudly, keep serving
            import traceback
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            self._send(500, v1_errors(f"sandbox internal error: {type(e).__name__}"))

    def _read_headers(self) -> dict | None:
        """The request's header fields (lower-case names); None when answered or closed.

        The header block nearly always sits whole in the read buffer already:
        it is then taken in one read and its lines looked up in
        ``_HEADER_FIELDS`` (a client sends the same lines request after
        request). Otherwise, line by line.
        """
        rfile = self.rfile
        buffered = rfile.peek()
        if buffered[:2] == b"\r\n":
            size, end = 0, 2
        elif buffered[:1] == b"\n":
            size, end = 0, 1
        else:
            # the block ends at the first line that is "\r\n" or "\n" (searched
            # no further than needed: the buffer may hold pipelined requests)
            crlf = buffered.find(b"\n\r\n")
            lf = buffered.find(b"\n\n", 0, crlf + 1 if crlf >= 0 else len(buffered))
            if lf >= 0 and (crlf < 0 or lf < crlf):
                size, end = lf + 1, lf + 2
            elif crlf >= 0:
                size, end = crlf + 1, crlf + 3
            else:
                return self._read_header_lines()
        lines = rfile.read(end)[:size].split(b"\n")
        lines.pop()  # the empty rest after the last line's "\n"
        if len(lines) > 100:  # the field limit may apply: count as we go
            headers: dict = {}
            for line in lines:
                if not self._add_header(headers, line):
                    return None
            return headers
        fields = list(map(_HEADER_FIELDS.get, lines))
        if None in fields:  # lines not seen before
            for i, field in enumerate(fields):
                if field is None:
                    field = fields[i] = _header_field(lines[i])
                    if field is None:
                        self._bad_header()
                        return None
                    _remember_header_field(lines[i], field)
        return dict(fields)

    def _add_header(self, headers: dict, line: bytes) -> bool:
        """Add one header line's field; False (answered 400) when it is malformed or one too many."""
        field = _header_field(line)
        if field is None or len(headers) >= 100:
            self._bad_header()
            return False
        name, value = field
        headers[name] = value
        return True

    def _read_header_lines(self) -> dict | None:
        """The header fields read one line at a time (the block is not all buffered yet)."""
        rfile = self.rfile
        headers: dict = {}
        while True:
            line = rfile.readline(65537)
            if line in (b"\r\n", b"\n"):
                return headers
            if not line:  # peer closed mid-headers
                self.close_connection = True
                return None
            if not self._add_header(headers, line):
                return None

    def _bad_header(self):
        self.close_connection = True
        self._send(400, v1_errors("bad header"))

    # --- plumbing ---

    def _send(self, status: int, body: bytes, headers=()):
        if body is _OK and status == 200 and not headers and not self.close_connection \
                and self.request_version == "HTTP/1.1" and self.command != "HEAD":
            data = _OK_ANSWER  # the usual answer, built once
        else:
            data = self._answer(status, body, headers)
        try:
            self.connection.sendall(data)  # what wfile.write does, minus a Python-level layer
        except OSError:  # client went away (e.g. timed out on a slow answer)
            self.close_connection = True

    def _answer(self, status: int, body: bytes, headers) -> bytes:
        head = _STATUS_HEADS.get(status)
        if head is None:
            head = _STATUS_HEADS[status] = _status_head(status, self.responses.get(status, ("",))[0])
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers) if headers else ""
        if self.close_connection:
            extra += "Connection: close\r\n"
        elif self.request_version == "HTTP/1.0":
            extra += "Connection: keep-alive\r\n"
        data = b"%b%d\r\n%b\r\n" % (head, len(body), extra.encode("latin-1"))
        if self.command != "HEAD":
            data += body
        return data

    def _read_body(self) -> bytes | None:
        """The request body; None when the connection is unusable (answered)."""
        headers = self.headers
        te = headers.get("transfer-encoding")
        if te and "chunked" in te.lower():
            return self._read_chunked()
        length = headers.get("content-length")
        if not length:
            return b""
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self._send(400, v1_errors("invalid Content-Length"))
            return None
        if n > _MAX_READ_BYTES:
            self.close_connection = True
            self._send(413, v1_errors("request body too large"))
            return None
        body = self.rfile.read(n)
        if len(body) < n:
            self.close_connection = True
            return None
        return body

    def _read_chunked(self) -> bytes | None:
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                self._send(400, v1_errors("bad chunked encoding"))
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > _MAX_READ_BYTES:
                self.close_connection = True
                self._send(413, v1_errors("request body too large"))
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    # --- dispatch ---

    def _dispatch(self):
        body = self._read_body()
        if body is None:
            return
        sb = self.sandbox
        method = self.command
        raw_path, _, raw_query = self.path.partition("?")
        if raw_path.startswith("/_"):
            self._control(raw_path, method)
            return

        state = sb.state
        v2 = raw_path.startswith("/api/v2/")
        endpoint = f"{method} (unknown path)"
        fault = None
        headers = ()
        person = None
        refusal = None
        matched = route(raw_path)
        if matched is None:
            refusal = _Answer(404, _error_body(v2, "not_found", f"no such endpoint: {method} {unquote(raw_path)}"))
        else:
            template, methods, params = matched
            endpoint = f"{method} {template}"
            op = methods.get(method)
            if op is None:
                allow = ", ".join(methods)
                refusal = _Answer(405, _error_body(v2, "method_not_allowed",
                                                   f"method {method} not allowed on {template}; allowed: {allow}"),
                                  (("Allow", allow),))
            elif op not in _OPEN_OPERATIONS and not sb._authorized(self.headers.get("authorization")):
                refusal = _Answer(401, UNAUTHORIZED)
            else:
                person = params.get("id")
        # counts the request and, for an authorized call about a person, that it is in flight
        state.arrive(len(body), person)
        try:
            if refusal is not None:
                raise refusal
            if sb.faults.enabled:
                fault = sb.faults.decide()
                if fault == DROP:
                    state.answered(endpoint, None, DROP, person)
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if fault == ERROR:
                    raise _Answer(500, _error_body(v2, "internal_error", "Internal server error (injected fault)"))
                if fault == THROTTLE:
                    raise _Answer(429, _error_body(v2, "rate_limited", "Too many requests (injected fault)"),
                                  (("Retry-After", str(sb.config.retry_after)),))
            if state.limits_rate:
                wait = state.rate_check()
                if wait:
                    raise _Answer(429, _error_body(v2, "rate_limited", "Too many requests: rate limit exceeded"),
                                  (("Retry-After", str(wait)),))
            if op == "batch":
                status, answer = self._batch(body)
            elif op == "region":
                status, answer = 200, REGION
            else:
                path = _unquote(raw_path)
                query = dict(parse_qsl(raw_query, keep_blank_values=True)) if raw_query else {}
                status, answer = self._v1(op, path, query, params, body)
        except _Answer as a:
            status, answer, headers = a.status, a.body, a.headers
        if fault == SLOW:  # already applied: the work is done, the answer is late
            sb._stopping.wait(sb.config.slow_seconds)
        if sb.config.latency_ms:
            sb._stopping.wait(sb.config.latency_ms / 1000.0)
        state.answered(endpoint, status, fault, person)
        self._send(status, answer, headers)

    def _control(self, raw_path: str, method: str):
        sb = self.sandbox
        if raw_path == "/_stats":
            if method != "GET":
                self._send(405, v1_errors("use GET /_stats"), (("Allow", "GET"),))
            else:
                self._send(200, orjson.dumps(sb.stats()))
        elif raw_path == "/_reset":
            if method != "POST":
                self._send(405, v1_errors("use POST /_reset"), (("Allow", "POST"),))
            else:
                sb.reset()
                self._send(200, _OK)
        else:
            self._send(404, v1_errors(f"no such endpoint: {method} {raw_path}"))

    # --- v1 calls ---

    def _v1(self, op: str, path: str, query: dict, params: dict, body: bytes):
        """Validate one v1 call and record it; returns (status, answer body)."""
        errors: list[str] = []
        person_id = params.get("id")
        if person_id is not None:
            error = V.person_id_error(person_id)
            if error:
                errors.append(error)
        parsed = None
        if body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                if op in _BODY_OPERATIONS:
                    errors.append("request body is not valid JSON")
                    return 400, v1_errors(*errors)
                parsed = None  # body-less calls: ignore a stray body
        elif op in _BODY_OPERATIONS:
            errors.append("request body is required (a JSON object)")
            return 400, v1_errors(*errors)

        event_id = None
        if op == "identify":
            errors.extend(V.v1_identify(parsed))
        elif op in ("event", "anonymous_event"):
            errors.extend(V.v1_event(parsed, anonymous=op == "anonymous_event"))
            if not errors:
                event_id = parsed.get("id")
        elif op == "add_device":
            errors.extend(V.v1_device(parsed))
        elif op == "delete_device":
            if params["device_id"] == "":
                errors.append("device_id is required")
        elif op == "merge":
            errors.extend(V.v1_merge(parsed))
        elif op == "segment":
            errors.extend(V.v1_segment(params["segment_id"], query.get("id_type"), parsed))
        elif op == "metrics":
            errors.extend(V.v1_metrics(parsed))
        if errors:
            return 400, v1_errors(*errors)
        self.sandbox.state.accept_v1(self.command, path, query, parsed, event_id)
        return 200, _OK

    # --- v2 batch ---

    def _batch(self, body: bytes):
        if len(body) > V.MAX_BATCH_BODY_BYTES:
            return 400, v2_errors("too_large", "batch",
                                  f"batch body is {len(body)} bytes; the limit is {V.MAX_BATCH_BODY_BYTES}")
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return 400, v2_errors("invalid", "", "request body is not valid JSON")
        if not isinstance(parsed, dict):
            return 400, v2_errors("invalid", "", "request body must be a JSON object")
        items = parsed.get("batch")
        if not isinstance(items, list) or not items:
            return 400, v2_errors("required", "batch", "batch is required and must be a non-empty list")

        state = self.sandbox.state
        limit = V.MAX_BATCH_ITEM_BYTES
        raws = None
        if state.writes_log:  # serialize each item once: measured here, reused for its log line
            raws = [orjson.dumps(item) if isinstance(item, dict) else None for item in items]
            oversized = {index: len(raw) for index, raw in enumerate(raws) if raw is not None and len(raw) > limit}
        elif len(body) > limit:
            oversized = V.oversized_items(items, limit)
        else:  # no item can be bigger than the body
            oversized = {}
        errors = {index: ("too_large", "", f"item is {size} bytes; the limit is {limit}")
                  for index, size in oversized.items()}
        item_errors, event_ids = V.check_batch_items(items, skip=errors)
        errors.update(item_errors)
        state.accept_batch(items, errors, event_ids, raws)
        if errors:
            return 207, orjson.dumps({"errors": [
                {"batch_index": index, "reason": reason, "field": field, "message": message}
                for index, (reason, field, message) in sorted(errors.items())]})
        return 200, _OK


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def server_bind(self):
        # skip HTTPServer.server_bind's getfqdn(): a reverse DNS lookup can
        # take seconds; we want to start in milliseconds
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # resets, broken pipes: normal under faults
            return
        super().handle_error(request, client_address)


# --- public API -----------------------------------------------------------


class Sandbox:
    """A local Customer.io Track API double serving on a daemon thread.

    >>> with Sandbox(SandboxConfig(site_id="s", api_key="k")) as sb:
    ...     requests.put(sb.url + "/api/v1/customers/42", json={}, auth=("s", "k"))
    """

    def __init__(self, config: SandboxConfig | None = None, **overrides):
        if config is None:
            config = SandboxConfig(**overrides)
        elif overrides:
            raise TypeError("pass either a SandboxConfig or keyword settings, not both")
        self.config = config
        self.faults = FaultInjector(config.drop_rate, config.error_rate, config.throttle_rate,
                                    config.slow_rate, config.seed)
        self._credentials = f"{config.site_id}:{config.api_key}".encode()
        self._basic_authorization = b"Basic " + base64.b64encode(self._credentials)
        self._connections: set = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.state: SandboxState | None = None

    def _authorized(self, header: str | None) -> bool:
        if not header:
            return False
        # the form every client sends, compared without decoding it
        if hmac.compare_digest(header.encode("latin-1"), self._basic_authorization):
            return True
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self._credentials)

    # --- lifecycle ---

    def start(self) -> "Sandbox":
        if self._server is not None:
            raise RuntimeError("sandbox already started")
        self._stopping.clear()
        self.state = SandboxState(self.config.log_path, self.config.keep_in_memory, self.config.rate_limit)
        handler = type("Handler", (_Handler,), {"sandbox": self})
        self._server = _Server((self.config.host, self.config.port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="cio-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving, cut open connections, flush and close the log."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for conn in list(self._connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self.state.close()
        self._server = None

    def __enter__(self) -> "Sandbox":
        return self.start() if self._server is None else self

    def __exit__(self, *exc):
        self.stop()

    # --- inspection ---

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        return f"http://{host}:{self.port}"

    def stats(self) -> dict:
        """The same counts as ``GET /_stats`` (and flushes the log)."""
        return self.state.stats()

    def accepted(self) -> list[dict]:
        """A copy of the accepted records (empty with keep_in_memory=False)."""
        return self.state.accepted()

    def flush(self):
        self.state.flush()

    def reset(self):
        """Forget requests, records, dedup ids, rate windows; truncate the log."""
        self.state.reset()
        self.faults.reset()
