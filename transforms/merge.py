"""Alias → a ``Merge`` of two people (docs/mapping.md, section 5).

``previousId`` (the secondary) is merged into ``userId`` (the primary)
(v1: ``POST /api/v1/merge_customers``; v2: a ``person``/``merge`` item).
"""

from __future__ import annotations

from transforms import lookups
from transforms.errors import MappingError
from transforms.cio_ids import relationship_identifiers
from transforms.ids import check_person_id, id_text
from transforms.models import Alias, validate
from transforms.operations import Merge
from transforms.settings import Settings


def map_alias(raw: dict, settings: Settings) -> list:
    event = validate(Alias, lookups.unmap_destination(raw))
    primary = id_text(event.get("userId"), "userId")
    secondary = id_text(event.get("previousId"), "previousId")
    if primary is None or secondary is None:
        raise MappingError("Both userId and previousId are mandatory for merge operation")
    check_person_id(primary, "userId")
    check_person_id(secondary, "previousId")
    # cio_<id>, an email or an id, as the merge call's identifiers allow.
    primary_ids, secondary_ids = relationship_identifiers(primary), relationship_identifiers(secondary)
    (kind, value), = primary_ids.items()
    return [Merge(f"{kind}:{value}", lookups.message_id(event), lookups.event_seconds(event), "alias",
                  primary_ids, secondary_ids)]
