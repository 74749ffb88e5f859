"""Hostile input: each case is mapped correctly or dead-lettered with a clear
reason, and the job never crashes (the corpus is in hostile_inputs.py)."""

from __future__ import annotations

import glob
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bench.generate_events import generate_events
from pipeline.main import run
from tests.hostile_inputs import CASES
from tests.services import API_KEY, SITE_ID
from transforms import MappingError, decode_events, load_settings, map_event

SETTINGS = {v: load_settings(site_id="s", api_key="k", api_version=v) for v in ("v1", "v2")}


def outcome(line: bytes, api_version: str = "v1"):
    """("parse"|"map", reason) for each failed event, ("mapped", requests) otherwise."""
    results = []
    for item in decode_events(line):
        if isinstance(item, MappingError):
            results.append(("parse", str(item)))
            continue
        try:
            results.append(("mapped", map_event(item, SETTINGS[api_version])))
        except MappingError as err:
            results.append(("map", str(err)))
    return results


def test_the_corpus_is_large_and_named_uniquely():
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_case_is_mapped_or_failed_with_its_reason(case):
    results = outcome(case.line)
    assert results, "every non-empty line produces an outcome"
    for stage, value in results:
        if case.stage in ("parse", "map"):
            assert (stage, case.reason in value) == (case.stage, True), value
        else:
            assert stage == "mapped", value
            assert value and all(r.body is None or len(r.body) < 600_000 for r in value)


@pytest.mark.pipeline
def test_a_job_over_the_whole_corpus_ends_every_case_where_it_should(tmp_path, sandbox):
    source = tmp_path / "hostile.jsonl"
    source.write_bytes(b"\n".join(c.line for c in CASES) + b"\n")
    dead_prefix = tmp_path / "dead" / "events"
    assert run(["--input", str(source), "--site_id", SITE_ID, "--api_key", API_KEY,
                "--endpoint", sandbox.url, "--dead_letter", str(dead_prefix), "--max_retries", "0"]) == 0

    dead = []
    for name in glob.glob(f"{dead_prefix}*"):
        dead += [orjson.loads(line) for line in Path(name).read_bytes().splitlines() if line.strip()]
    delivered = [orjson.dumps(r) for r in sandbox.accepted()]
    for case in CASES:
        if case.stage == "parse":
            raw = case.line.decode("utf-8", errors="replace")
            matches = [r for r in dead if r.get("raw") == raw]
            assert matches and all(r["stage"] == "parse" and case.reason in r["error"] for r in matches), case.name
        elif case.stage == "map" or case.reason:
            event = orjson.loads(case.line)
            matches = [r for r in dead if r.get("event") == event]
            assert len(matches) == 1, case.name
            assert matches[0]["stage"] == case.stage and case.reason in matches[0]["error"], (case.name, matches)
        else:
            marker = orjson.dumps(case.name)
            assert sum(marker in line for line in delivered) == 1, case.name
    deliver_failures = [r for r in dead if r["stage"] == "deliver"]
    assert len(deliver_failures) == sum(1 for c in CASES if c.stage == "deliver" and c.reason)
    assert all(r["status"] == 400 for r in deliver_failures)


# --- fuzzing: nothing but MappingError, whatever the bytes -----------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
FIELDS = ["type", "userId", "anonymousId", "traits", "context", "properties", "event", "name", "groupId",
          "previousId", "timestamp", "originalTimestamp", "messageId", "action", "identifiers", "fields"]
TYPES = st.sampled_from(["identify", "track", "page", "screen", "group", "alias", "record", "TRACK", "x"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_decoding_or_mapping(data):
    for version in ("v1", "v2"):
        outcome(data, version)


@pytest.mark.thorough
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TYPES, st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=8), st.sampled_from(["v1", "v2"]))
def test_events_with_junk_in_known_fields_never_crash(kind, fields, version):
    event = {"type": kind, **fields}
    outcome(orjson.dumps(event), version)


CONVERTING = {v: load_settings(site_id="s", api_key="k", api_version=v, convert_timestamps=True) for v in ("v1", "v2")}
FEATURE_EVENTS = st.sampled_from([
    {"type": "track", "event": "Report Delivery Event"},
    {"type": "group", "groupId": "g"},
    {"type": "group", "groupId": "g", "userId": None, "anonymousId": "a"},
    {"type": "identify", "userId": "u", "traits": {"objectId": "o"}},
    {"type": "track", "event": "x", "userId": "cio_a1"},
])
FEATURE_FIELDS = st.dictionaries(
    st.sampled_from(["properties", "context", "traits", "userId", "anonymousId"]),
    JSON_VALUES | st.fixed_dictionaries({}, optional={
        "relationshipAttributes": JSON_VALUES, "objectId": JSON_VALUES, "objectTypeId": JSON_VALUES,
        "deliveryId": JSON_VALUES, "metric": JSON_VALUES | st.sampled_from(["opened", " Clicked "]),
        "href": JSON_VALUES, "recipient": JSON_VALUES, "reason": JSON_VALUES, "action": JSON_VALUES,
        "when": st.sampled_from(["2024-05-01T10:00:00Z", "2024-05-01", "9999-12-31T23:59:59+14:00"]),
        "email": JSON_VALUES}),
    max_size=4)


@pytest.mark.thorough
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FEATURE_EVENTS, FEATURE_FIELDS, st.sampled_from(["v1", "v2"]))
def test_junk_in_the_new_features_fields_never_crashes(base, fields, version):
    """Delivery metrics, relationships, cio_ ids, converted timestamps: a MappingError or requests."""
    event = {**base, **fields}
    for item in decode_events(orjson.dumps(event)):
        if isinstance(item, MappingError):
            continue
        try:
            map_event(item, CONVERTING[version])
        except MappingError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=400), st.binary(min_size=1, max_size=4))
def test_corrupted_real_events_never_crash(seed, position, junk):
    (event,) = generate_events(1, seed=seed)
    line = bytearray(orjson.dumps(event))
    position %= len(line)
    line[position:position + len(junk)] = junk
    for version in ("v1", "v2"):
        outcome(bytes(line), version)
