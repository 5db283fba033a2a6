"""What the failover tests look at: a node process's connections, the rings that reach a peer,
and how long a peer took to register again."""

import asyncio
import os
import time

from nodeproc import NodeProcess
from safemeet.core import envelope


async def start(node: NodeProcess) -> float:
    """Start ``node`` without blocking the event loop (peers keep running); returns the moment it
    answered, in ``time.monotonic()``."""
    await asyncio.to_thread(node.start)
    return time.monotonic()


def connections(node: NodeProcess) -> int:
    """Established TCP connections the node holds on its port (from /proc/net/tcp and tcp6)."""
    port = f"{node.port:04X}"
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as f:
            next(f)
            for row in f:
                fields = row.split()
                if fields[1].rsplit(":", 1)[1] == port and fields[3] == "01":
                    count += 1
    return count


async def wait_connections(node: NodeProcess, expected: int, timeout: float = 10) -> int:
    """The node's connection count once it is ``expected`` (closing ones take a moment to go),
    or whatever it is after ``timeout``."""
    deadline = time.monotonic() + timeout
    while connections(node) != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return connections(node)


class StateLog:
    """Every signaling state ``peer`` goes through from now on, with the moment it did."""

    def __init__(self, peer) -> None:
        self.seen: list[tuple[float, str]] = []
        self._changed = asyncio.Event()
        node = peer._node
        told = node._on_state

        def record(state: str) -> None:
            told(state)
            self.seen.append((time.monotonic(), state))
            self._changed.set()

        node._on_state = record

    async def reached(self, *states: str, timeout: float) -> float:
        """Wait until ``states`` were gone through in this order (others may come between);
        returns the moment of the last one."""
        async def find() -> float:
            while True:
                wanted = list(states)
                for at, state in self.seen:
                    if state == wanted[0]:
                        wanted.pop(0)
                        if not wanted:
                            return at
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(find(), timeout)


def record_rings(peer) -> list[str]:
    """From now on, the call id of every ring envelope that reaches ``peer`` over any of its
    node connections (before the replay guard could hide a duplicate)."""
    rings: list[str] = []
    node = peer._node
    deliver = node._on_envelope

    async def recording(env: str) -> None:
        try:
            opened = envelope.open_envelope(peer.identity, peer.number, env)
            if opened.inner["type"] == "ring":
                rings.append(opened.inner["call"])
        except envelope.EnvelopeError:
            pass
        await deliver(env)

    node._on_envelope = recording
    return rings
