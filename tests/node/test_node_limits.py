"""Hostile input: oversized and malformed frames, floods; each hurts only its own connection."""

import asyncio
import json

import aiohttp
import pytest

from safemeet.core.b64 import b64u_encode
from safemeet.core.numbers import check_digit
from safemeet.node.websocket import OUTBOX_MAX, Connection

ENV = b64u_encode(b"\x02" * 100)
N = "10000000" + check_digit("10000000")  # a valid number


async def test_oversized_frame_is_refused_unparsed_and_the_connection_still_works(node):
    peer = await node.connect()
    await peer.send('{"t": "ping", "id": 1, "pad": "' + "x" * 70_000 + '"}')
    reply = await peer.recv()
    assert reply["t"] == "error" and reply["code"] == "too_large" and "id" not in reply  # never parsed
    assert await peer.request({"t": "ping", "id": 2}) == {"t": "pong", "id": 2}


async def test_frame_at_the_limit_is_parsed(node):
    peer = await node.connect()
    frame = '{"t": "ping", "id": 1}'
    frame = frame + " " * (65_536 - len(frame))
    assert await peer.request(frame) == {"t": "pong", "id": 1}
    reply = await peer.request(frame + " ")
    assert reply["code"] == "too_large"


@pytest.mark.parametrize("frame", ["{", "not json", "", "[]", "1", '"ping"', "null", '{"t": "ping", "t": "ping"}',
                                   '{"t": "ping", "id": NaN}'])
async def test_malformed_json_is_bad_message(node, frame):
    peer = await node.connect()
    reply = await peer.request(frame)
    assert reply["t"] == "error" and reply["code"] == "bad_message"
    assert await peer.request({"t": "ping"}) == {"t": "pong"}


async def test_binary_frame_is_bad_message(node):
    peer = await node.connect()
    await peer.ws.send_bytes(b'{"t": "ping"}')
    assert (await peer.recv())["code"] == "bad_message"


@pytest.mark.parametrize("t", ["pong", "msg", "challenge", "hello", "PING", ""])
async def test_unknown_type(node, t):
    peer = await node.connect()
    reply = await peer.request({"t": t, "id": 11})
    assert reply["code"] == "unknown_type" and reply["id"] == 11


@pytest.mark.parametrize(
    "msg",
    [
        {"id": 1},  # no type
        {"t": 5, "id": 1},
        {"t": "ping", "id": "1"},
        {"t": "ping", "id": -1},
        {"t": "ping", "id": 2**31},
        {"t": "ping", "id": True},
        {"t": "ping", "id": 1.0},
        {"t": "ping", "extra": 1},
        {"t": "lookup"},
        {"t": "lookup", "number": 123456789},
        {"t": "lookup", "number": None},
        {"t": "lookup", "number": N, "x": 1},
        {"t": "send", "to": N},
        {"t": "send", "env": ENV},
        {"t": "send", "to": N, "env": 5},
        {"t": "send", "to": N, "env": ""},
        {"t": "send", "to": N, "env": "not base64!"},
        {"t": "send", "to": N, "env": ENV, "from": N},
    ],
)
async def test_wrong_schema_is_bad_message(node, msg):
    peer = await node.connect()
    reply = await peer.request(msg)
    assert reply["t"] == "error" and reply["code"] == "bad_message", reply


@pytest.mark.parametrize(
    "change",
    [
        {"v": "1"},
        {"keys": None},
        {"keys": {"sig": "AA", "seal": "AA", "bind": "AA"}},
        {"proof": 5},
        {"proof": "AAAA"},
        {"extra": True},
    ],
)
async def test_register_schema(node, change):
    peer = await node.connect(register=False)
    reply = await peer.request(peer.register_message(**change))
    assert reply["code"] == "bad_message"
    assert await peer.register()  # still possible afterwards


async def test_register_without_version_is_bad_message(node):
    peer = await node.connect(register=False)
    msg = peer.register_message()
    del msg["v"]
    assert (await peer.request(msg))["code"] == "bad_message"


async def _exchange(sender, receiver, count: int) -> int:
    """Send ``count`` envelopes at a modest pace; return how many arrived intact."""
    arrived = 0
    for i in range(count):
        env = b64u_encode(i.to_bytes(4, "big") * 8)
        reply = await sender.request({"t": "send", "id": i, "to": receiver.number, "env": env})
        assert reply == {"t": "sent", "id": i}
        if await receiver.recv() == {"t": "msg", "env": env}:
            arrived += 1
        await asyncio.sleep(0.01)
    return arrived


async def test_flood_is_rate_limited_without_disturbing_others(node):
    flooder, carol, dave = await node.connect(), await node.connect(), await node.connect()

    async def flood() -> list[str]:
        for i in range(500):
            await flooder.send({"t": "ping", "id": i})
        codes = []
        while True:
            msg = await flooder.ws.receive(timeout=5)
            if msg.type != aiohttp.WSMsgType.TEXT:
                return codes
            codes.append(json.loads(msg.data).get("code", "ok"))

    codes, arrived = await asyncio.gather(flood(), _exchange(carol, dave, 30))
    assert codes.count("rate_limited") > 100
    assert codes.count("ok") >= 59  # the burst was served (the register frame took one token)
    assert arrived == 30
    assert flooder.ws.closed and flooder.ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
    assert await carol.request({"t": "ping"}) == {"t": "pong"}


async def test_short_burst_is_limited_but_not_closed(start_node):
    node = await start_node(rate_bucket=5, rate_per_s=1000)
    peer = await node.connect()
    for i in range(20):
        await peer.send({"t": "ping", "id": i})
    replies = [await peer.recv() for _ in range(20)]
    assert any(r.get("code") == "rate_limited" for r in replies)
    await asyncio.sleep(0.05)
    assert await peer.request({"t": "ping", "id": 99}) == {"t": "pong", "id": 99}


async def test_frame_over_one_mebibyte_closes_only_that_connection(node):
    bully, alice, bob = await node.connect(), await node.connect(), await node.connect()
    await bully.send("x" * (1024 * 1024 + 1))
    msg = await bully.ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    assert await _exchange(alice, bob, 3) == 3


class _FakeWs:
    closed = False


class _FakeTransport:
    aborted = False

    def abort(self) -> None:
        self.aborted = True


class _FakeRequest:
    def __init__(self) -> None:
        self.transport = _FakeTransport()


async def test_a_connection_that_does_not_read_is_cut_not_waited_for():
    request = _FakeRequest()
    conn = Connection(_FakeWs(), request)  # type: ignore[arg-type]
    assert all(conn.deliver("x") for _ in range(OUTBOX_MAX))
    assert not conn.deliver("one too many")
    assert request.transport.aborted and conn.dropped
    assert not conn.deliver("after the drop")
