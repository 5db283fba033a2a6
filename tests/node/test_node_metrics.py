"""``GET /metrics``: Prometheus text whose counters follow what real clients do, and name no one."""

import asyncio
import re

from safemeet.core import wire
from safemeet.core.b64 import b64u_encode
from safemeet.node.metrics import CONTENT_TYPE, ROUTING_BUCKETS

_SAMPLE = re.compile(r'^([a-z_]+)(?:\{([a-z]+)="([^"]*)"\})? (\S+)$')


async def scrape(node) -> tuple[str, dict[tuple[str, str], float]]:
    """The raw text and its samples keyed by (name, label value) ('' when unlabelled)."""
    async with node.session.get(node.base + "/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == CONTENT_TYPE
        assert resp.headers["Cache-Control"] == "no-store"
        assert "Content-Security-Policy" in resp.headers
        text = await resp.text()
    samples: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.fullmatch(r"# (HELP|TYPE) [a-z_]+ .+", line), line
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a Prometheus sample line: {line!r}"
        name, _label, value, number = match.groups()
        samples[(name, value or "")] = float(number)
    return text, samples


async def wait_for(node, name: str, value: float, label: str = "") -> dict[tuple[str, str], float]:
    """Scrape until a counter reaches ``value`` (closing connections is asynchronous)."""
    for _ in range(100):
        _, samples = await scrape(node)
        if samples[(name, label)] == value:
            return samples
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} stayed at {samples[(name, label)]}, expected {value}")


async def test_counters_follow_connections_lookups_and_routing(node):
    _, before = await scrape(node)
    assert before[("safemeet_connections_open", "")] == 0
    assert before[("safemeet_envelopes_routed_total", "")] == 0
    assert all(before[("safemeet_errors_total", code)] == 0 for code in wire.ERROR_TEXT)

    alice, bob = await node.connect(), await node.connect()
    stranger = await node.connect(register=False)
    _, samples = await scrape(node)
    assert samples[("safemeet_connections_open", "")] == 3
    assert samples[("safemeet_connections_total", "")] == 3
    assert samples[("safemeet_registrations_total", "")] == 2
    assert samples[("safemeet_numbers_online", "")] == 2

    env = b64u_encode(b"sealed" * 500)
    assert (await alice.request({"t": "lookup", "id": 1, "number": bob.number}))["t"] == "keys"
    for i in range(5):
        assert (await alice.request({"t": "send", "id": 10 + i, "to": bob.number, "env": env}))["t"] == "sent"
        assert (await bob.recv())["env"] == env
    assert (await alice.request("not json"))["code"] == wire.BAD_MESSAGE
    assert (await alice.request({"t": "nope"}))["code"] == wire.UNKNOWN_TYPE
    assert (await stranger.request({"t": "ping"}))["code"] == wire.UNAUTHORIZED
    await bob.close()
    samples = await wait_for(node, "safemeet_connections_open", 2)
    assert samples[("safemeet_numbers_online", "")] == 1
    reply = await alice.request({"t": "send", "id": 20, "to": bob.number, "env": env})
    assert reply["code"] == wire.OFFLINE

    _, samples = await scrape(node)
    assert samples[("safemeet_connections_total", "")] == 3
    assert samples[("safemeet_lookups_total", "")] == 1
    assert samples[("safemeet_envelopes_routed_total", "")] == 5
    assert samples[("safemeet_envelopes_undeliverable_total", "")] == 1
    errors = {code: samples[("safemeet_errors_total", code)] for code in wire.ERROR_TEXT}
    assert errors == {code: 0 for code in wire.ERROR_TEXT} | {
        wire.BAD_MESSAGE: 1, wire.UNKNOWN_TYPE: 1, wire.UNAUTHORIZED: 1, wire.OFFLINE: 1}
    # The histogram counts every routed envelope once; its buckets are cumulative.
    assert samples[("safemeet_routing_seconds_count", "")] == 5
    assert samples[("safemeet_routing_seconds_bucket", "+Inf")] == 5
    buckets = [samples[("safemeet_routing_seconds_bucket", repr(b))] for b in ROUTING_BUCKETS]
    assert buckets == sorted(buckets)
    assert 0 < samples[("safemeet_routing_seconds_sum", "")] < 5.0
    assert samples[("process_resident_memory_bytes", "")] > 1 << 20
    assert samples[("process_cpu_seconds_total", "")] > 0
    assert samples[("process_open_fds", "")] >= 3

    await alice.close()
    await stranger.close()
    await wait_for(node, "safemeet_connections_open", 0)


async def test_rate_limited_frames_are_counted(start_node):
    node = await start_node(rate_bucket=2, rate_per_s=0.001)
    peer = await node.connect()  # the register frame takes one token
    assert (await peer.request({"t": "ping"}))["t"] == "pong"
    assert (await peer.request({"t": "ping"}))["code"] == wire.RATE_LIMITED
    assert (await peer.request({"t": "ping"}))["code"] == wire.RATE_LIMITED
    _, samples = await scrape(node)
    assert samples[("safemeet_errors_total", wire.RATE_LIMITED)] == 2


async def test_metrics_name_no_number_key_address_or_envelope(node):
    alice, bob = await node.connect(), await node.connect()
    env = b64u_encode(b"sealed-envelope-bytes" * 4)
    assert (await alice.request({"t": "lookup", "number": bob.number}))["t"] == "keys"
    assert (await alice.request({"t": "send", "to": bob.number, "env": env}))["t"] == "sent"
    await bob.recv()
    typo = alice.number[:8] + str((int(alice.number[8]) + 1) % 10)  # a wrong check digit, always
    await alice.request({"t": "send", "to": typo, "env": env})
    await alice.request({"t": "lookup", "number": "999999999"[:8] + "0"})
    text, samples = await scrape(node)
    assert samples[("safemeet_envelopes_routed_total", "")] == 1  # it did see the traffic
    secrets = {env, "127.0.0.1", "::1", "localhost", alice.number, bob.number}
    for peer in (alice, bob):
        secrets.update(peer.identity.public.to_json().values())
    for secret in secrets:
        assert secret not in text
    port = str(node.runner.addresses[0][1])
    assert f":{port}" not in text
    # The only label is the error code, from the protocol's fixed set.
    labels = set(re.findall(r'\{([a-z]+)="([^"]*)"\}', text))
    assert {name for name, _ in labels} == {"code", "le"}
    assert {value for name, value in labels if name == "code"} == set(wire.ERROR_TEXT)
