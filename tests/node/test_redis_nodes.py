"""Two real nodes sharing one real redis-server: numbers, lookups, routing and deletion across them."""

import asyncio
import logging

import aiohttp
import pytest

from safemeet.core import wire
from safemeet.core.b64 import b64u_encode
from safemeet.core.identity import Identity
from safemeet.core.numbers import check_digit, is_valid


@pytest.fixture
async def nodes(redis_server, start_node):  # Redis outlives the nodes
    """Node 1 and node 2, both on the test's Redis."""
    return await start_node(redis_url=redis_server.url), await start_node(redis_url=redis_server.url)


def _env(i: int) -> str:
    return b64u_encode(i.to_bytes(4, "big") * 8)


async def _until_offline(sender, number: str) -> dict:
    """Send until the node says ``number`` is gone (leaving is processed after the close)."""
    for _ in range(100):
        reply = await sender.request({"t": "send", "id": 9, "to": number, "env": _env(0)})
        if reply["t"] == "error":
            return reply
        await asyncio.sleep(0.05)
    raise AssertionError("the number stayed online")


async def _until_healthy(node, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with node.session.get(node.base + "/healthz") as resp:
            if resp.status == 200:
                return
        assert asyncio.get_running_loop().time() < deadline, "the node did not find Redis again"
        await asyncio.sleep(0.1)


async def test_registrations_split_over_both_nodes_get_distinct_numbers(nodes):
    one, two = nodes
    identities = [Identity.generate() for _ in range(40)]
    peers = await asyncio.gather(*(
        (one if k % 2 else two).connect(identity) for k, identity in enumerate(identities)))
    numbers = [p.number for p in peers]
    assert all(is_valid(n) for n in numbers) and len(set(numbers)) == len(numbers)
    asker_one, asker_two = await one.connect(), await two.connect()
    for k, (peer, identity) in enumerate(zip(peers, identities)):
        for asker in (asker_one, asker_two):  # either node answers the same keys
            reply = await asker.request({"t": "lookup", "id": k, "number": peer.number})
            assert reply["t"] == "keys" and reply["keys"] == identity.public.to_json()


async def test_one_identity_gets_one_number_on_both_nodes_and_both_connections_receive(nodes):
    one, two = nodes
    alice = Identity.generate()
    on_one, on_two = await asyncio.gather(one.connect(alice), two.connect(alice))
    assert on_one.number == on_two.number
    bob = await one.connect()
    reply = await bob.request({"t": "send", "id": 1, "to": on_one.number, "env": _env(1)})
    assert reply == {"t": "sent", "id": 1}
    assert await on_one.recv() == await on_two.recv() == {"t": "msg", "env": _env(1)}


async def test_envelopes_cross_nodes_in_order_and_offline_after_leaving(nodes):
    one, two = nodes
    alice, bob = await one.connect(), await two.connect()
    for i in range(50):
        assert await alice.request({"t": "send", "id": i, "to": bob.number, "env": _env(i)}) == {"t": "sent", "id": i}
    assert [(await bob.recv())["env"] for _ in range(50)] == [_env(i) for i in range(50)]
    assert await bob.request({"t": "send", "id": 60, "to": alice.number, "env": _env(60)}) == {"t": "sent", "id": 60}
    assert await alice.recv() == {"t": "msg", "env": _env(60)}
    await bob.close()
    reply = await _until_offline(alice, bob.number)
    assert (reply["code"], reply["id"]) == ("offline", 9)
    nobody = "10000000" + check_digit("10000000")  # valid, and (almost surely) not handed out
    never = await alice.request({"t": "send", "id": 10, "to": nobody, "env": _env(10)})
    assert never["code"] == "unknown_number"


async def test_delete_on_one_node_closes_the_number_on_the_other(nodes):
    one, two = nodes
    alice = Identity.generate()
    here, there = await one.connect(alice), await two.connect(alice)
    bob = await two.connect()
    await here.send(wire.delete_request(alice.sign(wire.delete_message(here.nonce, alice.public.sig)), 1))
    for peer in (here, there):
        msg = await peer.ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE, msg
        assert (msg.data, msg.extra) == (wire.DELETED_CLOSE_CODE, wire.DELETED_REASON)
    reply = await bob.request({"t": "lookup", "id": 2, "number": here.number})
    assert reply["code"] == "unknown_number"
    again = await one.connect(alice)  # a deleted key gets a new number, on either node
    assert again.number != here.number
    assert (await bob.request({"t": "lookup", "id": 3, "number": again.number}))["keys"] == alice.public.to_json()


async def test_healthz_reports_redis(nodes):
    for node in nodes:
        async with node.session.get(node.base + "/healthz") as resp:
            assert resp.status == 200 and await resp.text() == "ok\nredis: ok"


async def test_logs_name_no_number_key_or_redis_address(nodes, redis_server, caplog):
    caplog.set_level(logging.DEBUG)
    one, two = nodes
    alice, bob = await one.connect(), await two.connect()
    assert (await alice.request({"t": "send", "id": 1, "to": bob.number, "env": _env(1)}))["t"] == "sent"
    await bob.recv()
    await redis_server.stop()
    assert (await alice.request({"t": "lookup", "id": 2, "number": bob.number}))["code"] == "unavailable"
    await redis_server.start()
    await _until_healthy(one)
    # What a node writes: its own records at every level, libraries' from INFO up (the level
    # `safemeet serve` logs at; the Redis client's DEBUG lines name its server, by design).
    text = "\n".join(r.getMessage() for r in caplog.records
                     if r.name.startswith("safemeet") or r.levelno >= logging.INFO)
    assert "redis subscription lost" in text and "redis is reachable again" in text
    for secret in (alice.number, bob.number, str(redis_server.port), alice.identity.public.to_json()["sig"]):
        assert secret not in text
