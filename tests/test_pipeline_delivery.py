"""Delivery against the real sandbox over sockets: success, retries, 207, 4xx."""

import base64

import orjson
import pytest

from pipeline.calls import HttpCall
from pipeline.delivery import CallSender, RetryPolicy, _Outcome, parse_retry_after
from pipeline.ratelimit import AdaptiveRateLimiter
from pipeline.transport import Transport
from tests.services import API_KEY, SITE_ID

AUTH = "Basic " + base64.b64encode(f"{SITE_ID}:{API_KEY}".encode()).decode()


def sender(max_retries=3, timeout=2.0, auth=AUTH):
    no_wait = lambda seconds: None  # noqa: E731 - retries need not really wait here
    return CallSender(
        Transport("http://127.0.0.1", 4, timeout), auth, AdaptiveRateLimiter(10_000, sleep=no_wait),
        RetryPolicy(max_retries, base=0.01, cap=0.05), sleep=no_wait,
    )


def identify_call(url, person="42", event=b'{"type":"identify","userId":"42"}'):
    return HttpCall("PUT", f"{url}/api/v1/customers/{person}", orjson.dumps({"email": "a@b.co"}),
                    "PUT /api/v1/customers/{id}", [event], False)


def batch_call(url, items):
    events = [orjson.dumps({"n": i}) for i in range(len(items))]
    body = orjson.dumps({"batch": items})
    return HttpCall("POST", f"{url}/api/v2/batch", body, "POST /api/v2/batch", events, True)


def test_success_is_counted_and_nothing_dead_lettered(sandbox):
    outcome = _Outcome()
    sender().send(identify_call(sandbox.url), outcome)
    assert outcome.dead_letters == []
    assert outcome.counts[("cio", "events_delivered")] == 1
    assert outcome.counts[("cio.requests", "PUT /api/v1/customers/{id} 200")] == 1
    (record,) = sandbox.accepted()
    assert record["path"] == "/api/v1/customers/42" and record["body"] == {"email": "a@b.co"}


def test_server_errors_are_retried_then_dead_lettered(make_sandbox):
    server = make_sandbox(error_rate=1.0)
    outcome = _Outcome()
    sender(max_retries=2).send(identify_call(server.url), outcome)
    assert server.stats()["requests"] == 3
    (record,) = [orjson.loads(r) for r in outcome.dead_letters]
    assert record["stage"] == "deliver" and record["status"] == 500 and record["attempts"] == 3
    assert record["error"].startswith("gave up after 3 attempts: HTTP 500")
    assert record["event"] == {"type": "identify", "userId": "42"}
    assert outcome.counts[("cio", "retries")] == 2


@pytest.mark.parametrize("fault", ["throttle_rate", "drop_rate"])
def test_throttling_and_dropped_connections_are_retried(make_sandbox, fault):
    server = make_sandbox(**{fault: 1.0})
    outcome = _Outcome()
    sender(max_retries=1).send(identify_call(server.url), outcome)
    assert server.stats()["requests"] == 2
    (record,) = [orjson.loads(r) for r in outcome.dead_letters]
    assert record["attempts"] == 2
    assert record["status"] == (429 if fault == "throttle_rate" else None)


def test_a_429_slows_the_limiter_down(make_sandbox):
    server = make_sandbox(throttle_rate=1.0)
    s = sender(max_retries=0)
    s.send(identify_call(server.url), _Outcome())
    assert s.limiter.rate < s.limiter.max_rate


@pytest.mark.parametrize("fault", [{}, {"error_rate": 1.0}, {"throttle_rate": 1.0}, {"drop_rate": 1.0},
                                   {"slow_rate": 1.0, "slow_seconds": 1.0}])
def test_every_try_gives_its_place_in_the_budget_back(make_sandbox, fault):
    # The limiter counts a request until a second after its answer; a try
    # that never hands it back would shrink the budget for good.
    server = make_sandbox(**fault)
    s = sender(max_retries=1, timeout=0.2)
    s.send(identify_call(server.url), _Outcome())
    assert server.stats()["requests"] == (1 if not fault else 2)
    assert s.limiter.in_flight == 0


def test_slow_answers_time_out_and_are_retried(make_sandbox):
    server = make_sandbox(slow_rate=1.0, slow_seconds=1.0)
    outcome = _Outcome()
    sender(max_retries=1, timeout=0.2).send(identify_call(server.url), outcome)
    (record,) = [orjson.loads(r) for r in outcome.dead_letters]
    assert record["status"] is None and "no answer within 0.2 s" in record["error"]


def test_other_4xx_is_dead_lettered_at_once_with_the_answer(sandbox):
    outcome = _Outcome()
    call = HttpCall("POST", f"{sandbox.url}/api/v1/customers/42/events", orjson.dumps({"data": {}}),
                    "POST /api/v1/customers/{id}/events", [b'{"type":"track"}'], False)
    sender().send(call, outcome)
    (record,) = [orjson.loads(r) for r in outcome.dead_letters]
    assert record["status"] == 400 and record["attempts"] == 1
    assert record["error"].startswith("Customer.io answered 400: ")
    assert sandbox.stats()["requests"] == 1


