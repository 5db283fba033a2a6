"""A real node on a real loopback port, and a small WebSocket peer to talk to it."""

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from safemeet.core.b64 import b64u_decode, b64u_encode
from safemeet.core.identity import Identity
from safemeet.node import NodeConfig, create_app, create_runner

INDEX = "<!doctype html><title>safemeet</title><script type=module src=/js/app.js></script>"


class Peer:
    """A test client: raw frames in and out, plus the register handshake."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, identity: Identity) -> None:
        self.ws = ws
        self.identity = identity
        self.nonce = b""
        self.number = ""

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, (msg.type, msg.data)
        return json.loads(msg.data)

    async def send(self, obj: Any) -> None:
        await self.ws.send_str(obj if isinstance(obj, str) else json.dumps(obj))

    async def request(self, obj: Any) -> dict[str, Any]:
        await self.send(obj)
        return await self.recv()

    async def challenge(self) -> bytes:
        first = await self.recv()
        assert first["t"] == "challenge" and first["v"] == 1
        self.nonce = b64u_decode(first["nonce"], 32)
        return self.nonce

    def register_message(self, **overrides: Any) -> dict[str, Any]:
        msg = {
            "t": "register",
            "v": 1,
            "keys": self.identity.public.to_json(),
            "proof": b64u_encode(self.identity.auth_proof(self.nonce)),
        }
        msg.update(overrides)
        return msg

    async def register(self) -> str:
        reply = await self.request(self.register_message())
        assert reply["t"] == "registered", reply
        self.number = reply["number"]
        return self.number

    async def close(self) -> None:
        await self.ws.close()


@dataclasses.dataclass
class Node:
    """A running node and a client session bound to it."""

    app: web.Application
    runner: web.AppRunner
    config: NodeConfig
    base: str
    session: aiohttp.ClientSession
    stopped: bool = False

    async def stop(self) -> None:
        """Shut the node down (idempotent); closes every WebSocket with 1001."""
        if not self.stopped:
            self.stopped = True
            await self.runner.cleanup()

    async def connect(self, identity: Identity | None = None, register: bool = True) -> Peer:
        ws = await self.session.ws_connect(self.base + "/ws", autoping=True)
        peer = Peer(ws, identity or Identity.generate())
        await peer.challenge()
        if register:
            await peer.register()
        return peer


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text(INDEX, encoding="utf-8")
    (root / "app.css").write_text("body { margin: 0 }\n", encoding="utf-8")
    (root / "js" / "app.js").write_text("export const ok = true;\n", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("TOP-SECRET-OUTSIDE-WEB-DIR\n", encoding="utf-8")
    return root


StartNode = Callable[..., Awaitable[Node]]


@pytest.fixture
async def start_node(tmp_path: Path, web_dir: Path) -> AsyncIterator[StartNode]:
    """Start nodes with config overrides; all are stopped at teardown."""
    started: list[Node] = []

    async def start(**overrides: Any) -> Node:
        fields = {"host": "127.0.0.1", "port": 0, "data_dir": tmp_path / "data", "web_dir": web_dir}
        config = NodeConfig(**(fields | overrides))
        app = create_app(config)
        runner = create_runner(app)
        await runner.setup()
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        port = runner.addresses[0][1]
        node = Node(app, runner, config, f"http://127.0.0.1:{port}", aiohttp.ClientSession())
        started.append(node)
        return node

    yield start
    for node in started:
        await node.session.close()
        await node.stop()


@pytest.fixture
async def node(start_node: StartNode) -> Node:
    return await start_node()


async def _raw_http(node: Node, request: bytes, timeout: float = 5.0) -> bytes:
    port = node.runner.addresses[0][1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


@pytest.fixture
def raw_http() -> Callable[..., Awaitable[bytes]]:
    """Send raw bytes over TCP and read the whole answer (for requests clients would normalise)."""
    return _raw_http
