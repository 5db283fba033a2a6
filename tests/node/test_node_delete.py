"""Deleting an identity on the node: signed request, registry entry gone, every connection closed."""

import aiohttp

from safemeet.core import wire
from safemeet.core.b64 import b64u_encode
from safemeet.core.identity import Identity


def _delete_frame(identity: Identity, nonce: bytes, id_: int | None = 1) -> dict:
    return wire.delete_request(identity.sign(wire.delete_message(nonce, identity.public.sig)), id_)


async def test_delete_removes_the_number_and_closes_every_connection(node):
    alice = Identity.generate()
    first, second = await node.connect(alice), await node.connect(alice)
    other = await node.connect()
    number = first.number
    assert second.number == number
    await first.send(_delete_frame(alice, first.nonce))
    for peer in (first, second):
        msg = await peer.ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE, msg
        assert (msg.data, msg.extra) == (4000, "deleted")
    reply = await other.request({"t": "lookup", "id": 2, "number": number})
    assert reply["t"] == "error" and reply["code"] == "unknown_number"
    again = await node.connect(alice)  # the same key registers again: a new number
    assert again.number != number
    assert (await other.request({"t": "lookup", "id": 3, "number": again.number}))["t"] == "keys"


async def test_delete_needs_this_connections_challenge_and_the_registered_key(node):
    alice, mallory = Identity.generate(), Identity.generate()
    first, second = await node.connect(alice), await node.connect(alice)
    for frame in (_delete_frame(alice, second.nonce, 5),  # another connection's challenge
                  _delete_frame(mallory, first.nonce, 6),  # another key
                  {"t": "delete", "id": 7, "proof": b64u_encode(alice.auth_proof(first.nonce))}):
        reply = await first.request(frame)
        assert (reply["t"], reply["code"], reply["id"]) == ("error", "unauthorized", frame["id"])
    assert (await second.request({"t": "lookup", "id": 8, "number": first.number}))["t"] == "keys"
    assert (await first.request({"t": "ping", "id": 9}))["t"] == "pong"


async def test_delete_before_register_is_unauthorized(node):
    peer = await node.connect(register=False)
    reply = await peer.request(_delete_frame(peer.identity, peer.nonce, 4))
    assert (reply["code"], reply["id"]) == ("unauthorized", 4)


async def test_registry_delete(tmp_path):
    from safemeet.node.registry import SqliteRegistry

    registry = SqliteRegistry.open(tmp_path / "data")
    try:
        alice = Identity.generate()
        number = await registry.register(alice.public)
        assert await registry.delete(number) and await registry.lookup(number) is None
        assert not await registry.delete(number)
        assert await registry.register(alice.public) != number
    finally:
        await registry.close()