def test_partial_batch_dead_letters_exactly_the_listed_items(sandbox):
    good = {"type": "person", "action": "identify", "identifiers": {"id": "1"}, "attributes": {"a": 1}}
    bad = {"type": "person", "action": "event", "identifiers": {"id": "2"}}  # event without a name
    outcome = _Outcome()
    sender().send(batch_call(sandbox.url, [good, bad, good]), outcome)
    records = [orjson.loads(r) for r in outcome.dead_letters]
    assert [r["event"] for r in records] == [{"n": 1}]
    assert records[0]["status"] == 207 and records[0]["error"].startswith("Customer.io rejected the item")
    assert outcome.counts[("cio", "events_delivered")] == 2
    assert [r["batch_index"] for r in sandbox.accepted()] == [0, 2]


def test_an_events_follow_up_item_is_dead_lettered_but_the_event_counted_once(sandbox):
    # An identify naming an object: its update and its relationship item
    # (the follow-up) carry the same event. Both delivered: one event; the
    # follow-up refused: its record says so, and the event is still one
    # delivered (by its update), none dead-lettered.
    update = {"type": "person", "action": "identify", "identifiers": {"id": "1"}, "attributes": {"a": 1}}
    related = {"type": "person", "action": "add_relationships", "identifiers": {"id": "1"},
               "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"}}]}
    refused = {"type": "person", "action": "event", "identifiers": {"id": "1"}}  # an event without a name
    for items, delivered, dead in (([update, related], 1, 0), ([update, refused], 1, 0)):
        event = b'{"type":"identify","userId":"1","traits":{"a":1,"objectId":"acme"}}'
        call = HttpCall("POST", f"{sandbox.url}/api/v2/batch", orjson.dumps({"batch": items}),
                        "POST /api/v2/batch", [event, event], True, follow_ups=(1,))
        outcome = _Outcome()
        sender().send(call, outcome)
        assert outcome.counts[("cio", "events_delivered")] == delivered
        records = [orjson.loads(r) for r in outcome.dead_letters]
        assert len(records) == (items[1] is refused)
        assert all(r["follow_up"] is True and r["event"]["userId"] == "1" for r in records)
        assert call.events_counted([i for i in range(2) if items[i] is refused]) == (delivered, dead)


def test_wrong_credentials_are_not_retried_and_never_echoed(sandbox):
    wrong = "Basic " + base64.b64encode(b"test-site:wrong-key-123").decode()
    outcome = _Outcome()
    sender(auth=wrong).send(identify_call(sandbox.url), outcome)
    (line,) = outcome.dead_letters
    record = orjson.loads(line)
    assert record["status"] == 401 and record["attempts"] == 1
    assert b"wrong-key-123" not in line and wrong.encode() not in line


@pytest.mark.parametrize("value,expected", [("3", 3.0), ("0.5", 0.5), (None, None), ("soon", None)])
def test_retry_after_values(value, expected):
    assert parse_retry_after(value) == expected


def test_retry_after_as_http_date_is_in_the_future():
    assert parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT") > 1000


def test_backoff_is_capped_and_jittered():
    policy = RetryPolicy(6, base=0.5, cap=4)
    delays = [policy.delay(6) for _ in range(200)]
    assert max(delays) <= 4 and min(delays) >= 0 and len(set(delays)) > 100
    assert policy.delay(1, retry_after=3) >= 3


def deliver_calls(url, max_in_flight=8, rate=10_000, job_id=""):
    from pipeline.delivery import DeliverCalls
    from transforms import load_settings
    settings = load_settings(site_id=SITE_ID, api_key=API_KEY, endpoint=url)
    return DeliverCalls(settings, rate_per_process=rate, max_retries=0, request_timeout=5.0,
                        backoff_seconds=0.01, max_backoff_seconds=0.05, max_in_flight=max_in_flight,
                        job_id=job_id)


def run_bundle(fn, elements):
    """Feeds `elements` to one bundle of a DeliverCalls; returns its outputs."""
    from apache_beam.transforms.window import GlobalWindow
    fn.setup()
    try:
        fn.start_bundle()
        out = []
        for element in elements:
            out += list(fn.process(element, window=GlobalWindow(), timestamp=0))
        out += list(fn.finish_bundle())
        return out
    finally:
        fn.teardown()


def test_groups_of_one_key_are_sent_one_at_a_time_in_order(make_sandbox):
    # The batcher of a batch job emits one shard's requests as they fill,
    # so several groups of one key are in flight at once.
    server = make_sandbox(latency_ms=30)
    def update(n):
        return HttpCall("PUT", f"{server.url}/api/v1/customers/p", orjson.dumps({"n": n}),
                        "PUT /api/v1/customers/{id}", [orjson.dumps({"n": n})], False)

    groups = [("id:p", [update(n)]) for n in range(6)]
    groups += [(f"id:q{n}", [identify_call(server.url, f"q{n}")]) for n in range(6)]
    assert run_bundle(deliver_calls(server.url), groups) == []
    stats = server.stats()
    assert stats["requests"] == 12
    assert stats["overlapping_person_requests"] == 0
    sent = [r["body"]["n"] for r in server.accepted() if r["path"] == "/api/v1/customers/p"]
    assert sent == list(range(6))


