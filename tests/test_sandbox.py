"""Tests of cio_sandbox over real sockets (requests against a live server)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import requests

from cio_sandbox import Sandbox, SandboxConfig

SITE, KEY = "site-1", "secret-key-1"
AUTH = (SITE, KEY)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sb():
    with Sandbox(SandboxConfig(site_id=SITE, api_key=KEY)) as sandbox:
        yield sandbox


def session() -> requests.Session:
    s = requests.Session()
    s.auth = AUTH
    s.trust_env = False
    return s


def v1_errors(resp) -> list:
    body = resp.json()
    assert set(body) == {"meta"}, body
    assert isinstance(body["meta"]["errors"], list) and body["meta"]["errors"], body
    return body["meta"]["errors"]


def v2_error_list(resp) -> list:
    body = resp.json()
    assert set(body) == {"errors"}, body
    for e in body["errors"]:
        assert {"reason", "field", "message"} <= set(e), e
    return body["errors"]


def person(action="identify", ident=None, **extra):
    item = {"type": "person", "identifiers": {"id": "42"} if ident is None else ident, "action": action}
    item.update(extra)
    return item


# --- auth -------------------------------------------------------------------


@pytest.mark.parametrize("auth", [None, (SITE, "wrong"), ("other-site", KEY)])
def test_auth_missing_or_wrong_is_401_and_not_recorded(sb, auth):
    r = requests.put(sb.url + "/api/v1/customers/42", json={"a": 1}, auth=auth)
    assert r.status_code == 401
    assert r.json() == {"meta": {"errors": ["Unauthorized request"]}}
    assert KEY not in r.text
    assert sb.accepted() == []
    r = requests.post(sb.url + "/api/v2/batch", json={"batch": [person()]}, auth=auth)
    assert r.status_code == 401
    assert sb.accepted() == [] and sb.stats()["by_status"] == {"401": 2}


def test_key_never_shown():
    config = SandboxConfig(site_id=SITE, api_key=KEY)
    assert KEY not in repr(config)
    with Sandbox(config) as sandbox:
        requests.put(sandbox.url + "/api/v1/customers/1", json={}, auth=AUTH)
        assert KEY not in requests.get(sandbox.url + "/_stats").text
        assert KEY not in repr(sandbox.accepted())


# --- v1 endpoints: happy paths -----------------------------------------------------


@pytest.mark.parametrize("method,path,body,template", [
    ("PUT", "/api/v1/customers/42", {"email": "a@b.co", "_timestamp": 1700000000, "plan": "pro"},
     "PUT /api/v1/customers/{id}"),
    ("DELETE", "/api/v1/customers/42", None, "DELETE /api/v1/customers/{id}"),
    ("POST", "/api/v1/customers/42/suppress", None, "POST /api/v1/customers/{id}/suppress"),
    ("POST", "/api/v1/customers/42/unsuppress", None, "POST /api/v1/customers/{id}/unsuppress"),
    ("POST", "/api/v1/customers/42/events", {"name": "purchase", "data": {"price": 3}, "timestamp": 1700000000},
     "POST /api/v1/customers/{id}/events"),
    ("POST", "/api/v1/events", {"name": "viewed", "anonymous_id": "anon-1", "type": "page"},
     "POST /api/v1/events"),
    ("PUT", "/api/v1/customers/42/devices", {"device": {"id": "tok-1", "platform": "ios", "last_used": 1700000000}},
     "PUT /api/v1/customers/{id}/devices"),
    ("DELETE", "/api/v1/customers/42/devices/tok-1", None, "DELETE /api/v1/customers/{id}/devices/{device_id}"),
    ("POST", "/api/v1/merge_customers", {"primary": {"id": "1"}, "secondary": {"email": "x@y.z"}},
     "POST /api/v1/merge_customers"),
    ("POST", "/api/v1/segments/7/add_customers?id_type=email", {"ids": ["a@b.co", "c@d.co"]},
     "POST /api/v1/segments/{segment_id}/add_customers"),
    ("POST", "/api/v1/segments/7/remove_customers", {"ids": ["1"]},
     "POST /api/v1/segments/{segment_id}/remove_customers"),
    ("POST", "/api/v1/metrics", {"delivery_id": "RPILAgUBcRhIBqSfeiIwdIYJKxTY", "metric": "clicked",
                                 "timestamp": 1700000000, "href": "https://x.co", "recipient": "a@b.co"},
     "POST /api/v1/metrics"),
    ("PUT", "/api/v1/customers/cio_a3000001", {"plan": "pro"}, "PUT /api/v1/customers/{id}"),
    ("POST", "/api/v1/customers/cio_a3000001/events", {"name": "purchase"}, "POST /api/v1/customers/{id}/events"),
    ("PUT", "/api/v1/customers/cio_team@x.co", {}, "PUT /api/v1/customers/{id}"),  # an email, not a cio_id
    ("POST", "/api/v1/merge_customers", {"primary": {"cio_id": "a1"}, "secondary": {"id": "2"}},
     "POST /api/v1/merge_customers"),
])
def test_v1_happy_path_is_recorded(sb, method, path, body, template):
    r = session().request(method, sb.url + path, json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {}
    [rec] = sb.accepted()
    assert set(rec) == {"ts", "method", "path", "query", "body", "duplicate"}
    assert rec["method"] == method
    assert rec["path"] == path.split("?")[0]
    assert rec["query"] == ({"id_type": "email"} if "id_type" in path else {})
    assert rec["body"] == body
    assert rec["duplicate"] is False
    assert abs(rec["ts"] - time.time()) < 5
    assert sb.stats()["by_endpoint"] == {template: 1}


def test_percent_encoded_ids_are_decoded_once(sb):
    s = session()
    assert s.put(sb.url + "/api/v1/customers/a%2Fb%40x.com", json={}).status_code == 200
    assert s.put(sb.url + "/api/v1/customers/100%2525", json={}).status_code == 200  # "%25" once -> "%25"
    assert s.delete(sb.url + "/api/v1/customers/u%201/devices/tok%2F%2B").status_code == 200
    paths = [rec["path"] for rec in sb.accepted()]
    assert paths == ["/api/v1/customers/a/b@x.com", "/api/v1/customers/100%25",
                     "/api/v1/customers/u 1/devices/tok/+"]
    # the decoded id counts towards the 150-byte limit
    assert s.put(sb.url + "/api/v1/customers/" + "%41" * 150, json={}).status_code == 200
    assert s.put(sb.url + "/api/v1/customers/" + "%41" * 151, json={}).status_code == 400


# --- v1 endpoints: refusals ---------------------------------------------------


@pytest.mark.parametrize("method,path,body,needle", [
    ("PUT", "/api/v1/customers/42", [1, 2], "JSON object"),
    ("PUT", "/api/v1/customers/42", b"{not json", "not valid JSON"),
    ("PUT", "/api/v1/customers/42", None, "required"),
    ("PUT", "/api/v1/customers/42", {"_timestamp": "yesterday"}, "_timestamp"),
    ("PUT", "/api/v1/customers/" + "x" * 151, {}, "150 bytes"),
    ("PUT", "/api/v1/customers/42", {"a" * 151: 1}, "attribute name"),
    ("PUT", "/api/v1/customers/42", {"bio": "é" * 501}, "1000 bytes"),
    ("PUT", "/api/v1/customers/42", {f"k{i}": i for i in range(301)}, "300 attributes"),
    ("POST", "/api/v1/customers/42/events", {"data": {}}, "name"),
    ("POST", "/api/v1/customers/42/events", {"name": ""}, "name"),
    ("POST", "/api/v1/customers/42/events", {"name": "n" * 101}, "100 bytes"),
    ("POST", "/api/v1/customers/42/events", {"name": "x", "data": [1]}, "data"),
    ("POST", "/api/v1/customers/42/events", {"name": "x", "timestamp": "2024-01-01"}, "timestamp"),
    ("POST", "/api/v1/customers/42/events", {"name": "x", "timestamp": 1.5}, "timestamp"),
    ("POST", "/api/v1/customers/42/events", {"name": "x", "type": "click"}, "type"),
    ("POST", "/api/v1/customers/42/events", {"name": "x", "data": {"blob": "b" * 100_000}}, "100000 bytes"),
    ("POST", "/api/v1/events", {"name": "x"}, "anonymous_id"),
    ("POST", "/api/v1/events", "just a string", "JSON object"),
    ("PUT", "/api/v1/customers/42/devices", {"device": {"platform": "ios"}}, "device.id"),
    ("PUT", "/api/v1/customers/42/devices", {"device": {"id": "t", "platform": "windows"}}, "platform"),
    ("PUT", "/api/v1/customers/42/devices", {"id": "t"}, "device"),
    ("POST", "/api/v1/merge_customers", {"primary": {"id": "1", "email": "a@b.co"}, "secondary": {"id": "2"}},
     "primary"),
    ("POST", "/api/v1/merge_customers", {"primary": {"id": "1"}}, "secondary is required"),
    ("POST", "/api/v1/merge_customers", {"primary": {"phone": "1"}, "secondary": {"id": "2"}}, "primary"),
    ("POST", "/api/v1/segments/7/add_customers", {"ids": []}, "1 to 1000"),
    ("POST", "/api/v1/segments/7/add_customers", {"ids": [str(i) for i in range(1001)]}, "1 to 1000"),
    ("POST", "/api/v1/segments/7/add_customers?id_type=phone", {"ids": ["1"]}, "id_type"),
    ("POST", "/api/v1/segments/7/remove_customers", {"ids": "1"}, "list"),
    ("POST", "/api/v1/segments/abc/add_customers", {"ids": ["1"]}, "segment_id"),
    ("POST", "/api/v1/metrics", {"metric": "opened"}, "delivery_id"),
    ("POST", "/api/v1/metrics", {"delivery_id": "d", "metric": "unsubscribed"}, "metric is required and must be one of"),
    ("POST", "/api/v1/metrics", {"delivery_id": "d"}, "metric"),
    ("POST", "/api/v1/metrics", {"delivery_id": "d", "metric": "opened", "timestamp": "2024-01-01"}, "timestamp"),
    ("POST", "/api/v1/metrics", {"delivery_id": "d", "metric": "converted", "recipient": 15550000}, "SMS"),
    ("POST", "/api/v1/metrics", {"delivery_id": "d", "metric": "opened", "href": ["x"]}, "href"),
    ("POST", "/api/v1/metrics", None, "required"),
    ("PUT", "/api/v1/customers/cio_", {}, "cio_id"),
    ("PUT", "/api/v1/customers/cio_ab-c", {}, "cio_id"),
    ("POST", "/api/v1/customers/cio_a%20b/events", {"name": "x"}, "cio_id"),
    ("POST", "/api/v1/merge_customers", {"primary": {"cio_id": "cio_1"}, "secondary": {"id": "2"}}, "cio_id"),
])
def test_v1_invalid_is_400_with_meta_errors(sb, method, path, body, needle):
    kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
    r = session().request(method, sb.url + path, **kwargs)
    assert r.status_code == 400, r.text
    errors = v1_errors(r)
    assert any(needle in e for e in errors), errors
    assert sb.accepted() == []


def test_unknown_path_404_and_wrong_method_405(sb):
    s = session()
    r = s.get(sb.url + "/api/v1/nothing")
    assert r.status_code == 404 and v1_errors(r)
    r = s.post(sb.url + "/api/v2/entities", json={})
    assert r.status_code == 404 and v2_error_list(r)
    r = s.post(sb.url + "/api/v1/customers/42", json={})
    assert r.status_code == 405 and v1_errors(r)
    assert r.headers["Allow"] == "PUT, DELETE"
    r = s.get(sb.url + "/api/v2/batch")
    assert r.status_code == 405 and v2_error_list(r)
    r = s.patch(sb.url + "/api/v1/customers/42/events", json={"name": "x"})
    assert r.status_code == 405
    assert sb.accepted() == []
    assert sb.stats()["by_status"] == {"404": 2, "405": 3}


# --- v2 batch ---------------------------------------------------------------------


def test_batch_all_valid_is_200_and_each_item_recorded(sb):
    items = [
        person(attributes={"plan": "pro"}, timestamp=1700000000),
        person("event", name="purchase", id="01HZZZZZZZZZZZZZZZZZZZZZZ1", attributes={"price": 3}),
        person("page", ident={"anonymous_id": "anon-9"}, name="/home"),
        person("screen", ident={"email": "a@b.co"}, name="Dashboard"),
        person("add_device", device={"token": "tok", "platform": "android"}),
        person("delete_device", device={"token": "tok"}),
        person("delete", ident={"cio_id": "a3000001"}),
        person("event", ident={"id": 12345}, name="numeric id"),
        person("suppress", ident={"phone": "+15550000"}),
        person("unsuppress"),
        person("add_relationships", cio_relationships=[{"identifiers": {"object_type_id": "1", "object_id": "acme"}}]),
        {"type": "person", "action": "merge", "primary": {"id": "1"}, "secondary": {"cio_id": "c2"}},
        {"type": "object", "action": "identify", "identifiers": {"object_type_id": "1", "object_id": "acme"},
         "attributes": {"name": "Acme"}},
        {"type": "object", "action": "delete", "identifiers": {"cio_object_id": "o1"}},
        {"type": "delivery", "action": "event", "identifiers": {"id": "dlv1"}, "name": "opened",
         "attributes": {"device_token": "tok"}},
    ]
    r = session().post(sb.url + "/api/v2/batch", json={"batch": items})
    assert r.status_code == 200, r.text
    assert r.json() == {}
    recs = sb.accepted()
    assert [rec["batch_index"] for rec in recs] == list(range(len(items)))
    assert [rec["item"] for rec in recs] == items
    assert set(recs[0]) == {"ts", "method", "path", "batch_index", "item", "duplicate"}
    assert {(rec["method"], rec["path"]) for rec in recs} == {("POST", "/api/v2/batch")}
    st = sb.stats()
    assert st["batch_items_accepted"] == len(items) and st["batch_items_rejected"] == 0


@pytest.mark.parametrize("bad,field", [
    ({"type": "user", "action": "identify", "identifiers": {"id": "1"}}, "type"),
    ({"type": "object", "action": "event", "identifiers": {"object_type_id": "1", "object_id": "a"}}, "action"),
    ({"type": "person", "action": "identify_anonymous", "identifiers": {"id": "1"}}, "action"),
    (person(ident={}), "identifiers"),
    (person(ident={"id": "1", "email": "a@b.co"}), "identifiers"),
    (person(ident={"anonymous_id": "a"}), "identifiers.anonymous_id"),  # only events may be anonymous
    (person(ident={"id": ""}), "identifiers.id"),
    (person(ident={"id": True}), "identifiers.id"),
    (person(ident={"id": 1.5}), "identifiers.id"),
    (person(ident={"id": "x" * 151}), "identifiers.id"),
    ({"type": "person", "action": "identify"}, "identifiers"),
    (person("event"), "name"),
    (person("page", name="n" * 101), "name"),
    (person("event", name="x", timestamp="now"), "timestamp"),
    (person("add_device", device={"platform": "ios"}), "device.token"),
    (person("delete_device"), "device"),
    (person("add_relationships"), "cio_relationships"),
    ({"type": "person", "action": "merge", "primary": {"id": "1"}}, "secondary"),
    ({"type": "person", "action": "merge", "primary": {"id": "1"}, "secondary": {"id": "2", "email": "e"}},
     "secondary"),
    ({"type": "object", "action": "identify", "identifiers": {"object_type_id": "1"}}, "identifiers.object_id"),
    ({"type": "object", "action": "delete", "identifiers": {"object_id": "a"}}, "identifiers.object_type_id"),
    ({"type": "delivery", "action": "event", "identifiers": {"id": "d"}, "name": "clicked",
      "attributes": {"device_token": "t"}}, "name"),
    ("not an object", ""),
    # JSON lists and objects where a name is expected: an item error, not a 500
    ({"type": ["person"], "action": "identify", "identifiers": {"id": "1"}}, "type"),
    ({"type": "person", "action": {"identify": 1}, "identifiers": {"id": "1"}}, "action"),
    ({"type": "delivery", "action": "event", "identifiers": {"id": "d"}, "name": ["opened"],
      "attributes": {"device_token": "t"}}, "name"),
    # cio_id is bare in v2: letters and digits, no cio_ prefix
    (person(ident={"cio_id": "cio_a1"}), "identifiers.cio_id"),
    (person("event", ident={"cio_id": "a-1"}, name="x"), "identifiers.cio_id"),
    ({"type": "person", "action": "merge", "primary": {"cio_id": "cio_1"}, "secondary": {"id": "2"}}, "primary"),
    # relationships: attributes are an object; anonymous people only through identify_anonymous
    ({"type": "object", "action": "identify", "identifiers": {"object_type_id": "1", "object_id": "a"},
      "cio_relationships": [{"identifiers": {"id": "1"}, "relationship_attributes": "admin"}]},
     "cio_relationships[0].relationship_attributes"),
    (person("add_relationships", cio_relationships=[
        {"identifiers": {"object_type_id": "1", "object_id": "a"}, "relationship_attributes": [1]}]),
     "cio_relationships[0].relationship_attributes"),
    ({"type": "object", "action": "identify", "identifiers": {"object_type_id": "1", "object_id": "a"},
      "cio_relationships": [{"identifiers": {"anonymous_id": "an"}}]}, "cio_relationships[0].identifiers.anonymous_id"),
    ({"type": "object", "action": "add_relationships", "identifiers": {"object_type_id": "1", "object_id": "a"},
      "cio_relationships": [{"identifiers": {"cio_id": "cio_1"}}]}, "cio_relationships[0].identifiers.cio_id"),
    ({"type": "object", "action": "identify_anonymous", "identifiers": {"object_type_id": "1", "object_id": "a"},
      "cio_relationships": [{"identifiers": {"id": "1"}}]}, "cio_relationships[0].identifiers"),
    ({"type": "object", "action": "identify_anonymous", "identifiers": {"object_type_id": "1", "object_id": "a"},
      "cio_relationships": [{"identifiers": {"anonymous_id": ""}}]}, "cio_relationships[0].identifiers"),
    ({"type": "object", "action": "identify_anonymous", "identifiers": {"object_type_id": "1", "object_id": "a"}},
     "cio_relationships"),
    ({"type": "object", "action": "identify_anonymous", "identifiers": {"object_type_id": "1", "object_id": "a"},
      "cio_relationships": []}, "cio_relationships"),
    ({"type": "object", "action": "identify", "identifiers": {"object_type_id": "1", "object_id": "a"},
      "cio_relationships": {"identifiers": {"id": "1"}}}, "cio_relationships"),
])
def test_batch_invalid_item_gives_207_with_its_index_and_valid_items_are_kept(sb, bad, field):
    items = [person(), bad, person("event", name="e1")]
    r = session().post(sb.url + "/api/v2/batch", json={"batch": items})
    assert r.status_code == 207, r.text
    [error] = r.json()["errors"]
    assert set(error) == {"batch_index", "reason", "field", "message"}
    assert error["batch_index"] == 1
    assert error["field"] == field, error
    recs = sb.accepted()
    assert [(rec["batch_index"], rec["item"]) for rec in recs] == [(0, items[0]), (2, items[2])]
    st = sb.stats()
    assert (st["batch_items_accepted"], st["batch_items_rejected"]) == (2, 1)


@pytest.mark.parametrize("body,field", [
    (b"not json", ""),
    ([], ""),
    ({}, "batch"),
    ({"batch": []}, "batch"),
    ({"batch": {"type": "person"}}, "batch"),
])
def test_batch_body_invalid_is_400_with_v2_errors(sb, body, field):
    kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
    r = session().post(sb.url + "/api/v2/batch", **kwargs)
    assert r.status_code == 400, r.text
    [error] = v2_error_list(r)
    assert error["field"] == field
    assert sb.accepted() == []


def test_batch_over_500kb_is_400_and_at_limit_is_accepted(sb):
    item = person(attributes={"pad": "p" * 900})
    body = orjson.dumps({"batch": [item] * 600})
    assert len(body) > 500_000
    r = session().post(sb.url + "/api/v2/batch", data=body)
    assert r.status_code == 400
    [error] = v2_error_list(r)
    assert error["reason"] == "too_large"
    assert sb.accepted() == []
    # trimmed to just under the limit: accepted
    n = 600
    while len(body) > 500_000:
        n -= 1
        body = orjson.dumps({"batch": [item] * n})
    r = session().post(sb.url + "/api/v2/batch", data=body)
    assert r.status_code == 200, r.text
    assert len(sb.accepted()) == n


def test_batch_item_over_32kb_is_207_for_that_item(sb):
    small = person(attributes={"a": 1})
    # many attributes of <1000 bytes each, together > 32 KB
    big = person(attributes={f"k{i}": "v" * 900 for i in range(40)})
    assert len(orjson.dumps(big)) > 32 * 1024
    r = session().post(sb.url + "/api/v2/batch", json={"batch": [small, big, small]})
    assert r.status_code == 207
    [error] = r.json()["errors"]
    assert error["batch_index"] == 1 and error["reason"] == "too_large"
    assert [rec["batch_index"] for rec in sb.accepted()] == [0, 2]


# --- dedup -------------------------------------------------------------------------


def test_repeated_event_id_is_accepted_but_marked_duplicate(sb):
    s = session()
    ev = {"name": "purchase", "id": "01HXYZXYZXYZXYZXYZXYZXYZXY"}
    assert s.post(sb.url + "/api/v1/customers/42/events", json=ev).status_code == 200
    assert s.post(sb.url + "/api/v1/customers/42/events", json=ev).status_code == 200
    assert s.post(sb.url + "/api/v1/events", json={**ev, "anonymous_id": "a"}).status_code == 200
    batch = [person("event", name="purchase", id=ev["id"]), person("event", name="p2", id="01HNEWNEWNEWNEWNEWNEWNEWNE"),
             person("event", name="p2", id="01HNEWNEWNEWNEWNEWNEWNEWNE")]
    assert s.post(sb.url + "/api/v2/batch", json={"batch": batch}).status_code == 200
    # an event without id and non-event operations are never duplicates
    assert s.post(sb.url + "/api/v1/customers/42/events", json={"name": "x"}).status_code == 200
    assert s.post(sb.url + "/api/v1/customers/42/events", json={"name": "x"}).status_code == 200
    assert s.put(sb.url + "/api/v1/customers/42", json={"id": ev["id"]}).status_code == 200
    assert [rec["duplicate"] for rec in sb.accepted()] == [False, True, True, True, False, True, False, False, False]
    st = sb.stats()
    assert (st["accepted"], st["duplicates"], st["applied"]) == (9, 4, 5)


# --- rate limit and faults --------------------------------------------------------


def test_rate_limit_gives_429_with_retry_after():
    with Sandbox(SandboxConfig(site_id=SITE, api_key=KEY, rate_limit=5)) as sandbox:
        s = session()
        codes = [s.put(sandbox.url + "/api/v1/customers/1", json={}) for _ in range(8)]
        assert [r.status_code for r in codes] == [200] * 5 + [429] * 3
        limited = codes[-1]
        assert int(limited.headers["Retry-After"]) >= 1
        assert v1_errors(limited)
        r = s.post(sandbox.url + "/api/v2/batch", json={"batch": [person()]})
        assert r.status_code == 429 and v2_error_list(r)
        st = sandbox.stats()
        assert len(sandbox.accepted()) == 5
        assert st["rate_limited"] == 4 and st["by_status"] == {"200": 5, "429": 4}
        time.sleep(1.05)  # the window slides: admitted again
        assert s.put(sandbox.url + "/api/v1/customers/1", json={}).status_code == 200


def test_injected_500():
    with Sandbox(SandboxConfig(site_id=SITE, api_key=KEY, error_rate=1.0)) as sandbox:
        r = session().put(sandbox.url + "/api/v1/customers/1", json={})
        assert r.status_code == 500 and v1_errors(r)
        r = session().post(sandbox.url + "/api/v2/batch", json={"batch": [person()]})
        assert r.status_code == 500 and v2_error_list(r)
        assert sandbox.accepted() == []
        assert sandbox.stats()["faults"]["error"] == 2


def test_injected_throttle_uses_configured_retry_after():
    with Sandbox(SandboxConfig(site_id=SITE, api_key=KEY, throttle_rate=1.0, retry_after=7)) as sandbox:
        r = session().post(sandbox.url + "/api/v1/customers/1/events", json={"name": "x", "id": "A"})
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "7"
        assert sandbox.accepted() == []
        assert sandbox.stats()["faults"]["throttle"] == 1


def test_injected_drop_closes_connection_without_answer():
    with Sandbox(SandboxConfig(site_id=SITE, api_key=KEY, drop_rate=1.0)) as sandbox:
        s = session()
        for _ in range(2):
            with pytest.raises(requests.ConnectionError):
                s.put(sandbox.url + "/api/v1/customers/1", json={}, timeout=5)
        assert sandbox.accepted() == []
        st = sandbox.stats()
        assert st["faults"]["drop"] == 2 and st["requests"] == 2 and st["by_status"] == {}
        # control endpoints are never faulted
        assert requests.get(sandbox.url + "/_stats").status_code == 200


def test_injected_slow_answer_times_out_client_but_is_applied():
    with Sandbox(SandboxConfig(site_id=SITE, api_key=KEY, slow_rate=1.0, slow_seconds=1.0)) as sandbox:
        t0 = time.monotonic()
        with pytest.raises(requests.Timeout):
            session().put(sandbox.url + "/api/v1/customers/1", json={"a": 1}, timeout=0.3)
        assert time.monotonic() - t0 < 0.9
        [rec] = sandbox.accepted()  # applied although the client gave up
        assert rec["body"] == {"a": 1}
        # a patient client gets the answer
        t0 = time.monotonic()
        assert session().put(sandbox.url + "/api/v1/customers/2", json={}, timeout=5).status_code == 200
        assert time.monotonic() - t0 >= 1.0


def test_latency_is_added_to_every_answer():
    with Sandbox(SandboxConfig(site_id=SITE, api_key=KEY, latency_ms=150)) as sandbox:
        s = session()
        t0 = time.monotonic()
        assert s.put(sandbox.url + "/api/v1/customers/1", json={}).status_code == 200
        assert requests.put(sandbox.url + "/api/v1/customers/1", json={}).status_code == 401
        assert time.monotonic() - t0 >= 0.3


def test_faults_are_seeded_and_mixed():
    def run(seed):
        config = SandboxConfig(site_id=SITE, api_key=KEY, error_rate=0.3, throttle_rate=0.3, seed=seed)
        with Sandbox(config) as sandbox:
            s = session()
            return [s.put(sandbox.url + "/api/v1/customers/1", json={}).status_code for _ in range(40)]

    a, b, c = run(1), run(1), run(2)
    assert a == b
    assert a != c
    assert {200, 429, 500} == set(a)


def test_config_rejects_bad_rates():
    with pytest.raises(ValueError):
        SandboxConfig(error_rate=0.7, drop_rate=0.7)
    with pytest.raises(ValueError):
        SandboxConfig(slow_rate=1.5)
    with pytest.raises(ValueError):
        SandboxConfig(retry_after=0)


# --- records, log, stats ----------------------------------------------------------


def test_log_file_matches_in_memory_records(tmp_path):
    log = tmp_path / "accepted.jsonl"
    sandbox = Sandbox(SandboxConfig(site_id=SITE, api_key=KEY, log_path=str(log))).start()
    s = session()
    s.put(sandbox.url + "/api/v1/customers/a%40b.co", json={"x": 1})
    s.post(sandbox.url + "/api/v1/segments/3/add_customers?id_type=id", json={"ids": ["1"]})
    s.post(sandbox.url + "/api/v2/batch", json={"batch": [person(), {"bad": 1}, person("event", name="e", id="E1")]})
    s.post(sandbox.url + "/api/v1/customers/1/events", json={"name": "e", "id": "E1"})
    s.put(sandbox.url + "/api/v1/customers/1", json=[])  # refused: not logged
    requests.get(sandbox.url + "/_stats")  # flushes
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert lines == sandbox.accepted()
    assert len(lines) == 5 and lines[-1]["duplicate"] is True
    s.delete(sandbox.url + "/api/v1/customers/1")
    records = sandbox.accepted()
    sandbox.stop()  # flushes too
    lines = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert lines == records and len(lines) == 6


def test_log_file_is_written_as_it_goes(tmp_path):
    """Accepted lines reach the file on their own, without /_stats or a stop."""
    log = tmp_path / "accepted.jsonl"
    with Sandbox(SandboxConfig(site_id=SITE, api_key=KEY, log_path=str(log))) as sandbox:
        session().put(sandbox.url + "/api/v1/customers/1", json={"x": 1})
        session().post(sandbox.url + "/api/v2/batch", json={"batch": [person()]})
        deadline = time.monotonic() + 10
        while len(log.read_bytes().splitlines()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        lines = [orjson.loads(line) for line in log.read_bytes().splitlines()]
        assert [line["path"] for line in lines] == ["/api/v1/customers/1", "/api/v2/batch"]


def test_keep_in_memory_off_still_logs(tmp_path):
    log = tmp_path / "a.jsonl"
    with Sandbox(SandboxConfig(site_id=SITE, api_key=KEY, log_path=str(log), keep_in_memory=False)) as sandbox:
        session().post(sandbox.url + "/api/v2/batch", json={"batch": [person(), person()]})
        assert sandbox.accepted() == []
        assert sandbox.stats()["accepted"] == 2
    assert len(log.read_bytes().splitlines()) == 2


def test_stats_counts_and_reset(sb):
    s = session()
    for i in range(10):
        s.put(sb.url + f"/api/v1/customers/{i}", json={"n": i})
    s.post(sb.url + "/api/v2/batch", json={"batch": [person(), {"nope": 1}]})
    requests.put(sb.url + "/api/v1/customers/1", json={})  # 401
    s.post(sb.url + "/api/v1/customers/1/events", json={})  # 400
    st = requests.get(sb.url + "/_stats").json()
    assert st["requests"] == 13
    assert st["by_status"] == {"200": 10, "207": 1, "400": 1, "401": 1}
    assert st["by_endpoint"] == {"PUT /api/v1/customers/{id}": 11, "POST /api/v2/batch": 1,
                                 "POST /api/v1/customers/{id}/events": 1}
    assert st["accepted"] == 11 and st["applied"] == 11 and st["duplicates"] == 0
    assert (st["batch_items_accepted"], st["batch_items_rejected"]) == (1, 1)
    assert st["bytes_received"] > 10 * len(b'{"n": 0}')
    assert st["max_requests_1s"] == 13 and st["max_requests_3s"] == 13
    assert st["first_request_at"] <= st["last_request_at"] <= time.time()
    # the same counts from both; the CPU used goes on between the two calls
    assert st == {**sb.stats(), "last_request_at": st["last_request_at"], "cpu_seconds": st["cpu_seconds"]}
    r = requests.post(sb.url + "/_reset")
    assert r.status_code == 200
    st = sb.stats()
    assert st["requests"] == 0 and st["by_status"] == {} and st["max_requests_1s"] == 0
    assert st["first_request_at"] is None and sb.accepted() == []


@pytest.mark.subprocess
def test_stats_give_the_cpu_the_sandbox_process_used_since_the_last_reset():
    from cio_sandbox.process import SandboxProcess

    body = orjson.dumps({"batch": [person(ident={"id": str(i)}, attributes={"n": i}) for i in range(1000)]})
    with SandboxProcess(site_id=SITE, api_key=KEY) as sandbox:
        sandbox.reset()
        idle = sandbox.stats()["cpu_seconds"]
        s = session()
        for _ in range(30):
            assert s.post(sandbox.url + "/api/v2/batch", data=body).status_code == 200
        busy = sandbox.stats()["cpu_seconds"]
        sandbox.reset()
        after_reset = sandbox.stats()["cpu_seconds"]
    assert 0 <= idle < 0.05  # since the reset only: the sandbox's start-up alone took far more
    assert busy > idle + 0.02  # 30,000 items parsed and checked over there
    assert 0 <= after_reset < busy


def test_max_requests_windows_see_the_busiest_second(sb):
    s = session()
    for _ in range(3):
        s.put(sb.url + "/api/v1/customers/1", json={})
    time.sleep(1.1)
    for _ in range(6):
        s.put(sb.url + "/api/v1/customers/1", json={})
    st = sb.stats()
    assert st["max_requests_1s"] == 6
    assert st["max_requests_3s"] == 9


def test_reset_forgets_dedup_ids(sb):
    s = session()
    s.post(sb.url + "/api/v1/customers/1/events", json={"name": "e", "id": "X"})
    sb.reset()
    s.post(sb.url + "/api/v1/customers/1/events", json={"name": "e", "id": "X"})
    assert [rec["duplicate"] for rec in sb.accepted()] == [False]


# --- HTTP behaviour -----------------------------------------------------------------


def test_keep_alive_serves_many_requests_on_one_socket(sb):
    import base64
    token = base64.b64encode(f"{SITE}:{KEY}".encode()).decode()
    body = b'{"name":"e"}'
    req = (f"POST /api/v1/customers/1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", sb.port)) as sock:
        sock.sendall(req * 3)  # pipelined on one connection
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"HTTP/1.1 200") < 3 and time.monotonic() < deadline:
            data += sock.recv(65536)
    assert data.count(b"HTTP/1.1 200 OK") == 3
    assert data.count(b"Content-Length: 2\r\n") == 3
    assert b"Connection: close" not in data
    assert len(sb.accepted()) == 3


def test_small_requests_are_fast(sb):
    s = session()
    n = 300
    t0 = time.perf_counter()
    for i in range(n):
        assert s.post(sb.url + "/api/v1/customers/1/events", json={"name": "e"}).status_code == 200
    rate = n / (time.perf_counter() - t0)
    assert rate > 150, rate  # loose: CI machines are slow; see the report for real figures


# --- CLI -----------------------------------------------------------------------------


@pytest.mark.subprocess
def test_cli_prints_url_serves_and_stops_on_sigterm(tmp_path):
    log, ready = tmp_path / "cli.jsonl", tmp_path / "ready"
    env = {**os.environ, "CIO_SITE_ID": "env-site", "CIO_API_KEY": "env-key"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cio_sandbox", "--log", str(log), "--ready_file", str(ready)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("cio-sandbox listening on http://127.0.0.1:"), first
        url = first.rsplit(" ", 1)[1]
        for _ in range(100):
            if ready.exists():
                break
            time.sleep(0.02)
        assert ready.read_text().strip() == url
        r = requests.put(url + "/api/v1/customers/7", json={"a": 1}, auth=("env-site", "env-key"))
        assert r.status_code == 200
        assert requests.put(url + "/api/v1/customers/7", json={}, auth=("demo-site", "demo-key")).status_code == 401
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        [rec] = [orjson.loads(line) for line in log.read_bytes().splitlines()]
        assert rec["path"] == "/api/v1/customers/7" and rec["body"] == {"a": 1}
        assert proc.stdout.read() == ""  # exactly one stdout line
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.subprocess
def test_cli_help_lists_every_flag():
    out = subprocess.run([sys.executable, "-m", "cio_sandbox", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30).stdout
    for flag in ("--host", "--port", "--site_id", "--api_key", "--rate_limit", "--error_rate", "--throttle_rate",
                 "--retry_after", "--slow_rate", "--slow_seconds", "--drop_rate", "--latency_ms", "--seed", "--log",
                 "--ready_file"):
        assert flag in out, flag


def test_region_endpoint_checks_credentials():
    from cio_sandbox import Sandbox, SandboxConfig
    with Sandbox(SandboxConfig(site_id="s", api_key="k")) as sb:
        ok = requests.get(sb.url + "/api/v1/accounts/region", auth=("s", "k"), timeout=5)
        assert ok.status_code == 200 and ok.json()["region"] == "us"
        bad = requests.get(sb.url + "/api/v1/accounts/region", auth=("s", "nope"), timeout=5)
        assert bad.status_code == 401


def test_overlapping_requests_about_one_person_are_counted():
    import threading
    from cio_sandbox import Sandbox, SandboxConfig
    with Sandbox(SandboxConfig(site_id="s", api_key="k", latency_ms=300)) as sb:
        def put(person):
            requests.put(f"{sb.url}/api/v1/customers/{person}", json={"a": 1}, auth=("s", "k"), timeout=5)
        threads = [threading.Thread(target=put, args=(p,)) for p in ("same", "same", "other")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sb.stats()["overlapping_person_requests"] == 1
        put("same")
        assert sb.stats()["overlapping_person_requests"] == 1


# --- delivery metrics, cio_ ids, relationships, converted timestamps (what transforms.map_event makes)


def test_metrics_need_no_authorization_and_are_recorded(sb):
    body = {"delivery_id": "d1", "metric": "delivered"}
    assert requests.post(sb.url + "/api/v1/metrics", json=body).status_code == 200
    assert requests.post(sb.url + "/api/v1/metrics", json=body, auth=(SITE, "wrong")).status_code == 200
    assert [(rec["method"], rec["path"], rec["body"]) for rec in sb.accepted()] == [
        ("POST", "/api/v1/metrics", body)] * 2
    assert sb.stats()["by_endpoint"] == {"POST /api/v1/metrics": 2}
    # other endpoints still want credentials
    assert requests.put(sb.url + "/api/v1/customers/1", json={}).status_code == 401


NEW_FEATURE_EVENTS = [
    {"type": "track", "event": "Report Delivery Event", "anonymousId": "a0",
     "properties": {"deliveryId": "d1", "metric": "bounced", "reason": "full"}},
    {"type": "track", "event": "Order Completed", "userId": "cio_a3000001", "properties": {"total": 3}},
    {"type": "identify", "userId": "cio_a3000001",
     "traits": {"plan": "pro", "objectId": "acme", "relationshipAttributes": {"seat": 2}}},
    {"type": "group", "groupId": "acme", "userId": "cio_a3000001", "traits": {"name": "Acme"},
     "context": {"relationshipAttributes": {"role": "a"}}},
    {"type": "group", "groupId": "acme", "anonymousId": "anon-1", "traits": {"name": "Acme"},
     "context": {"relationshipAttributes": {"role": "a"}}},
    {"type": "group", "groupId": "acme", "anonymousId": "anon-1", "traits": {"action": "add_relationships"}},
    {"type": "track", "event": "Trial Started", "userId": "u1",
     "properties": {"ends": "2024-05-15T10:00:00Z", "day": "2024-05-01"}},
]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_what_the_mapping_makes_of_the_new_features_is_accepted_over_http(sb, version):
    from transforms import map_event
    from transforms.settings import load_settings

    settings = load_settings(site_id=SITE, api_key=KEY, api_version=version, convert_timestamps=True)
    calls, items = [], []
    for event in NEW_FEATURE_EVENTS:
        for request in map_event({**event, "timestamp": "2024-05-01T10:00:00Z"}, settings):
            path = request.url.removeprefix(settings.base_url)
            body = orjson.loads(request.body)
            if request.batch_item:
                items.append(body)
            else:
                calls.append((request.method, path, body))
    s = session()
    for method, path, body in calls:
        r = s.request(method, sb.url + path, json=body)
        assert r.status_code == 200, (path, r.text)
    r = s.post(sb.url + "/api/v2/batch", json={"batch": items})
    assert r.status_code == 200, r.text
    recs = sb.accepted()
    assert [(rec["method"], rec["path"], rec["body"]) for rec in recs[:len(calls)]] == calls
    assert [rec["item"] for rec in recs[len(calls):]] == items
    assert calls[0] == ("POST", "/api/v1/metrics", {"delivery_id": "d1", "metric": "bounced", "reason": "full",
                                                    "timestamp": 1714557600})
    actions = [(item["type"], item["action"]) for item in items]
    assert ("person", "add_relationships") in actions
    assert actions.count(("object", "identify_anonymous")) == 2
    if version == "v1":
        assert ("POST", "/api/v1/customers/cio_a3000001/events") in [call[:2] for call in calls]
        assert calls[-1][2]["data"] == {"ends": 1715767200, "day": "2024-05-01"}
    else:
        assert {"cio_id": "a3000001"} in [item.get("identifiers") for item in items]
        assert items[-1]["attributes"] == {"ends": 1715767200, "day": "2024-05-01"}


def test_log_file_folder_is_made_when_missing(tmp_path):
    """`--log out/accepted.jsonl` on a fresh clone, where out/ does not exist yet."""
    log = tmp_path / "out" / "deeper" / "accepted.jsonl"
    with Sandbox(SandboxConfig(site_id=SITE, api_key=KEY, log_path=str(log))) as sandbox:
        session().put(sandbox.url + "/api/v1/customers/1", json={"x": 1})
    assert len(log.read_bytes().splitlines()) == 1
