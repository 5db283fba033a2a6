"""A peer that vanishes without hanging up (crash, pulled cable) ends the call on the other side."""

import asyncio

import aioice.ice

from safemeet.core.identity import Identity
from safemeet.peer import Peer


async def test_callee_notices_a_caller_that_vanished(node_url, monkeypatch):
    # ICE consent freshness (RFC 7675) declares a silent peer gone after 6 missed checks 5 s
    # apart; shortened here so the test takes a second, not thirty.
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.1)
    async with Peer(node_url, Identity.generate()) as alice, Peer(node_url, Identity.generate()) as bob:
        call = await alice.call(bob.number)
        incoming = await bob.next_incoming(5)
        await incoming.accept()
        await asyncio.wait_for(incoming.wait_connected(), 10)
        # Alice's machine drops off the network: her sockets go silent, no DTLS close, no hangup.
        for transceiver in call._live.pc.getTransceivers():
            for protocol in transceiver.receiver.transport.transport._connection._protocols:
                protocol.transport.close()
        result = await asyncio.wait_for(incoming.wait_ended(), 10)
        assert result.connected and result.ended_by in ("remote", "error")
        assert bob.active_calls == 0
