"""cio_<id> user ids → v2 {"cio_id": ...} and v1 /customers/cio_<id>, through ``map_event``.

The rule is ``transforms/cio_ids.py`` (which user ids are cio_ids),
``transforms/operations.resolve_person`` (who an event is about) and the
renderers (``render_v1.person_path``, ``render_v2.person_item``); each request
here is checked against Customer.io's published schema (``tests/schema_check.mapped``).
"""

import pytest

from tests.schema_check import mapped
from transforms import map_event
from transforms.cio_ids import cio_id_of, relationship_identifiers
from transforms.errors import MappingError
from transforms.settings import load_settings

T = {"timestamp": "2024-05-01T10:00:00Z"}
SECONDS = 1714557600


def track(user_id, **parts):
    return {"type": "track", "event": "Order Completed", "userId": user_id, **T, **parts}


@pytest.mark.parametrize("user_id, v2_identifiers, v1_path", [
    ("cio_03000001", {"cio_id": "03000001"}, "cio_03000001"),
    ("cio_a3F9", {"cio_id": "a3F9"}, "cio_a3F9"),
    ("user-1", {"id": "user-1"}, "user-1"),
    ("CIO_abc", {"id": "CIO_abc"}, "CIO_abc"),  # the prefix is lower-case
    ("xcio_abc", {"id": "xcio_abc"}, "xcio_abc"),
    ("cio_team@x.co", {"id": "cio_team@x.co"}, "cio_team%40x.co"),  # an e-mail address, not a cio_id
    ("a/b@x.co", {"id": "a/b@x.co"}, "a%2Fb%40x.co"),
    (42, {"id": 42}, "42"),
])
def test_a_user_id_names_the_person_in_both_versions(user_id, v2_identifiers, v1_path):
    [(method, path, body)] = mapped(track(user_id), "v1")
    assert (method, path) == ("POST", f"/api/v1/customers/{v1_path}/events")
    [(_, path, item)] = mapped(track(user_id), "v2")
    assert path == "/api/v2/batch" and item["identifiers"] == v2_identifiers


def test_a_cio_id_orders_by_its_own_key():
    settings = load_settings(site_id="s", api_key="k")
    [request] = map_event(track("cio_03000001"), settings)
    assert request.person_key == "cio_id:03000001"


@pytest.mark.parametrize("user_id", ["cio_", "cio_ab-c", "cio_a b", "cio_é1", "cio_abc/", "cio_cio_1"])
@pytest.mark.parametrize("event_type", ["track", "identify", "page", "group", "alias"])
def test_a_malformed_cio_id_is_a_clear_error(user_id, event_type):
    event = {"type": event_type, "userId": user_id, "event": "x", "name": "x", "groupId": "g", "previousId": "p",
             **T}
    for version in ("v1", "v2"):
        with pytest.raises(MappingError) as err:
            map_event(dict(event), load_settings(site_id="s", api_key="k", api_version=version))
        assert str(err.value) == (f"user id {user_id!r} starts with cio_ but is not cio_ followed by a "
                                  "Customer.io cio_id (letters and digits)")


def test_the_150_byte_limit_applies():
    with pytest.raises(MappingError, match="150-byte limit"):
        map_event(track("cio_" + "a" * 150), load_settings(site_id="s", api_key="k"))


def test_cio_id_of():
    assert cio_id_of("cio_1") == "1"
    assert cio_id_of("id-1") is None and cio_id_of(7) is None


def test_relationship_identifiers():
    assert relationship_identifiers("cio_9f") == {"cio_id": "9f"}
    assert relationship_identifiers("a@b.co") == {"email": "a@b.co"}
    assert relationship_identifiers("cio_team@x.co") == {"email": "cio_team@x.co"}
    assert relationship_identifiers(7) == {"id": "7"}


CIO = {"cio_id": "abc1"}


# Every event naming a person, with a cio_ user id: v1 path and v2 identifiers.
@pytest.mark.parametrize("event, v1, v2", [
    ({"type": "identify", "traits": {"plan": "pro"}},
     ("PUT", "/api/v1/customers/cio_abc1", {"plan": "pro", "_timestamp": SECONDS}),
     {"type": "person", "action": "identify", "identifiers": CIO, "attributes": {"plan": "pro"},
      "timestamp": SECONDS}),
    ({"type": "page", "name": "Home"},
     ("POST", "/api/v1/customers/cio_abc1/events", {"name": "Home", "type": "page", "timestamp": SECONDS}),
     {"type": "person", "action": "page", "identifiers": CIO, "name": "Home", "timestamp": SECONDS}),
    ({"type": "screen", "name": "Home"},
     ("POST", "/api/v1/customers/cio_abc1/events",
      {"name": "Viewed Home Screen", "type": "event", "timestamp": SECONDS}),
     {"type": "person", "action": "screen", "identifiers": CIO, "name": "Viewed Home Screen",
      "timestamp": SECONDS}),
    ({"type": "track", "event": "Application Installed", "context": {"device": {"token": "tok", "type": "ios"}}},
     ("PUT", "/api/v1/customers/cio_abc1/devices",
      {"device": {"id": "tok", "last_used": SECONDS, "platform": "ios"}}),
     {"type": "person", "action": "add_device", "identifiers": CIO,
      "device": {"token": "tok", "last_used": SECONDS, "platform": "ios"}}),
    ({"type": "track", "event": "Device Deleted", "context": {"device": {"token": "tok"}}},
     ("DELETE", "/api/v1/customers/cio_abc1/devices/tok", None),
     {"type": "person", "action": "delete_device", "identifiers": CIO, "device": {"token": "tok"}}),
    ({"type": "track", "event": "User Deleted"},
     ("DELETE", "/api/v1/customers/cio_abc1", None),
     {"type": "person", "action": "delete", "identifiers": CIO}),
    ({"type": "track", "event": "User Suppressed"},
     ("POST", "/api/v1/customers/cio_abc1/suppress", None),
     {"type": "person", "action": "suppress", "identifiers": CIO}),
    ({"type": "group", "groupId": "acme"},
     ("POST", "/api/v2/batch", {"type": "object", "action": "identify",
                                "identifiers": {"object_id": "acme", "object_type_id": "1"},
                                "cio_relationships": [{"identifiers": CIO}]}),
     {"type": "object", "action": "identify", "identifiers": {"object_id": "acme", "object_type_id": "1"},
      "cio_relationships": [{"identifiers": CIO}]}),
    ({"type": "alias", "previousId": "cio_def2"},
     ("POST", "/api/v1/merge_customers", {"primary": CIO, "secondary": {"cio_id": "def2"}}),
     {"type": "person", "action": "merge", "primary": CIO, "secondary": {"cio_id": "def2"}}),
], ids=["identify", "page", "screen", "device-add", "device-remove", "delete", "suppress", "group", "alias"])
def test_every_event_kind_names_a_cio_person(event, v1, v2):
    event = {**event, "userId": "cio_abc1", **T}
    [v1_request] = mapped(event, "v1")
    if v1[1] == "/api/v2/batch":  # objects have no v1 call
        assert v1_request == ("POST", "/api/v2/batch", v1[2])
    else:
        assert v1_request == v1
    [(_, path, item)] = mapped(event, "v2")
    assert path == "/api/v2/batch"
    if "device" in item:
        item["device"].pop("attributes", None)  # the device context, not about who
    assert item == v2
