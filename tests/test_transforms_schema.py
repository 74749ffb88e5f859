"""Every request body validates against Customer.io's published Track API schema.

The schemas come from ``tests/fixtures/customerio_track_schemas.json``: the
request bodies and parameters of the Track API paths the project calls,
derived from Customer.io's published OpenAPI 3.1 document by
``tests/fixtures/derive_schemas.py`` (structure only; its docstring says how
to refresh it). Each body is validated (JSON Schema 2020-12, ``$ref``
resolved inside the fixture) against the requestBody schema of its path and
method; a batch item as ``{"batch": [item]}``.

Three known gaps of the published document are patched here, each one a
place where it contradicts Customer.io's documented behaviour or itself
(``transforms/DECISIONS.md`` lists them; ``test_the_patches_are_needed`` proves each):
1. ``oneOf`` branches that are not exclusive (``{"id": "x"}`` also matches
   the ``email`` branch, which requires nothing) are read as ``anyOf``.
2. v2 person identifiers may be ``{"anonymous_id": ...}`` (docs/mapping.md, section 5b;
   Customer.io accepts it for anonymous events).
3. a v2 person ``id`` may be a number (docs/mapping.md, section 5b: "a numeric id stays a
   number").
"""

import copy
import json
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from jsonschema import Draft202012Validator

from bench.generate_events import generate_events, generate_records
from transforms import MappingError, load_settings, map_event

SCHEMAS = Path(__file__).resolve().parent / "fixtures" / "customerio_track_schemas.json"
ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
SETTINGS = [
    load_settings(site_id="s", api_key="k", api_version=version, record_object=obj, device_token_event="Push Enabled")
    for version in ("v1", "v2") for obj in ("person", "event")
]


def _patched(document: dict) -> dict:
    document = json.loads(json.dumps(document).replace('"oneOf"', '"anyOf"'))
    person_ids = document["components"]["schemas"]["person_common"]["properties"]["identifiers"]["anyOf"]
    person_ids[0]["properties"]["id"] = {"type": ["string", "integer"]}
    person_ids.append({"type": "object", "required": ["anonymous_id"],
                       "properties": {"anonymous_id": {"type": "string"}}})
    return document


