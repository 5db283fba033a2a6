"""A connected Python ↔ Python call needs the node for nothing: SIGKILL it mid-call and media,
chat, screen sharing and hangup all keep working over the peers' own connection."""

import asyncio

import pytest

from safemeet.peer import Ended, Peer, RemoteScreen
from call_helpers import connect_pair, next_event, until


@pytest.fixture
def node(node_process):
    return node_process


async def test_call_outlives_a_killed_node(node, tmp_path):
    async with Peer(node.url, tmp_path / "a.key") as alice, Peer(node.url, tmp_path / "b.key") as bob:
        call, incoming = await connect_pair(alice, bob)
        await until(lambda: incoming.frames_received[0] > 20, what="audio before the kill")
        node.kill()

        # Media keeps flowing for 10 s with no node anywhere.
        before_a, before_b = call.frames_received, incoming.frames_received
        await asyncio.sleep(10)
        after_a, after_b = call.frames_received, incoming.frames_received
        assert after_a[0] - before_a[0] > 300 and after_a[1] - before_a[1] > 100  # ~500 audio, ~300 video
        assert after_b[0] - before_b[0] > 300 and after_b[1] - before_b[1] > 100
        assert call.phase == incoming.phase == "connected"

        # Chat, both ways.
        await call.send_chat("still here 🛰")
        await incoming.send_chat("me too")
        await until(lambda: call._live.chat == ["me too"] and incoming._live.chat == ["still here 🛰"],
                     what="chat without a node")

        # A screen share starts, arrives, stops and is gone.
        await call.share_screen()
        shown = await next_event(incoming, RemoteScreen)
        assert shown.sharing and incoming.remote_sharing_screen
        await until(lambda: incoming.screen_frames_received > 10, what="screen frames")
        await call.stop_screen()
        hidden = await next_event(incoming, RemoteScreen)
        assert not hidden.sharing
        await asyncio.sleep(0.5)  # frames already on the wire
        settled = incoming.screen_frames_received
        await asyncio.sleep(1.5)
        assert incoming.screen_frames_received == settled
        assert incoming.frames_received[1] > after_b[1]  # the camera went on all along

        # Hangup reaches the other side over the data channel.
        await call.hangup()
        ended = await next_event(incoming, Ended, timeout=5)
        assert ended.ended_by == "remote" and ended.reason == "hangup"
        result = await incoming.wait_ended()
        assert result.screen_frames_received == settled and result.chat_received == ["still here 🛰"]


async def test_accepting_after_the_node_died_says_why(node, tmp_path):
    async with Peer(node.url, tmp_path / "a.key") as alice, Peer(node.url, tmp_path / "b.key") as bob:
        await alice.call(bob.number)
        incoming = await bob.next_incoming(10)
        node.kill()  # while it rings: the accept cannot get out
        await incoming.accept()
        result = await incoming.wait_ended()
        assert not result.connected and result.ended_by == "error", result
        assert result.error.endswith(": the node cannot be reached"), result
