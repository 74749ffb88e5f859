"""Seeded, realistic customer-data events for benchmarks, demos and tests.

``generate_events(n, seed)`` yields ``n`` events of about 1 KB each, as
RudderStack/Segment SDKs send them: 45% track (about one in eight of them
device lifecycle events: Application Installed / Opened / Uninstalled with
``context.device.token``), 20% identify (10 to 20 traits, address and
createdAt included), 15% page, 10% screen, 7% group, 3% alias. About one in
ten track/page/screen events is anonymous (``anonymousId`` only). The same
``n`` and ``seed`` always give the same events.

Every event carries a unique integer marker ``seq`` (0..n-1) that survives
into the Customer.io request, so a test can tell from a server log which
events were delivered:

==========================  ==============================  =====================================
event                        where ``seq`` is in the event   where it is in the request
==========================  ==============================  =====================================
track, page, screen          ``properties.seq``              v1 ``data.seq``; v2 ``attributes.seq``
Application Installed/Opened ``properties.seq``              v1 ``device.seq``; v2
                                                             ``device.attributes.seq`` (a string)
Application Uninstalled      token ``"tok-{seq}"``           v1 path ``.../devices/tok-{seq}``;
                                                             v2 ``device.token``
identify                     ``traits.seq``                  v1 body ``seq``; v2 ``attributes.seq``
group                        ``traits.seq``                  ``attributes.seq``
alias                        previousId ``"prev-{seq}"``     ``secondary.id``
record (``generate_records``) ``fields.seq``                 ``attributes.seq``
==========================  ==============================  =====================================

``seq_of_request(method, path, body_json)`` reads it back from one request
(for v2, path ``/api/v2/batch`` and the single item); ``seq_of_event``
reads it from an event (for dead-letter records).

With ``invalid_fraction`` > 0 that fraction of events cannot be mapped
(track without event name, identify without any id, alias without
previousId, unknown type); they carry ``properties.seq`` or ``traits.seq``.

CLI: ``python -m bench.generate_events --count N --seed S
[--invalid-fraction F] --out PATH`` writes JSON lines.
"""

from __future__ import annotations

import argparse
import random
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Iterator

import orjson

START = datetime(2025, 6, 2, 8, 0, 0, tzinfo=timezone.utc)
"""Events fall in the 72 hours after START (fixed, so output is reproducible)."""

_KINDS = ("track", "identify", "page", "screen", "group", "alias")
_WEIGHTS = (45, 20, 15, 10, 7, 3)
_TRACK_NAMES = ("Product Viewed", "Product Added", "Cart Viewed", "Checkout Started", "Order Completed",
                "Coupon Applied", "Signed In", "Search Performed", "Video Played", "Subscription Renewed")
_DEVICE_EVENTS = ("Application Installed", "Application Opened", "Application Uninstalled")
_PAGES = ("Home", "Pricing", "Docs", "Blog", "Checkout", "Account", "Product")
_SCREENS = ("Home", "Feed", "Settings", "Profile", "Cart", "Search", "Onboarding")
_FIRST = ("Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Radia", "Guido", "Zoë", "José")
_LAST = ("Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Perlman", "Núñez")
_CITIES = (("Berlin", "DE", "10115"), ("Lisbon", "PT", "1100-148"), ("Austin", "US", "73301"),
           ("Osaka", "JP", "530-0001"), ("Toronto", "CA", "M5H 2N2"))
_PLANS = ("free", "starter", "pro", "enterprise")
_LOCALES = ("en-US", "de-DE", "pt-PT", "ja-JP", "fr-CA")
_IOS = {"app": {"name": "Shoply", "version": "5.2.1", "build": "5210", "namespace": "com.example.shoply"},
        "os": {"name": "iOS", "version": "17.5.1"},
        "device": {"manufacturer": "Apple", "model": "iPhone15,2", "name": "iPhone", "type": "ios"},
        "library": {"name": "rudder-ios-library", "version": "1.29.1"},
        "userAgent": "Shoply/5.2.1 (iPhone; iOS 17.5.1; Scale/3.00)"}
_ANDROID = {"app": {"name": "Shoply", "version": "5.2.0", "build": "520", "namespace": "com.example.shoply"},
            "os": {"name": "Android", "version": "14"},
            "device": {"manufacturer": "Google", "model": "Pixel 8", "name": "shiba", "type": "android"},
            "library": {"name": "com.rudderstack.android.sdk.core", "version": "1.21.4"},
            "userAgent": "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP2A.240605.024)"}
_WEB = {"library": {"name": "RudderLabs JavaScript SDK", "version": "3.7.2"},
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
                     "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"}


