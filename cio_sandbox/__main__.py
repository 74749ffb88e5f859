"""Command line for the sandbox: ``cio-sandbox`` / ``python -m cio_sandbox``.

Why this module exists: scripts, benchmarks and manual runs need the sandbox
as a separate process. It prints exactly one first line,
``cio-sandbox listening on http://HOST:PORT``, so a caller can read the URL
(or use --ready_file), and stops cleanly on SIGTERM/SIGINT, flushing the log.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .config import DEMO_API_KEY, DEMO_SITE_ID, SandboxConfig
from .server import Sandbox


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cio-sandbox",
        description="Local Customer.io Track API sandbox (test double). "
                    "Control endpoints without auth: GET /_stats, POST /_reset.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default 0)")
    p.add_argument("--site_id", default=os.environ.get("CIO_SITE_ID", DEMO_SITE_ID),
                   help="Basic-auth user expected on every call (default $CIO_SITE_ID or demo-site)")
    p.add_argument("--api_key", default=os.environ.get("CIO_API_KEY", DEMO_API_KEY),
                   help="Basic-auth password expected on every call (default $CIO_API_KEY or demo-key)")
    p.add_argument("--rate_limit", type=float, default=100,
                   help="requests/second admitted (sliding 1 s window); more get 429 + Retry-After; 0 = unlimited "
                        "(default 100, Customer.io's fair-use limit per workspace)")
    p.add_argument("--error_rate", type=float, default=0, help="fraction of API requests answered 500")
    p.add_argument("--throttle_rate", type=float, default=0,
                   help="fraction of API requests answered 429 with Retry-After = --retry_after")
    p.add_argument("--retry_after", type=int, default=1, help="Retry-After seconds on injected 429s (default 1)")
    p.add_argument("--slow_rate", type=float, default=0,
                   help="fraction of API requests answered after --slow_seconds (they are still applied)")
    p.add_argument("--slow_seconds", type=float, default=5.0, help="delay of slow answers (default 5)")
    p.add_argument("--drop_rate", type=float, default=0,
                   help="fraction of API requests whose connection is closed with no answer")
    p.add_argument("--latency_ms", type=float, default=0, help="constant delay added to every API answer")
    p.add_argument("--seed", type=int, default=0, help="seed of the fault-injection random draws (default 0)")
    p.add_argument("--log", dest="log_path", metavar="PATH", default=None,
                   help="JSON-lines file of accepted operations (truncated on start, written as it goes)")
    p.add_argument("--no_memory", action="store_true",
                   help="do not keep accepted records in memory (for long benchmarks; use --log instead)")
    p.add_argument("--ready_file", metavar="PATH", default=None, help="write the URL to this file once listening")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = SandboxConfig(
            site_id=args.site_id, api_key=args.api_key, host=args.host, port=args.port,
            rate_limit=args.rate_limit, error_rate=args.error_rate, throttle_rate=args.throttle_rate,
            retry_after=args.retry_after, slow_rate=args.slow_rate, slow_seconds=args.slow_seconds,
            drop_rate=args.drop_rate, latency_ms=args.latency_ms, seed=args.seed,
            log_path=args.log_path, keep_in_memory=not args.no_memory)
    except ValueError as e:
        print(f"cio-sandbox: {e}", file=sys.stderr)
        return 2

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    sandbox = Sandbox(config).start()
    try:
        print(f"cio-sandbox listening on {sandbox.url}", flush=True)
        if args.ready_file:
            tmp = args.ready_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(sandbox.url + "\n")
            os.replace(tmp, args.ready_file)  # appears complete or not at all
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
        st = sandbox.stats()
        print(f"cio-sandbox stopped: {st['requests']} requests, {st['accepted']} accepted operations",
              file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
