"""Customer-data events → Customer.io Track API requests.

Pure Python, no Beam: ``decode_events`` turns raw message bytes into event
dicts, ``map_event`` turns one event into ``CioRequest`` objects (bodies
serialized once) or raises ``MappingError`` with the reason. The contract
is MAPPING.md; the choices it leaves open are in ``DECISIONS.md``.
"""

from transforms.decode import decode_events
from transforms.errors import MappingError
from transforms.mapping import EVENT_TYPES, MAPPERS, event_type, map_event
from transforms.request import BATCH_PATH, CioRequest
from transforms.settings import Settings, SettingsError, load_settings

__all__ = [
    "BATCH_PATH",
    "EVENT_TYPES",
    "MAPPERS",
    "CioRequest",
    "MappingError",
    "Settings",
    "SettingsError",
    "decode_events",
    "event_type",
    "load_settings",
    "map_event",
]
