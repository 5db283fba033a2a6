"""Peers configured with several nodes: they register at the first one that is up, and move to
the next when theirs dies, whether it closes its connections (killed) or goes silent (frozen)."""

import asyncio
import os
import signal
import time

import pytest

from call_helpers import connect_pair
from failover_checks import StateLog, start
from nodeproc import NodeProcess, free_tcp_port
from safemeet.core.identity import Identity
from safemeet.peer import Peer
from safemeet.peer.failover import BACKOFF_CAP_S, ws_url
from safemeet.peer.signaling import HEARTBEAT_S


@pytest.fixture
async def two_nodes(tmp_path):
    """Two independent nodes (each its own SQLite registry, so each its own numbers)."""
    nodes = NodeProcess(tmp_path / "a"), NodeProcess(tmp_path / "b")
    await asyncio.gather(*(start(n) for n in nodes))
    yield nodes
    for node in nodes:
        if node.proc is not None and node.proc.poll() is None:
            os.kill(node.proc.pid, signal.SIGCONT)  # a frozen node must be able to stop
        node.stop()


async def test_a_dead_node_first_in_the_list_is_skipped(two_nodes):
    live = two_nodes[1].url
    dead = f"http://127.0.0.1:{free_tcp_port()}"  # nothing listens there
    async with Peer(f"{dead},{live}", Identity.generate()) as alice, Peer([dead, live], Identity.generate()) as bob:
        assert alice.signaling_state == bob.signaling_state == "online"
        assert alice._node.url == bob._node.url == ws_url(live)
        call, incoming = await connect_pair(alice, bob)
        await call.hangup()
        assert (await asyncio.wait_for(incoming.wait_ended(), 10)).connected


async def test_killing_a_node_moves_its_peers_to_the_next_one(two_nodes):
    a, b = two_nodes
    async with Peer([a.url, b.url], Identity.generate()) as alice, Peer([a.url, b.url], Identity.generate()) as bob:
        on_a = alice.number, bob.number
        assert alice._node.url == bob._node.url == ws_url(a.url)

        logs = StateLog(alice), StateLog(bob)
        a.kill()
        killed = time.monotonic()
        times = [at - killed for at in await asyncio.gather(
            *(log.reached("reconnecting", "online", timeout=3 * BACKOFF_CAP_S) for log in logs))]
        print(f"\nnode A killed: peers registered at B {times[0]:.2f} s and {times[1]:.2f} s later")
        assert alice._node.url == bob._node.url == ws_url(b.url)
        # Independent nodes: B gave each key a number of its own; calls on B use those.
        assert alice._node.number == alice.number and bob._node.number == bob.number
        call, incoming = await connect_pair(alice, bob)
        assert incoming.remote == alice.number
        await call.hangup()
        assert (await asyncio.wait_for(incoming.wait_ended(), 10)).connected

        await start(a)  # A is back: nobody leaves a node that works
        await asyncio.sleep(1)
        assert alice._node.url == bob._node.url == ws_url(b.url)

        logs = StateLog(alice), StateLog(bob)
        b.kill()  # and back to A, where the same keys get their old numbers again
        killed = time.monotonic()
        times = [at - killed for at in await asyncio.gather(
            *(log.reached("reconnecting", "online", timeout=3 * BACKOFF_CAP_S) for log in logs))]
        print(f"node B killed: peers registered at A {times[0]:.2f} s and {times[1]:.2f} s later")
        assert (alice.number, bob.number) == on_a
        call, incoming = await connect_pair(alice, bob)
        await call.hangup()


@pytest.mark.timeout(180)
async def test_a_frozen_node_is_noticed_and_left(two_nodes):
    """A node that stops answering without closing anything (SIGSTOP: its sockets stay open)
    is noticed by the WebSocket heartbeat; the peer then moves to the next node."""
    a, b = two_nodes
    async with Peer([a.url, b.url], Identity.generate()) as alice:
        assert alice._node.url == ws_url(a.url)
        log = StateLog(alice)
        os.kill(a.proc.pid, signal.SIGSTOP)
        frozen = time.monotonic()
        took = await log.reached("reconnecting", "online", timeout=3 * HEARTBEAT_S + 3 * BACKOFF_CAP_S) - frozen
        print(f"\nnode A frozen: the peer registered at B {took:.2f} s later (heartbeat {HEARTBEAT_S:g} s)")
        assert alice._node.url == ws_url(b.url)
        async with Peer(b.url, Identity.generate()) as bob:
            call, incoming = await connect_pair(bob, alice)
            await call.hangup()
