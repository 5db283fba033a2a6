"""Node settings: where to listen, where to keep the registry, and the protocol limits."""

from dataclasses import dataclass
from pathlib import Path

from ..core import wire

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# The repository's npm packages (package.json at the root), when this is a source checkout.
_REPO_NODE_MODULES = WEB_DIR.parents[2] / "node_modules"
VENDOR_DIR = _REPO_NODE_MODULES if _REPO_NODE_MODULES.is_dir() else None


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

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None
