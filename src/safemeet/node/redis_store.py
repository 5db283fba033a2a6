"""A node's Redis: clients with short timeouts, key and channel names, and which errors mean
"Redis cannot be reached now" (raised as ``backends.Unavailable``).

What a node keeps there is exactly what SQLite keeps (number → keys), plus pub/sub channels
named by number; nothing with a time, an address or a counter. Logs never carry the URL (it can
hold a password and names a host).
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import redis.asyncio as aioredis
from redis import exceptions as rx
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .backends import Backends, Unavailable

log = logging.getLogger("safemeet.node")

PREFIX = "safemeet:"
TIMEOUT_S = 2.0  # connect and reply timeout: an outage is an error after this, never a hang
POOL_SIZE = 32  # Redis connections per client and node
# BusyLoadingError (Redis still loading its data) is a ConnectionError; ReadOnlyError is a replica.
UNREACHABLE: tuple[type[BaseException], ...] = (rx.ConnectionError, rx.TimeoutError, rx.ReadOnlyError, OSError)


def number_key(number: str) -> str:
    """Hash ``sig``/``seal``/``bind`` (b64u) of a registered number."""
    return f"{PREFIX}num:{number}"


def sig_key(sig_b64u: str) -> str:
    """The number that an identity key holds (the SQLite table's UNIQUE ``sig`` column)."""
    return f"{PREFIX}sig:{sig_b64u}"


def channel(number: str) -> str:
    """Pub/sub channel of the nodes that hold connections of ``number``."""
    return f"{PREFIX}to:{number}"


def connect(url: str, retries: int) -> aioredis.Redis:
    """A client that fails fast, with its own pool of at most ``POOL_SIZE`` connections (more
    concurrent commands wait for one, up to ``TIMEOUT_S``). ``retries=1`` lets a command survive a
    pooled connection that Redis closed while it restarted; 0 leaves every reconnect to the caller."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_SIZE,
        timeout=TIMEOUT_S,
        socket_timeout=TIMEOUT_S,
        socket_connect_timeout=TIMEOUT_S,
        retry=Retry(NoBackoff(), retries),
    )
    return aioredis.Redis.from_pool(pool)


@contextlib.contextmanager
def reachable() -> Iterator[None]:
    """Turn "cannot reach Redis" into ``Unavailable``; any other Redis error stays a failure."""
    try:
        yield
    except UNREACHABLE as exc:
        raise Unavailable(f"redis: {type(exc).__name__}") from exc


async def ping(client: aioredis.Redis) -> bool:
    try:
        await asyncio.wait_for(client.ping(), TIMEOUT_S)
    except UNREACHABLE:
        return False
    return True


async def open_redis_backends(url: str) -> Backends:
    """Registry and presence on the Redis at ``url``. A Redis that is down now only degrades the
    node: it serves the web app, answers ``unavailable`` and reconnects by itself."""
    from .presence_redis import RedisPresence
    from .registry_redis import RedisRegistry

    commands = connect(url, retries=1)
    subscriber = connect(url, retries=0)
    registry = RedisRegistry(commands)
    presence = RedisPresence(commands, subscriber)
    presence.start()
    if not await ping(commands):
        log.warning("redis is not reachable; registrations and calls fail until it is")

    async def health() -> dict[str, str]:
        ok = presence.available and await ping(commands)
        return {"redis": "ok" if ok else "unavailable"}

    async def close() -> None:
        await presence.close()
        await registry.close()
        await subscriber.aclose()
        await commands.aclose()

    return Backends(registry, presence, health, close)
