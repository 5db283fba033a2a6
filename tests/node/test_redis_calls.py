"""Real Python peers calling across two real nodes on one real redis-server; a Redis outage and its
end without restarting anything; ``safemeet serve --redis`` as a process."""

import asyncio
import re
import signal
import sys

import aiohttp
import pytest

from safemeet.peer import ChatMessage, NodeError, Peer
from call_helpers import connect_pair

CLI = [sys.executable, "-m", "safemeet"]


@pytest.fixture
async def nodes(redis_server, start_node):  # Redis outlives the nodes
    return await start_node(redis_url=redis_server.url), await start_node(redis_url=redis_server.url)


async def _next_chat(call) -> str:
    async for event in call.events():
        if isinstance(event, ChatMessage):
            return event.text
    raise AssertionError("the call ended without a chat message")


async def _call_across(one, two, tmp_path, tag: str) -> None:
    """A on node 1 calls B on node 2: connected, chat both ways, A's hangup reaches B."""
    async with Peer(one.base, tmp_path / f"a-{tag}.key") as alice, Peer(two.base, tmp_path / f"b-{tag}.key") as bob:
        call, incoming = await connect_pair(alice, bob, timeout=20)
        to_bob = asyncio.create_task(_next_chat(incoming))
        to_alice = asyncio.create_task(_next_chat(call))
        await call.send_chat(f"hello from node 1 ({tag})")
        await incoming.send_chat(f"hello from node 2 ({tag})")
        assert await asyncio.wait_for(to_bob, 10) == f"hello from node 1 ({tag})"
        assert await asyncio.wait_for(to_alice, 10) == f"hello from node 2 ({tag})"
        await call.hangup()
        theirs = await asyncio.wait_for(incoming.wait_ended(), 10)
        assert (theirs.ended_by, theirs.reason, theirs.connected) == ("remote", "hangup", True)
        assert (await call.wait_ended()).ended_by == "local"


async def test_call_between_peers_on_different_nodes(nodes, tmp_path):
    await _call_across(*nodes, tmp_path, "first")


async def _health(node) -> tuple[int, str]:
    async with node.session.get(node.base + "/healthz") as resp:
        return resp.status, await resp.text()


async def _until_healthy(node, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (await _health(node))[0] != 200:
        assert asyncio.get_running_loop().time() < deadline, "the node did not find Redis again"
        await asyncio.sleep(0.1)


async def test_outage_gives_unavailable_and_recovers_without_restart(nodes, redis_server, tmp_path):
    one, two = nodes
    waiting = await two.connect()  # connected before the outage, stays connected through it
    asker = await one.connect()
    await redis_server.stop()

    with pytest.raises(NodeError) as refused:  # what a client sees when it registers now
        async with Peer(one.base, tmp_path / "late.key"):
            pass
    assert refused.value.code == "unavailable"
    reply = await asker.request({"t": "lookup", "id": 1, "number": waiting.number})
    assert (reply["t"], reply["code"], reply["id"]) == ("error", "unavailable", 1)
    reply = await asker.request({"t": "send", "id": 2, "to": waiting.number, "env": "AAAA"})
    assert (reply["t"], reply["code"], reply["id"]) == ("error", "unavailable", 2)
    assert await asker.request({"t": "ping", "id": 3}) == {"t": "pong", "id": 3}  # the session goes on
    async with one.session.get(one.base + "/") as resp:  # and so does the web app
        assert resp.status == 200 and "safemeet" in await resp.text()
    assert await _health(one) == (503, "unavailable\nredis: unavailable")

    await redis_server.start()  # same port; nothing saved, so the registry starts empty
    await _until_healthy(one)
    await _until_healthy(two)
    assert await _health(two) == (200, "ok\nredis: ok")
    # the connection from before the outage is reachable again: node 2 subscribed it again
    reply = await asker.request({"t": "send", "id": 4, "to": waiting.number, "env": "BBBB"})
    assert reply == {"t": "sent", "id": 4}
    assert await waiting.recv() == {"t": "msg", "env": "BBBB"}
    await _call_across(one, two, tmp_path, "after the outage")


async def test_serve_with_redis_as_a_process(redis_server, tmp_path):
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve", "--port", "0", "--data", str(tmp_path / "unused"), "--redis", redis_server.url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
        url = re.search(r"open (http://127\.0\.0\.1:\d+)/", line).group(1)
        async with aiohttp.ClientSession() as session, session.get(url + "/healthz") as resp:
            assert resp.status == 200 and await resp.text() == "ok\nredis: ok"
        async with Peer(url, tmp_path / "a.key") as alice:
            assert alice.number
        assert not (tmp_path / "unused").exists()  # with Redis the node keeps nothing on disk
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    err = (await proc.stderr.read()).decode()
    assert str(redis_server.port) not in err and alice.number not in err


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379"])
async def test_serve_refuses_a_url_that_is_not_redis(url):
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve", "--port", "0", "--redis", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 2 and out == b""
    assert "redis://" in err.decode()
