"""Which nodes a client may use, and how long it waits between rounds of attempts to reach one."""

import random
from typing import Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

BACKOFF_BASE_S = 0.25  # the first wait after losing the node is at most this long
BACKOFF_CAP_S = 10.0  # no wait is longer than this, however long the nodes stay down
STABLE_S = 10.0  # a connection that lasted this long starts the next loss's backoff afresh


def ws_url(node_url: str) -> str:
    """``http://host:port`` (or ws://, https://, wss://) → the node's WebSocket endpoint URL."""
    text = node_url.strip()
    parts = urlsplit(text if "://" in text else "http://" + text)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    try:
        parts.port  # raises ValueError for a port that is not a number in 0..65535
        host_ok = bool(parts.hostname)
    except ValueError:
        host_ok = False
    if scheme is None or not host_ok:
        raise ValueError(f"not a node URL: {node_url!r} (expected http://host:port)")
    return urlunsplit((scheme, parts.netloc, "/ws", "", ""))


def node_urls(nodes: str | Sequence[str]) -> list[str]:
    """The WebSocket URLs of a node list: ``"http://a:8765,http://b:8765"`` or a sequence of URLs.

    Order is preference: a client registers at the first node it can reach. Raises ValueError
    naming the bad entry (empty, not http/https/ws/wss, no host, bad port).
    """
    items = nodes.split(",") if isinstance(nodes, str) else list(nodes)
    if not items or all(not isinstance(i, str) or not i.strip() for i in items):
        raise ValueError("no node URL given (expected http://host:port, or several separated by commas)")
    urls: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"empty entry in the node list {nodes!r} (separate node URLs with single commas)")
        url = ws_url(item)
        if url not in urls:
            urls.append(url)
    return urls


class Backoff:
    """Exponential backoff with full jitter: wait ``uniform(0, min(cap, base * 2**n))`` before
    the ``n``-th round (n = 0, 1, ...). Full jitter spreads the clients of a node that restarts
    over the whole window instead of having them all knock at the same instant."""

    def __init__(self, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S,
                 uniform: Callable[[float, float], float] = random.uniform) -> None:
        if not 0 < base <= cap:
            raise ValueError("backoff needs 0 < base <= cap")
        self.base, self.cap = base, cap
        self._uniform = uniform
        self.rounds = 0

    def ceiling(self) -> float:
        """The longest the next wait can be."""
        return min(self.cap, self.base * 2 ** min(self.rounds, 60))

    def next_delay(self) -> float:
        """The wait before the next round; each call makes the following ceiling twice as high."""
        delay = self._uniform(0.0, self.ceiling())
        self.rounds += 1
        return delay

    def reset(self) -> None:
        self.rounds = 0
