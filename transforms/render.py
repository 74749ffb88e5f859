"""Operation → ``CioRequest``: which renderer writes each operation, per API version.

The one table of what each operation becomes in v1 and in v2. A row whose
two columns are the same function has one wire form whatever the version.
A renderer takes the operation and the settings' URLs (``Settings.urls``):
where to send is all it needs of the settings.
"""

from __future__ import annotations

from typing import Callable

from transforms import render_v1 as v1
from transforms import render_v2 as v2
from transforms.operations import (
    DeliveryMetric,
    DeviceAdd,
    DeviceRemove,
    Event,
    Merge,
    ObjectChange,
    Operation,
    PersonChange,
    PersonRelationship,
    PersonUpdate,
    RecordSync,
    SegmentMembership,
)
from transforms.request import CioRequest
from transforms.settings import Settings, Urls

Renderer = Callable[[Operation, Urls], CioRequest]

RENDERERS: dict[type, tuple[Renderer, Renderer]] = {
    # operation          v1 call                  v2 batch item
    PersonUpdate:        (v1.person_update,       v2.person_update),
    Event:               (v1.event,               v2.event),
    DeviceAdd:           (v1.device_add,          v2.device_add),
    DeviceRemove:        (v1.device_remove,       v2.device_remove),
    PersonChange:        (v1.person_change,       v2.person_change),
    Merge:               (v1.merge,               v2.merge),
    # Objects have no v1 call: an object item in both versions.
    ObjectChange:        (v2.object_change,       v2.object_change),
    # A person's relationships to objects: objects exist only in v2.
    PersonRelationship:  (v2.person_relationship, v2.person_relationship),
    # Delivery metrics have only a v1 call.
    DeliveryMetric:      (v1.delivery_metric,     v1.delivery_metric),
    # Warehouse records always go through /api/v2/batch.
    RecordSync:          (v2.record,              v2.record),
    # Manual segments have only a v1 call.
    SegmentMembership:   (v1.segment_membership,  v1.segment_membership),
}

# The table split by version, for a single look-up per operation:
# ``RENDERERS_BY_VERSION[settings.api_version][type(op)](op, settings.urls)``.
RENDERERS_BY_VERSION: dict[str, dict[type, Renderer]] = {
    version: {kind: pair[column] for kind, pair in RENDERERS.items()}
    for column, version in enumerate(("v1", "v2"))
}


def render(op: Operation, settings: Settings) -> CioRequest:
    """The request (or batch item) of ``op`` for the settings' API version."""
    return RENDERERS_BY_VERSION[settings.api_version][type(op)](op, settings.urls)


def render_all(operations: list, settings: Settings) -> list[CioRequest]:
    """The requests of ``operations``, in order."""
    renderers = RENDERERS_BY_VERSION[settings.api_version]
    urls = settings.urls
    if len(operations) == 1:  # the usual case, without a comprehension's frame (Python 3.11)
        op = operations[0]
        return [renderers[type(op)](op, urls)]
    return [renderers[type(op)](op, urls) for op in operations]
