"""The node: hands out numbers, answers key lookups and routes sealed envelopes (aiohttp)."""

from .app import create_app, create_runner
from .config import NodeConfig
from .server import run, serve

__all__ = ["NodeConfig", "create_app", "create_runner", "run", "serve"]
