"""The sandbox's settings in one place, shared by the Python API and the CLI.

Why this module exists: tests, benchmarks and the ``cio-sandbox`` command all
build the same ``SandboxConfig``; keeping it apart from the server code makes
the knobs easy to find and validates them once.
"""

from __future__ import annotations

from dataclasses import dataclass

DEMO_SITE_ID = "demo-site"
DEMO_API_KEY = "demo-key"


@dataclass
class SandboxConfig:
    """What the sandbox accepts and which faults it injects.

    site_id / api_key: the HTTP Basic credentials every API call must carry.
    host / port: where to listen (port 0 picks a free port).
    rate_limit: requests per second admitted (sliding 1-second window over
        admitted requests, capacity ``max(1, int(rate_limit))``); more get 429
        with Retry-After. 0 = unlimited.
    error_rate, throttle_rate, slow_rate, drop_rate: fractions (0..1, summing to
        at most 1) of authenticated API requests that get a fault: 500, 429
        (Retry-After = ``retry_after``), an answer delayed by ``slow_seconds``
        (the request IS applied: like a real server that finished the work after
        the client gave up), or a connection closed with no answer. One seeded
        draw per request decides (``seed``).
    latency_ms: constant delay added before every API answer.
    log_path: JSON-lines file of accepted operations (truncated on start);
        written as it goes (every ~0.2 s, every ~1 MB, on GET /_stats and on stop()).
    keep_in_memory: keep accepted records in a list for ``accepted()``; turn
        off for benchmarks that push millions of items.
    """

    site_id: str = DEMO_SITE_ID
    api_key: str = DEMO_API_KEY
    host: str = "127.0.0.1"
    port: int = 0
    rate_limit: float = 0
    error_rate: float = 0
    throttle_rate: float = 0
    retry_after: int = 1
    slow_rate: float = 0
    slow_seconds: float = 5.0
    drop_rate: float = 0
    latency_ms: float = 0
    seed: int = 0
    log_path: str | None = None
    keep_in_memory: bool = True

    def __post_init__(self):
        rates = {
            "error_rate": self.error_rate,
            "throttle_rate": self.throttle_rate,
            "slow_rate": self.slow_rate,
            "drop_rate": self.drop_rate,
        }
        for name, value in rates.items():
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if sum(rates.values()) > 1 + 1e-9:
            raise ValueError("error_rate + throttle_rate + slow_rate + drop_rate must be at most 1")
        if self.rate_limit < 0:
            raise ValueError("rate_limit must be >= 0 (0 = unlimited)")
        if int(self.retry_after) < 1:
            raise ValueError("retry_after must be an integer >= 1")
        self.retry_after = int(self.retry_after)
        if self.slow_seconds < 0 or self.latency_ms < 0:
            raise ValueError("slow_seconds and latency_ms must be >= 0")

    def __repr__(self):  # never show the API key
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "api_key")
        return f"SandboxConfig({fields}, api_key=***)"
