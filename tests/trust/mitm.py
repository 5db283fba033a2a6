"""A malicious node for tests: a man-in-the-middle proxy in front of a real, honest node.

Peers (Python or the browser app) connect to the proxy as if it were their node. The proxy
forwards every HTTP GET (the web app) to the real node and relays every ``/ws`` WebSocket frame by
frame, in both directions. A scenario ``hook`` sees each frame first and may let it pass, drop it,
rewrite it, duplicate it, hold it back (delay, reorder) or inject frames of its own; the proxy
records every frame it received and every frame it passed on.

The proxy has the powers of a malicious node operator: it sees and controls every frame, it can
register identities of its own at the real node (``Mitm.mallory``) and sign or seal whatever it
likes with them. It cannot read or alter sealed envelopes without the recipient's keys.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from safemeet.core import envelope
from safemeet.core.b64 import b64u_decode, b64u_encode
from safemeet.core.identity import Identity, PublicKeys

UP = "up"      # peer → node
DOWN = "down"  # node → peer

# What must never cross the node: SDP, ICE candidates (addresses), DTLS fingerprints.
PLAINTEXT_MARKERS = ("v=0", "a=fingerprint", "candidate:", "a=ice-ufrag", "a=ice-pwd")

_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"}


@dataclass
class Frame:
    """One recorded frame. ``action``: received (what the proxy got), forwarded, injected."""

    conn: int
    direction: str
    text: str
    action: str
    at: float = field(default_factory=time.monotonic)

    @property
    def data(self) -> dict[str, Any]:
        try:
            obj = json.loads(self.text)
        except ValueError:
            return {}
        return obj if isinstance(obj, dict) else {}


# A hook gets (connection, direction, parsed frame) and returns None (pass it on unchanged) or a
# list of frames to pass on instead (dicts or raw strings; [] drops it). It may be async.
Hook = Callable[["Conn", str, dict[str, Any]], "list[Any] | None | Awaitable[list[Any] | None]"]


class Conn:
    """One relayed ``/ws`` connection: the peer's socket and the proxy's socket to the node."""

    def __init__(self, mitm: "Mitm", index: int, peer_ws: web.WebSocketResponse,
                 node_ws: aiohttp.ClientWebSocketResponse) -> None:
        self.mitm = mitm
        self.index = index
        self.peer_ws = peer_ws
        self.node_ws = node_ws
        self.number: str | None = None   # learned from the node's `registered`
        self.keys: PublicKeys | None = None  # learned from the peer's `register`
        self.next_id = 1_000_000_000     # ids of the proxy's own requests on this connection
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def to_peer(self, frame: dict[str, Any] | str) -> None:
        """Inject a frame towards the peer (as if the node sent it)."""
        text = frame if isinstance(frame, str) else json.dumps(frame)
        self.mitm.frames.append(Frame(self.index, DOWN, text, "injected"))
        if not self.peer_ws.closed:
            await self.peer_ws.send_str(text)

    async def to_node(self, frame: dict[str, Any] | str) -> None:
        """Inject a frame towards the node (as if the peer sent it)."""
        text = frame if isinstance(frame, str) else json.dumps(frame)
        self.mitm.frames.append(Frame(self.index, UP, text, "injected"))
        if not self.node_ws.closed:
            await self.node_ws.send_str(text)

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send a request to the node on this connection; its reply is swallowed, not relayed."""
        request_id = self.next_id
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        await self.to_node({**frame, "id": request_id})
        return await asyncio.wait_for(future, 5)

    async def deliver(self, env: str) -> None:
        """Hand an envelope to this peer as a routed message."""
        await self.to_peer({"t": "msg", "env": env})


@dataclass
class Mallory:
    """An identity the malicious node registered at the real node (so it has a number)."""

    identity: Identity
    number: str
    ws: aiohttp.ClientWebSocketResponse


