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


def mapped(event: dict, version: str = "v2", **settings) -> list[tuple[str, str, object]]:
    """``(method, path, body)`` of each request ``transforms.map_event`` makes of ``event``.

    ``path`` is the URL less the base URL (with its query), ``body`` the parsed
    JSON (a v2 batch item alone); each request with a body is asserted valid
    against the schema first (the schema has no route for bodyless calls).
    ``settings`` are extra ``load_settings`` values.
    """
    from transforms import map_event
    from transforms.settings import load_settings

    config = load_settings(site_id="s", api_key="k", api_version=version, dedup_ids=False, **settings)
    out = []
    for request in map_event(dict(event), config):
        path = request.url.removeprefix(config.base_url)
        body = None if request.body is None else json.loads(request.body)
        if body is not None:
            assert body_errors(request.method, path.split("?")[0], body, request.batch_item) == [], (path, body)
        out.append((request.method, path, body))
    return out
