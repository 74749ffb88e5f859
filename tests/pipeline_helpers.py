"""Small builders shared by the pipeline tests."""

from __future__ import annotations

import glob
from pathlib import Path

import orjson

from pipeline.calls import Outbound
from bench.generate_events import seq_of_event
from transforms import CioRequest, MappingError, load_settings, map_event

BATCH_URL = "http://sandbox/api/v2/batch"


def outbound(person="id:1", ts=1.0, kind="track", item=None, batch=True, url=BATCH_URL, method="POST"):
    """An Outbound request whose source event records its marker."""
    body = orjson.dumps(item if item is not None else {"person": person, "ts": ts, "kind": kind})
    request = CioRequest(
        method=method, url=url, body=body, batch_item=batch, person_key=person,
        message_id=f"m-{person}-{ts}", timestamp=ts, event_type=kind,
    )
    return Outbound(request, orjson.dumps({"person": person, "ts": ts, "type": kind}))


def wire(**fields) -> tuple:
    """The wire form (what flows between stages) of outbound(**fields)."""
    return outbound(**fields).to_wire()


def read_dead_letters(prefix: Path) -> list[dict]:
    """Every record in the dead-letter files written under `prefix`."""
    records = []
    for name in sorted(glob.glob(f"{prefix}*")):
        records += [orjson.loads(line) for line in Path(name).read_bytes().splitlines() if line.strip()]
    return records


def mappable(events, api_version="v1") -> tuple[set, set]:
    """(seqs of the generated events that map, seqs of those that do not) under `api_version`."""
    settings = load_settings(site_id="s", api_key="k", api_version=api_version)
    valid, invalid = set(), set()
    for event in events:
        try:
            map_event(event, settings)
        except MappingError:
            invalid.add(seq_of_event(event))
        else:
            valid.add(seq_of_event(event))
    return valid, invalid
