"""The sandbox's fast paths answer exactly as its plain rules do.

The sandbox runs on the same two cores as the pipeline it measures, so its
hot paths take shortcuts: batch items and identify attributes are accepted by
quick checks that hand anything unusual to the plain rules
(``batch_item_error_reference``, ``attribute_errors``), item sizes are measured
a run of items at a time, header lines are remembered, a batch's duplicate
count is taken with set operations when no records are kept. These tests hold
each shortcut to the plain answer, on generated and hostile inputs, and over
real sockets for the HTTP parts.
"""

from __future__ import annotations

import base64
import copy
import re
import socket
import time

import orjson
import pytest
import requests
from hypothesis import HealthCheck, given, settings, strategies as st

from cio_sandbox import Sandbox, SandboxConfig
from cio_sandbox import validation as V

SITE, KEY = "site-s", "key-s"
TOKEN = base64.b64encode(f"{SITE}:{KEY}".encode()).decode()


# --- batch item checks ---------------------------------------------------------

# Values that sit on the edges of the rules: wrong types, bools for ints, empty,
# long and non-ASCII texts (a 38-character text of 4-byte characters is over
# 150 bytes although short in characters).
ODD_VALUES = [None, True, False, 0, -1, 2**40, 1.5, "", "x", "é" * 30, "𝔘" * 38, "n" * 101, "i" * 151,
              [], [1], {}, {"id": "1"}]
KEYS = ["type", "action", "identifiers", "name", "id", "timestamp", "attributes", "device", "primary",
        "secondary", "cio_relationships", "anonymous_id"]


def odd_value():
    # copied: a drawn {} or [] may be changed in place by a later mutation
    return st.one_of(st.sampled_from(ODD_VALUES).map(copy.deepcopy), st.text(max_size=5), st.integers(),
                     st.booleans())


def valid_items():
    person = lambda action, ident=None, **extra: {  # noqa: E731 - a table of shapes
        "type": "person", "action": action, "identifiers": ident or {"id": "user-1"}, **extra}
    return [
        person("event", name="Order Completed", id="01HZZZZZZZZZZZZZZZZZZZZZZ1", timestamp=1700000000,
               attributes={"price": 3.5, "sku": "a"}),
        person("page", {"anonymous_id": "anon-1"}, name="/home"),
        person("screen", {"email": "a@b.co"}, name="Dashboard"),
        person("event", {"id": 12345}, name="numeric"),
        person("identify", attributes={"email": "a@b.co", "plan": "pro", "logins": 3, "vip": True,
                                       "tags": ["a", "b"], "address": {"city": "Lyon"}}),
        person("identify", {"cio_id": "c1"}),
        person("identify", attributes={f"k{i}": "v" * 90 for i in range(20)}),  # > 1000 bytes in all
        person("identify", attributes={"cio_relationships": [{"identifiers": {"object_type_id": "1"}}] * 50}),
        person("delete", {"phone": "+15550000"}),
        person("suppress"), person("unsuppress"),
        person("add_relationships", cio_relationships=[{"identifiers": {"object_type_id": "1", "object_id": "a"}}]),
        person("delete_relationships", cio_relationships=[{"identifiers": {"object_id": "a"}}]),
        person("add_device", device={"token": "tok", "platform": "ios", "last_used": 1700000000}),
        person("delete_device", device={"token": "tok"}),
        {"type": "person", "action": "merge", "primary": {"id": 1}, "secondary": {"email": "e@x.co"}},
        {"type": "object", "action": "identify", "identifiers": {"object_type_id": "1", "object_id": "acme"},
         "attributes": {"name": "Acme"}},
        {"type": "object", "action": "identify_anonymous", "identifiers": {"object_type_id": "1", "object_id": "x"},
         "cio_relationships": [{"identifiers": {"anonymous_id": "anon-1"}, "relationship_attributes": {"role": "a"}}]},
        {"type": "object", "action": "identify_anonymous", "identifiers": {"object_type_id": "1", "object_id": "x"},
         "anonymous_id": "anon-1"},
        {"type": "object", "action": "identify", "identifiers": {"object_type_id": "1", "object_id": "acme"},
         "cio_relationships": [{"identifiers": {"cio_id": "a3000001"}, "relationship_attributes": {"seat": 2}}]},
        person("add_relationships", {"cio_id": "a3000001"}, cio_relationships=[
            {"identifiers": {"object_type_id": "1", "object_id": "a"}, "relationship_attributes": {"role": "a"}}]),
        {"type": "object", "action": "delete", "identifiers": {"cio_object_id": "o1"}},
        {"type": "object", "action": "add_relationships", "identifiers": {"cio_object_id": "o1"},
         "cio_relationships": [{"identifiers": {"id": "1"}}]},
        {"type": "delivery", "action": "event", "identifiers": {"id": "d1"}, "name": "opened",
         "attributes": {"device_token": "t"}},
    ]


