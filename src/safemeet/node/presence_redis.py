"""Presence and routing through Redis pub/sub, for several nodes that share one Redis.

A node SUBSCRIBEs to one channel per number connected to it and routes by PUBLISHing to the
recipient's channel: Redis answers how many nodes hold that number (0: offline) and hands the
frame to each of them, this node included, so every endpoint gets it exactly once and frames
from one sender stay in order. A node that dies loses its subscriptions with its connection,
so presence is never stale. When the subscription connection breaks, the node reconnects with
backoff and subscribes again to every number still connected to it.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterable

import redis.asyncio as aioredis
from redis import exceptions as rx
from redis.asyncio.client import PubSub

from ..core import wire
from .backends import Unavailable
from .hub import Endpoint
from .redis_store import UNREACHABLE, channel, reachable

log = logging.getLogger("safemeet.node")

ENVELOPE = b"m"  # followed by the frame text, for every endpoint of the number
EVICT = b"x"  # the number was deleted: every node closes its endpoints with 4000 "deleted"
CONFIRM_TIMEOUT_S = 2.0  # how long a join waits for Redis to confirm the subscription
IDLE_PING_S = 5.0  # a quiet subscription is pinged this often; no answer by the next round: dead
RETRY_MIN_S, RETRY_MAX_S = 0.1, 2.0  # reconnect backoff
_SUBSCRIBE_BATCH = 1000
_CHANNEL_PREFIX = channel("").encode()


def _number_of(name: bytes) -> str:
    return name[len(_CHANNEL_PREFIX):].decode("ascii")


def _retrieve(future: asyncio.Future[None]) -> None:
    """Done callback: a failed confirmation that nobody waits for is normal, not worth a warning."""
    if not future.cancelled():
        future.exception()


class RedisPresence:
    """``hub.Presence`` over Redis pub/sub; raises ``backends.Unavailable`` while Redis is out of reach.

    ``commands`` publishes; ``subscriber`` must be a client that never reconnects by itself
    (``redis_store.connect(url, retries=0)``): this class reconnects and resubscribes.
    """

    def __init__(self, commands: aioredis.Redis, subscriber: aioredis.Redis, idle_ping_s: float = IDLE_PING_S) -> None:
        self._commands = commands
        self._subscriber = subscriber
        self._idle_ping_s = idle_ping_s
        self._endpoints: dict[str, set[Endpoint]] = {}
        self._confirmed: dict[str, asyncio.Future[None]] = {}  # per number: Redis confirmed SUBSCRIBE
        self._unconfirmed: dict[str, int] = {}  # SUBSCRIBEs sent per number and not yet confirmed
        self._pubsub: PubSub | None = None  # set while the subscription connection is up
        self._task: asyncio.Task[None] | None = None
        self._chores: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Start the subscription loop (it connects, and reconnects for as long as the node runs)."""
        self._task = asyncio.create_task(self._run())

    @property
    def available(self) -> bool:
        """True while the subscription connection is up."""
        return self._pubsub is not None

    async def join(self, number: str, endpoint: Endpoint) -> None:
        """Returns once frames published to ``number`` reach this node (Redis confirmed)."""
        endpoints = self._endpoints.setdefault(number, set())
        first = not endpoints
        endpoints.add(endpoint)
        try:
            if first:
                await self._subscribe([number])
            await self._wait_confirmed(number)
        except BaseException:
            await self.leave(number, endpoint)
            raise

    async def leave(self, number: str, endpoint: Endpoint) -> None:
        endpoints = self._endpoints.get(number)
        if endpoints is None:
            return
        endpoints.discard(endpoint)
        if not endpoints:
            del self._endpoints[number]
            await self._unsubscribe(number)

    async def route(self, number: str, text: str) -> int:
        """PUBLISH to ``number``'s channel; returns how many nodes hold it (0: not connected)."""
        if self._pubsub is None:  # this node would miss its own share of the frame
            raise Unavailable("redis subscription is down")
        with reachable():
            return int(await self._commands.publish(channel(number), ENVELOPE + text.encode()))

    async def evict(self, number: str) -> list[Endpoint]:
        """Tell every node to close ``number``'s connections; returns this node's, to close."""
        local = list(self._endpoints.pop(number, ()))
        try:
            with reachable():
                await self._commands.publish(channel(number), EVICT)
        except Unavailable:
            log.warning("could not tell the other nodes about a deleted identity")
        await self._unsubscribe(number)
        return local

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for chore in list(self._chores):
            chore.cancel()
        await asyncio.gather(*self._chores, return_exceptions=True)
        self._endpoints.clear()

    def online(self) -> int:
        """How many numbers are connected to this node (a count, for metrics)."""
        return len(self._endpoints)

    # --- subscriptions ----------------------------------------------------------------------

    async def _subscribe(self, numbers: list[str]) -> None:
        pubsub = self._pubsub
        if pubsub is None:
            raise Unavailable("redis subscription is down")
        loop = asyncio.get_running_loop()
        for number in numbers:
            future = loop.create_future()
            future.add_done_callback(_retrieve)
            self._confirmed[number] = future
            self._unconfirmed[number] = self._unconfirmed.get(number, 0) + 1
        with reachable():
            await pubsub.subscribe(*(channel(n) for n in numbers))

    async def _wait_confirmed(self, number: str) -> None:
        future = self._confirmed.get(number)
        if self._pubsub is None or future is None:
            raise Unavailable("redis subscription is down")
        try:
            await asyncio.wait_for(asyncio.shield(future), CONFIRM_TIMEOUT_S)
        except TimeoutError as exc:
            raise Unavailable("redis did not confirm a subscription") from exc

    async def _unsubscribe(self, number: str) -> None:
        future = self._confirmed.pop(number, None)
        if future is not None and not future.done():
            future.set_exception(Unavailable("left before the subscription was confirmed"))
        pubsub = self._pubsub
        if pubsub is not None:
            with contextlib.suppress(*UNREACHABLE):  # a broken connection is the read loop's to notice
                await pubsub.unsubscribe(channel(number))

    def _fail_unconfirmed(self) -> None:
        for future in self._confirmed.values():
            if not future.done():
                future.set_exception(Unavailable("redis subscription is down"))
        self._unconfirmed.clear()

    # --- the subscription connection --------------------------------------------------------

    async def _run(self) -> None:
        delay, up = RETRY_MIN_S, None
        while True:
            pubsub = self._subscriber.pubsub()
            try:
                await pubsub.connect()
                self._pubsub = pubsub
                numbers = list(self._endpoints)
                for start in range(0, len(numbers), _SUBSCRIBE_BATCH):
                    await self._subscribe(numbers[start:start + _SUBSCRIBE_BATCH])
                if up is False:
                    log.info("redis is reachable again; %d numbers subscribed again", len(numbers))
                up, delay = True, RETRY_MIN_S
                await self._read(pubsub)
            except Exception as exc:  # unreachable, or anything unexpected: start over either way
                if up is not False:
                    log.warning("redis subscription lost (%s); reconnecting", type(exc).__name__)
                up = False
            finally:
                self._pubsub = None
                self._fail_unconfirmed()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    async def _read(self, pubsub: PubSub) -> None:
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=self._idle_ping_s)
            if message is None:
                if pinged:
                    raise rx.TimeoutError("no answer to a ping on the subscription")
                await pubsub.ping()
                pinged = True
                continue
            pinged = False  # any traffic shows the connection is alive
            self._handle(message)

    def _handle(self, message: dict) -> None:
        kind = message["type"]
        if kind not in ("message", "subscribe"):
            return  # pong, unsubscribe
        name = message["channel"]
        if not isinstance(name, bytes) or not name.startswith(_CHANNEL_PREFIX):
            return
        number = _number_of(name)
        if kind == "subscribe":
            left = self._unconfirmed.get(number, 0) - 1
            if left > 0:
                self._unconfirmed[number] = left
                return
            self._unconfirmed.pop(number, None)
            future = self._confirmed.get(number)
            if future is not None and not future.done():
                future.set_result(None)
            return
        data: bytes = message["data"]
        if data.startswith(ENVELOPE):
            text = data[len(ENVELOPE):].decode("utf-8")
            for endpoint in list(self._endpoints.get(number, ())):
                endpoint.deliver(text)
        elif data == EVICT:
            endpoints = self._endpoints.pop(number, None)
            if endpoints:
                self._chore(self._close_evicted(number, endpoints))

    async def _close_evicted(self, number: str, endpoints: Iterable[Endpoint]) -> None:
        await self._unsubscribe(number)
        reason = wire.DELETED_REASON.encode()
        await asyncio.gather(*(e.close(wire.DELETED_CLOSE_CODE, reason) for e in endpoints),
                             return_exceptions=True)

    def _chore(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)
