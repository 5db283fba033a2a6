"""Real headless Chromium (system build, fake camera and microphone) against a real node.

One browser per module; every test gets a fresh node and fresh browser contexts, so each page is
a new identity. Every page records its console, CSP violations, requests and WebSocket frames;
the `app` fixture checks after each test that nothing broke the CSP and nothing left the origin.
"""

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from safemeet.core.b64 import b64u_decode, b64u_encode
from safemeet.core.envelope import Message, ReplayGuard, open_envelope, verify
from safemeet.core.identity import Identity, PublicKeys
from safemeet.node import NodeConfig, create_app, create_runner

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Runs before the app in every page: records CSP violations where no page script can hide them.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@dataclass
class App:
    """One page of the app and what it did."""

    page: "playwright_api.Page"
    origin: str
    console: list[tuple[str, str]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)
    frames_sent: list[str] = field(default_factory=list)

    def watch(self) -> None:
        p = self.page
        p.on("console", lambda m: self.console.append((m.type, m.text)))
        p.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        p.on("request", lambda r: self.requests.append(r.url))

        def on_socket(ws) -> None:
            self.sockets.append(ws.url)
            ws.on("framesent", lambda payload: self.frames_sent.append(payload))

        p.on("websocket", on_socket)

    async def open(self) -> str:
        """Load the app and wait until it is registered; returns our nine-digit number."""
        await self.page.goto(self.origin + "/")
        await playwright_api.expect(self.page.get_by_role("button", name="Call", exact=True)).to_be_enabled(timeout=10_000)
        return await self.number()

    async def number(self) -> str:
        text = await self.page.get_by_label("Your number").inner_text()
        digits = re.sub(r"\D", "", text)
        assert len(digits) == 9, text
        return digits

    @property
    def status(self):
        return self.page.get_by_role("status")

    def button(self, name: str):
        return self.page.get_by_role("button", name=name, exact=True)

    async def dial(self, number: str) -> None:
        await self.page.get_by_label("Number to call").fill(number)
        await self.button("Call").click()

    async def csp_violations(self) -> list[str]:
        return await self.page.evaluate("window.__cspViolations ?? []")

    def foreign_requests(self) -> list[str]:
        ws_origin = "ws" + self.origin.removeprefix("http")
        ok = (self.origin + "/", ws_origin + "/")
        return [u for u in self.requests + self.sockets if not u.startswith(ok) and not u.startswith(("data:", "blob:"))]

    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind in ("error", "pageerror")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator["playwright_api.Browser"]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest_asyncio.fixture(loop_scope="module")
async def node(tmp_path: Path) -> AsyncIterator[str]:
    """A real node on a free loopback port; yields its origin (http://127.0.0.1:PORT)."""
    app = create_app(NodeConfig(host="127.0.0.1", port=0, data_dir=tmp_path / "node-data"))
    runner = create_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


OpenApp = Callable[..., Awaitable[App]]


@pytest_asyncio.fixture(loop_scope="module")
async def app(browser, node: str) -> AsyncIterator[OpenApp]:
    """Open the app in fresh contexts: `await app()` → a registered App (a new identity each).

    `ring_timeout_ms` shortens the caller's ring timeout through `window.safemeetConfig`.
    After the test, on every page: no CSP violation, no console error, no request outside the
    node's origin.
    """
    contexts = []
    apps: list[App] = []

    async def open_app(ring_timeout_ms: int | None = None, register: bool = True) -> App:
        context = await browser.new_context(viewport={"width": 1280, "height": 860})
        contexts.append(context)
        await context.add_init_script(WATCH_CSP)
        if ring_timeout_ms is not None:
            await context.add_init_script(f"window.safemeetConfig = {{ringTimeoutMs: {int(ring_timeout_ms)}}};")
        page = await context.new_page()
        page.set_default_timeout(10_000)
        a = App(page, node)
        a.watch()
        apps.append(a)
        if register:
            await a.open()
        return a

    try:
        yield open_app
        for a in apps:
            if not a.page.is_closed():
                assert await a.csp_violations() == [], a.console
            assert a.foreign_requests() == []
            assert a.console_errors() == []
    finally:
        await asyncio.gather(*(c.close() for c in contexts), return_exceptions=True)


class Mallory:
    """A raw node client with its own identity that sends whatever it likes."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.identity = Identity.generate()
        self.number = ""
        self.next_id = 1
        self.inbox: list[str] = []  # envelopes that arrived while waiting for a reply

    async def register(self) -> None:
        challenge = await self.ws.receive_json(timeout=5)
        proof = self.identity.auth_proof(b64u_decode(challenge["nonce"], 32))
        keys = self.identity.public.to_json()
        await self.ws.send_json({"t": "register", "v": 1, "keys": keys, "proof": b64u_encode(proof)})
        self.number = (await self.ws.receive_json(timeout=5))["number"]

    async def request(self, frame: dict) -> dict:
        frame = {**frame, "id": self.next_id}
        self.next_id += 1
        await self.ws.send_json(frame)
        while True:
            reply = await self.ws.receive_json(timeout=5)
            if reply["t"] == "msg":
                self.inbox.append(reply["env"])
            elif reply.get("id") == frame["id"]:
                return reply

    async def keys(self, number: str) -> PublicKeys:
        return PublicKeys.from_json((await self.request({"t": "lookup", "number": number}))["keys"])

    async def send(self, to: str, env: str) -> dict:
        return await self.request({"t": "send", "to": to, "env": env})

    async def next_message(self, sender: str) -> Message:
        """The next envelope routed to us, opened and verified as coming from `sender`."""
        while not self.inbox:
            if (frame := await self.ws.receive_json(timeout=5))["t"] == "msg":
                self.inbox.append(frame["env"])
        opened = open_envelope(self.identity, self.number, self.inbox.pop(0))
        return verify(opened, await self.keys(sender), int(time.time() * 1000), ReplayGuard())


@pytest_asyncio.fixture(loop_scope="module")
async def mallory(node: str) -> AsyncIterator[Mallory]:
    """A registered raw client on the test's node (for forged and broken envelopes)."""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(node + "/ws") as ws:
            m = Mallory(session, ws)
            await m.register()
            yield m
