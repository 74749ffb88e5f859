"""Alias → merge two people (MAPPING.md section 5).

``previousId`` (the secondary) is merged into ``userId`` (the primary):
``POST /api/v1/merge_customers``, or a ``person``/``merge`` item in v2.
"""

from __future__ import annotations

from transforms import build, lookups
from transforms.errors import MappingError
from transforms.limits import MERGE_PATH
from transforms.ids import check_person_id, id_or_email, id_text
from transforms.models import Alias, validate
from transforms.settings import Settings


def map_alias(raw: dict, settings: Settings) -> list:
    event = validate(Alias, lookups.unmap_destination(raw))
    primary = id_text(event.get("userId"), "userId")
    secondary = id_text(event.get("previousId"), "previousId")
    if primary is None or secondary is None:
        raise MappingError("Both userId and previousId are mandatory for merge operation")
    check_person_id(primary, "userId")
    check_person_id(secondary, "previousId")
    primary_ids, secondary_ids = id_or_email(primary), id_or_email(secondary)
    key = f"{next(iter(primary_ids))}:{primary}"
    message_id = lookups.message_id(event)
    seconds = lookups.event_seconds(event)
    if settings.api_version == "v2":
        item = {"type": "person", "action": "merge", "primary": primary_ids, "secondary": secondary_ids}
        return [build.batch_item(item, settings, key, message_id, seconds, "alias")]
    body = {"primary": primary_ids, "secondary": secondary_ids}
    url = settings.base_url + MERGE_PATH
    return [build.request("POST", url, body, key, message_id, seconds, "alias")]
