"""SlotTrack: the screen slot's sender track, whose source comes, goes and is replaced."""

import asyncio

import pytest
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

from safemeet.peer.media import PatternTrack, SlotTrack


async def _frames(slot: SlotTrack, seconds: float) -> list:
    got = []

    async def read() -> None:
        while True:
            got.append(await slot.recv())

    reader = asyncio.ensure_future(read())
    await asyncio.sleep(seconds)
    reader.cancel()
    return got


async def test_sources_come_and_go_on_one_clock():
    relay, slot = MediaRelay(), SlotTrack()
    stamps = []
    for _ in range(3):
        source = PatternTrack(64, 48)
        slot.use(relay.subscribe(source, buffered=False))
        frames = await _frames(slot, 0.5)
        assert len(frames) > 5  # ~15 at 30 fps
        stamps += [f.pts for f in frames]
        source.stop()
        slot.use(None)
        assert await _frames(slot, 0.3) == []  # no source: nothing is sent
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # never starts over


async def test_a_replaced_source_that_never_delivers_again_does_not_hold_the_slot():
    relay, slot = MediaRelay(), SlotTrack()
    first = PatternTrack(64, 48)
    slot.use(relay.subscribe(first, buffered=False))
    assert await _frames(slot, 0.2)
    slot.use(relay.subscribe(PatternTrack(64, 48), buffered=False))  # the first copy is stopped
    assert len(await _frames(slot, 0.4)) > 5
    first.stop()


async def test_stopping_the_slot_ends_its_frames_and_its_source():
    slot = SlotTrack()
    source = SlotTrack()  # a source with nothing to send: the slot waits on it
    slot.use(source)
    waiting = asyncio.ensure_future(slot.recv())
    await asyncio.sleep(0.1)
    assert not waiting.done()
    slot.stop()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(waiting, 2)
    assert source.readyState == "ended"
