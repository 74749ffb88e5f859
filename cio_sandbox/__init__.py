"""cio_sandbox: a local Customer.io Track API double for tests and benchmarks.

Why this package exists: the pipeline needs something that answers like
Customer.io (auth, shapes, limits, 207 batches, dedup, 429s, faults) over real
sockets, fast enough for benchmarks, without a network or an account.

    from cio_sandbox import Sandbox, SandboxConfig
    with Sandbox(SandboxConfig(site_id="s", api_key="k")) as sb:
        ...  # send to sb.url; inspect sb.accepted() and sb.stats()

Or run ``cio-sandbox --help`` (same as ``python -m cio_sandbox``).

Modules: ``server`` (HTTP handling, ``Sandbox``), ``config`` (settings),
``validation`` (request checks), ``state`` (counters, records, log),
``faults`` (injected failures), ``ratelimit`` (sliding windows),
``__main__`` (CLI).
"""

from .config import DEMO_API_KEY, DEMO_SITE_ID, SandboxConfig
from .server import Sandbox

__all__ = ["Sandbox", "SandboxConfig", "DEMO_SITE_ID", "DEMO_API_KEY"]