@st.composite
def mutated_items(draw):
    """A valid item with a few fields replaced, removed or nested values changed."""
    item = orjson.loads(orjson.dumps(draw(st.sampled_from(valid_items()))))
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["set", "drop", "inner"]))
        key = draw(st.sampled_from(KEYS))
        if how == "set":
            item[key] = draw(odd_value())
        elif how == "drop":
            item.pop(key, None)
        else:
            inner = item.get(key)
            if isinstance(inner, dict):
                inner_key = draw(st.sampled_from(
                    list(inner) + ["id", "email", "anonymous_id", "phone", "cio_id", "object_id",
                                   "object_type_id", "cio_object_id", "token", "platform", "device_token"]))
                if draw(st.booleans()):
                    inner[inner_key] = draw(odd_value())
                else:
                    inner.pop(inner_key, None)
            elif isinstance(inner, list) and inner and isinstance(inner[0], dict):  # a relationship entry
                entry = inner[0]
                entry_key = draw(st.sampled_from(["identifiers", "relationship_attributes"]))
                if draw(st.booleans()):
                    entry[entry_key] = draw(odd_value() | st.sampled_from(
                        [{"anonymous_id": "a"}, {"cio_id": "cio_1"}, {"id": "1", "anonymous_id": "a"}]))
                else:
                    entry.pop(entry_key, None)
    return item


def reference_outcome(check, item):
    """What a check answers, or the kind of exception it raises."""
    try:
        return check(item)
    except Exception as e:  # noqa: BLE001 - the exception's kind is the outcome
        return type(e)


def test_every_valid_shape_is_fast_accepted_and_valid():
    for item in valid_items():
        assert V.batch_item_error_reference(item) is None, item
        assert V._FAST_ACCEPT[item["type"]][item["action"]](item), item


@pytest.mark.thorough
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_items())
def test_fast_item_check_answers_as_the_rules(item):
    expected = reference_outcome(V.batch_item_error_reference, item)
    assert reference_outcome(V.batch_item_error, item) == expected
    if not isinstance(expected, type):  # not an exception
        errors, event_ids = V.check_batch_items([item])
        assert errors == ({} if expected is None else {0: expected})
        is_event = expected is None and item.get("type") == "person" and item.get("action") in V.ANONYMOUS_ACTIONS
        assert event_ids == ({0: item["id"]} if is_event and item.get("id") is not None else {})


@pytest.mark.parametrize("item", ["text", 1, None, [], [{"type": "person"}], True, {}, {"type": "person"},
                                  {"type": "person", "action": "fly"}, {"action": "event"},
                                  {"type": "nobody", "action": "event"}])
def test_non_objects_and_unknown_kinds_get_the_rules_answer(item):
    assert V.batch_item_error(item) == V.batch_item_error_reference(item) is not None
    assert V.check_batch_items([item]) == ({0: V.batch_item_error_reference(item)}, {})


def test_check_batch_items_skips_and_keeps_order():
    items = valid_items() + ["bad", {"type": "person", "action": "event", "identifiers": {"id": ""}, "name": "n"}]
    errors, event_ids = V.check_batch_items(items, skip={0})
    assert list(errors) == [len(items) - 2, len(items) - 1]
    assert 0 not in event_ids  # skipped, although an event with an id
    assert event_ids == {}


