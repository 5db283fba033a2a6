"""The ``/ws`` handler: challenge, registration, lookups and routing for one connection.

Every connection is isolated: its frames are size-checked before parsing, rate-limited, and
any failure ends at most that connection. Replies and routed envelopes go through a bounded
outbox drained by a writer task, so a peer that stops reading never stalls anyone else.
Logs carry events and error codes only: never numbers, keys, envelopes or addresses.
"""

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from ..core import turn, wire
from ..core.wire import Delete, Lookup, Ping, Register, Send, WireError
from .appkeys import CONFIG, PRESENCE, REGISTRY, SOCKETS
from .backends import Unavailable
from .metrics import METRICS

log = logging.getLogger("safemeet.node")

OUTBOX_MAX = 256  # frames queued for one connection before it counts as not reading
CLOSE_TIMEOUT_S = 2.0  # how long a closing handshake may wait for the peer's answer


class Connection:
    """One WebSocket: its outbox and, once registered, its number."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self._transport = request.transport
        self.outbox: asyncio.Queue[str] = asyncio.Queue(OUTBOX_MAX)
        self.number: str | None = None
        self.dropped = False

    def deliver(self, text: str) -> bool:
        """Queue a frame without waiting; a connection whose outbox is full is cut."""
        if self.dropped or self.ws.closed:
            return False
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("dropping a connection that does not read")
            self.drop()
            return False
        return True

    def reply(self, message: dict[str, Any]) -> None:
        self.deliver(wire.encode(message))

    def drop(self) -> None:
        """Abort the TCP connection at once (no closing handshake with a peer that will not read)."""
        self.dropped = True
        if self._transport is not None:
            self._transport.abort()

    async def write_loop(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                text = await self.outbox.get()
                try:
                    await self.ws.send_str(text)
                finally:
                    self.outbox.task_done()

    async def close(self, code: int, reason: bytes, flush_timeout: float = 2.0) -> None:
        """Close from the node's side, after the frames already queued (e.g. the error why)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.outbox.join(), flush_timeout)
        await self.ws.close(code=code, message=reason)


