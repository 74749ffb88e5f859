"""bench.generate_events: seeded realistic mix, and seq survives into every request."""

import collections
from urllib.parse import urlparse

import orjson
import pytest

from bench.generate_events import generate_events, generate_records, main, seq_of_event, seq_of_request
from transforms import MappingError, load_settings, map_event


def test_same_seed_same_events():
    assert list(generate_events(50, seed=3)) == list(generate_events(50, seed=3))
    assert list(generate_events(50, seed=3)) != list(generate_events(50, seed=4))


def test_mix_and_size():
    events = list(generate_events(4000, seed=1))
    share = collections.Counter(e["type"] for e in events)
    for kind, expected in {"track": .45, "identify": .20, "page": .15, "screen": .10, "group": .07, "alias": .03}.items():
        assert abs(share[kind] / len(events) - expected) < 0.03, kind
    sizes = [len(orjson.dumps(e)) for e in events]
    assert 800 < sum(sizes) / len(sizes) < 1400
    assert any("userId" not in e for e in events if e["type"] == "track")
    names = {e.get("event") for e in events}
    assert {"Application Installed", "Application Opened", "Application Uninstalled"} <= names
    identify = [e for e in events if e["type"] == "identify"]
    assert all(10 <= len(e["traits"]) <= 20 and "address" in e["traits"] and "createdAt" in e["traits"]
               for e in identify)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_seq_survives_into_every_request(version):
    settings = load_settings(site_id="s", api_key="k", api_version=version)
    seen = []
    for event in generate_events(1500, seed=5):
        for request in map_event(event, settings):
            body = request.json() if request.body is not None else None
            seen.append(seq_of_request(request.method, urlparse(request.url).path, body))
    assert seen == list(range(1500))


def test_records_carry_seq():
    settings = load_settings(site_id="s", api_key="k")
    seqs = [seq_of_request("POST", "/api/v2/batch", r.body)
            for record in generate_records(5, first_seq=100) for r in map_event(record, settings)]
    assert seqs == [100, 101, 102, 103, 104]


def test_invalid_fraction_gives_unmappable_events_with_seq():
    settings = load_settings(site_id="s", api_key="k")
    events = list(generate_events(400, seed=2, invalid_fraction=0.25))
    assert [seq_of_event(e) for e in events] == list(range(400))
    failed = 0
    for event in events:
        try:
            map_event(event, settings)
        except MappingError:
            failed += 1
    assert 60 < failed < 140


def test_cli_writes_json_lines(tmp_path):
    out = tmp_path / "events.jsonl"
    main(["--count", "20", "--seed", "9", "--out", str(out)])
    lines = out.read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == list(generate_events(20, seed=9))


def test_bundled_examples_map_except_the_bad_lines_at_the_end():
    from pathlib import Path

    from transforms import decode_events

    settings = load_settings(site_id="s", api_key="k")
    lines = (Path(__file__).resolve().parents[1] / "examples/events.jsonl").read_bytes().splitlines()
    assert len(lines) >= 1000
    errors, types = [], collections.Counter()
    for number, line in enumerate(lines):
        for event in decode_events(line):
            try:
                if isinstance(event, MappingError):
                    raise event
                types[event["type"]] += 1
                map_event(event, settings)
            except MappingError:
                errors.append(number)
    assert set(types) >= {"identify", "track", "page", "screen", "group", "alias", "record"}
    assert len(errors) == 8 and min(errors) >= len(lines) - 8  # the 8 bad lines appended at the end
