"""Real headless Chromium (system build, fake camera and microphone) against a real node.

One browser per module; every test gets a fresh node and fresh browser contexts, so each page is
a new identity. Every page records its console, CSP violations, requests and WebSocket frames;
the `app` fixture checks after each test that nothing broke the CSP and nothing left the origin.
"""

import asyncio
import contextlib
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
from safemeet.node.appkeys import REGISTRY
from safemeet.node.registry import Registry

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

# Runs before the app in every page: records CSP violations where no page script can hide them,
# and counts peer connections and camera/microphone requests (a callee must make neither before
# accepting).
WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
window.__counts = { pc: 0, gum: 0 };
const NativePC = window.RTCPeerConnection;
window.RTCPeerConnection = class extends NativePC {
  constructor(...args) { super(...args); window.__counts.pc += 1; }
};
const nativeGum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (c) => { window.__counts.gum += 1; return nativeGum(c); };
"""


# What a page still holds: storage, video sources, every IndexedDB store's keys, chat nodes.
LEFTOVERS = """
async () => {
  const videos = [...document.querySelectorAll('video')].map((v) => v.srcObject === null);
  const dbs = [];
  for (const { name } of await indexedDB.databases()) {
    const db = await new Promise((ok, no) => {
      const r = indexedDB.open(name);
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
    const stores = {};
    for (const store of db.objectStoreNames) {
      const tx = db.transaction(store);
      stores[store] = await new Promise((ok) => {
        const r = tx.objectStore(store).getAllKeys();
        r.onsuccess = () => ok(r.result);
      });
    }
    db.close();
    dbs.push({ name, stores });
  }
  return { local: localStorage.length, session: sessionStorage.length, videos, dbs,
           chatNodes: document.getElementById('chat-log').childNodes.length };
}
"""


_NODE_UNREACHABLE = re.compile(r"WebSocket connection to 'wss?://[^']+/ws' failed: ")


@dataclass
class App:
    """One page of the app and what it did."""

    page: "playwright_api.Page"
    origin: str
    nodes: tuple[str, ...] = ()  # the other nodes of the deployment (http origins): WebSockets only
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
        """The call status (Ringing, Connected, Call ended...)."""
        return self.page.locator("#status")

    @property
    def signaling(self):
        """The node connection's status (Connecting…, Online, Reconnecting…, Offline)."""
        return self.page.get_by_role("status", name="Signaling")

    def button(self, name: str):
        return self.page.get_by_role("button", name=name, exact=True)

    async def dial(self, number: str) -> None:
        await self.page.get_by_label("Number to call").fill(number)
        await self.button("Call").click()

    @property
    def chat_log(self):
        return self.page.get_by_role("log", name="Chat")

    async def send_chat(self, text: str) -> None:
        box = self.page.get_by_label("Message", exact=True)
        await playwright_api.expect(box).to_be_enabled()
        await box.fill(text)
        await self.button("Send").click()
        await playwright_api.expect(box).to_have_value("")

    async def assert_video_playing(self, label: str = "Remote video") -> None:
        """The video has frames and its clock advances."""
        video = self.page.get_by_label(label, exact=True)
        await playwright_api.expect(video).to_be_visible()
        handle = await video.element_handle()
        await self.page.wait_for_function("el => el.videoWidth > 0 && el.readyState >= 2 && !el.paused", arg=handle)
        t0 = await video.evaluate("el => el.currentTime")
        await self.page.wait_for_function("([el, t0]) => el.currentTime > t0 + 0.2", arg=[handle, t0])

    async def assert_nothing_left(self) -> None:
        """After a call: no chat, no media, nothing stored but the identity and pinned contacts."""
        await playwright_api.expect(self.page.get_by_role("log", name="Chat", include_hidden=True)).to_be_empty()
        left = await self.page.evaluate(LEFTOVERS)
        contacts = left["dbs"][0]["stores"].pop("contacts")
        assert all(re.fullmatch(r"\d{9}", n) for n in contacts), contacts
        assert all(left.pop("videos")), "a video element still has a source"
        assert left == {
            "local": 0,
            "session": 0,
            "dbs": [{"name": "safemeet", "stores": {"identity": ["self"]}}],
            "chatNodes": 0,
        }

    async def counts(self) -> dict[str, int]:
        """Peer connections made and getUserMedia calls so far in this page."""
        return await self.page.evaluate("window.__counts")

    async def csp_violations(self) -> list[str]:
        return await self.page.evaluate("window.__cspViolations ?? []")

    def foreign_requests(self) -> list[str]:
        ws_origin = "ws" + self.origin.removeprefix("http")
        ok = (self.origin + "/", ws_origin + "/", *("ws" + n.removeprefix("http") + "/" for n in self.nodes))
        return [u for u in self.requests + self.sockets if not u.startswith(ok) and not u.startswith(("data:", "blob:"))]

    def console_errors(self) -> list[str]:
        """Errors the page logged; Chromium's own line for a WebSocket that could not connect (a
        node that is down while the page reconnects) is the browser's, not the app's, and is left out."""
        return [text for kind, text in self.console
                if kind in ("error", "pageerror") and not _NODE_UNREACHABLE.match(text)]


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


class NodeServer:
    """A real node on a loopback port that a test can stop and start again (same port, same data)."""

    def __init__(self, data_dir: Path, turn: tuple[tuple[str, ...], str] | None = None) -> None:
        self.data_dir = data_dir
        self.turn = turn  # (urls, secret): the node hands out credentials for this TURN relay
        self.port = 0
        self.runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def registry(self) -> Registry:
        """The running node's registry (tests patch its `lookup` to make the node lie)."""
        assert self.runner is not None
        return self.runner.app[REGISTRY]

    async def start(self) -> None:
        urls, secret = self.turn or ((), None)
        config = NodeConfig(host="127.0.0.1", port=self.port, data_dir=self.data_dir, turn_urls=urls, turn_secret=secret)
        runner = create_runner(create_app(config))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.port = runner.addresses[0][1]
        self.runner = runner

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
def node_turn() -> tuple[tuple[str, ...], str] | None:
    """The TURN relay (urls, secret) the test's node hands out credentials for: none here;
    test_browser_relay.py overrides it with a real coturn."""
    return None


@pytest_asyncio.fixture(loop_scope="module")
async def node_server(tmp_path: Path, node_turn) -> AsyncIterator[NodeServer]:
    server = NodeServer(tmp_path / "node-data", turn=node_turn)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def node(node_server: NodeServer) -> str:
    """The test's node origin (http://127.0.0.1:PORT)."""
    return node_server.origin


OpenApp = Callable[..., Awaitable[App]]


@contextlib.asynccontextmanager
async def app_opener(browser, origin: str, *, init_scripts: tuple[str, ...] = (),
                     check_console: bool = True, nodes: tuple[str, ...] = ()) -> AsyncIterator[OpenApp]:
    """``open_app()`` → a registered App in a fresh context (a new identity each), at ``origin``.

    ``ring_timeout_ms`` / ``connect_timeout_ms`` shorten the call timeouts through
    ``window.safemeetConfig``. On the way out, on every page: no CSP violation, no request outside
    the origin (but WebSockets to the other ``nodes`` of its deployment), and (with
    ``check_console``) no console error.
    """
    contexts = []
    apps: list[App] = []

    async def open_app(ring_timeout_ms: int | None = None, register: bool = True,
                       connect_timeout_ms: int | None = None) -> App:
        context = await browser.new_context(viewport={"width": 1280, "height": 860})
        contexts.append(context)
        for script in (WATCH, *init_scripts):
            await context.add_init_script(script)
        config = {"ringTimeoutMs": ring_timeout_ms, "connectTimeoutMs": connect_timeout_ms}
        config = ", ".join(f"{k}: {int(v)}" for k, v in config.items() if v is not None)
        if config:
            await context.add_init_script(f"window.safemeetConfig = {{{config}}};")
        page = await context.new_page()
        page.set_default_timeout(10_000)
        a = App(page, origin, nodes=nodes)
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
            if check_console:
                assert a.console_errors() == []
    finally:
        await asyncio.gather(*(c.close() for c in contexts), return_exceptions=True)


@pytest_asyncio.fixture(loop_scope="module")
async def app(browser, node: str) -> AsyncIterator[OpenApp]:
    """Open the app in fresh contexts: `await app()` → a registered App (see `app_opener`)."""
    async with app_opener(browser, node) as open_app:
        yield open_app


@pytest.fixture
def apps_at(browser):
    """``async with apps_at(origin, nodes=(...)) as open_app``: like ``app``, for nodes the test
    runs itself (``nodes``: the other nodes of that deployment, which its pages may reach)."""
    return lambda origin, **options: app_opener(browser, origin, **options)


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


@pytest_asyncio.fixture(loop_scope="module")
async def camera_app(node: str) -> AsyncIterator[Callable[[Path], Awaitable[App]]]:
    """`await camera_app(clip)` → a registered App in its own Chromium whose camera plays the Y4M
    file `clip` (read again each time the camera starts). Checked after the test like `app`."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    apps: list[App] = []
    async with playwright_api.async_playwright() as pw:
        browsers = []

        async def open_app(clip: Path) -> App:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={clip}"]
            )
            browsers.append(browser)
            context = await browser.new_context(viewport={"width": 1280, "height": 860})
            await context.add_init_script(WATCH)
            page = await context.new_page()
            page.set_default_timeout(10_000)
            a = App(page, node)
            a.watch()
            apps.append(a)
            await a.open()
            return a

        try:
            yield open_app
            for a in apps:
                assert await a.csp_violations() == [], a.console
                assert a.foreign_requests() == []
                assert a.console_errors() == []
        finally:
            await asyncio.gather(*(b.close() for b in browsers), return_exceptions=True)