class Mitm:
    """The proxy. ``url`` is what peers use as their node; ``hook`` may be replaced any time."""

    def __init__(self, node_url: str) -> None:
        self.node_url = node_url.rstrip("/")
        self.hook: Hook | None = None
        self.frames: list[Frame] = []
        self.conns: list[Conn] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._mallories: list[Mallory] = []

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> str:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application()
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/{tail:.*}", self._http)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for m in self._mallories:
            await m.ws.close()
        for conn in self.conns:
            await conn.node_ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def later(self, delay: float, coro_fn: Callable[[], Awaitable[Any]]) -> None:
        """Run ``coro_fn()`` after ``delay`` seconds (e.g. release a held-back frame)."""
        async def run() -> None:
            await asyncio.sleep(delay)
            await coro_fn()
        self._spawn(run())

    # --- the malicious node's own powers ----------------------------------------------------

    async def mallory(self) -> Mallory:
        """Register a fresh identity of the proxy's own at the real node."""
        assert self._session is not None
        ws = await self._session.ws_connect(self.node_url + "/ws")
        identity = Identity.generate()
        challenge = await ws.receive_json(timeout=5)
        proof = identity.auth_proof(b64u_decode(challenge["nonce"], 32))
        await ws.send_json({"t": "register", "v": 1, "keys": identity.public.to_json(),
                            "proof": b64u_encode(proof)})
        reply = await ws.receive_json(timeout=5)
        m = Mallory(identity, reply["number"], ws)
        self._mallories.append(m)
        return m

    def conn_of(self, number: str) -> Conn:
        """The latest live connection registered as ``number``."""
        for conn in reversed(self.conns):
            if conn.number == number and not conn.peer_ws.closed:
                return conn
        raise LookupError(f"no connection registered as {number}")

    def sent_envelopes(self, by: str, to: str | None = None) -> list[str]:
        """Every ``env`` a number sent (as the proxy received them), in order."""
        out = []
        for f in self.frames:
            conn = self.conns[f.conn]
            d = f.data
            if (f.direction == UP and f.action == "received" and conn.number == by and d.get("t") == "send"
                    and (to is None or d.get("to") == to)):
                out.append(d["env"])
        return out

    def received(self, t: str, direction: str | None = None) -> list[dict[str, Any]]:
        return [f.data for f in self.frames if f.action == "received" and f.data.get("t") == t
                and (direction is None or f.direction == direction)]

    def assert_no_plaintext(self, *secrets: str) -> None:
        """No recorded frame carries SDP, candidates, fingerprints or any of ``secrets`` (chat)."""
        assert self.frames, "nothing was recorded"
        for f in self.frames:
            for marker in (*PLAINTEXT_MARKERS, *[s for s in secrets if s]):
                assert marker not in f.text, (marker, f.direction, f.text[:200])

    # --- relaying ---------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _http(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self._session.get(self.node_url + request.path_qs, headers=headers,
                                     allow_redirects=False) as upstream:
            body = await upstream.read()
            out = web.Response(status=upstream.status, body=body)
            for k, v in upstream.headers.items():
                if k.lower() not in _HOP_HEADERS:
                    out.headers.add(k, v)
            if "Content-Encoding" in upstream.headers:
                out.headers["Content-Encoding"] = upstream.headers["Content-Encoding"]
            return out

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        peer_ws = web.WebSocketResponse(max_msg_size=2 << 20)
        await peer_ws.prepare(request)
        try:
            node_ws = await self._session.ws_connect(self.node_url + "/ws", max_msg_size=2 << 20)
        except aiohttp.ClientError:
            await peer_ws.close(code=1011)
            return peer_ws
        conn = Conn(self, len(self.conns), peer_ws, node_ws)
        self.conns.append(conn)
        down = self._spawn(self._pump(conn, DOWN))
        try:
            await self._pump(conn, UP)
        finally:
            await node_ws.close()
            await asyncio.wait([down], timeout=2)
            if not peer_ws.closed:
                await peer_ws.close(code=node_ws.close_code or 1000)
        return peer_ws

    async def _pump(self, conn: Conn, direction: str) -> None:
        src = conn.peer_ws if direction == UP else conn.node_ws
        dst = conn.node_ws if direction == UP else conn.peer_ws
        try:
            async for msg in src:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                self.frames.append(Frame(conn.index, direction, msg.data, "received"))
                data = Frame(conn.index, direction, msg.data, "").data
                self._learn(conn, direction, data)
                if direction == DOWN and isinstance(data.get("id"), int) and data["id"] in conn._waiting:
                    conn._waiting.pop(data["id"]).set_result(data)
                    continue
                out: list[Any] | None = None
                if self.hook is not None:
                    result = self.hook(conn, direction, data)
                    out = await result if asyncio.iscoroutine(result) else result  # type: ignore[misc]
                for item in ([msg.data] if out is None else out):
                    text = item if isinstance(item, str) else json.dumps(item)
                    self.frames.append(Frame(conn.index, direction, text, "forwarded"))
                    if not dst.closed:
                        await dst.send_str(text)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            if direction == DOWN and not conn.peer_ws.closed:
                await conn.peer_ws.close(code=conn.node_ws.close_code or 1000)

    @staticmethod
    def _learn(conn: Conn, direction: str, data: dict[str, Any]) -> None:
        if direction == DOWN and data.get("t") == "registered":
            conn.number = data.get("number")
        if direction == UP and data.get("t") == "register":
            try:
                conn.keys = PublicKeys.from_json(data.get("keys"))
            except Exception:
                pass


def flip(env: str, at: int | None = None) -> str:
    """``env`` with one base64url character changed (the proxy tampering with a sealed envelope)."""
    i = len(env) // 2 if at is None else at
    return env[:i] + ("A" if env[i] != "A" else "B") + env[i + 1:]


def now_ms() -> int:
    return int(time.time() * 1000)


def forge(signer: Identity, to_keys: PublicKeys, type_: str, call_id: str, sender: str, to: str,
          body: dict[str, Any]) -> str:
    """An envelope the proxy makes itself: signed with ``signer``, sealed to ``to_keys``."""
    return envelope.seal(signer, to_keys, envelope.make_inner(type_, call_id, sender, to, body, now_ms()))
