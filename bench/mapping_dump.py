"""Every mapped output (or error) for a large fixed corpus, to compare two code trees.

Not a test: a refactoring of the mapping must leave this file byte for byte
the same. Run it from each tree with PYTHONPATH set to that tree, then
``cmp`` the two files:

    PYTHONPATH=$PWD .venv/bin/python -m bench.mapping_dump /tmp/after.jsonl

The corpus: examples/events.jsonl, tests/hostile_inputs.py, 55,000
generated events (5% invalid) and 3,000 records, and 60,000 generated events
and records broken at random (fixed seed), under nine settings (v1/v2, dedup
ids off, a device token event, EU and --endpoint, records to events, three
manual segments). One line per (input, settings) through ``map_event`` and
one through ``MAPPERS`` (the pipeline's entry point): method, URL, body,
batch flag, person key, message id, timestamp, event type, or the
MappingError text.
"""
import copy, hashlib, random, sys
import orjson
sys.setrecursionlimit(10000)
from bench.generate_events import generate_events, generate_records
from tests.hostile_inputs import CASES
from transforms import MAPPERS, MappingError, decode_events, load_settings, map_event

out = open(sys.argv[1], "wb")
common = dict(site_id="s", api_key="k")
SETTINGS = {
    "v1": load_settings(**common),
    "v2": load_settings(**common, api_version="v2"),
    "v1-nodedup-tok-eu": load_settings(**common, dedup_ids=False, device_token_event="Push Token", datacenter="EU"),
    "v2-nodedup-tok-ep": load_settings(**common, api_version="v2", dedup_ids=False,
                                       device_token_event="Application Opened", endpoint="http://127.0.0.1:9/x/"),
    "v1-recevent": load_settings(**common, record_object="event"),
    "v2-recevent-nodedup": load_settings(**common, api_version="v2", record_object="event", dedup_ids=False),
    "seg-id": load_settings(**common, audience_id="42"),
    "seg-email": load_settings(**common, audience_id="7", id_type="email", api_version="v2"),
    "seg-cio": load_settings(**common, audience_id="9", id_type="cio_id"),
}
REC_ONLY = {"v1-recevent", "v2-recevent-nodedup", "seg-id", "seg-email", "seg-cio"}

def result(event, s, via_mappers=False):
    try:
        reqs = MAPPERS[event["type"]](event, s) if via_mappers else map_event(event, s)
    except MappingError as err:
        return ["E", str(err)]
    return [[r.method, r.url, None if r.body is None else r.body.decode("utf-8", "surrogatepass"),
             r.batch_item, r.person_key, r.message_id, r.timestamp, r.event_type] for r in reqs]

n = 0
def emit(tag, line_or_event, is_line):
    global n
    if is_line:
        events = decode_events(line_or_event)
    else:
        events = [line_or_event]
    for i, ev in enumerate(events):
        if isinstance(ev, MappingError):
            out.write(orjson.dumps([tag, i, "parse", str(ev)]) + b"\n"); continue
        is_rec = isinstance(ev, dict) and ev.get("type") == "record"
        for name, s in SETTINGS.items():
            if name in REC_ONLY and not is_rec:
                continue
            e = copy.deepcopy(ev)
            try:
                r = result(e, s)
            except Exception as err:  # should not happen
                r = ["X", repr(err)]
            out.write(orjson.dumps([tag, i, name, r], option=orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS, default=repr) + b"\n")
            if isinstance(ev, dict) and type(ev.get("type")) is str and ev["type"] in MAPPERS:  # the pipeline's entry point (pipeline/routing.py)
                e = copy.deepcopy(ev)
                try:
                    r = result(e, s, True)
                except Exception as err:
                    r = ["X", repr(err)]
                out.write(orjson.dumps([tag, i, name, "MAPPERS", r], option=orjson.OPT_NON_STR_KEYS, default=repr) + b"\n")
            n += 1

