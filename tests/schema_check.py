"""Check a request body against Customer.io's published Track API schema.

For tests of pieces that build bodies or batch-item fragments outside
``map_event``: the same fixture, patches and validators as
``tests/test_transforms_schema.py``, by method, path and body.
"""

from __future__ import annotations

import json
from functools import lru_cache
from types import SimpleNamespace

from tests.test_transforms_schema import SCHEMAS, Routes, _patched


@lru_cache(maxsize=1)
def routes() -> Routes:
    return Routes(_patched(json.loads(SCHEMAS.read_text(encoding="utf-8"))))


def body_errors(method: str, path: str, body, batch_item: bool = False) -> list[str]:
    """The schema's complaints about ``body`` sent as ``method path`` (a v2 item: batch_item=True)."""
    request = SimpleNamespace(url="https://track.customer.io" + path, method=method, body=body,
                              batch_item=batch_item, json=lambda: body)
    return routes().errors(request)


def item_errors(item: dict) -> list[str]:
    """The schema's complaints about one ``POST /api/v2/batch`` item."""
    return body_errors("POST", "/api/v2/batch", item, batch_item=True)
