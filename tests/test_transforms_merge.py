"""Alias → merge two people (docs/mapping.md, section 5)."""

import pytest

from transforms import MappingError, load_settings, map_event

V1 = load_settings(site_id="s", api_key="k")
V2 = load_settings(site_id="s", api_key="k", api_version="v2")


@pytest.mark.parametrize(
    "user_id, previous_id, primary, secondary, key",
    [
        ("u1", "p1", {"id": "u1"}, {"id": "p1"}, "id:u1"),
        ("a@b.co", "anon-9", {"email": "a@b.co"}, {"id": "anon-9"}, "email:a@b.co"),
        (42, "old@x.io", {"id": "42"}, {"email": "old@x.io"}, "id:42"),
    ],
)
def test_merge(user_id, previous_id, primary, secondary, key):
    event = {"type": "alias", "userId": user_id, "previousId": previous_id, "messageId": "m"}
    [v1] = map_event(event, V1)
    assert (v1.method, v1.url) == ("POST", "https://track.customer.io/api/v1/merge_customers")
    assert v1.json() == {"primary": primary, "secondary": secondary}
    assert v1.person_key == key and not v1.batch_item and v1.event_type == "alias"
    [v2] = map_event(event, V2)
    assert v2.batch_item and v2.json() == {"type": "person", "action": "merge", "primary": primary, "secondary": secondary}


@pytest.mark.parametrize(
    "event",
    [{"userId": "u"}, {"previousId": "p"}, {"userId": "", "previousId": "p"}, {"userId": "u", "previousId": None},
     {"traits": {"userId": "u"}, "previousId": "p"}],
)
@pytest.mark.parametrize("settings", [V1, V2])
def test_both_ids_are_mandatory(event, settings):
    with pytest.raises(MappingError, match="^Both userId and previousId are mandatory for merge operation$"):
        map_event({"type": "alias", **event}, settings)