def expected_check(items, skip):
    """What check_batch_items must answer, from the rules item by item."""
    errors, event_ids = {}, {}
    for index, item in enumerate(items):
        if index in skip:
            continue
        error = V.batch_item_error_reference(item)
        if error is not None:
            errors[index] = error
        elif item["type"] == "person" and item["action"] in V.ANONYMOUS_ACTIONS and item.get("id") is not None:
            event_ids[index] = item["id"]
    return errors, event_ids


@pytest.mark.thorough
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated_items(), max_size=8), st.sets(st.integers(0, 7), max_size=3))
def test_check_batch_items_answers_as_the_rules_item_by_item(items, skip):
    # the fast acceptance table and skips of check_batch_items; the second
    # call sees attribute names remembered by the first
    expected = reference_outcome(lambda its: expected_check(its, skip), items)
    for _ in range(2):
        assert reference_outcome(lambda its: V.check_batch_items(its, skip=skip), items) == expected


def test_check_batch_items_fast_paths_on_edges():
    deep: dict = {}
    for _ in range(300):  # deeper than orjson.dumps allows: the rules raise, and so must the check
        deep = {"x": deep}
    long_name = {"type": "person", "action": "event", "identifiers": {"id": "u"}, "name": "n" * 26, "id": "e"}
    items = [
        long_name,  # longer than most names, still valid
        {**long_name, "name": "é" * 51},  # 102 bytes: too long
        {**long_name, "identifiers": {"id": "𝔘" * 38}},  # 152 bytes: too long
        {**long_name, "identifiers": {"id": True}},
        {**long_name, "timestamp": True},
        {**long_name, "identifiers": {"id": "u", "email": "e"}},
        {"type": "person", "action": "identify", "identifiers": {"id": "u"}, "attributes": {"a": "v" * 1001}},
        {"type": "person", "action": "identify", "identifiers": {"id": 7}, "attributes": {"a": "v" * 999}},
        {"type": "person", "action": "identify", "identifiers": {"id": "u"}, "attributes": {"n" * 151: 1}},
        {"type": "person", "action": "identify", "identifiers": {"id": "u"}, "attributes": {"a": 1, "é" * 76: 1}},
        {"type": "person", "action": "identify", "identifiers": {"id": "u"}, "attributes": {"a": 1}, "timestamp": 1.0},
    ]
    for _ in range(2):
        assert V.check_batch_items(items) == expected_check(items, ())
    bad = {"type": "person", "action": "identify", "identifiers": {"id": "u"}, "attributes": {"a": deep}}
    for _ in range(2):
        assert reference_outcome(V.check_batch_items, [bad]) == reference_outcome(V.batch_item_error_reference, bad)


# --- attributes ----------------------------------------------------------------------

attribute_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                             st.text(max_size=300), st.sampled_from(["é" * 600, "x" * 1001, "x" * 1000]),
                             st.lists(st.text(max_size=80), max_size=15),
                             st.dictionaries(st.text(max_size=5), st.text(max_size=80), max_size=15))
attribute_names = st.one_of(st.text(max_size=40), st.sampled_from(["n" * 150, "n" * 151, "é" * 76, "é" * 75,
                                                                   "cio_relationships", "_timestamp"]))


@pytest.mark.thorough
@settings(max_examples=1500, deadline=None)
@given(st.dictionaries(attribute_names, attribute_values, max_size=30))
def test_attributes_surely_fine_only_when_the_rules_find_nothing(attributes):
    if V._attributes_surely_fine(attributes):
        assert V.attribute_errors(attributes) == []
        assert V.attribute_errors(attributes, skip=("_timestamp", "created_at", "_update")) == []
    item = {"type": "person", "action": "identify", "identifiers": {"id": "1"}, "attributes": attributes}
    assert V.batch_item_error(item) == V.batch_item_error_reference(item)


def test_many_attributes_are_still_refused():
    attributes = {f"a{i}": i for i in range(301)}
    item = {"type": "person", "action": "identify", "identifiers": {"id": "1"}, "attributes": attributes}
    assert V.batch_item_error(item) == ("invalid", "attributes", "more than 300 attributes")
    assert V.v1_identify(attributes) == ["more than 300 attributes"]


