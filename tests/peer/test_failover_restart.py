"""A node process that is SIGKILLed and started again on the same port: peers register again by
themselves, once each, and calls work again; a call in progress never notices."""

import asyncio

import pytest

from call_helpers import connect_pair
from failover_checks import StateLog, record_rings, start, wait_connections
from nodeproc import NodeProcess
from safemeet.core.identity import Identity
from safemeet.peer import ChatMessage, NodeError, Peer
from safemeet.peer.failover import BACKOFF_CAP_S


@pytest.mark.timeout(240)
@pytest.mark.parametrize("down_s", [5, 60])
async def test_peers_register_again_after_a_node_restart(tmp_path, down_s):
    node = NodeProcess(tmp_path / "node")
    await start(node)
    try:
        async with Peer(node.url, Identity.generate()) as alice, Peer(node.url, Identity.generate()) as bob:
            numbers = alice.number, bob.number
            assert await wait_connections(node, 2) == 2
            waiting = asyncio.ensure_future(bob.next_incoming())  # an application waiting for a call
            logs = StateLog(alice), StateLog(bob)

            node.kill()
            for log in logs:
                await log.reached("reconnecting", timeout=10)
            with pytest.raises(NodeError) as lost:  # a request while the node is away fails at once
                await asyncio.wait_for(alice.lookup(bob.number), 1)
            assert lost.value.code == "disconnected"
            await asyncio.sleep(down_s)
            assert not waiting.done()  # still waiting: losing the node is not the end of waiting

            started = await start(node)
            # Generous bound: the longest wait between rounds is the backoff cap.
            back = await asyncio.gather(*(log.reached("reconnecting", "online", timeout=3 * BACKOFF_CAP_S + 10)
                                          for log in logs))
            times = [at - started for at in back]
            print(f"\nnode down {down_s} s: peers registered again {times[0]:.2f} s and {times[1]:.2f} s "
                  f"after the node was back")
            assert (alice.number, bob.number) == numbers  # same node, same keys: same numbers
            assert await wait_connections(node, 2) == 2  # one connection per peer, no leftovers

            rings = record_rings(bob)
            call = await alice.call(bob.number)
            incoming = await asyncio.wait_for(waiting, 10)  # the wait from before the restart gets it
            assert incoming.remote == alice.number
            await incoming.accept()
            await asyncio.wait_for(call.wait_connected(), 10)
            await asyncio.wait_for(incoming.wait_connected(), 10)
            await call.hangup()
            assert (await asyncio.wait_for(incoming.wait_ended(), 10)).connected
            assert rings == [call.id]  # rang exactly once: bob is present once
            assert bob._incoming.empty()
    finally:
        node.stop()


async def _next_chat(call) -> str:
    async for event in call.events():
        if isinstance(event, ChatMessage):
            return event.text
    raise AssertionError("the call ended before a chat message arrived")


async def _still_flowing(call, incoming) -> None:
    """Frames keep arriving on both sides and chat goes both ways."""
    before = call.frames_received + incoming.frames_received
    await asyncio.sleep(1.0)
    after = call.frames_received + incoming.frames_received
    assert all(b < a for b, a in zip(before, after)), (before, after)
    for sender, receiver, text in ((call, incoming, "still here?"), (incoming, call, "yes ✓")):
        await sender.send_chat(text)
        assert await asyncio.wait_for(_next_chat(receiver), 5) == text
    assert call.phase == incoming.phase == "connected"


async def test_a_call_in_progress_is_not_disturbed_by_a_node_restart(tmp_path):
    node = NodeProcess(tmp_path / "node")
    await start(node)
    try:
        async with Peer(node.url, Identity.generate()) as alice, Peer(node.url, Identity.generate()) as bob:
            call, incoming = await connect_pair(alice, bob)
            logs = StateLog(alice), StateLog(bob)
            node.kill()
            await logs[0].reached("reconnecting", timeout=10)
            await _still_flowing(call, incoming)
            await asyncio.sleep(2)
            await start(node)
            for log in logs:
                await log.reached("reconnecting", "online", timeout=3 * BACKOFF_CAP_S + 10)
            await _still_flowing(call, incoming)
            await call.hangup()  # the hangup travels through the restarted node
            result = await asyncio.wait_for(incoming.wait_ended(), 10)
            assert result.connected and result.ended_by == "remote" and result.error is None
            assert call.result.connected and call.result.ended_by == "local"
    finally:
        node.stop()
