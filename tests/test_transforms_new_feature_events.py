"""The sample lines of the Customer.io features in examples/events.jsonl map as each feature says.

One line per feature (delivery metric, relationship attributes, identify
naming an object, anonymous group call, cio_ user id, dated properties),
found by messageId; each goes through ``map_event`` in v1 and v2 and every
request validates against Customer.io's published schema
(``tests/schema_check.mapped``). docs/mapping.md, sections 9 to 14, state the rules.
"""

from pathlib import Path

import orjson
import pytest

from tests.schema_check import mapped

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "events.jsonl"
MESSAGE_ID = "6f1f5a3e-2b7c-4d0e-9a51-0c1d2e3f4a0{}"
BATCH = "/api/v2/batch"


def sample(n: int) -> dict:
    message_id = MESSAGE_ID.format(n)
    lines = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if message_id in line]
    assert len(lines) == 1, message_id
    return orjson.loads(lines[0])


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_delivery_metric(version):
    event = sample(1)
    assert event["event"] == "Report Delivery Event"
    assert mapped(event, version) == [("POST", "/api/v1/metrics", {
        "delivery_id": "RPILAgUBcRhIBqSfeiIwdIYJKxTY", "metric": "clicked", "timestamp": 1748974152,
        "href": "https://shoply.example.com/sale?utm_source=cio", "recipient": "zoë.4546@example.com"})]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_group_relationship_attributes(version):
    [(method, path, item)] = mapped(sample(2), version)
    assert (method, path) == ("POST", BATCH)
    assert item["action"] == "identify"
    assert item["cio_relationships"] == [{"identifiers": {"id": "user-4546"},
                                          "relationship_attributes": {"role": "admin", "seat": "owner"}}]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_identify_naming_an_object(version):
    update, relation = mapped(sample(3), version)
    if version == "v1":
        assert update[:2] == ("PUT", "/api/v1/customers/user-4547")
        attributes = update[2]
    else:
        assert update[:2] == ("POST", BATCH) and update[2]["action"] == "identify"
        attributes = update[2]["attributes"]
    assert "relationshipAttributes" not in attributes and "objectTypeId" not in attributes
    assert relation == ("POST", BATCH, {
        "type": "person", "action": "add_relationships", "identifiers": {"id": "user-4547"},
        "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme-gmbh"},
                               "relationship_attributes": {"role": "member"}}]})


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_anonymous_group(version):
    [(method, path, item)] = mapped(sample(4), version)
    assert (method, path) == ("POST", BATCH)
    assert item == {"type": "object", "action": "identify_anonymous",
                    "identifiers": {"object_id": "globex", "object_type_id": "1"},
                    "attributes": {"name": "Globex", "industry": "retail"},
                    "cio_relationships": [{"identifiers": {"anonymous_id": "8e0c2f6a-1b3d-4c5e-8f70-9a1b2c3d4e5f"},
                                           "relationship_attributes": {"source": "pricing-page"}}]}


def test_cio_user_id():
    event = sample(5)
    [(method, path, _)] = mapped(event, "v1")
    assert (method, path) == ("POST", "/api/v1/customers/cio_03000001/events")
    [(_, path, item)] = mapped(event, "v2")
    assert path == BATCH and item["identifiers"] == {"cio_id": "03000001"}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_dated_properties_with_convert_timestamps(version):
    event = sample(6)
    [(_, _, off)] = mapped(event, version)
    [(_, _, on)] = mapped(event, version, convert_timestamps=True)
    key = "data" if version == "v1" else "attributes"
    assert off[key] == event["properties"], "off by default"
    assert on[key] == {"plan": "pro", "trial_ends": 1750184040, "renewal": {"at": 1751566440},
                       "signup_day": "2025-06-03", "order_ref": "2025-06-03-0042"}
