"""A Python call whose path breaks: what the call says and keeps while it reconnects, and that the
screen-share state both sides see is right again once it has."""

import asyncio

import pytest

from call_helpers import connect_pair, cut_path, next_event, until
from safemeet.peer import CallError, Peer, Reconnecting, RemoteScreen
from safemeet.peer.media import PatternTrack


@pytest.mark.timeout(60)
async def test_a_share_stopped_while_reconnecting_is_gone_once_reconnected(node_url, tmp_path):
    async with Peer(node_url, tmp_path / "a.key") as alice, Peer(node_url, tmp_path / "b.key") as bob:
        call, incoming = await connect_pair(alice, bob)
        await incoming.share_screen()
        assert (await next_event(call, RemoteScreen)).sharing

        cut_path(incoming)  # the callee notices at once; the caller after 5 s of silence
        await next_event(incoming, Reconnecting)
        with pytest.raises(CallError) as no_chat:
            await incoming.send_chat("lost")
        assert "reconnecting" in str(no_chat.value)
        await incoming.stop_screen()  # its "off" cannot reach the caller on the dead channel

        assert not (await next_event(call, RemoteScreen, timeout=30)).sharing  # said again on the new one
        await until(lambda: call.phase == incoming.phase == "connected", "both connected again")
        assert not call.remote_sharing_screen
        await incoming.send_chat("back")
        await until(lambda: call._live.chat == ["back"], "chat on the new connection")
        await call.hangup()
        assert (await incoming.wait_ended()).reconnects == 1


async def test_a_share_whose_track_ends_stops(node_url, tmp_path):
    async with Peer(node_url, tmp_path / "a.key") as alice, Peer(node_url, tmp_path / "b.key") as bob:
        call, incoming = await connect_pair(alice, bob)
        track = PatternTrack(160, 90)
        await call.share_screen(track)
        assert (await next_event(incoming, RemoteScreen)).sharing
        track.stop()  # e.g. a media file that reached its end
        assert not (await next_event(incoming, RemoteScreen)).sharing
        assert not call.sharing_screen
        with pytest.raises(ValueError):
            await call.share_screen(track)  # ended
        with pytest.raises(ValueError):
            await call.share_screen("screen")  # not a track
        await call.hangup()
