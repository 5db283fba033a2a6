"""Two nodes sharing one Redis (one registry, one presence): peers on either node call each other;
when one node dies its peers move to the other under the same numbers, and the dead node rejoins
when it is started again."""

import asyncio
import time

import pytest

from call_helpers import connect_pair
from failover_checks import StateLog, start
from nodeproc import NodeProcess
from safemeet.core.identity import Identity
from safemeet.peer import Peer
from safemeet.peer.failover import BACKOFF_CAP_S, ws_url


async def _call_works(caller: Peer, callee: Peer) -> None:
    call, incoming = await connect_pair(caller, callee)
    await call.send_chat("over redis")
    await call.hangup()
    result = await asyncio.wait_for(incoming.wait_ended(), 10)
    assert result.connected and result.chat_received == ["over redis"]


@pytest.mark.timeout(180)
async def test_two_nodes_on_one_redis_fail_over_to_each_other(tmp_path, redis_server):
    a = NodeProcess(tmp_path / "a", extra=("--redis", redis_server.url))
    b = NodeProcess(tmp_path / "b", extra=("--redis", redis_server.url))
    await asyncio.gather(start(a), start(b))
    try:
        async with Peer([a.url, b.url], Identity.generate()) as alice, \
                Peer([b.url, a.url], Identity.generate()) as bob:
            assert alice._node.url == ws_url(a.url) and bob._node.url == ws_url(b.url)
            numbers = alice.number, bob.number
            await _call_works(alice, bob)  # caller on A, callee on B

            log = StateLog(alice)
            a.kill()
            killed = time.monotonic()
            took = await log.reached("reconnecting", "online", timeout=3 * BACKOFF_CAP_S) - killed
            print(f"\nnode A killed: its peer registered at B {took:.2f} s later")
            assert alice._node.url == ws_url(b.url)
            assert (alice.number, bob.number) == numbers  # one registry: the same numbers
            await _call_works(alice, bob)
            await _call_works(bob, alice)

            await start(a)  # A rejoins: a peer on it reaches peers on B, and back
            async with Peer(a.url, Identity.generate()) as carol:
                await _call_works(carol, alice)
                await _call_works(bob, carol)
    finally:
        a.stop()
        b.stop()
