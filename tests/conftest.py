import json
import pathlib

import pytest

VECTORS = pathlib.Path(__file__).parent / "vectors"


def load_vectors(name: str) -> dict:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.fixture
def vectors():
    return load_vectors


@pytest.fixture
async def node_url(tmp_path):
    """A real node on a free loopback port, serving until the test ends."""
    from aiohttp import web

    from safemeet.node.app import create_app, create_runner
    from safemeet.node.config import NodeConfig

    app = create_app(NodeConfig(port=0, data_dir=tmp_path / "node-data"))
    runner = create_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