class _Gen:
    def __init__(self, seed: int, invalid_fraction: float):
        self.rng = random.Random(seed)
        self.invalid_fraction = invalid_fraction

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def when(self) -> datetime:
        return START + timedelta(milliseconds=self.rng.randrange(72 * 3600 * 1000))

    def user(self) -> tuple[str, str]:
        k = self.rng.randrange(5000)
        return f"user-{k}", f"{_FIRST[k % len(_FIRST)].lower()}.{k}@example.com"

    def context(self, platform: str, email: str | None) -> dict:
        base = {"ios": _IOS, "android": _ANDROID, "web": _WEB}[platform]
        ctx = {key: (dict(value) if isinstance(value, dict) else value) for key, value in base.items()}
        ctx["locale"] = self.rng.choice(_LOCALES)
        ctx["ip"] = f"{self.rng.randrange(1, 224)}.{self.rng.randrange(256)}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"
        ctx["timezone"] = "Europe/Berlin"
        if platform == "web":
            ctx["page"] = {"path": "/", "referrer": "https://www.google.com/", "title": "Shoply"}
            ctx["screen"] = {"width": 1512, "height": 982, "density": 2}
        else:
            ctx["device"]["id"] = self.uuid()
            ctx["network"] = {"wifi": self.rng.random() < 0.7, "carrier": "T-Mobile", "cellular": True}
            ctx["screen"] = {"width": 1179, "height": 2556, "density": 3}
        if email is not None:
            ctx["traits"] = {"email": email}
        return ctx

    def envelope(self, kind: str, anonymous: bool, platform: str) -> dict:
        user_id, email = self.user()
        when = self.when()
        event = {
            "type": kind,
            "messageId": self.uuid(),
            "anonymousId": self.uuid(),
            "channel": "web" if platform == "web" else "mobile",
            "context": self.context(platform, None if anonymous else email),
            "originalTimestamp": (when - timedelta(milliseconds=40)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "sentAt": (when + timedelta(milliseconds=900)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "receivedAt": (when + timedelta(milliseconds=950)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "rudderId": self.uuid(),
        }
        if not anonymous:
            event["userId"] = user_id
        return event

    def track(self, seq: int) -> dict:
        rng = self.rng
        if rng.random() < 0.125:
            name = rng.choice(_DEVICE_EVENTS)
            platform = rng.choice(("ios", "android"))
            event = self.envelope("track", False, platform)
            event["event"] = name
            event["properties"] = {"seq": seq, "from_background": rng.random() < 0.5, "build": event["context"]["app"]["build"]}
            token = f"tok-{seq}" if name == "Application Uninstalled" else self.uuid().replace("-", "")
            event["context"]["device"]["token"] = token
            return event
        event = self.envelope("track", rng.random() < 0.1, rng.choice(("web", "ios", "android")))
        event["event"] = rng.choice(_TRACK_NAMES)
        price = rng.randrange(100, 50000) / 100
        event["properties"] = {
            "seq": seq, "product_id": f"sku-{rng.randrange(10000)}", "name": "Merino Wool Socks",
            "category": "Apparel", "price": price, "quantity": rng.randrange(1, 5), "currency": "EUR",
            "coupon": rng.choice((None, "SUMMER10", "WELCOME")), "position": rng.randrange(1, 30),
            "url": f"https://shop.example.com/products/sku-{rng.randrange(10000)}",
        }
        return event

    def identify(self, seq: int) -> dict:
        rng = self.rng
        event = self.envelope("identify", False, rng.choice(("web", "ios", "android")))
        user_id, email = self.user()
        event["userId"] = user_id
        k = int(user_id.split("-")[1])
        city, country, postal = rng.choice(_CITIES)
        created = START - timedelta(days=rng.randrange(1, 900), seconds=rng.randrange(86400))
        traits = {
            "seq": seq, "email": email, "first_name": _FIRST[k % len(_FIRST)], "last_name": _LAST[k % len(_LAST)],
            "plan": rng.choice(_PLANS), "createdAt": created.isoformat().replace("+00:00", "Z"),
            "address": {"street": f"{rng.randrange(1, 200)} Main Street", "city": city, "country": country,
                        "postalCode": postal, "state": "n/a"},
            "logins": rng.randrange(1, 500), "newsletter": rng.random() < 0.5,
        }
        extras = [("company", "Example GmbH"), ("title", "Engineer"), ("phone", f"+49 30 {rng.randrange(10**6, 10**7)}"),
                  ("language", "de"), ("lifetime_value_cents", rng.randrange(100000)), ("referrer", "newsletter"),
                  ("beta_tester", rng.random() < 0.2), ("team_size", rng.randrange(1, 200)),
                  ("favorite_color", rng.choice(("teal", "amber", "indigo"))), ("source", "app-store"),
                  ("timezone", "Europe/Berlin")]
        for key, value in extras[: rng.randrange(1, len(extras) + 1)]:
            traits[key] = value
        event["traits"] = traits
        event["context"].pop("traits", None)
        return event

    def page(self, seq: int) -> dict:
        rng = self.rng
        event = self.envelope("page", rng.random() < 0.1, "web")
        page = rng.choice(_PAGES)
        event["name"] = page
        event["properties"] = {"seq": seq, "title": f"Shoply - {page}", "url": f"https://shop.example.com/{page.lower()}",
                               "path": f"/{page.lower()}", "referrer": "https://www.google.com/", "search": "",
                               "tab_url": f"https://shop.example.com/{page.lower()}"}
        return event

    def screen(self, seq: int) -> dict:
        rng = self.rng
        event = self.envelope("screen", rng.random() < 0.1, rng.choice(("ios", "android")))
        screen = rng.choice(_SCREENS)
        event["event"] = screen
        event["name"] = screen
        event["properties"] = {"seq": seq, "name": screen, "automatic": rng.random() < 0.5}
        return event

    def group(self, seq: int) -> dict:
        rng = self.rng
        event = self.envelope("group", False, "web")
        g = rng.randrange(300)
        event["groupId"] = f"acct-{g}"
        event["traits"] = {"seq": seq, "name": f"Account {g}", "industry": rng.choice(("Retail", "Media", "Finance")),
                           "employees": rng.randrange(1, 5000), "plan": rng.choice(_PLANS), "website": f"https://acct{g}.example.com"}
        if rng.random() < 0.1:
            event["traits"]["objectTypeId"] = "2"
        return event

    def alias(self, seq: int) -> dict:
        event = self.envelope("alias", False, self.rng.choice(("web", "ios")))
        event["previousId"] = f"prev-{seq}"
        return event

    def invalid(self, seq: int) -> dict:
        which = self.rng.randrange(4)
        if which == 0:  # track without event name
            event = self.envelope("track", False, "web")
            event["properties"] = {"seq": seq}
        elif which == 1:  # identify without any id
            event = self.envelope("identify", True, "web")
            event["context"].pop("traits", None)
            event["traits"] = {"seq": seq, "plan": "free"}
        elif which == 2:  # alias without previousId
            event = self.envelope("alias", False, "web")
            event["properties"] = {"seq": seq}
        else:  # unknown type
            event = self.envelope("purchase", False, "web")
            event["properties"] = {"seq": seq}
        return event


def generate_events(n: int, seed: int = 0, invalid_fraction: float = 0.0) -> Iterator[dict]:
    """``n`` realistic events (see the module docstring); ``seq`` runs 0..n-1."""
    gen = _Gen(seed, invalid_fraction)
    makers = {kind: getattr(gen, kind) for kind in _KINDS}
    kinds = gen.rng.choices(_KINDS, weights=_WEIGHTS, k=n)
    for seq, kind in enumerate(kinds):
        if invalid_fraction > 0 and gen.rng.random() < invalid_fraction:
            yield gen.invalid(seq)
        else:
            yield makers[kind](seq)


def generate_records(n: int, seed: int = 0, first_seq: int = 0) -> Iterator[dict]:
    """``n`` warehouse records (``type: record``) with ``fields.seq`` from ``first_seq``."""
    rng = random.Random(seed)
    for i in range(n):
        k = rng.randrange(5000)
        yield {
            "type": "record",
            "action": rng.choice(("insert", "update")),
            "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "identifiers": {"id": f"user-{k}"},
            "fields": {"seq": first_seq + i, "email": f"w.{k}@example.com", "plan": rng.choice(_PLANS),
                       "lifetime_orders": rng.randrange(50), "created_at": "2024-11-05T12:00:00Z"},
        }


# ---- reading seq back ---------------------------------------------------------
_MARKED = re.compile(r"(?:tok|prev)-(\d+)")


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        match = _MARKED.fullmatch(value)
        if match:
            return int(match.group(1))
    return None


def _dig(body, *path):
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


def seq_of_request(method: str, path: str, body_json) -> int | None:
    """The ``seq`` a generated event left in one Customer.io request, or None.

    ``path`` is the URL path (a full URL works too); ``body_json`` the parsed
    body (bytes or str are parsed), for v2 the single batch item.
    """
    if isinstance(body_json, (bytes, bytearray, str)):
        body_json = orjson.loads(body_json) if body_json else None
    if method.upper() == "DELETE":
        match = re.search(r"/devices/(?:tok-(\d+))(?:$|[/?])", path)
        return int(match.group(1)) if match else None
    if not isinstance(body_json, dict):
        return None
    for where in (("seq",), ("data", "seq"), ("attributes", "seq"), ("device", "seq"),
                  ("device", "attributes", "seq"), ("secondary", "id"), ("device", "token")):
        found = _int(_dig(body_json, *where))
        if found is not None:
            return found
    return None


def seq_of_event(event) -> int | None:
    """The ``seq`` of a generated event (valid or not)."""
    if not isinstance(event, dict):
        return None
    for where in (("properties", "seq"), ("traits", "seq"), ("fields", "seq"), ("previousId",),
                  ("context", "device", "token")):
        found = _int(_dig(event, *where))
        if found is not None:
            return found
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--invalid-fraction", type=float, default=0.0)
    parser.add_argument("--out", required=True, help="output file (JSON lines); - for stdout")
    args = parser.parse_args(argv)
    lines = b"".join(orjson.dumps(e) + b"\n" for e in generate_events(args.count, args.seed, args.invalid_fraction))
    if args.out == "-":
        import sys
        sys.stdout.buffer.write(lines)
    else:
        with open(args.out, "wb") as out:
            out.write(lines)


if __name__ == "__main__":
    main()
