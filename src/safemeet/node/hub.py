"""Presence and routing: which connections belong to a number, and delivery to all of them.

``Presence`` is the small interface the WebSocket handler uses. ``LocalPresence`` keeps it in
this process (the default); ``presence_redis.RedisPresence`` shares it between several node
processes through Redis pub/sub (``serve --redis``) without touching the handler.
"""

from typing import Protocol


class Endpoint(Protocol):
    """One live connection that frames can be handed to without waiting."""

    def deliver(self, text: str) -> bool:
        """Queue one text frame; False when the connection cannot take it (and is being dropped)."""
        ...

    async def close(self, code: int, reason: bytes) -> None:
        """Close the connection after the frames already queued."""
        ...


class Presence(Protocol):
    """Number → connected endpoints; async so that a networked implementation fits.

    Networked implementations raise ``backends.Unavailable`` when they cannot do their part.
    """

    async def join(self, number: str, endpoint: Endpoint) -> None:
        """Route ``number``'s frames to ``endpoint`` from now on; on failure nothing is kept."""
        ...

    async def leave(self, number: str, endpoint: Endpoint) -> None: ...

    async def route(self, number: str, text: str) -> int:
        """Hand ``text`` to every endpoint of ``number``; return how many took it (for a shared
        implementation: how many nodes hold ``number``). 0 means ``number`` is not connected."""
        ...

    async def evict(self, number: str) -> list[Endpoint]:
        """Forget every endpoint of ``number`` (it was deleted); return this process's, to close.
        A shared implementation has the other processes close theirs."""
        ...

    async def close(self) -> None: ...


class LocalPresence:
    """In-process presence: a dict of sets."""

    def __init__(self) -> None:
        self._endpoints: dict[str, set[Endpoint]] = {}

    async def join(self, number: str, endpoint: Endpoint) -> None:
        self._endpoints.setdefault(number, set()).add(endpoint)

    async def leave(self, number: str, endpoint: Endpoint) -> None:
        endpoints = self._endpoints.get(number)
        if endpoints is None:
            return
        endpoints.discard(endpoint)
        if not endpoints:
            del self._endpoints[number]

    async def route(self, number: str, text: str) -> int:
        delivered = 0
        for endpoint in list(self._endpoints.get(number, ())):
            if endpoint.deliver(text):
                delivered += 1
        return delivered

    async def evict(self, number: str) -> list[Endpoint]:
        return list(self._endpoints.pop(number, ()))

    async def close(self) -> None:
        self._endpoints.clear()

    def online(self) -> int:
        """How many numbers are connected (a count, for metrics)."""
        return len(self._endpoints)
