"""Calls that cannot happen fail at once, say why, and leave nothing behind."""

import asyncio

import pytest

from safemeet.core.identity import Identity
from safemeet.peer import CallError, MediaOptions, Peer
from safemeet.peer.errors import MediaError


async def test_receive_only_caller_still_receives(node_url):
    async with Peer(node_url, Identity.generate(), media=MediaOptions(source=None)) as alice, \
            Peer(node_url, Identity.generate()) as bob:
        call = await alice.call(bob.number)
        incoming = await bob.next_incoming(5)
        await incoming.accept()
        await asyncio.wait_for(call.wait_connected(), 10)
        for _ in range(200):
            if min(call.frames_received) >= 5:
                break
            await asyncio.sleep(0.05)
        assert min(call.frames_received) >= 5 and incoming.frames_received == (0, 0)
        await call.hangup()


async def test_missing_media_file_fails_before_ringing(node_url, tmp_path):
    missing = MediaOptions(source=str(tmp_path / "nope.mp4"))
    async with Peer(node_url, Identity.generate()) as alice, Peer(node_url, Identity.generate()) as bob:
        with pytest.raises(MediaError, match="cannot play media file .*nope.mp4"):
            await alice.call(bob.number, media=missing)
        assert alice.active_calls == 0
        with pytest.raises(asyncio.TimeoutError):
            await bob.next_incoming(0.3)  # nothing rang
        call = await bob.call(alice.number)  # and alice is not left "busy"
        await (await alice.next_incoming(5)).accept()
        await asyncio.wait_for(call.wait_connected(), 10)
        await call.hangup()


async def test_callee_whose_media_fails_ends_the_call_at_once(node_url, tmp_path):
    async with Peer(node_url, Identity.generate()) as alice, \
            Peer(node_url, Identity.generate(), media=MediaOptions(source=str(tmp_path / "gone.mp4"))) as bob:
        call = await alice.call(bob.number)
        await (await bob.next_incoming(5)).accept()
        with pytest.raises(CallError) as err:
            await asyncio.wait_for(call.wait_connected(), 5)  # not the 30 s ring timeout
        assert err.value.reason == "failed" and call.result.ended_by == "remote"


async def test_offline_number_says_so(node_url):
    gone = Identity.generate()
    async with Peer(node_url, gone) as peer:
        number = peer.number
    async with Peer(node_url, Identity.generate()) as alice:
        with pytest.raises(CallError, match="not online"):
            call = await alice.call(number)
            await asyncio.wait_for(call.wait_connected(), 5)
        assert alice.active_calls == 0


async def test_calling_yourself_is_refused(node_url):
    async with Peer(node_url, Identity.generate()) as alice:
        with pytest.raises(CallError, match="your own number"):
            await alice.call(alice.number)
