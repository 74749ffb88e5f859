"""examples/new_feature_events.jsonl: one sample line per feature, each mapping as its feature says.

The lines join examples/events.jsonl once the features are wired into the
mapping; until then this pins what each line is for.
"""

from pathlib import Path

import orjson

from tests.schema_check import body_errors, item_errors
from transforms.cio_ids import person_identifiers_for
from transforms.metrics import METRICS_PATH, is_delivery_event, metrics_body
from transforms.relationships import (anonymous_object_item, group_relationship_attributes, identify_relationship,
                                      person_relationship_item, relationship)
from transforms.timestamps import convert_timestamps

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "new_feature_events.jsonl"


def test_each_sample_line_exercises_its_feature():
    delivery, group, identify, anonymous_group, cio_track, dated_track = [
        orjson.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]

    assert is_delivery_event(delivery)
    body = metrics_body(delivery)
    assert body["metric"] == "clicked" and body_errors("POST", METRICS_PATH, body) == []

    attributes = group_relationship_attributes(group)
    assert attributes == {"role": "admin", "seat": "owner"}
    assert item_errors({"type": "object", "action": "identify",
                        "identifiers": {"object_type_id": "1", "object_id": group["groupId"]},
                        "cio_relationships": [relationship({"id": group["userId"]}, attributes)]}) == []

    entry = identify_relationship(identify["traits"])
    assert entry["identifiers"] == {"object_type_id": "1", "object_id": "acme-gmbh"}
    assert item_errors(person_relationship_item({"id": identify["userId"]}, entry)) == []

    assert "userId" not in anonymous_group
    item = anonymous_object_item({"object_type_id": "1", "object_id": anonymous_group["groupId"]}, "identify",
                                 anonymous_group["traits"], anonymous_group["anonymousId"],
                                 group_relationship_attributes(anonymous_group))
    assert item["action"] == "identify_anonymous" and item_errors(item) == []

    assert person_identifiers_for(cio_track["userId"]).identifiers == {"cio_id": "03000001"}

    converted = convert_timestamps(dated_track["properties"])
    assert converted["trial_ends"] == 1750184040 and converted["renewal"] == {"at": 1751566440}
    assert converted["signup_day"] == "2025-06-03" and converted["order_ref"] == "2025-06-03-0042"