def test_groups_queued_behind_their_key_hold_no_sender(make_sandbox):
    # Two senders at most, and ten groups of one person first: they queue
    # in the person's lane, so the other people are served meanwhile and
    # every group is sent, in its key's order.
    server = make_sandbox(latency_ms=20)

    def update(person, n):
        return HttpCall("PUT", f"{server.url}/api/v1/customers/{person}", orjson.dumps({"n": n}),
                        "PUT /api/v1/customers/{id}", [orjson.dumps({"n": n})], False)

    groups = [("id:p", [update("p", n)]) for n in range(10)]
    groups += [(f"id:q{n % 3}", [update(f"q{n % 3}", n)]) for n in range(9)]
    assert run_bundle(deliver_calls(server.url, max_in_flight=2, job_id="lanes"), groups) == []
    stats = server.stats()
    assert stats["requests"] == 19 and stats["overlapping_person_requests"] == 0
    order = [r["body"]["n"] for r in server.accepted() if r["path"] == "/api/v1/customers/p"]
    assert order == list(range(10))
    for q in range(3):
        order = [r["body"]["n"] for r in server.accepted() if r["path"] == f"/api/v1/customers/q{q}"]
        assert order == list(range(q, 9, 3))
    # The people q0-q2 were not all sent after p's ten: they shared the senders.
    paths = [r["path"] for r in server.accepted()]
    assert paths.index("/api/v1/customers/q0") < len(paths) - 9


def test_requests_in_flight_follow_the_round_trip_and_the_rate(make_sandbox):
    # With a 100 ms round trip a process allowed 300 requests/s needs ~30
    # in flight; the gate's target follows the round trip it measured.
    from pipeline.in_flight import HEADROOM, SPARE
    server = make_sandbox(latency_ms=100)
    groups = [(f"id:p{n}", [identify_call(server.url, f"p{n}")]) for n in range(120)]
    fn = deliver_calls(server.url, max_in_flight=512, rate=300, job_id="follows")
    assert run_bundle(fn, groups) == []
    assert server.stats()["requests"] == 120
    round_trip = fn.sender.limiter.round_trip
    assert 0.1 <= round_trip < 0.5
    assert fn.gate.target() == min(512, -(-300 * round_trip * HEADROOM // 1) + SPARE) >= 300 * 0.1
    # ... and within its cap.
    capped = deliver_calls(server.url, max_in_flight=12, rate=300, job_id="capped")
    run_bundle(capped, groups[:30])
    assert capped.gate.target() == 12


def test_a_group_for_all_keys_waits_for_everything_before_it(make_sandbox):
    from pipeline.calls import ALL_KEYS
    server = make_sandbox(latency_ms=50)
    groups = [(f"shard-{n}", [identify_call(server.url, f"p{n}")]) for n in range(4)]
    groups.append((ALL_KEYS, [identify_call(server.url, f"p{n}") for n in range(4)]))
    assert run_bundle(deliver_calls(server.url), groups) == []
    assert server.stats()["overlapping_person_requests"] == 0
    assert server.stats()["requests"] == 8


def test_proxy_and_ca_bundle_variables_are_read_once_at_setup(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    fn = deliver_calls("https://track.customer.io")
    fn.setup()
    try:
        session = fn.transport.session
        assert session.trust_env is False  # no per-request walk of the environment
        assert session.proxies.get("https") == "http://proxy.internal:3128"
        assert session.verify == str(bundle)
    finally:
        fn.teardown()
    monkeypatch.setenv("NO_PROXY", "track.customer.io")
    fn = deliver_calls("https://track.customer.io")
    fn.setup()
    try:
        assert "https" not in fn.transport.session.proxies
    finally:
        fn.teardown()


def test_the_longest_waiting_group_starts_first(make_sandbox):
    # Two senders: two people start at once, the others wait for a sender.
    # When both are free the person with the most calls is one of the two
    # to go next (a long lane started last would end the input sending
    # alone), though they came last; every person's calls keep their order.
    server = make_sandbox(latency_ms=100)

    def update(person, n):
        return HttpCall("PUT", f"{server.url}/api/v1/customers/{person}", orjson.dumps({"n": n}),
                        "PUT /api/v1/customers/{id}", [orjson.dumps({"n": n})], False)

    groups = [(f"id:{p}", [update(p, 0)]) for p in ("a", "b", "c", "d")]
    groups.append(("id:long", [update("long", n) for n in range(4)]))
    assert run_bundle(deliver_calls(server.url, max_in_flight=2, job_id="longest"), groups) == []
    paths = [r["path"].rsplit("/", 1)[1] for r in server.accepted()]
    assert paths.index("long") < paths.index("d")
    assert [r["body"]["n"] for r in server.accepted() if r["path"].endswith("/long")] == [0, 1, 2, 3]
    assert server.stats()["overlapping_person_requests"] == 0
