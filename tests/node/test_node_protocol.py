"""The node wire protocol against a real node: registration, lookup, routing, errors."""

import asyncio

import aiohttp
import pytest

from safemeet.core.b64 import b64u_encode
from safemeet.core.identity import Identity, PublicKeys, auth_message
from safemeet.core.numbers import check_digit, is_valid

ENV = b64u_encode(b"\x01" * 200)  # the node treats envelopes as opaque base64url


def unregistered_number(*taken: str) -> str:
    for payload in range(10_000_000, 10_000_100):
        number = str(payload) + check_digit(str(payload))
        if number not in taken:
            return number
    raise AssertionError


VALID = unregistered_number()


def with_bad_check_digit(number: str) -> str:
    return number[:8] + str((int(number[8]) + 1) % 10)


async def test_challenge_then_register_gives_a_valid_number(node):
    peer = await node.connect(register=False)
    assert len(peer.nonce) == 32
    number = await peer.register()
    assert len(number) == 9 and number.isdigit() and number[0] != "0"
    assert is_valid(number)


async def test_register_echoes_id(node):
    peer = await node.connect(register=False)
    reply = await peer.request(peer.register_message(id=7))
    assert reply == {"t": "registered", "number": reply["number"], "id": 7}


async def test_same_key_gets_same_number_on_reconnect(node):
    identity = Identity.generate()
    first = await node.connect(identity)
    await first.close()
    second = await node.connect(identity)
    third = await node.connect(identity)  # concurrently connected as well
    assert first.number == second.number == third.number
    assert first.nonce != second.nonce


async def test_different_keys_get_different_numbers(node):
    numbers = {(await node.connect()).number for _ in range(5)}
    assert len(numbers) == 5


async def test_wrong_proof_is_unauthorized_and_the_connection_can_retry(node):
    peer = await node.connect(register=False)
    wrong = b64u_encode(peer.identity.auth_proof(b"\x00" * 32))
    reply = await peer.request(peer.register_message(proof=wrong, id=1))
    assert reply["t"] == "error" and reply["code"] == "unauthorized" and reply["id"] == 1
    other = Identity.generate()  # a proof by a different identity over our keys
    forged = b64u_encode(other.sign(auth_message(peer.nonce, peer.identity.public)))
    assert (await peer.request(peer.register_message(proof=forged)))["code"] == "unauthorized"
    assert is_valid(await peer.register())


async def test_bad_bind_is_unauthorized(node):
    peer = await node.connect(register=False)
    other = Identity.generate()
    mine = peer.identity.public
    swapped = PublicKeys(sig=mine.sig, seal=other.public.seal, bind=mine.bind)  # seal not signed by sig
    proof = b64u_encode(peer.identity.sign(auth_message(peer.nonce, swapped)))
    reply = await peer.request(peer.register_message(keys=swapped.to_json(), proof=proof))
    assert reply["code"] == "unauthorized"


async def test_register_twice_is_refused(node):
    peer = await node.connect()
    reply = await peer.request(peer.register_message(id=3))
    assert reply["code"] == "bad_message" and reply["id"] == 3


async def test_unsupported_version(node):
    peer = await node.connect(register=False)
    reply = await peer.request(peer.register_message(v=2, id=4))
    assert reply == {"t": "error", "id": 4, "code": "unsupported_version", "message": reply["message"]}


@pytest.mark.parametrize(
    "msg",
    [
        {"t": "ping", "id": 1},
        {"t": "lookup", "id": 1, "number": VALID},
        {"t": "send", "id": 1, "to": VALID, "env": ENV},
    ],
)
async def test_actions_before_register_are_unauthorized(node, msg):
    peer = await node.connect(register=False)
    reply = await peer.request(msg)
    assert reply["t"] == "error" and reply["code"] == "unauthorized" and reply["id"] == 1


async def test_ping(node):
    peer = await node.connect()
    assert await peer.request({"t": "ping", "id": 9}) == {"t": "pong", "id": 9}
    assert await peer.request({"t": "ping"}) == {"t": "pong"}


async def test_lookup(node):
    alice, bob = await node.connect(), await node.connect()
    reply = await alice.request({"t": "lookup", "id": 5, "number": bob.number})
    assert reply == {"t": "keys", "id": 5, "number": bob.number, "keys": bob.identity.public.to_json()}
    unknown = unregistered_number(alice.number, bob.number)
    reply = await alice.request({"t": "lookup", "id": 6, "number": unknown})
    assert reply["code"] == "unknown_number" and reply["id"] == 6
    reply = await alice.request({"t": "lookup", "id": 7, "number": with_bad_check_digit(bob.number)})
    assert reply["code"] == "invalid_number" and reply["id"] == 7
    for bad in ("12345678", "023456789", "12345678a", "1234567850"):
        assert (await alice.request({"t": "lookup", "number": bad}))["code"] == "invalid_number"


