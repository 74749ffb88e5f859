"""A corpus of hostile inputs, each with the outcome it must have.

Every case is one JSON-lines line (bytes, as it would sit in a file or a
Pub/Sub message) and what must become of it:
  ("deliver", None)        mapped and accepted by Customer.io (the sandbox)
  ("parse", "fragment")    dead-lettered at parse, reason containing fragment
  ("map", "fragment")      dead-lettered at map, reason containing fragment
  ("deliver", "fragment")  mapped, then refused by Customer.io for good

Deliverable cases carry their case name in a field that reaches the request
(a trait or property named `case`), so a test can find them in the sandbox's
log. Cases found by fuzzing are added at the end, with where they came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(frozen=True)
class Case:
    name: str
    line: bytes
    stage: str          # "parse", "map" or "deliver"
    reason: str | None  # fragment of the dead-letter reason; None = delivered


def _j(value) -> bytes:
    return orjson.dumps(value)


def _track(case, **fields):
    event = {"type": "track", "userId": "u-hostile", "event": "Hostile Case",
             "properties": {"case": case}, "messageId": f"m-{case}"}
    event.update(fields)
    return _j(event)


def _identify(case, **fields):
    event = {"type": "identify", "userId": "u-hostile", "traits": {"case": case}, "messageId": f"m-{case}"}
    event.update(fields)
    return _j(event)


DEEP = b"[" * 5000 + b"]" * 5000
DEEP_EVENT = b'{"type":"track","userId":"u","event":"x","properties":' + b'{"a":' * 2000 + b"1" + b"}" * 2000 + b"}"
LONG_ID = "x" * 151
NAME_120_BYTES = "é" * 60  # 2 bytes each: 120 bytes, 60 characters

CASES = [
    # --- not JSON at all ---
    Case("truncated object", b'{"type":"track","userId":"u"', "parse", "invalid JSON"),
    Case("trailing comma", b'{"type":"track",}', "parse", "invalid JSON"),
    Case("single quotes", b"{'type': 'track'}", "parse", "invalid JSON"),
    Case("plain text", b"hello world", "parse", "invalid JSON"),
    Case("two objects on a line", b'{"type":"track"}{"type":"page"}', "parse", "invalid JSON"),
    Case("NaN literal", b'{"type":"track","userId":"u","event":"x","properties":{"v":NaN}}', "parse", "invalid JSON"),
    Case("Infinity literal", b'{"type":"track","userId":"u","event":"x","properties":{"v":Infinity}}', "parse",
         "invalid JSON"),
    Case("number too large for a double", b'{"type":"track","userId":"u","event":"x","properties":{"v":1e400}}',
         "parse", "invalid JSON"),
    Case("invalid UTF-8", b'{"type":"track","userId":"u\xff\xfe","event":"x"}', "parse", "invalid JSON"),
    Case("lone surrogate escape", b'{"type":"track","userId":"u","event":"\\ud800"}', "parse", "invalid JSON"),
    Case("deeply nested array", DEEP, "parse", "invalid JSON"),
    Case("deeply nested properties", DEEP_EVENT, "parse", "invalid JSON"),
    # --- JSON, but not an event object ---
    Case("top-level array of numbers", b"[1,2]", "parse", "expected a JSON object, got number"),
    Case("top-level string", b'"identify"', "parse", "expected a JSON object, got string"),
    Case("top-level number", b"42", "parse", "expected a JSON object, got number"),
    Case("top-level null", b"null", "parse", "expected a JSON object, got null"),
    Case("top-level boolean", b"true", "parse", "expected a JSON object, got boolean"),
    Case("array holding null", b"[null]", "parse", "expected a JSON object, got null"),
    # --- type problems ---
    Case("missing type", _j({"userId": "u", "event": "x"}), "map", "could not determine type"),
    Case("unknown type", _j({"type": "purchase", "userId": "u"}), "map", "could not determine type purchase"),
    Case("type is a number", _j({"type": 7, "userId": "u"}), "map", "could not determine type"),
    Case("type is null", _j({"type": None, "userId": "u"}), "map", "could not determine type"),
    Case("empty object", b"{}", "map", "could not determine type"),
    Case("type in capitals", _j({"type": "IDENTIFY", "userId": "u-hostile", "traits": {"case": "type in capitals"}}),
         "deliver", None),
    # --- wrong field types ---
    Case("traits as a list", _identify("traits as a list", traits=["a", "b"]), "map", "traits must be an object"),
    Case("userId as an object", _identify("userId as an object", userId={"id": 1}), "map", "userId"),
    Case("userId as a boolean", _identify("userId as a boolean", userId=True), "map", "userId"),
    Case("properties as a string", _track("properties as a string", properties="{}"), "map",
         "properties must be an object"),
    Case("context as a string", _track("context as a string", context="web"), "map", "context must be an object"),
    Case("event name as a number", _track("event name as a number", event=12), "map",
         "Event is a required field and should be a string"),
    Case("userId as a number", _identify("userId as a number", userId=12345), "deliver", None),
    # traits are an identify's payload, but only where ids are read for the others
    Case("track with traits as a list", _track("track with traits as a list", traits=["a", "b"]), "deliver", None),
    Case("page with context.traits as a string",
         _j({"type": "page", "userId": "u-hostile", "name": "Home", "context": {"traits": "vip"},
             "properties": {"case": "page with context.traits as a string"},
             "messageId": "m-page with context.traits as a string"}), "deliver", None),
    # --- missing what a type needs ---
    Case("identify without ids", _j({"type": "identify", "traits": {"plan": "x"}}), "map",
         "userId or email is not present"),
    Case("track without event name", _j({"type": "track", "userId": "u"}), "map",
         "Event is a required field and should be a string"),
    Case("anonymous track without anonymousId", _j({"type": "track", "event": "x"}), "map",
         "Anonymous id/ user id is required"),
    Case("page without a name", _j({"type": "page", "userId": "u", "properties": {"title": "t"}}), "map",
         "Event Name type should be a string"),
    Case("screen without a name", _j({"type": "screen", "anonymousId": "a"}), "map",
         "Event Name type should be a string"),
    Case("alias without previousId", _j({"type": "alias", "userId": "u"}), "map",
         "Both userId and previousId are mandatory for merge operation"),
    Case("group without groupId", _j({"type": "group", "userId": "u"}), "map", "groupId is required"),
    Case("uninstall without token", _track("uninstall without token", event="Application Uninstalled"), "map",
         "userId/email or device_token not present"),
    Case("record without identifier", _j({"type": "record", "action": "insert", "fields": {"plan": "x"}}), "map",
         "record needs"),
    Case("record with unknown action", _j({"type": "record", "action": "upsert", "identifiers": {"id": "r1"}}),
         "map", "record action must be insert, update or delete"),
    # --- sizes and limits ---
    Case("person id over 150 bytes", _identify("person id over 150 bytes", userId=LONG_ID), "map",
         "over Customer.io's 150-byte limit"),
    Case("object item over 32 KB", _j({"type": "group", "userId": "u", "groupId": "g-big",
                                       "traits": {"blob": "x" * 40_000}}), "map", "32"),
    Case("record over 500 KB", _j({"type": "record", "action": "insert", "identifiers": {"id": "r-big"},
                                   "fields": {"blob": "x" * 600_000}}), "map", "32"),
    Case("anonymous event name over 100 bytes (multi-byte)",
         _j({"type": "track", "anonymousId": "anon-1", "event": NAME_120_BYTES,
             "properties": {"case": "anonymous event name over 100 bytes (multi-byte)"}}), "deliver", None),
    Case("known person's event name over 100 bytes (multi-byte)",
         _track("known person's event name over 100 bytes (multi-byte)", event=NAME_120_BYTES), "deliver", "400"),
    Case("many traits", _identify("many traits", traits={"case": "many traits", **{f"t{i}": i for i in range(250)}}),
         "deliver", None),
    Case("unicode everywhere", _identify("unicode everywhere", userId="usér-ü-🙂",
                                         traits={"case": "unicode everywhere", "名前": "テスト"}), "deliver", None),
    # --- the Customer.io features: delivery metrics, cio_ ids, relationships ---
    Case("delivery metric not allowed", _track("delivery metric not allowed", event="Report Delivery Event",
                                               properties={"deliveryId": "d", "metric": "read"}),
         "map", "allowed: bounced, clicked"),
    Case("delivery metric as an object", _track("delivery metric as an object", event="Report Delivery Event",
                                                properties={"deliveryId": "d", "metric": {"x": 1}}),
         "map", "properties.metric must be a string"),
    Case("delivery id as an array", _track("delivery id as an array", event="Report Delivery Event",
                                           properties={"deliveryId": [1], "metric": "opened"}),
         "map", "properties.deliveryId must be a string or a number"),
    Case("cio_ id with a slash", _track("cio_ id with a slash", userId="cio_a/b"), "map",
         "starts with cio_ but is not cio_ followed by"),
    Case("cio_ id alone", _identify("cio_ id alone", userId="cio_"), "map", "starts with cio_"),
    Case("cio_ id", _track("cio_ id", userId="cio_a3000001"), "deliver", None),
    Case("relationship attributes as a string",
         _j({"type": "group", "userId": "u", "groupId": "g",
             "traits": {"case": "relationship attributes as a string"},
             "context": {"relationshipAttributes": "admin"}}),
         "map", "context.relationshipAttributes must be an object"),
    Case("identify objectId as an object", _identify("identify objectId as an object",
                                                     traits={"case": "identify objectId as an object",
                                                             "objectId": {"id": 1}}),
         "map", "traits.objectId must be a string or a number"),
    Case("anonymous delete_relationships",
         _j({"type": "group", "anonymousId": "a", "groupId": "g",
             "traits": {"case": "anonymous delete_relationships", "action": "delete_relationships"}}),
         "map", "needs a userId or email"),
    # --- timestamps as seen in the wild ---
    Case("ISO time with zone", _track("ISO time with zone", timestamp="2026-11-01T10:00:00.123+02:00"),
         "deliver", None),
    Case("ISO time with Z", _track("ISO time with Z", timestamp="2026-11-01T10:00:00Z"), "deliver", None),
    Case("ISO time without zone", _track("ISO time without zone", timestamp="2026-11-01T10:00:00"),
         "deliver", None),
    Case("date only", _track("date only", timestamp="2026-11-01"), "deliver", None),
    Case("epoch seconds", _track("epoch seconds", timestamp=1793527200), "deliver", None),
    Case("epoch milliseconds", _track("epoch milliseconds", timestamp=1793527200123), "deliver", None),
    Case("epoch seconds as a string", _track("epoch seconds as a string", timestamp="1793527200"), "deliver", None),
    Case("garbage time", _track("garbage time", timestamp="next tuesday"), "deliver", None),
    Case("time as an object", _track("time as an object", timestamp={"t": 1}), "deliver", None),
    Case("negative time", _track("negative time", timestamp=-5), "deliver", None),
]
