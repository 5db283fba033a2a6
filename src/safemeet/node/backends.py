"""Which registry and presence a node uses: embedded (SQLite + in-process) or shared (Redis).

``open_backends(config)`` picks them from ``NodeConfig.redis_url``. ``Unavailable`` is what both
kinds raise when a service they depend on cannot be reached; clients then get ``unavailable``.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .config import NodeConfig
from .hub import LocalPresence, Presence
from .registry import Registry, SqliteRegistry

Health = Callable[[], Awaitable[dict[str, str]]]


class Unavailable(RuntimeError):
    """A service the registry or routing depends on (Redis) cannot be reached right now."""


@dataclass
class Backends:
    """The node's registry and presence, a health check and how to close them."""

    registry: Registry
    presence: Presence
    health: Health  # service name → "ok" or "unavailable"; {} when the node depends on nothing
    close: Callable[[], Awaitable[None]]


async def _no_dependencies() -> dict[str, str]:
    return {}


async def open_backends(config: NodeConfig) -> Backends:
    """The backends ``config`` asks for; a shared store that is down now is not an error here
    (the node serves and reconnects), see ``redis_store.open_redis_backends``."""
    if config.redis_url is not None:
        from .redis_store import open_redis_backends  # imports redis only for nodes that use it

        return await open_redis_backends(config.redis_url)
    registry = SqliteRegistry.open(config.data_dir)
    presence = LocalPresence()

    async def close() -> None:
        await presence.close()
        await registry.close()

    return Backends(registry, presence, _no_dependencies, close)
