"""WebSocket client for the node: register, look up keys, send envelopes, receive envelopes;
reconnect and fail over to the next node of its list when the connection is lost.

States (``NodeClient.state``): ``connecting`` (first connection), ``online`` (registered),
``reconnecting`` (lost the node; trying its list again with jittered exponential backoff, for as
long as the client is open) and ``offline`` (never connected, closed, or the identity was deleted).
"""

import asyncio
import itertools
import json
import logging
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence

import aiohttp

from ..core import turn, wire
from ..core.b64 import b64u_decode, b64u_encode
from ..core.identity import Identity, IdentityError, PublicKeys
from .errors import NodeError, UnknownNumber
from .failover import STABLE_S, Backoff, node_urls, ws_url

__all__ = ["NodeClient", "STATES", "ws_url"]

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 10.0  # one request
CONNECT_TIMEOUT_S = 5.0  # one connect-challenge-register exchange (a node answers in milliseconds)
HEARTBEAT_S = 10.0  # WebSocket pings: a node that vanished without closing is noticed within ~1.5x this
STATES = ("connecting", "online", "reconnecting", "offline")


class NodeClient:
    """An authenticated connection to one node of a list, re-established whenever it is lost.

    ``on_envelope`` gets every incoming ``env``; ``on_state`` is told each new state. Requests
    made while not online, and requests still waiting for their answer when the connection is
    lost, fail at once with ``NodeError("disconnected")``: the node may or may not have acted on
    them, and nothing waits silently (use :meth:`wait_state` to wait for ``online``).
    """

    def __init__(self, nodes: str | Sequence[str], identity: Identity,
                 on_envelope: Callable[[str], Awaitable[None]],
                 on_state: Callable[[str], None] | None = None, *, backoff: Backoff | None = None) -> None:
        self.urls = node_urls(nodes)
        self._identity = identity
        self._on_envelope = on_envelope
        self._on_state = on_state
        self._backoff = backoff or Backoff()
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._keys: dict[str, PublicKeys] = {}
        self._nonce = b""
        self._state = "offline"
        self._changed = asyncio.Event()
        self._watchers: list[asyncio.Queue[str]] = []
        self.url: str | None = None  # the WebSocket URL of the node we are (or were last) registered at
        self.number: str | None = None
        self.ice_servers: list[dict[str, Any]] = []  # TURN relays offered by the node
        self.failure: NodeError | None = None  # why the client went offline for good (deleted)

    # --- state ------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    async def wait_state(self, *states: str, timeout: float | None = None) -> str:
        """Wait until the state is one of ``states``; returns it. asyncio.TimeoutError after ``timeout``."""
        unknown = set(states) - set(STATES)
        if not states or unknown:
            raise ValueError(f"states are {', '.join(STATES)}")

        async def reached() -> str:
            while self._state not in states:
                await self._changed.wait()
            return self._state

        return await asyncio.wait_for(reached(), timeout)

    async def states(self) -> AsyncIterator[str]:
        """Every state change from now on, in order (an iterator per caller)."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._watchers.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._watchers.remove(queue)

    def _set_state(self, state: str) -> None:
        if state == self._state:
            return
        self._state = state
        self._changed.set()
        self._changed = asyncio.Event()
        for queue in self._watchers:
            queue.put_nowait(state)
        if self._on_state is not None:
            self._on_state(state)

    # --- connecting -------------------------------------------------------------------------

    async def connect(self) -> str:
        """Register at the first node of the list that takes us (one pass); returns our number.

        Raises NodeError when none does: ``unreachable`` when none could be reached, otherwise
        the error of the first node that refused us (e.g. ``unsupported_version``).
        """
        if self._session is not None:
            raise RuntimeError("NodeClient.connect() was already called")
        self._session = aiohttp.ClientSession()
        self.failure = None
        self._set_state("connecting")
        errors: list[tuple[str, NodeError]] = []
        try:
            for url in self.urls:
                try:
                    await self._establish(url)
                    break
                except NodeError as exc:
                    errors.append((url, exc))
            else:
                raise _first_failure(errors)
        except BaseException:
            await self.close()
            raise
        self._supervisor = asyncio.create_task(self._supervise())
        assert self.number is not None
        return self.number

    async def _establish(self, url: str) -> None:
        """Connect to ``url``, answer the challenge and register; on success we are online there."""
        assert self._session is not None
        ws: aiohttp.ClientWebSocketResponse | None = None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                ws = await self._session.ws_connect(url, heartbeat=HEARTBEAT_S, max_msg_size=1 << 20)
                challenge = await _receive_json(ws)
                if challenge.get("t") != "challenge":
                    raise NodeError("bad_message", "node did not send a challenge")
                if type(challenge.get("v")) is not int or challenge["v"] != wire.VERSION:
                    raise NodeError("unsupported_version", f"the node does not speak protocol version "
                                    f"{wire.VERSION} (its challenge says {challenge.get('v')!r})")
                nonce = b64u_decode(challenge["nonce"], 32)
                await _send_json(ws, {
                    "t": "register", "v": 1, "keys": self._identity.public.to_json(),
                    "proof": b64u_encode(self._identity.auth_proof(nonce)),
                })
                reply = await _receive_json(ws)
            if reply.get("t") != "registered" or not isinstance(reply.get("number"), str):
                raise NodeError(reply.get("code", "bad_message"), reply.get("message", "registration failed"))
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            if ws is not None:
                await ws.close()
            raise NodeError("unreachable", f"cannot reach the node at {url}: {exc or type(exc).__name__}") from exc
        except (ValueError, KeyError) as exc:  # not JSON, or a challenge without a usable nonce
            if ws is not None:
                await ws.close()
            raise NodeError("bad_message", f"the node at {url} does not speak the safemeet protocol") from exc
        except BaseException:
            if ws is not None:
                await ws.close()
            raise
        try:
            ice_servers = turn.check_ice_servers(reply.get("ice_servers", []))
        except ValueError as exc:
            log.warning("ignored the node's ICE servers: %s", exc)
            ice_servers = []
        # Keys looked up on an earlier connection are dropped: another node has other numbers,
        # and even the same node may have deleted a number meanwhile. Pins are kept in Contacts.
        self._keys.clear()
        self._ws, self._nonce, self.url = ws, nonce, url
        self.number, self.ice_servers = reply["number"], ice_servers
        self._set_state("online")

    async def _supervise(self) -> None:
        """Read while online; when the connection is lost, reconnect (never gives up while open)."""
        loop = asyncio.get_running_loop()
        while True:
            ws = self._ws
            assert ws is not None
            online_since = loop.time()
            try:
                await self._read_loop(ws)
            except Exception as exc:  # whatever broke the connection, it is lost: reconnect
                log.warning("the connection to the node failed: %s", type(exc).__name__)
            await ws.close()
            self._ws = None
            if ws.close_code == wire.DELETED_CLOSE_CODE:
                self.failure = NodeError("deleted", "the node deleted this identity")
                self._fail_pending(self.failure)
                self._set_state("offline")
                return
            self._fail_pending(NodeError("disconnected", "lost the connection to the node"))
            if loop.time() - online_since >= STABLE_S:
                self._backoff.reset()
            log.warning("lost the connection to the node; reconnecting")
            self._set_state("reconnecting")
            await self._reconnect()

    async def _reconnect(self) -> None:
        """Rounds over the node list, starting with the node we were at, until one takes us."""
        assert self.url is not None
        start = self.urls.index(self.url)
        order = self.urls[start:] + self.urls[:start]
        while True:
            await asyncio.sleep(self._backoff.next_delay())
            for url in order:
                try:
                    await self._establish(url)
                    log.info("registered again at %s node of the list",
                             "the same" if url == order[0] else "another")
                    return
                except NodeError as exc:
                    log.info("node unavailable: %s", exc.code)

    async def close(self) -> None:
        """Leave the node and stop reconnecting. Safe to call more than once."""
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
            self._supervisor = None
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
        self._ws = self._session = None
        self._fail_pending(NodeError("closed", "connection to the node closed"))
        self._set_state("offline")

    # --- requests ---------------------------------------------------------------------------

    async def lookup(self, number: str) -> PublicKeys:
        """The keys registered for ``number`` (verified binding; cached for this connection)."""
        if number in self._keys:
            return self._keys[number]
        url = self.url
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
        if self.url == url:  # not an answer from a connection that has been replaced meanwhile
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
            if exc.code == "deleted":
                return
            raise
        raise NodeError("bad_message", "the node answered a delete request without deleting")

    async def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        ws = self._ws
        if self._state != "online" or ws is None or ws.closed:
            if self.failure is not None:
                raise self.failure
            raise NodeError("disconnected", f"not connected to the node ({self._state})")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await _send_json(ws, {**message, "id": request_id})
            reply = await asyncio.wait_for(future, REQUEST_TIMEOUT_S)
        except asyncio.TimeoutError as exc:
            raise NodeError("timeout", "the node did not answer in time") from exc
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise NodeError("disconnected", "lost the connection to the node") from exc
        finally:
            self._pending.pop(request_id, None)
        if reply.get("t") == "error":
            raise NodeError(reply.get("code", "internal"), reply.get("message", ""))
        return reply

    async def _read_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
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
                future = self._pending[data["id"]]
                if not future.done():
                    future.set_result(data)
            elif data.get("t") == "error":
                log.warning("node error without request: %s", data.get("code"))

    def _fail_pending(self, error: NodeError) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()


def _first_failure(errors: list[tuple[str, NodeError]]) -> NodeError:
    """One error for a pass over the list: a node's refusal says more than 'unreachable'."""
    for _url, exc in errors:
        if exc.code != "unreachable":
            return exc
    if len(errors) == 1:
        return errors[0][1]
    return NodeError("unreachable", "cannot reach any node of the list: "
                     + "; ".join(str(exc).removeprefix("unreachable: ") for _url, exc in errors))


async def _send_json(ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> None:
    await ws.send_str(json.dumps(message, ensure_ascii=False, separators=(",", ":")))


async def _receive_json(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive()
    if msg.type != aiohttp.WSMsgType.TEXT:
        raise NodeError("closed", "the node closed the connection")
    data = json.loads(msg.data)
    if not isinstance(data, dict):
        raise NodeError("bad_message", "node sent a non-object")
    return data
