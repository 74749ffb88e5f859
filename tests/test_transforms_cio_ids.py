"""cio_<id> user ids → v2 {"cio_id": ...} and v1 /customers/cio_<id> (transforms/cio_ids.py)."""

import pytest

from tests.schema_check import body_errors, item_errors
from transforms.cio_ids import PersonRef, cio_id_of, person_identifiers_for, relationship_identifiers
from transforms.errors import MappingError


@pytest.mark.parametrize("user_id, ref", [
    ("cio_03000001", PersonRef({"cio_id": "03000001"}, "cio_03000001", "cio_id:03000001")),
    ("cio_a3F9", PersonRef({"cio_id": "a3F9"}, "cio_a3F9", "cio_id:a3F9")),
    ("user-1", PersonRef({"id": "user-1"}, "user-1", "id:user-1")),
    ("CIO_abc", PersonRef({"id": "CIO_abc"}, "CIO_abc", "id:CIO_abc")),  # the prefix is lower-case
    ("xcio_abc", PersonRef({"id": "xcio_abc"}, "xcio_abc", "id:xcio_abc")),
    ("cio_team@x.co", PersonRef({"id": "cio_team@x.co"}, "cio_team%40x.co", "id:cio_team@x.co")),
    ("a/b@x.co", PersonRef({"id": "a/b@x.co"}, "a%2Fb%40x.co", "id:a/b@x.co")),
    (42, PersonRef({"id": 42}, "42", "id:42")),
])
def test_person_identifiers_for(user_id, ref):
    assert person_identifiers_for(user_id) == ref


@pytest.mark.parametrize("user_id", ["cio_", "cio_ab-c", "cio_a b", "cio_é1", "cio_abc/", "cio_cio_1"])
def test_a_malformed_cio_id_is_a_clear_error(user_id):
    with pytest.raises(MappingError) as err:
        person_identifiers_for(user_id)
    assert str(err.value) == (f"user id {user_id!r} starts with cio_ but is not cio_ followed by a Customer.io "
                              "cio_id (letters and digits)")


def test_the_150_byte_limit_applies():
    with pytest.raises(MappingError, match="150-byte limit"):
        person_identifiers_for("cio_" + "a" * 150)


def test_cio_id_of():
    assert cio_id_of("cio_1") == "1"
    assert cio_id_of("id-1") is None and cio_id_of(7) is None


def test_relationship_identifiers():
    assert relationship_identifiers("cio_9f") == {"cio_id": "9f"}
    assert relationship_identifiers("a@b.co") == {"email": "a@b.co"}
    assert relationship_identifiers("cio_team@x.co") == {"email": "cio_team@x.co"}
    assert relationship_identifiers(7) == {"id": "7"}


@pytest.mark.parametrize("action, extra", [
    ("identify", {"attributes": {"plan": "pro"}}),
    ("event", {"name": "Order Completed", "attributes": {"total": 3}}),
    ("delete", {}),
    ("add_relationships", {"cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"}}]}),
])
def test_v2_items_with_a_cio_id_validate(action, extra):
    ref = person_identifiers_for("cio_03000001")
    assert item_errors({"type": "person", "action": action, "identifiers": ref.identifiers, **extra}) == []


def test_v2_object_relationship_with_a_cio_id_validates():
    item = {"type": "object", "action": "identify", "identifiers": {"object_type_id": "1", "object_id": "acme"},
            "cio_relationships": [{"identifiers": relationship_identifiers("cio_03000001")}]}
    assert item_errors(item) == []


def test_v1_calls_on_a_cio_path_validate():
    path = "/api/v1/customers/" + person_identifiers_for("cio_03000001").path
    assert path == "/api/v1/customers/cio_03000001"
    assert body_errors("PUT", path, {"plan": "pro"}) == []
    assert body_errors("POST", path + "/events", {"name": "Order Completed"}) == []