def test_v1_identify_still_reports_every_attribute_error():
    body = {"n" * 151: 1, "big": "x" * 1001, "nested": {"k": "v" * 1000}, "_timestamp": "x" * 2000}
    assert V.v1_identify(body) == [
        "_timestamp must be an integer unix timestamp",
        f"attribute name longer than 150 bytes: {'n' * 40!r}...",
        "attribute 'big' value longer than 1000 bytes",
        "attribute 'nested' value longer than 1000 bytes",
    ]


# --- item sizes ------------------------------------------------------------------------


def sizes_one_by_one(items, limit):
    return {i: len(orjson.dumps(item)) for i, item in enumerate(items)
            if isinstance(item, dict) and len(orjson.dumps(item)) > limit}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 400).map(lambda n: {"pad": "p" * n}), st.just("not an object"),
                          st.just([1, 2, 3])), max_size=60),
       st.sampled_from([50, 120, 400, 1000]))
def test_oversized_items_match_measuring_each_item(items, limit):
    assert V.oversized_items(items, limit) == sizes_one_by_one(items, limit)


def test_oversized_items_with_one_big_item_among_many_small():
    items = [{"i": i} for i in range(500)]
    items[321] = {"big": "x" * 40_000}
    assert V.oversized_items(items) == {321: len(orjson.dumps(items[321]))}
    assert V.oversized_items([]) == {}


# --- over sockets ------------------------------------------------------------------------


@pytest.fixture
def sb():
    with Sandbox(SandboxConfig(site_id=SITE, api_key=KEY)) as sandbox:
        yield sandbox


def exchange(sb, *chunks: bytes, pause: float = 0.0, answers: int = 1) -> bytes:
    """Send raw chunks (pausing between them), read until `answers` answers arrived."""
    with socket.create_connection(("127.0.0.1", sb.port), timeout=5) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
            if pause:
                time.sleep(pause)
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"HTTP/1.1 ") < answers and time.monotonic() < deadline:
            part = sock.recv(65536)
            if not part:
                break
            data += part
        return data


def identify_request(person="7", body=b'{"plan":"pro"}', extra=b"", eol=b"\r\n") -> bytes:
    lines = [b"PUT /api/v1/customers/" + person.encode() + b" HTTP/1.1", b"Host: x",
             b"Authorization: Basic " + TOKEN.encode(), b"Content-Type: application/json",
             b"Content-Length: " + str(len(body)).encode()]
    return eol.join(lines) + eol + extra + eol + body


def test_headers_arriving_in_pieces_are_read_line_by_line(sb):
    request = identify_request()
    answer = exchange(sb, request[:30], request[30:70], request[70:], pause=0.05)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
    assert sb.accepted()[0]["body"] == {"plan": "pro"}


def test_bare_newline_line_ends_are_accepted(sb):
    assert exchange(sb, identify_request(eol=b"\n")).startswith(b"HTTP/1.1 200 OK\r\n")


@pytest.mark.parametrize("count,status", [(96, b"200"), (97, b"400")])
def test_at_most_100_header_fields(sb, count, status):
    # the request carries 4 fields of its own besides these: 100 in all pass, 101 do not
    extra = b"".join(b"X-Field-%d: v\r\n" % i for i in range(count))
    answer = exchange(sb, identify_request(extra=extra))
    assert answer.startswith(b"HTTP/1.1 " + status), answer
    if status == b"400":
        assert b"bad header" in answer and b"Connection: close" in answer


def test_the_limit_counts_distinct_names(sb):
    answer = exchange(sb, identify_request(extra=b"X-Same: v\r\n" * 150))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer


def test_a_header_line_without_colon_is_400(sb):
    answer = exchange(sb, identify_request(extra=b"no colon here\r\n"))
    assert answer.startswith(b"HTTP/1.1 400") and b"bad header" in answer


def test_remembered_header_lines_still_follow_each_request(sb):
    # same connection, same header lines, different lengths and credentials
    good = identify_request("1", b'{"a":1}') + identify_request("2", b'{"a":22}')
    bad = identify_request("3").replace(TOKEN.encode(), base64.b64encode(b"site-s:wrong"))
    answer = exchange(sb, good + bad + identify_request("4"), answers=4)
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", answer) == [b"200", b"200", b"401", b"200"]
    assert [rec["path"] for rec in sb.accepted()] == [f"/api/v1/customers/{i}" for i in (1, 2, 4)]


