"""Node settings: where to listen, where to keep the registry, and the protocol limits."""

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..core import wire

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# The repository's npm packages (package.json at the root), when this is a source checkout.
_REPO_NODE_MODULES = WEB_DIR.parents[2] / "node_modules"
VENDOR_DIR = _REPO_NODE_MODULES if _REPO_NODE_MODULES.is_dir() else None
REDIS_SCHEMES = ("redis", "rediss", "unix")


# A plain DNS name or IPv4 address, or a bracketed IPv6 address: nothing that could end a CSP source.
_HOSTNAME = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\]")
_DEFAULT_PORT = {"http": 80, "https": 443}


def node_origin(url: str) -> str:
    """A node's public base URL (``https://meet.example.org``, ``http://127.0.0.1:8765/``) as the
    origin a browser sees (``scheme://host[:port]``, default port left out); ValueError naming the
    URL when it is anything else (another scheme, a path, a query, credentials, a bad port)."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port  # ValueError for a port that is not a number in 0..65535
        host = parts.hostname or ""
    except ValueError:
        port, host = 0, ""
    host = f"[{host}]" if ":" in host else host
    if (parts.scheme not in _DEFAULT_PORT or not _HOSTNAME.fullmatch(host) or port == 0
            or parts.username is not None or parts.password is not None or parts.path not in ("", "/")
            or parts.query or parts.fragment or url.strip().endswith(("?", "#"))):
        raise ValueError(f"not a node base URL: {url!r} (expected http://host:port or https://host)")
    if port is None or port == _DEFAULT_PORT[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def ws_origin(origin: str) -> str:
    """``http://h`` → ``ws://h``, ``https://h`` → ``wss://h``: where a page reaches that node."""
    scheme, rest = origin.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}"


@dataclass(frozen=True)
class NodeConfig:
    """Everything ``create_app`` and ``serve`` need. Port 0 picks a free port."""

    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: Path = Path("data")
    tls_cert: Path | None = None
    tls_key: Path | None = None
    web_dir: Path = WEB_DIR
    turn_urls: tuple[str, ...] = ()  # e.g. ("turn:turn.example.org:3478?transport=udp",)
    turn_secret: str | None = None  # coturn's static-auth-secret (use-auth-secret)
    turn_ttl_s: int = 3600  # lifetime of the TURN credentials minted at registration
    # Public base URLs of every node of this deployment, this one included (``--nodes``); browsers
    # learn them at registration and may connect to exactly these. Empty: just this node.
    nodes: tuple[str, ...] = ()
    # Registry and routing in this Redis, shared with other nodes (``--redis``); None: SQLite in
    # data_dir and in-process routing.
    redis_url: str | None = None
    vendor_dir: Path | None = VENDOR_DIR  # node_modules holding the files of static.VENDOR
    register_timeout_s: float = wire.REGISTER_TIMEOUT_S
    rate_bucket: int = wire.RATE_BUCKET
    rate_per_s: float = wire.RATE_PER_S
    abuse_limit: int = wire.ABUSE_LIMIT
    heartbeat_s: float = 25.0  # WebSocket ping interval; drops peers that vanished silently
    shutdown_timeout_s: float = 3.0

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("give both tls_cert and tls_key, or neither")
        if bool(self.turn_urls) != bool(self.turn_secret):
            raise ValueError("give both TURN URLs and the TURN secret, or neither")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be 0..65535")
        if self.redis_url is not None and urlsplit(self.redis_url).scheme not in REDIS_SCHEMES:
            raise ValueError("the Redis URL must start with redis://, rediss:// or unix://")
        origins = tuple(dict.fromkeys(node_origin(url) for url in self.nodes))
        object.__setattr__(self, "nodes", origins)  # normalised once, duplicates dropped

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None
