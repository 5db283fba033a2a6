"""Relay-only calls with strangers: through a real coturn, the other side never sees our address."""

import asyncio
import re

import pytest
from aioice.ice import get_host_addresses

from safemeet.core.identity import Identity
from safemeet.peer import CallError, Peer, RelayPolicy, RelayUnavailable
from call_helpers import connect_pair

HOSTS = get_host_addresses(use_ipv4=True, use_ipv6=True)


def _candidate_types(sdp: str) -> set[str]:
    return set(re.findall(r"a=candidate:\S+ \d+ \w+ \d+ \S+ \d+ typ (\w+)", sdp))


def _selected_local_type(call) -> str:
    # aiortc does not expose the selected pair; its ICE connection (aioice) knows it.
    pc = call._live.pc
    transport = pc.getTransceivers()[0].receiver.transport.transport
    pair = next(iter(transport._connection._nominated.values()))
    return pair.local_candidate.type


def _assert_hidden(sdp: str) -> None:
    assert _candidate_types(sdp) == {"relay"}, sdp
    for address in HOSTS:
        assert address not in sdp


async def _frames(call, n=5):
    for _ in range(200):
        if min(call.frames_received) >= n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"frames {call.frames_received}")


async def test_node_hands_out_turn_credentials(turn_node_url, node_url):
    async with Peer(turn_node_url, Identity.generate()) as with_turn, Peer(node_url, Identity.generate()) as plain:
        [server] = with_turn._node.ice_servers
        assert server["urls"][0].startswith("turn:127.0.0.1:")
        expiry, tag = server["username"].split(":")
        assert int(expiry) > 0 and tag and with_turn.number not in server["username"]
        assert plain._node.ice_servers == []


async def test_a_strangers_ring_is_answered_through_the_relay_only(turn_node_url):
    async with Peer(turn_node_url, Identity.generate()) as alice, Peer(turn_node_url, Identity.generate()) as bob:
        call, incoming = await connect_pair(alice, bob)
        assert incoming.relay_only and not call.relay_only
        _assert_hidden(incoming._live.pc.localDescription.sdp)  # what bob sent alice
        assert "host" in _candidate_types(call._live.pc.localDescription.sdp)  # alice chose direct
        assert _selected_local_type(incoming) == "relay"
        await _frames(call)
        await _frames(incoming)
        await call.send_chat("through the relay")
        await call.hangup()
        assert (await asyncio.wait_for(incoming.wait_ended(), 5)).reason == "hangup"


async def test_caller_hides_too_when_asked(turn_node_url):
    hide = RelayPolicy(outgoing="always")
    async with Peer(turn_node_url, Identity.generate(), relay=hide) as alice, \
            Peer(turn_node_url, Identity.generate()) as bob:
        call, incoming = await connect_pair(alice, bob)
        _assert_hidden(call._live.pc.localDescription.sdp)
        _assert_hidden(incoming._live.pc.localDescription.sdp)
        assert _selected_local_type(call) == _selected_local_type(incoming) == "relay"
        await _frames(incoming)
        await call.hangup()


async def test_pinned_contacts_talk_directly(turn_node_url):
    async with Peer(turn_node_url, Identity.generate()) as alice, Peer(turn_node_url, Identity.generate()) as bob:
        first, _ = await connect_pair(alice, bob)  # connecting pins both sides
        await first.hangup()
        await asyncio.sleep(0.2)
        call, incoming = await connect_pair(alice, bob)
        assert not incoming.relay_only
        assert "host" in _candidate_types(incoming._live.pc.localDescription.sdp)
        await call.hangup()


async def test_relay_required_without_a_relay(node_url):
    strict = RelayPolicy(incoming="always", outgoing="always")
    async with Peer(node_url, Identity.generate(), relay=strict) as alice, \
            Peer(node_url, Identity.generate(), relay=strict) as bob, \
            Peer(node_url, Identity.generate()) as carol:
        with pytest.raises(RelayUnavailable, match="no TURN relay"):
            await alice.call(bob.number)
        assert alice.active_calls == 0
        call = await carol.call(bob.number)  # bob may not show his address: declined unseen
        with pytest.raises(CallError) as err:
            await asyncio.wait_for(call.wait_connected(), 5)
        assert err.value.reason == "declined"


def test_relay_policy_rejects_unknown_modes():
    with pytest.raises(ValueError, match="relay modes"):
        RelayPolicy(incoming="sometimes")


async def test_cli_answer_and_call_through_the_relay(turn_node_url, tmp_path):
    import json
    import os
    import sys

    env = {**os.environ, "SAFEMEET_NODE": turn_node_url}
    cli = [sys.executable, "-m", "safemeet"]

    async def run(*args, key):
        proc = await asyncio.create_subprocess_exec(*cli, *args, "--identity", str(tmp_path / key), env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 40)
        return proc.returncode, out.decode(), err.decode()

    code, out, _ = await run("id", "--json", key="b.key")
    bob = json.loads(out)["number"]
    answer = asyncio.create_task(run("answer", "--json", "--relay", "always", "--timeout", "30", key="b.key"))
    await asyncio.sleep(1.5)
    code, out, err = await run("call", bob, "--json", "--relay", "always", "--duration", "1.5", key="a.key")
    assert code == 0, err
    assert json.loads(out)["video_frames_received"] > 0
    code, out, err = await answer
    assert code == 0 and json.loads(out)["audio_frames_received"] > 0, err
