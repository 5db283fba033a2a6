"""Python ↔ Python calls through a real node over loopback sockets."""

import asyncio
import gc
import weakref

import pytest

from safemeet.core.numbers import NumberError
from safemeet.peer import CallError, ChatMessage, Connected, Ended, MediaOptions, Peer, UnknownNumber
from call_helpers import connect_pair

TEXTS = [
    "hello 👋",
    "astral: 𝄞 🧑🏽‍🚀 👩‍👩‍👧‍👦 𠜎",
    "combining: e\u0301 a\u0308 n\u0303 \u1e9b\u0323",
    "RTL: שלום עולם مرحبا بالعالم",
    "x" * 59_990 + "𝄞😀",  # ~60 KB, with multi-byte characters at the end
]


async def _until(predicate, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def _chats(call, n):
    got = []
    async for event in call.events():
        if isinstance(event, ChatMessage):
            got.append(event.text)
            if len(got) == n:
                return got
    return got


@pytest.mark.parametrize("hangup_side", ["caller", "callee"])
async def test_call_media_and_chat_both_ways(node_url, tmp_path, hangup_side):
    async with Peer(node_url, tmp_path / "a.key") as alice, Peer(node_url, tmp_path / "b.key") as bob:
        call, incoming = await connect_pair(alice, bob)
        bob_reader = asyncio.create_task(_chats(incoming, len(TEXTS)))
        alice_reader = asyncio.create_task(_chats(call, len(TEXTS)))
        for text in TEXTS:
            await call.send_chat(text)
            await incoming.send_chat(text[::-1])
        assert await asyncio.wait_for(bob_reader, 10) == TEXTS
        assert await asyncio.wait_for(alice_reader, 10) == [t[::-1] for t in TEXTS]
        await _until(lambda: min(call.frames_received + incoming.frames_received) >= 10)

        ender, other = (call, incoming) if hangup_side == "caller" else (incoming, call)
        await ender.hangup()
        mine, theirs = await ender.wait_ended(), await asyncio.wait_for(other.wait_ended(), 5)
        assert (mine.ended_by, theirs.ended_by) == ("local", "remote")
        assert mine.reason == theirs.reason == "hangup"
        caller_result = call.result
        assert caller_result.connected and caller_result.setup_ms > 0
        assert caller_result.audio_frames_received >= 10 and caller_result.video_frames_received >= 5
        assert incoming.result.chat_received == TEXTS
        assert alice.active_calls == bob.active_calls == 0


async def test_chat_limit_is_enforced_before_sending(node_url, tmp_path):
    async with Peer(node_url, tmp_path / "a.key") as alice, Peer(node_url, tmp_path / "b.key") as bob:
        call, incoming = await connect_pair(alice, bob)
        with pytest.raises(ValueError, match="limit is 64000"):
            await call.send_chat("é" * 32_001)
        await call.send_chat("still fine")
        assert await asyncio.wait_for(_chats(incoming, 1), 5) == ["still fine"]
        await call.hangup()


async def test_decline(node_url, tmp_path):
    async with Peer(node_url, tmp_path / "a.key") as alice, Peer(node_url, tmp_path / "b.key") as bob:
        call = await alice.call(bob.number)
        incoming = await bob.next_incoming(5)
        await incoming.decline()
        with pytest.raises(CallError) as err:
            await asyncio.wait_for(call.wait_connected(), 5)
        assert err.value.reason == "declined" and str(err.value) == "Declined"
        assert call.result.ended_by == "remote"


async def test_busy(node_url, tmp_path):
    async with Peer(node_url, tmp_path / "a.key") as alice, Peer(node_url, tmp_path / "b.key") as bob, \
            Peer(node_url, tmp_path / "c.key") as carol:
        first, incoming = await connect_pair(alice, bob)
        second = await carol.call(bob.number)
        with pytest.raises(CallError) as err:
            await asyncio.wait_for(second.wait_connected(), 5)
        assert err.value.reason == "busy"
        assert first.phase == incoming.phase == "connected"
        await first.hangup()


async def test_no_answer(node_url, tmp_path):
    async with Peer(node_url, tmp_path / "a.key", ring_timeout=1.0) as alice, \
            Peer(node_url, tmp_path / "b.key") as bob:
        call = await alice.call(bob.number)
        incoming = await bob.next_incoming(5)
        with pytest.raises(CallError) as err:
            await asyncio.wait_for(call.wait_connected(), 5)
        assert err.value.reason == "no_answer"
        result = await asyncio.wait_for(incoming.wait_ended(), 5)
        assert result.reason == "missed" and result.ended_by == "remote"


async def test_cancel_before_answer(node_url, tmp_path):
    async with Peer(node_url, tmp_path / "a.key") as alice, Peer(node_url, tmp_path / "b.key") as bob:
        call = await alice.call(bob.number)
        incoming = await bob.next_incoming(5)
        await call.hangup()
        assert call.result.reason == "cancelled"
        assert (await asyncio.wait_for(incoming.wait_ended(), 5)).reason == "missed"
        with pytest.raises(CallError):
            await incoming.accept()


async def test_unknown_number_and_bad_check_digit(node_url, tmp_path):
    async with Peer(node_url, tmp_path / "a.key") as alice:
        with pytest.raises(UnknownNumber, match="not registered"):
            await alice.call("123456786")
        with pytest.raises(NumberError, match="check digit"):
            await alice.call("123456789")
        assert alice.active_calls == 0


async def test_audio_only_and_receive_only(node_url, tmp_path):
    async with Peer(node_url, tmp_path / "a.key", media=MediaOptions(video=False)) as alice, \
            Peer(node_url, tmp_path / "b.key", media=MediaOptions(source=None)) as bob:
        call, incoming = await connect_pair(alice, bob)
        await _until(lambda: incoming.frames_received[0] >= 10)
        await asyncio.sleep(0.3)
        assert incoming.frames_received[1] == 0 and call.frames_received == (0, 0)
        await call.hangup()


async def test_events_and_no_call_objects_retained(node_url, tmp_path):
    async with Peer(node_url, tmp_path / "a.key") as alice, Peer(node_url, tmp_path / "b.key") as bob:
        call, incoming = await connect_pair(alice, bob)
        events = []

        async def collect():
            async for event in incoming.events():
                events.append(event)

        collector = asyncio.create_task(collect())
        await call.send_chat("secret words")
        await asyncio.sleep(0.3)
        await call.hangup()
        await asyncio.wait_for(collector, 5)
        assert isinstance(events[0], Connected) and events[1] == ChatMessage("secret words")
        assert events[-1] == Ended("remote", "hangup")

        refs = [weakref.ref(call), weakref.ref(incoming)]
        del call, incoming, events, collector
        await asyncio.sleep(0.2)
        gc.collect()
        assert [r() for r in refs] == [None, None]
        assert alice.active_calls == bob.active_calls == 0
        leftovers = [o for o in gc.get_objects() if type(o).__name__ == "RTCPeerConnection"]
        assert leftovers == []
