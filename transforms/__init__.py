"""Customer-data events → Customer.io Track API requests.

Pure Python, no Beam: ``decode_events`` turns raw message bytes into event
dicts, ``map_event`` turns one event into ``CioRequest`` objects (bodies
serialized once) or raises ``MappingError`` with the reason. The contract
is docs/mapping.md; the choices it leaves open are in ``DECISIONS.md``.
"""

from transforms.decode import decode_events
from transforms.errors import MappingError
from transforms.mapping import EVENT_TYPES, MAPPERS, event_type, map_event
from transforms.request import BATCH_PATH, MAX_BATCH_ITEMS, SEGMENTS_PATH, CioRequest, batch_envelope
from transforms.settings import Settings, SettingsError, load_settings
from transforms.warehouse import ColumnMapping, row_to_record

__all__ = [
    "BATCH_PATH",
    "EVENT_TYPES",
    "MAPPERS",
    "MAX_BATCH_ITEMS",
    "SEGMENTS_PATH",
    "CioRequest",
    "ColumnMapping",
    "MappingError",
    "Settings",
    "SettingsError",
    "batch_envelope",
    "decode_events",
    "event_type",
    "load_settings",
    "map_event",
    "row_to_record",
]
