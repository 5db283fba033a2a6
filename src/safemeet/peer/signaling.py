"""WebSocket client for the node: register, look up keys, send envelopes, receive envelopes."""

import asyncio
import itertools
import json
import logging
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from ..core import turn, wire
from ..core.b64 import b64u_decode, b64u_encode
from ..core.identity import Identity, IdentityError, PublicKeys
from .errors import NodeError, UnknownNumber

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 10.0


def ws_url(node_url: str) -> str:
    """``http://host:port`` (or ws://, https://, wss://) → the node's WebSocket endpoint URL."""
    parts = urlsplit(node_url if "://" in node_url else "http://" + node_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not a node URL: {node_url!r} (expected http://host:port)")
    return urlunsplit((scheme, parts.netloc, "/ws", "", ""))


class NodeClient:
    """One authenticated connection to a node. ``on_envelope`` gets every incoming ``env``."""

    def __init__(self, node_url: str, identity: Identity, on_envelope: Callable[[str], Awaitable[None]],
                 on_lost: Callable[[NodeError], None] | None = None) -> None:
        self._url = ws_url(node_url)
        self._identity = identity
        self._on_envelope = on_envelope
        self._on_lost = on_lost  # told when the node closes the connection or goes away
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._keys: dict[str, PublicKeys] = {}
        self._nonce = b""
        self.number: str | None = None
        self.ice_servers: list[dict[str, Any]] = []  # TURN relays offered by the node

    async def connect(self) -> str:
        """Connect, answer the challenge and register; returns our number."""
        self._session = aiohttp.ClientSession()
        try:
            self._ws = await self._session.ws_connect(self._url, heartbeat=20, max_msg_size=1 << 20)
            challenge = await self._receive_json(timeout=REQUEST_TIMEOUT_S)
            if challenge.get("t") != "challenge":
                raise NodeError("bad_message", "node did not send a challenge")
            if type(challenge.get("v")) is not int or challenge["v"] != wire.VERSION:
                raise NodeError("unsupported_version", f"the node does not speak protocol version "
                                f"{wire.VERSION} (its challenge says {challenge.get('v')!r})")
            nonce = self._nonce = b64u_decode(challenge["nonce"], 32)
            await self._send_json({
                "t": "register", "v": 1, "keys": self._identity.public.to_json(),
                "proof": b64u_encode(self._identity.auth_proof(nonce)),
            })
            reply = await self._receive_json(timeout=REQUEST_TIMEOUT_S)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            await self.close()
            raise NodeError("unreachable", f"cannot reach the node at {self._url}: {exc or type(exc).__name__}") from exc
        except BaseException:
            await self.close()
            raise
        if reply.get("t") != "registered":
            await self.close()
            raise NodeError(reply.get("code", "bad_message"), reply.get("message", "registration failed"))
        self.number = reply["number"]
        try:
            self.ice_servers = turn.check_ice_servers(reply.get("ice_servers", []))
        except ValueError as exc:
            log.warning("ignored the node's ICE servers: %s", exc)
            self.ice_servers = []
        self._reader = asyncio.create_task(self._read_loop())
        return self.number

    async def lookup(self, number: str) -> PublicKeys:
        """The keys registered for ``number`` (verified binding; cached for this connection)."""
        if number in self._keys:
            return self._keys[number]
        try:
            reply = await self._request({"t": "lookup", "number": number})
        except NodeError as exc:
            if exc.code == "unknown_number":
                raise UnknownNumber(number) from exc
            raise
        try:
            keys = PublicKeys.from_json(reply.get("keys"))
        except IdentityError as exc:
            raise NodeError("bad_keys", f"the node returned unusable keys for {number}: {exc}") from exc
        self._keys[number] = keys
        return keys

    async def send(self, to: str, env: str) -> None:
        await self._request({"t": "send", "to": to, "env": env})

    async def delete(self) -> None:
        """Ask the node to forget our number; returns once it closed us with 4000 "deleted"."""
        proof = self._identity.sign(wire.delete_message(self._nonce, self._identity.public.sig))
        try:
            await self._request(wire.delete_request(proof))
        except NodeError as exc:
            if exc.code == "closed" and self._ws is not None and self._ws.close_code == wire.DELETED_CLOSE_CODE:
                return
            raise
        raise NodeError("bad_message", "the node answered a delete request without deleting")

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
        self._ws = self._session = None
        self._fail_pending(NodeError("closed", "connection to the node closed"))

    async def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        if self._ws is None or self._ws.closed:
            raise NodeError("closed", "not connected to the node")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._send_json({**message, "id": request_id})
            reply = await asyncio.wait_for(future, REQUEST_TIMEOUT_S)
        except asyncio.TimeoutError as exc:
            raise NodeError("timeout", "the node did not answer in time") from exc
        finally:
            self._pending.pop(request_id, None)
        if reply.get("t") == "error":
            raise NodeError(reply.get("code", "internal"), reply.get("message", ""))
        return reply

    async def _send_json(self, message: dict[str, Any]) -> None:
        assert self._ws is not None
        await self._ws.send_str(json.dumps(message, ensure_ascii=False, separators=(",", ":")))

    async def _receive_json(self, timeout: float) -> dict[str, Any]:
        assert self._ws is not None
        msg = await self._ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise NodeError("closed", "the node closed the connection")
        data = json.loads(msg.data)
        if not isinstance(data, dict):
            raise NodeError("bad_message", "node sent a non-object")
        return data

    async def _read_loop(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            try:
                data = json.loads(msg.data)
            except ValueError:
                log.warning("node sent invalid JSON")
                continue
            if not isinstance(data, dict):
                continue
            if data.get("t") == "msg" and isinstance(data.get("env"), str):
                await self._on_envelope(data["env"])
            elif isinstance(data.get("id"), int) and data["id"] in self._pending:
                self._pending[data["id"]].set_result(data)
            elif data.get("t") == "error":
                log.warning("node error without request: %s", data.get("code"))
        lost = NodeError("closed", "lost the connection to the node")
        self._fail_pending(lost)
        if self._on_lost is not None:
            self._on_lost(lost)

    def _fail_pending(self, error: Exception) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()

