"""Manual segments: with audience_id, records add or remove segment members.

A record becomes ONE batch item of ``POST /api/v1/segments/{id}/add_customers``
(insert/update) or ``remove_customers`` (delete), ``?id_type=...``: the body
is the single id as a JSON string; ``batch_envelope`` tells the pipeline to
wrap items of such URLs as ``{"ids": [...]}``, at most 1000.
"""

from __future__ import annotations

import orjson
import pytest

from tests.test_transforms_schema import Routes, _patched, document  # noqa: F401  (fixture)
from transforms import (
    MAX_BATCH_ITEMS,
    CioRequest,
    MappingError,
    SettingsError,
    batch_envelope,
    load_settings,
    map_event,
)

BASE = "https://track.customer.io"


def settings(**extra):
    return load_settings(site_id="s", api_key="k", **{"audience_id": "77", **extra})


def record(action="insert", identifiers=None, fields=None, **extra):
    return {"type": "record", "action": action, "identifiers": identifiers or {}, "fields": fields or {}, **extra}


def one(event, s):
    [request] = map_event(event, s)
    return request


# ---- settings -------------------------------------------------------------------

@pytest.mark.parametrize("given, stored", [(None, None), ("", None), ("77", "77"), (" 12 ", "12"), (5, "5")])
def test_audience_id_is_a_whole_number(given, stored):
    s = load_settings(site_id="s", api_key="k", audience_id=given)
    assert s.audience_id == stored and s.id_type == "id"


@pytest.mark.parametrize("values, message", [
    ({"audience_id": "abc"}, "invalid settings: audience_id must be a segment id, a whole number (got 'abc')"),
    ({"audience_id": "-3"}, "invalid settings: audience_id must be a segment id, a whole number (got '-3')"),
    ({"audience_id": True}, "invalid settings: audience_id must be a segment id, a whole number (got True)"),
    ({"audience_id": "7", "id_type": "phone"}, "invalid settings: id_type must be id, email or cio_id (got 'phone')"),
])
def test_bad_segment_settings_are_one_line(values, message):
    with pytest.raises(SettingsError) as err:
        load_settings(site_id="s", api_key="k", **values)
    assert str(err.value) == message


def test_id_type_is_matched_case_insensitively():
    assert settings(id_type=" EMAIL ").id_type == "email"


# ---- records -> segment members -------------------------------------------------

@pytest.mark.parametrize("event, id_type, url_tail, body, key", [
    (record("insert", {"id": "u1"}), "id", "add_customers?id_type=id", b'"u1"', "id:u1"),
    (record("UPDATE", {"id": 42}), "id", "add_customers?id_type=id", b'"42"', "id:42"),
    (record("delete", {}, {"id": 42.0}), "id", "remove_customers?id_type=id", b'"42"', "id:42"),
    (record("insert", {"id": "u1", "email": "a@b.co"}), "email", "add_customers?id_type=email", b'"a@b.co"',
     "email:a@b.co"),
    (record("delete", {"cio_id": "cio_a1b2"}), "cio_id", "remove_customers?id_type=cio_id", b'"a1b2"', "cio_id:a1b2"),
    (record("insert", {"id": "a/b?c"}), "id", "add_customers?id_type=id", b'"a/b?c"', "id:a/b?c"),
])
def test_records_become_one_segment_item(event, id_type, url_tail, body, key):
    request = one(event, settings(id_type=id_type))
    assert request == CioRequest("POST", f"{BASE}/api/v1/segments/77/{url_tail}", body, True, key, None, None,
                                 "record")


def test_fields_win_and_created_at_orders():
    event = record("insert", {"id": "old"}, {"id": "new", "created_at": "2024-05-01T10:00:00Z"}, messageId="m1")
    request = one(event, settings())
    assert (request.body, request.message_id, request.timestamp) == (b'"new"', "m1", 1714557600.0)


def test_the_endpoint_and_datacenter_are_used():
    s = settings(endpoint="http://127.0.0.1:9/", datacenter="EU")
    assert one(record("insert", {"id": 1}), s).url == "http://127.0.0.1:9/api/v1/segments/77/add_customers?id_type=id"
    s = settings(datacenter="EU")
    assert one(record("delete", {"id": 1}), s).url.startswith("https://track-eu.customer.io/api/v1/segments/77/")


