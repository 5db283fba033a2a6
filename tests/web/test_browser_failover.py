"""The browser app when its node goes away: real `safemeet serve` processes killed with SIGKILL
and started again on the same port, a deployment of two nodes (`--nodes A,B`), real Chromium.

The page keeps registered (Reconnecting… → Online, same number), a call in progress keeps going
while no node is up (media and chat are peer to peer), and a page loaded from A moves to B when A
dies. Each test prints what it measured (reconnect times); none asserts a duration.
"""

import asyncio
import json
import re
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import expect
from test_browser_calls import _spaced, connect

from safemeet.core.identity import Identity
from safemeet.peer import Peer

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# Every text the Signaling and call status regions show, with the page's clock (ms since the epoch).
RECORD_TEXTS = """
window.__texts = [];
document.addEventListener('DOMContentLoaded', () => {
  for (const id of ['conn', 'status']) {
    const el = document.getElementById(id);
    const note = () => window.__texts.push([id, el.textContent, Date.now()]);
    note();
    new MutationObserver(note).observe(el, { childList: true, characterData: true, subtree: true });
  }
});
"""
LONG = 25_000  # ms: a reconnect waits at most the 10 s backoff cap after the node is back


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NodeProcess:
    """`safemeet serve` in its own process on a fixed port, so it can be killed and come back."""

    def __init__(self, data_dir: Path, port: int, *options: str) -> None:
        self.data_dir, self.port, self.options = data_dir, port, options
        self.proc: asyncio.subprocess.Process | None = None
        self.log = data_dir.parent / f"node-{port}.log"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> float:
        """Start and wait until ``/healthz`` answers; returns that moment (time.time())."""
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "safemeet", "serve", "--port", str(self.port), "--data", str(self.data_dir),
                *self.options, stdout=asyncio.subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 20
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(self.origin + "/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                        if r.status == 200:
                            return time.time()
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                if self.proc.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the node did not start: {self.log.read_text()[-2000:]}")
                await asyncio.sleep(0.05)

    async def kill(self) -> float:
        """SIGKILL, as when the machine dies: no goodbye to anyone. Returns the moment."""
        assert self.proc is not None and self.proc.returncode is None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        return time.time()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


@pytest_asyncio.fixture(loop_scope="module")
async def nodes(tmp_path):
    """``await nodes(*options)`` → a started NodeProcess (``--nodes`` etc. in options); all die at the end."""
    started: list[NodeProcess] = []

    async def start(*options: str, port: int | None = None) -> NodeProcess:
        node = NodeProcess(tmp_path / f"node-{len(started)}", port or free_port(), *options)
        started.append(node)
        await node.start()
        return node

    try:
        yield start
    finally:
        for node in started:
            await node.stop()


async def texts(page, region: str) -> list[tuple[str, float]]:
    """What ``#region`` said over time: (text, seconds since the epoch), repeats folded."""
    shown: list[tuple[str, float]] = []
    for rid, text, ms in await page.page.evaluate("window.__texts"):
        if rid == region and (not shown or shown[-1][0] != text):
            shown.append((text, ms / 1000))
    return shown


def first_after(shown: list[tuple[str, float]], text: str, t: float) -> float:
    return next(at for said, at in shown if said == text and at >= t)


async def said_after(page, region: str, text: str, t: float, timeout: float = LONG / 1000) -> float:
    """Wait until ``#region`` has said ``text`` at or after ``t`` (page clock); returns when."""
    deadline = time.monotonic() + timeout
    while True:
        shown = await texts(page, region)
        if any(said == text and at >= t for said, at in shown):
            return first_after(shown, text, t)
        assert time.monotonic() < deadline, f"#{region} did not say {text!r}: {shown}"
        await asyncio.sleep(0.05)


async def test_page_reregisters_when_its_node_comes_back(apps_at, nodes):
    node = await nodes()
    async with apps_at(node.origin, init_scripts=(RECORD_TEXTS,)) as open_app:
        alice = await open_app()
        number = await alice.number()
        await expect(alice.signaling).to_have_text("Online")

        killed = await node.kill()
        await expect(alice.signaling).to_have_text("Reconnecting…")
        await expect(alice.button("Call")).to_be_disabled()
        await expect(alice.page.locator("#dial-hint")).to_contain_text("reconnecting")
        await asyncio.sleep(5)
        await expect(alice.signaling).to_have_text("Reconnecting…")  # 5 s is not yet "Offline"
        up = await node.start()
        await said_after(alice, "conn", "Online", up - 1)
        await expect(alice.signaling).to_have_text("Online")
        await expect(alice.button("Call")).to_be_enabled()
        assert await alice.number() == number  # same key, same node data: same number
        assert len(alice.sockets) >= 2  # a new WebSocket, same origin (the opener checks that)

        shown = await texts(alice, "conn")
        assert [text for text, _ in shown][-3:] == ["Online", "Reconnecting…", "Online"], shown
        assert all(text == "" for text, _ in await texts(alice, "status"))  # no call, no call status
        print(f"\nnode killed → page says Reconnecting…: {first_after(shown, 'Reconnecting…', killed - 1) - killed:.2f} s;"
              f" node answering again → page Online: {first_after(shown, 'Online', up - 1) - up:.2f} s")

        async with Peer(node.origin, Identity.generate()) as py:  # a new call to it connects
            call = await py.call(number)
            incoming = alice.page.get_by_role("region", name="Incoming call")
            await expect(incoming).to_contain_text(_spaced(py.number))
            await alice.button("Accept").click()
            await asyncio.wait_for(call.wait_connected(), 10)
            await expect(alice.status).to_have_text("Connected")
            await alice.assert_video_playing()
            await call.hangup()
            await expect(alice.status).to_have_text("Call ended")


async def test_a_call_goes_on_while_the_node_is_dead(apps_at, nodes):
    node = await nodes()
    async with apps_at(node.origin, init_scripts=(RECORD_TEXTS,)) as open_app:
        alice, bob = await asyncio.gather(open_app(), open_app())
        await connect(alice, bob)
        await alice.assert_video_playing()

        killed = await node.kill()
        for page in (alice, bob):
            await expect(page.signaling).to_have_text("Reconnecting…")
        await asyncio.sleep(3)  # well past any signaling timeout a call could trip over
        for name, page, other in (("alice", alice, bob), ("bob", bob, alice)):
            await expect(page.status).to_have_text("Connected")
            await page.assert_video_playing()
            await page.send_chat(f"still here, {name}")
            await expect(other.chat_log.get_by_text(f"still here, {name}", exact=True)).to_be_visible()
        for page in (alice, bob):  # the call status said nothing while the node was away
            calls = await texts(page, "status")
            assert [text for text, at in calls if at >= killed] == [], calls

        up = await node.start()
        for page in (alice, bob):
            await said_after(page, "conn", "Online", up - 1)
            await expect(page.signaling).to_have_text("Online")
            await expect(page.status).to_have_text("Connected")
        await alice.assert_video_playing()
        await alice.button("Hang up").click()  # goes through the node again: bob hears it
        await expect(bob.status).to_have_text("Call ended")
        back = [first_after(await texts(p, "conn"), "Online", up - 1) - up for p in (alice, bob)]
        print(f"\ncall kept going through a {up - killed:.1f} s outage; pages Online again "
              f"{back[0]:.2f} s and {back[1]:.2f} s after the node answered")


async def _fail_over(apps_at, nodes, redis_url: str | None) -> None:
    a_port, b_port = free_port(), free_port()
    listed = f"http://127.0.0.1:{a_port},http://127.0.0.1:{b_port}/"
    shared = ("--redis", redis_url) if redis_url else ()
    a = await nodes("--nodes", listed, *shared, port=a_port)
    b = await nodes("--nodes", listed, *shared, port=b_port)

    async with aiohttp.ClientSession() as session:
        async with session.get(a.origin + "/") as resp:
            csp = resp.headers["Content-Security-Policy"]
    assert re.findall(r"connect-src ([^;]*)", csp) == [f"'self' ws://127.0.0.1:{a_port} ws://127.0.0.1:{b_port}"], csp

    async with apps_at(a.origin, nodes=(b.origin,), init_scripts=(RECORD_TEXTS,)) as open_app:
        alice = await open_app()
        on_a = await alice.number()
        remembered = await alice.page.evaluate("localStorage.getItem('safemeet.nodes')")
        assert json.loads(remembered) == [a.origin, b.origin]

        killed = await a.kill()
        await said_after(alice, "conn", "Online", killed)
        await expect(alice.signaling).to_have_text("Online")
        assert alice.sockets[-1] == f"ws://127.0.0.1:{b_port}/ws"
        on_b = await alice.number()
        if redis_url:
            assert on_b == on_a  # one registry behind both nodes
        else:
            assert on_b != on_a  # B hands out its own number for the key
        shown = await texts(alice, "conn")
        assert [text for text, _ in shown][-3:] == ["Online", "Reconnecting…", "Online"], shown
        print(f"\nnode A killed → page registered at B: {first_after(shown, 'Online', killed) - killed:.2f} s"
              f" ({'shared Redis, same number' if redis_url else 'independent data, new number'})")

        async with Peer(b.origin, Identity.generate()) as py:  # a call placed via B reaches the page
            call = await py.call(on_b)
            await expect(alice.page.get_by_role("region", name="Incoming call")).to_contain_text(_spaced(py.number))
            await alice.button("Accept").click()
            await asyncio.wait_for(call.wait_connected(), 10)
            await expect(alice.status).to_have_text("Connected")
            await alice.assert_video_playing()
            await alice.button("Hang up").click()
            result = await asyncio.wait_for(call.wait_ended(), 10)
            assert result.ended_by == "remote"
        assert await alice.csp_violations() == []
        assert all(u.startswith(a.origin + "/") for u in alice.requests), alice.requests  # pages only from A


async def test_page_moves_to_the_next_node_on_a_shared_redis(apps_at, nodes, redis_server_module_loop):
    await _fail_over(apps_at, nodes, redis_server_module_loop.url)


async def test_page_moves_to_an_independent_next_node(apps_at, nodes):
    await _fail_over(apps_at, nodes, None)


async def test_a_page_opened_under_another_name_than_the_list_gives_still_registers(apps_at, nodes):
    # The node prints http://127.0.0.1:P/; its list spells itself http://localhost:P.
    port = free_port()
    node = await nodes("--nodes", f"http://localhost:{port}", port=port)
    async with apps_at(node.origin, nodes=(f"http://localhost:{port}",)) as open_app:
        page = await open_app()
        await expect(page.signaling).to_have_text("Online")
        assert await page.csp_violations() == []
