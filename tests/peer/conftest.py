"""A real node whose application is reachable, so a test can make its registry lie."""

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from safemeet.core.identity import PublicKeys
from safemeet.node.app import create_app, create_runner
from safemeet.node.appkeys import REGISTRY
from safemeet.node.config import NodeConfig


@dataclasses.dataclass
class LiveNode:
    """A running node: its URL and its aiohttp application."""

    url: str
    app: web.Application

    def lie(self, number: str, keys: PublicKeys) -> None:
        """From now on the node answers lookups of ``number`` with ``keys`` (a lying node)."""
        registry = self.app[REGISTRY]
        honest = registry.lookup

        async def lookup(asked: str) -> PublicKeys | None:
            return keys if asked == number else await honest(asked)

        registry.lookup = lookup  # type: ignore[method-assign]


@pytest.fixture
async def live_node(tmp_path: Path) -> AsyncIterator[LiveNode]:
    app = create_app(NodeConfig(port=0, data_dir=tmp_path / "live-node-data"))
    runner = create_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield LiveNode(f"http://127.0.0.1:{port}", app)
    finally:
        await runner.cleanup()
