"""A connected Python call ignores every bad envelope, logs why, and carries on."""

import asyncio
import logging
import time

from safemeet.core import envelope
from safemeet.core.identity import Identity
from safemeet.peer import ChatMessage, Peer
from safemeet.peer.signaling import NodeClient


async def _noop(_env: str) -> None:
    return None


def _now() -> int:
    return int(time.time() * 1000)


async def test_bad_envelopes_are_dropped_with_a_reason(node_url, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="safemeet.peer")
    async with Peer(node_url, tmp_path / "a.key") as alice, Peer(node_url, tmp_path / "b.key") as bob, \
            Peer(node_url, tmp_path / "c.key") as carol:
        call = await alice.call(bob.number)
        incoming = await bob.next_incoming(5)
        await incoming.accept()
        await asyncio.wait_for(call.wait_connected(), 10)

        mallory = NodeClient(node_url, Identity.generate(), _noop)
        await mallory.connect()
        bob_keys = await mallory.lookup(bob.number)

        def forged(type_, body, *, signer=alice.identity, sender=alice.number, to=bob.number, ts=None,
                   call_id=call.id):
            inner = envelope.make_inner(type_, call_id, sender, to, body, ts if ts is not None else _now())
            return envelope.seal(signer, bob_keys, inner)

        end_of_ice = {"candidate": None, "sdpMid": None, "sdpMLineIndex": None}
        bad_body = envelope.make_inner("hangup", call.id, alice.number, bob.number, {}, _now())
        bad_body["body"] = {"why": "not allowed"}
        replayed = forged("ice", end_of_ice)
        cases = [
            ("undecryptable", "AAAA" * 40),
            ("undecryptable", envelope.seal(alice.identity, carol.identity.public,
                                            envelope.make_inner("hangup", call.id, alice.number, bob.number, {}, _now()))),
            ("bad_signature", forged("hangup", {}, signer=mallory._identity)),  # claims to be alice
            ("misaddressed", forged("hangup", {}, to=carol.number)),
            ("stale", forged("hangup", {}, ts=_now() - 120_000)),
            ("stale", forged("hangup", {}, ts=_now() + 120_000)),
            ("undecryptable", forged("ice", end_of_ice)[:-8] + "AAAAAAAA"),  # tampered ciphertext
            ("malformed", envelope.seal(alice.identity, bob_keys, bad_body)),
        ]
        for _, env in cases:
            await mallory.send(bob.number, env)
        await mallory.send(bob.number, replayed)
        await mallory.send(bob.number, replayed)
        # a hangup for a call id bob has never seen, from carol: no such call
        await carol._node.send(bob.number, envelope.seal(carol.identity, bob_keys, envelope.make_inner(
            "hangup", envelope.new_call_id(), carol.number, bob.number, {}, _now())))
        await asyncio.sleep(0.5)

        assert call.phase == incoming.phase == "connected"
        reader = asyncio.create_task(_first_chat(incoming))
        await call.send_chat("still here")
        assert await asyncio.wait_for(reader, 5) == "still here"
        reasons = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
        for code in ("undecryptable", "bad_signature", "misaddressed", "stale", "malformed", "replayed"):
            assert any(code in m for m in reasons), (code, reasons)
        assert not any(alice.number in m or bob.number in m for m in reasons)
        await mallory.close()
        await call.hangup()


async def _first_chat(call) -> str:
    async for event in call.events():
        if isinstance(event, ChatMessage):
            return event.text
    return ""
