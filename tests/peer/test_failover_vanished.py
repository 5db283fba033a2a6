"""A client that vanished without closing its connection (frozen, suspended, cable pulled) leaves
a socket the node still holds for a while; that socket must not lock its number out: the same
identity connecting again receives calls at once."""

import asyncio
import json
import os
import re
import signal
import sys

import aiohttp
import pytest

from call_helpers import connect_pair
from failover_checks import connections, start, wait_connections
from nodeproc import NodeProcess
from safemeet.core.b64 import b64u_decode, b64u_encode
from safemeet.core.identity import Identity
from safemeet.peer import ChatMessage, Peer
from safemeet.peer.failover import ws_url
from safemeet.peer.keyfile import load_or_create_identity


@pytest.fixture
async def node(tmp_path):
    node = NodeProcess(tmp_path / "node")
    await start(node)
    yield node
    node.stop()


async def _register_and_freeze(session: aiohttp.ClientSession, url: str, identity: Identity):
    """Register ``identity`` over a bare WebSocket, then never read again (no pong, no close)."""
    ws = await session.ws_connect(ws_url(url), autoping=False)
    challenge = json.loads((await ws.receive(timeout=5)).data)
    nonce = b64u_decode(challenge["nonce"], 32)
    await ws.send_str(json.dumps({"t": "register", "v": 1, "keys": identity.public.to_json(),
                                  "proof": b64u_encode(identity.auth_proof(nonce))}))
    registered = json.loads((await ws.receive(timeout=5)).data)
    assert registered["t"] == "registered"
    return ws, registered["number"]


async def test_a_frozen_socket_does_not_lock_its_number_out(node):
    identity = Identity.generate()
    async with aiohttp.ClientSession() as session:
        frozen, number = await _register_and_freeze(session, node.url, identity)
        async with Peer(node.url, identity) as bob, Peer(node.url, Identity.generate()) as alice:
            assert bob.number == number
            assert await wait_connections(node, 3) == 3  # the frozen socket is still there
            call, incoming = await connect_pair(alice, bob)  # rings within 5 s
            await call.hangup()
            assert (await asyncio.wait_for(incoming.wait_ended(), 10)).connected
            assert not frozen.closed
        await frozen.close()


async def test_a_suspended_process_does_not_lock_its_number_out(node, tmp_path):
    """``safemeet answer`` is SIGSTOPped (a laptop lid closed): its socket stays open, unread.
    The same identity started elsewhere takes the calls meanwhile."""
    key = tmp_path / "bob.key"
    env = {**os.environ, "SAFEMEET_NODE": node.url, "SAFEMEET_IDENTITY": str(key)}
    frozen = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "safemeet", "answer", "--count", "0", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        line = (await asyncio.wait_for(frozen.stdout.readline(), 20)).decode()
        number = re.fullmatch(r"Waiting for calls on (\d{9})\n", line).group(1)
        frozen.send_signal(signal.SIGSTOP)
        async with Peer(node.url, load_or_create_identity(key)) as bob, \
                Peer(node.url, Identity.generate()) as alice:
            assert bob.number == number
            assert connections(node) == 3
            call, incoming = await connect_pair(alice, bob)
            await call.send_chat("you are the live one")
            event = await asyncio.wait_for(anext(e async for e in incoming.events() if isinstance(e, ChatMessage)), 5)
            assert event.text == "you are the live one"
            await call.hangup()
            assert (await asyncio.wait_for(incoming.wait_ended(), 10)).connected
    finally:
        frozen.kill()  # SIGKILL ends a stopped process too
        await frozen.wait()