class Routes:
    """requestBody validators of the document, by method and path."""

    def __init__(self, document: dict):
        self.routes = []
        for path, operations in document["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
            for method, operation in operations.items():
                if isinstance(operation, dict) and "requestBody" in operation:
                    pointer = "/".join(p.replace("~", "~0").replace("/", "~1") for p in ("paths", path, method))
                    schema = {**document, "$ref": f"#/{pointer}/requestBody/content/application~1json/schema"}
                    self.routes.append((method.upper(), pattern, Draft202012Validator(schema)))

    def errors(self, request) -> list[str]:
        path = urlparse(request.url).path
        for method, pattern, validator in self.routes:
            if method == request.method and pattern.match(path):
                body = {"batch": [request.json()]} if request.batch_item else request.json()
                return [e.message[:300] for e in validator.iter_errors(body)]
        if request.body is None and request.method == "DELETE":
            return []  # bodyless call: nothing to validate
        return [f"no route for {request.method} {path}"]


@pytest.fixture(scope="module")
def document():
    """Customer.io's request schemas (the fixture holds the document's paths and components)."""
    return json.loads(SCHEMAS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def routes(document):
    return Routes(_patched(document))


def assert_valid(routes, request):
    assert routes.errors(request) == [], request
    body = request.json()
    if isinstance(body, dict) and "id" in body and request.event_type != "alias":
        assert ULID.fullmatch(body["id"])


def test_generated_events_validate(routes):
    events = list(generate_events(600, seed=11)) + list(generate_records(20, seed=3))
    events += [{**r, "fields": {**r["fields"], "name": "Order Synced"}} for r in generate_records(5, seed=4)]
    checked = 0
    for settings in SETTINGS:
        for event in events:
            try:
                requests = map_event(event, settings)
            except MappingError:
                assert event["type"] == "record"  # only event-mode records without name, or deletes
                continue
            for request in requests:
                assert_valid(routes, request)
                checked += 1
    assert checked > 2000


TABLE = [
    {"type": "identify", "userId": "u", "traits": {"email": "a@b.co", "n": 1, "ok": True, "createdAt": 1714557600},
     "anonymousId": "an", "timestamp": "2024-05-01T10:00:00Z"},
    {"type": "track", "event": "Application Installed", "userId": "u", "context": {"device": {"token": "t", "type": "ios"}}},
    {"type": "track", "event": "Application Uninstalled", "userId": "u", "context": {"device": {"token": "t"}}},
    {"type": "track", "event": "Push Enabled", "userId": "u", "context": {"device": {"token": "t", "type": "android"}}},
    {"type": "page", "anonymousId": "a", "properties": {"url": "https://x"}},
    {"type": "screen", "anonymousId": "a", "event": "S" * 200},
    {"type": "track", "event": "E", "userId": 42, "properties": {"x": [1, {"y": None}]}},
    *[{"type": "group", "groupId": "g", "userId": "u", "traits": {"action": a, "n": 1}}
      for a in ("identify", "delete", "add_relationships", "delete_relationships")],
    {"type": "group", "groupId": 5, "properties": {"email": "p@b.co"}},
    {"type": "alias", "userId": "a@b.co", "previousId": "p"},
    {"type": "record", "action": "delete", "identifiers": {"cio_id": "cio_1"}},
]


@pytest.mark.parametrize("event", TABLE, ids=lambda e: e["type"])
@pytest.mark.parametrize("settings", [SETTINGS[0], SETTINGS[2]], ids=["v1", "v2"])
def test_table_events_validate(routes, event, settings):
    for request in map_event(event, settings):
        assert_valid(routes, request)


# Well-formed random events: free structure, attribute values of the types the
# published schema allows for v1 attributes (string, integer, boolean).
values = st.text(max_size=12) | st.integers(-(2**53), 2**53) | st.booleans()
ids = st.text(min_size=1, max_size=20) | st.integers(0, 10**12)
props = st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in ("recipient", "from_address",
                                                                                   "reply_to", "id", "email")), values, max_size=4)
well_formed = st.fixed_dictionaries(
    {"type": st.sampled_from(["identify", "track", "page", "screen", "group", "alias"]),
     "event": st.sampled_from(["Bought", "Application Installed", "Application Uninstalled", "Application Opened"])
     | st.text(min_size=1, max_size=120)},
    optional={"userId": ids, "anonymousId": st.text(min_size=1, max_size=12), "previousId": ids, "groupId": ids,
              "name": st.text(min_size=1, max_size=12), "traits": props, "properties": props,
              "timestamp": st.integers(0, 2 * 10**12) | st.sampled_from(["2024-05-01T10:00:00Z", "x"]),
              "context": st.fixed_dictionaries({}, optional={
                  "device": st.fixed_dictionaries({"token": st.text(min_size=1, max_size=10),
                                                   "type": st.sampled_from(["iOS", "android", "tvOS"])})})},
)


@hsettings(max_examples=150, deadline=None)
@given(event=well_formed, settings=st.sampled_from(SETTINGS[::3]))
def test_random_well_formed_events_validate(routes, event, settings):
    try:
        requests = map_event(event, settings)
    except MappingError:
        return
    for request in requests:
        assert_valid(routes, request)


def test_the_patches_are_needed(document):
    strict = Routes(document)
    v2 = SETTINGS[2]
    [anonymous] = map_event({"type": "track", "event": "E", "anonymousId": "a"}, v2)
    [numeric] = map_event({"type": "track", "event": "E", "userId": 42}, v2)
    [merge] = map_event({"type": "alias", "userId": "u", "previousId": "p"}, SETTINGS[0])
    for request in (anonymous, numeric, merge):
        assert strict.errors(request), request.body
    patched = Routes(_patched(copy.deepcopy(document)))
    for request in (anonymous, numeric, merge):
        assert patched.errors(request) == []