@pytest.mark.parametrize("api_version", ["v1", "v2"])
def test_api_version_does_not_change_segment_calls(api_version):
    request = one(record("insert", {"id": "u"}), settings(api_version=api_version))
    assert request.url == f"{BASE}/api/v1/segments/77/add_customers?id_type=id"


@pytest.mark.parametrize("event, id_type, error", [
    (record("insert", {"email": "a@b.co"}), "id", "segment record needs a non-empty id in identifiers or fields"),
    (record("insert", {"id": "u1"}), "email", "segment record needs a non-empty email in identifiers or fields"),
    (record("delete", {"id": "u1", "cio_id": ""}), "cio_id",
     "segment record needs a non-empty cio_id in identifiers or fields"),
    (record("upsert", {"id": "u1"}), "id", "record action must be insert, update or delete (got upsert)"),
    (record(None, {"id": "u1"}), "id", "record action must be insert, update or delete (got nothing)"),
    (record("insert", {"id": True}), "id", "identifiers.id must be a string or a number (got boolean)"),
    (record("insert", {"id": "x" * 151}), "id", "id is 151 bytes, over Customer.io's 150-byte limit"),
    (record("insert", {"id": "u1"}, warehouse_error="CSV row 3 of f.csv has 2 cells, the header has 3"), "id",
     "CSV row 3 of f.csv has 2 cells, the header has 3"),
    ({"type": "record", "action": "insert", "identifiers": [1]}, "id", "identifiers must be an object (got array)"),
])
def test_segment_errors(event, id_type, error):
    with pytest.raises(MappingError) as err:
        map_event(event, settings(id_type=id_type))
    assert str(err.value) == error


def test_without_audience_records_are_person_items_as_before():
    s = load_settings(site_id="s", api_key="k")
    request = one(record("insert", {"id": "u1"}, {"plan": "pro"}), s)
    assert request.url == BASE + "/api/v2/batch"
    assert request.json() == {"type": "person", "identifiers": {"id": "u1"}, "action": "identify",
                              "attributes": {"plan": "pro"}}


def test_warehouse_error_dead_letters_in_person_mode_too():
    s = load_settings(site_id="s", api_key="k")
    with pytest.raises(MappingError, match="^bad row$"):
        map_event(record("insert", {"id": "u1"}, warehouse_error="bad row"), s)


# ---- batch_envelope ---------------------------------------------------------------

def test_batch_envelope():
    assert batch_envelope(BASE + "/api/v2/batch") == (b'{"batch":[', b"]}", 1000)
    assert batch_envelope("http://127.0.0.1:8080/api/v2/batch") == (b'{"batch":[', b"]}", 1000)
    for tail in ("add_customers?id_type=id", "remove_customers?id_type=email"):
        assert batch_envelope(f"{BASE}/api/v1/segments/77/{tail}") == (b'{"ids":[', b"]}", 1000)
    assert MAX_BATCH_ITEMS == 1000


def _wrap(requests):
    prefix, suffix, limit = batch_envelope(requests[0].url)
    assert len(requests) <= limit and {r.url for r in requests} == {requests[0].url}
    return prefix + b",".join(r.body for r in requests) + suffix


def test_segment_items_wrap_into_a_valid_body(document):  # noqa: F811
    s = settings()
    requests = [one(record("insert", {"id": i if i % 2 else f"user-{i}"}), s) for i in range(MAX_BATCH_ITEMS)]
    body = orjson.loads(_wrap(requests))
    assert body["ids"][:3] == ["user-0", "1", "user-2"] and len(body["ids"]) == 1000
    routes = Routes(_patched(document))
    # validate the wrapped body against add_customers' requestBody (not as a v2 batch item)
    wrapped = CioRequest("POST", requests[0].url, orjson.dumps(body), False, None, None, None, "record")
    assert routes.errors(wrapped) == []
    too_many = CioRequest("POST", requests[0].url, orjson.dumps({"ids": body["ids"] + ["x"]}), False, None, None,
                          None, "record")
    assert routes.errors(too_many) != []  # the 1000-id cap is the document's