class Session:
    """The protocol for one connection, from challenge to close."""

    def __init__(self, app: web.Application, conn: Connection) -> None:
        self.config = app[CONFIG]
        self.registry = app[REGISTRY]
        self.presence = app[PRESENCE]
        self.metrics = app[METRICS]
        self.conn = conn
        self.nonce = secrets.token_bytes(wire.NONCE_LEN)
        self.loop = asyncio.get_running_loop()
        self.limiter = wire.RateLimiter(self.loop.time(), self.config.rate_bucket, self.config.rate_per_s)

    async def run(self) -> None:
        ws = self.conn.ws
        self.conn.reply(wire.challenge(self.nonce))
        deadline = self.loop.time() + self.config.register_timeout_s
        while not ws.closed:
            timeout = None if self.conn.number else deadline - self.loop.time()
            try:
                if timeout is not None and timeout <= 0:
                    raise TimeoutError
                msg = await ws.receive(timeout=timeout)
            except TimeoutError:
                log.info("closing a connection that did not register in time")
                await self.conn.close(WSCloseCode.POLICY_VIOLATION, b"register first")
                return
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                if not await self.frame(msg.data):
                    return
                await asyncio.sleep(0)  # let the writer and other connections run between frames
            elif msg.type == WSMsgType.ERROR:
                log.info("connection error, close code %s", ws.close_code)
                return
            else:  # CLOSE, CLOSING, CLOSED
                return

    async def frame(self, data: str | bytes) -> bool:
        """Handle one frame; False when the connection must end."""
        received = time.perf_counter()
        if not self.limiter.allow(self.loop.time()):
            if self.limiter.denied_streak >= self.config.abuse_limit:
                log.warning("closing a connection that keeps exceeding the rate limit")
                await self.conn.close(WSCloseCode.POLICY_VIOLATION, b"rate limited")
                return False
            self.metrics.error(wire.RATE_LIMITED)
            self.conn.reply(wire.error(wire.RATE_LIMITED))
            return True
        request: wire.ClientMessage | None = None
        try:
            request = wire.parse_client_message(data)
            reply = await self.dispatch(request, received)
            if reply is None:  # the connection was closed (identity deleted): nothing to answer
                return True
        except WireError as exc:
            log.debug("request refused: %s", exc.code)
            self.metrics.error(exc.code)
            reply = wire.error_from(exc)
        except Unavailable as exc:  # Redis is out of reach: say so rather than "internal"
            log.debug("request refused: unavailable (%s)", exc)
            self.metrics.error(wire.UNAVAILABLE)
            reply = wire.error(wire.UNAVAILABLE, id_=request.id if request else None)
        except Exception as exc:  # contained: the node answers "internal" and carries on
            log.error("internal error: %s", type(exc).__name__)
            self.metrics.error(wire.INTERNAL)
            reply = wire.error(wire.INTERNAL, id_=request.id if request else None)
        self.conn.reply(reply)
        return True

    async def dispatch(self, request: wire.ClientMessage, received: float) -> dict[str, Any] | None:
        if isinstance(request, Register):
            return await self.register(request)
        if self.conn.number is None:
            raise WireError(wire.UNAUTHORIZED, "register first", request.id)
        if isinstance(request, Ping):
            return wire.pong(request.id)
        if isinstance(request, Lookup):
            keys = await self.registry.lookup(request.number)
            if keys is None:
                raise WireError(wire.UNKNOWN_NUMBER, None, request.id)
            self.metrics.lookups += 1
            return wire.keys(request.number, keys, request.id)
        if isinstance(request, Send):
            return await self.send(request, received)
        if isinstance(request, Delete):
            await self.delete(request)
            return None
        raise AssertionError("parse_client_message returned an unknown request")

    async def register(self, request: Register) -> dict[str, Any]:
        if self.conn.number is not None:
            raise WireError(wire.BAD_MESSAGE, "this connection is already registered", request.id)
        wire.check_register(request, self.nonce)
        number = await self.registry.register(request.keys)
        await self.presence.join(number, self.conn)  # before authenticating: join may fail
        self.conn.number = number
        log.info("registration")
        self.metrics.registrations += 1
        return wire.registered(number, request.id, self.ice_servers(), self.config.nodes)

    def ice_servers(self) -> list[dict[str, Any]] | None:
        """Fresh TURN credentials for this authenticated connection, when a relay is configured."""
        config = self.config
        if not config.turn_urls or not config.turn_secret:
            return None
        return turn.ice_servers(config.turn_urls, config.turn_secret, config.turn_ttl_s, int(time.time()),
                                secrets.token_hex(8))

    async def delete(self, request: Delete) -> None:
        """Remove the number from the registry and close all its connections (4000 "deleted")."""
        number = self.conn.number
        assert number is not None
        keys = await self.registry.lookup(number)
        if keys is None:
            raise WireError(wire.UNKNOWN_NUMBER, None, request.id)
        wire.check_delete(request, self.nonce, keys)
        await self.registry.delete(number)
        endpoints = await self.presence.evict(number)
        log.info("identity deleted")
        reason = wire.DELETED_REASON.encode()
        await asyncio.gather(*(e.close(wire.DELETED_CLOSE_CODE, reason) for e in endpoints),
                             return_exceptions=True)

    async def send(self, request: Send, received: float) -> dict[str, Any]:
        delivered = await self.presence.route(request.to, wire.msg_frame(request.env))
        if delivered:
            self.metrics.route_done(received, time.perf_counter())
        else:
            self.metrics.undeliverable += 1
            code = wire.OFFLINE if await self.registry.lookup(request.to) else wire.UNKNOWN_NUMBER
            raise WireError(code, None, request.id)
        return wire.sent(request.id)


async def handle(request: web.Request) -> web.StreamResponse:
    """GET /ws: upgrade and run one session; nothing that happens here escapes it."""
    config = request.app[CONFIG]
    ws = web.WebSocketResponse(
        max_msg_size=wire.HARD_FRAME,  # larger: aiohttp closes with 1009
        heartbeat=config.heartbeat_s,
        timeout=CLOSE_TIMEOUT_S,
        compress=False,  # no permessage-deflate: envelopes are incompressible, bombs are pointless work
    )
    if not ws.can_prepare(request).ok:
        raise web.HTTPBadRequest(text="WebSocket only")
    await ws.prepare(request)
    sockets = request.app[SOCKETS]
    presence = request.app[PRESENCE]
    sockets.add(ws)
    conn = Connection(ws, request)
    metrics = request.app[METRICS]
    metrics.opened()
    writer = asyncio.create_task(conn.write_loop())
    log.info("connection opened")
    try:
        await Session(request.app, conn).run()
    except Exception as exc:
        log.error("connection failed: %s", type(exc).__name__)
    finally:
        with contextlib.suppress(Exception):
            if conn.number is not None:
                await presence.leave(conn.number, conn)
        writer.cancel()
        await asyncio.wait([writer])  # never raises the writer's outcome
        sockets.discard(ws)
        metrics.closed()
        with contextlib.suppress(Exception):
            await ws.close()
        log.info("connection closed")
    return ws