@pytest.mark.parametrize("authorization", [f"basic {TOKEN}", f"BASIC   {TOKEN}  ", f"Basic {TOKEN}"])
def test_other_spellings_of_basic_auth_still_pass(sb, authorization):
    r = requests.put(sb.url + "/api/v1/customers/9", json={}, headers={"Authorization": authorization}, timeout=5)
    assert r.status_code == 200, r.text


def test_http_1_0_keep_alive_and_head_answers(sb):
    request = identify_request().replace(b"HTTP/1.1", b"HTTP/1.0", 1).replace(
        b"Host: x", b"Host: x\r\nConnection: keep-alive")
    answer = exchange(sb, request)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: keep-alive\r\n" in answer
    assert answer.endswith(b"\r\n\r\n{}")


def test_batch_errors_are_listed_by_index_with_too_large_ones(sb):
    small = {"type": "person", "action": "identify", "identifiers": {"id": "1"}}
    big = {**small, "attributes": {f"k{i}": "v" * 900 for i in range(40)}}
    items = [small, "bad", big, small, {"type": "person", "action": "event", "identifiers": {"id": "1"}}, big]
    r = requests.post(sb.url + "/api/v2/batch", json={"batch": items}, auth=(SITE, KEY), timeout=5)
    assert r.status_code == 207
    assert [(e["batch_index"], e["reason"]) for e in r.json()["errors"]] == [
        (1, "invalid"), (2, "too_large"), (4, "required"), (5, "too_large")]
    assert [rec["batch_index"] for rec in sb.accepted()] == [0, 3]


@pytest.mark.parametrize("keep_in_memory", [True, False])
def test_duplicates_are_counted_alike_with_or_without_records(keep_in_memory):
    event = lambda eid: {"type": "person", "action": "event", "identifiers": {"id": "1"},  # noqa: E731
                         "name": "n", **({"id": eid} if eid else {})}
    with Sandbox(SandboxConfig(site_id=SITE, api_key=KEY, keep_in_memory=keep_in_memory)) as sandbox:
        s = requests.Session()
        s.auth = (SITE, KEY)
        assert s.post(sandbox.url + "/api/v1/customers/1/events", json={"name": "n", "id": "A"}).status_code == 200
        batch = [event("A"), event("B"), event("B"), event(None), event(None), "bad", event("C")]
        assert s.post(sandbox.url + "/api/v2/batch", json={"batch": batch}).status_code == 207
        assert s.post(sandbox.url + "/api/v2/batch", json={"batch": [event("C"), event("D")]}).status_code == 200
        st_ = sandbox.stats()
        assert (st_["accepted"], st_["duplicates"], st_["applied"]) == (9, 3, 6)
        assert (st_["batch_items_accepted"], st_["batch_items_rejected"]) == (8, 1)
        if keep_in_memory:
            assert [rec["duplicate"] for rec in sandbox.accepted()] == \
                [False, True, False, True, False, False, False, True, False]


def test_log_lines_are_the_records_with_big_and_bad_items(tmp_path):
    log = tmp_path / "log.jsonl"
    small = {"type": "person", "action": "event", "identifiers": {"id": "1"}, "name": "é", "id": "E"}
    big = {**small, "attributes": {f"k{i}": "v" * 900 for i in range(40)}}
    with Sandbox(SandboxConfig(site_id=SITE, api_key=KEY, log_path=str(log))) as sandbox:
        r = requests.post(sandbox.url + "/api/v2/batch", json={"batch": [small, big, 5, small]},
                          auth=(SITE, KEY), timeout=5)
        assert r.status_code == 207
        records = sandbox.accepted()
        sandbox.flush()
        assert [orjson.loads(line) for line in log.read_bytes().splitlines()] == records
        assert log.read_bytes() == b"".join(orjson.dumps(rec) + b"\n" for rec in records)
        assert [(rec["batch_index"], rec["duplicate"]) for rec in records] == [(0, False), (3, True)]