for k, line in enumerate(open("examples/events.jsonl", "rb")):
    emit(f"example{k}", line, True)
for c in CASES:
    emit(f"hostile:{c.name}", c.line, True)
events = list(generate_events(50_000, seed=11, invalid_fraction=0.05))
events += list(generate_events(5_000, seed=3))
for k, ev in enumerate(events):
    emit(f"gen{k}", orjson.dumps(ev), True)
for k, rec in enumerate(generate_records(3000, seed=5)):
    emit(f"rec{k}", rec, False)

# Mutations: break generated events and records in many ways (fixed seed).
rng = random.Random(1234)
VALUES = [None, "", 0, 1.5, 42, 2**70, True, [], {}, [1], {"a": 1}, "x" * 200, "é" * 80, "a@b.co",
          "cio_abc", "2024-01-01T00:00:00Z", 1.7e12, -5, "Application Installed", "User Deleted",
          "Object Deleted", "Relationship Deleted", "Device Deleted", "User Suppressed", "User Unsuppressed",
          "Application Uninstalled", "Push Token", "Device Created or Updated", "Application Opened",
          "identify", "track", "page", "screen", "group", "alias", "record", "TRACK", "delete", "insert",
          "UPDATE", "add_relationships", "delete_relationships", {"token": "t", "type": "iOS", "model": "X"},
          {"name": "iOS"}, {"version": 3}, [{"id": "ext", "type": "email"}], {"email": "c@d.ef"},
          {"userId": 5, "email": "z@z.zz", "action": "delete", "objectTypeId": 2, "groupId": "g"}]
KEYS = ["type", "userId", "anonymousId", "event", "name", "properties", "traits", "context", "groupId",
        "previousId", "timestamp", "originalTimestamp", "sentAt", "receivedAt", "messageId", "user_properties",
        "action", "identifiers", "fields", "email", "integrations", "mappedToDestination"]
SUB = ["properties", "traits", "context", "identifiers", "fields"]
SUBKEYS = ["email", "userId", "id", "cio_id", "token", "device", "os", "app", "locale", "traits", "externalId",
           "action", "objectId", "groupId", "objectTypeId", "object_type_id", "name", "url", "created_at",
           "createdAt", "address", "anonymousId", "mappedToDestination", "identifierType", "groupId"]
pool = events[:3000] + list(generate_records(500, seed=8))
pool += [
    {"type": "group", "groupId": "acme", "userId": "u1", "traits": {"name": "Acme", "action": "delete"}},
    {"type": "alias", "userId": "u1", "previousId": "a@b.co"},
    {"type": "track", "event": "Object Deleted", "properties": {"objectId": "o1"}, "userId": "u1"},
    {"type": "track", "event": "Relationship Deleted", "context": {"groupId": "g", "traits": {"email": "q@q.qq"}}},
    {"type": "track", "event": "User Suppressed", "userId": "u"},
    {"type": "record", "action": "delete", "identifiers": {"cio_id": "cio_123"}},
]
for k in range(60_000):
    ev = copy.deepcopy(rng.choice(pool))
    for _ in range(rng.randint(1, 4)):
        r = rng.random()
        if r < 0.35:
            ev[rng.choice(KEYS)] = copy.deepcopy(rng.choice(VALUES))
        elif r < 0.5:
            ev.pop(rng.choice(KEYS), None)
        else:
            sub = rng.choice(SUB)
            part = ev.get(sub)
            if not isinstance(part, dict):
                part = {}
                ev[sub] = part
            if rng.random() < 0.8:
                part[rng.choice(SUBKEYS)] = copy.deepcopy(rng.choice(VALUES))
            else:
                part.pop(rng.choice(SUBKEYS), None)
    try:
        line = orjson.dumps(ev)
    except TypeError:
        continue
    emit(f"mut{k}", line, True)
    if ev.get("type") == "record":
        emit(f"mutrec{k}", ev, False)
out.close()
print("outputs", n, file=sys.stderr)