async def test_send_to_online_delivers_only_the_envelope(node):
    alice, bob = await node.connect(), await node.connect()
    reply = await alice.request({"t": "send", "id": 2, "to": bob.number, "env": ENV})
    assert reply == {"t": "sent", "id": 2}
    delivered = await bob.recv()
    assert delivered == {"t": "msg", "env": ENV}
    assert alice.number not in str(delivered)


async def test_send_to_offline_and_unknown_and_invalid(node):
    alice, bob = await node.connect(), await node.connect()
    await bob.close()
    await asyncio.sleep(0.05)  # let the node notice the close
    reply = await alice.request({"t": "send", "id": 1, "to": bob.number, "env": ENV})
    assert reply["code"] == "offline" and reply["id"] == 1
    unknown = unregistered_number(alice.number, bob.number)
    assert (await alice.request({"t": "send", "to": unknown, "env": ENV}))["code"] == "unknown_number"
    bad = with_bad_check_digit(bob.number)
    assert (await alice.request({"t": "send", "to": bad, "env": ENV}))["code"] == "invalid_number"


async def test_delivery_reaches_every_connection_of_a_number(node):
    identity = Identity.generate()
    tabs = [await node.connect(identity) for _ in range(3)]
    alice = await node.connect()
    assert (await alice.request({"t": "send", "id": 1, "to": tabs[0].number, "env": ENV}))["t"] == "sent"
    for tab in tabs:
        assert await tab.recv() == {"t": "msg", "env": ENV}


async def test_closed_connection_leaves_presence_but_others_of_the_number_stay(node):
    identity = Identity.generate()
    tab1, tab2 = await node.connect(identity), await node.connect(identity)
    await tab1.close()
    await asyncio.sleep(0.05)
    alice = await node.connect()
    assert (await alice.request({"t": "send", "to": tab2.number, "env": ENV}))["t"] == "sent"
    assert await tab2.recv() == {"t": "msg", "env": ENV}


async def test_send_to_self_reaches_own_connections(node):
    peer = await node.connect()
    await peer.send({"t": "send", "id": 1, "to": peer.number, "env": ENV})
    assert await peer.recv() == {"t": "msg", "env": ENV}
    assert await peer.recv() == {"t": "sent", "id": 1}


async def test_largest_envelope_is_routed(node):
    alice, bob = await node.connect(), await node.connect()
    env = "A" * 60_000
    assert (await alice.request({"t": "send", "to": bob.number, "env": env}))["t"] == "sent"
    assert (await bob.recv())["env"] == env
    reply = await alice.request({"t": "send", "to": bob.number, "env": env + "A"})
    assert reply["code"] == "bad_message"


async def test_internal_error_is_contained(node, monkeypatch):
    from safemeet.node.appkeys import REGISTRY

    peer = await node.connect()

    async def broken(number):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(node.app[REGISTRY], "lookup", broken)
    reply = await peer.request({"t": "lookup", "id": 8, "number": peer.number})
    assert reply["code"] == "internal" and reply["id"] == 8 and "fire" not in reply["message"]
    assert await peer.request({"t": "ping"}) == {"t": "pong"}


async def test_unregistered_connection_is_closed_after_the_timeout(start_node):
    node = await start_node(register_timeout_s=0.3)
    idle = await node.connect(register=False)
    registered = await node.connect()
    msg = await idle.ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.POLICY_VIOLATION
    await asyncio.sleep(0.4)
    assert await registered.request({"t": "ping"}) == {"t": "pong"}


async def test_shutdown_closes_websockets_with_going_away(start_node):
    node = await start_node()
    peer = await node.connect()
    cleanup = asyncio.create_task(node.stop())
    msg = await peer.ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.GOING_AWAY
    await asyncio.wait_for(cleanup, 5)


async def test_the_node_answers_every_request_vector(start_node, vectors):
    """The shared vectors, through a real node (registered, so only the frame itself decides)."""
    node = await start_node(rate_bucket=1000)
    peer = await node.connect()
    for case in vectors("wire.json")["requests"]:
        frame = case["frame"].ljust(case["pad_to"]) if "pad_to" in case else case["frame"]
        reply = await peer.request(frame)
        if "ok" in case:
            assert reply["t"] != "error" or reply["code"] in ("offline", "unknown_number"), case["name"]
        else:
            assert reply["t"] == "error" and reply["code"] == case["error"]["code"], case["name"]
            assert reply.get("id") == case["error"]["id"], case["name"]
