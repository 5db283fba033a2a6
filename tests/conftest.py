import contextlib
import json
import pathlib

import pytest
import pytest_asyncio

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


def _free_port(kind: int) -> int:
    import socket

    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def _run_turnserver(tmp_path, address: str = "127.0.0.1"):
    """A real coturn (Debian's turnserver) on ``address`` (loopback unless a test's network lab
    gives another) with a REST-scheme secret: (urls, secret)."""
    import asyncio
    import random
    import shutil
    import socket

    binary = shutil.which("turnserver")
    if binary is None:
        pytest.fail("turnserver is not installed: scripts/setup-env installs coturn")
    port, secret = _free_port(socket.SOCK_DGRAM), "test-secret-" + str(random.random())
    low = random.randrange(20000, 60000, 100)
    proc = await asyncio.create_subprocess_exec(
        binary, "-n", f"--listening-ip={address}", f"--listening-port={port}", f"--relay-ip={address}",
        f"--min-port={low}", f"--max-port={low + 99}", "--use-auth-secret", f"--static-auth-secret={secret}",
        "--realm=safemeet.test", "--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls",
        "--fingerprint", "--no-software-attribute", f"--pidfile={tmp_path / 'turn.pid'}",
        "--userdb", str(tmp_path / "turndb"), "--log-file=stdout", "--simple-log",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    deadline = asyncio.get_running_loop().time() + 10
    while True:  # ready once it answers a STUN binding request
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            s.sendto(bytes.fromhex("000100002112a442") + bytes(12), (address, port))
            try:
                s.recvfrom(512)
                break
            except OSError:
                if asyncio.get_running_loop().time() > deadline or proc.returncode is not None:
                    proc.kill()
                    pytest.fail("turnserver did not start")
    try:
        yield (f"turn:{address}:{port}?transport=udp",), secret
    finally:
        proc.terminate()
        await proc.wait()


@pytest.fixture
def run_turnserver():
    """``async with run_turnserver(tmp_path, address) as (urls, secret)``: coturn on another address."""
    return _run_turnserver


@pytest.fixture
async def turn_server(tmp_path):
    """A real coturn on loopback: (urls, secret)."""
    async with _run_turnserver(tmp_path) as relay:
        yield relay


@pytest_asyncio.fixture(loop_scope="module")
async def turn_server_module_loop(tmp_path):
    """`turn_server` for tests that run in their module's event loop (tests/web)."""
    async with _run_turnserver(tmp_path) as relay:
        yield relay


@pytest.fixture
async def turn_node_url(tmp_path, turn_server):
    """A real node that hands out credentials for the test's coturn."""
    from aiohttp import web

    from safemeet.node.app import create_app, create_runner
    from safemeet.node.config import NodeConfig

    urls, secret = turn_server
    app = create_app(NodeConfig(port=0, data_dir=tmp_path / "turn-node-data", turn_urls=urls, turn_secret=secret))
    runner = create_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


class RedisServer:
    """Debian's redis-server on a fixed loopback port, nothing saved to disk; can stop and start
    again on the same port (an outage and its end)."""

    def __init__(self, workdir: pathlib.Path) -> None:
        import socket

        self.port = _free_port(socket.SOCK_STREAM)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._proc = None

    async def start(self) -> None:
        import asyncio
        import shutil

        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: scripts/setup-env installs it")
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._proc = await asyncio.create_subprocess_exec(
            binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
            "--dir", str(self._workdir), "--protected-mode", "yes", "--daemonize", "no",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        deadline = asyncio.get_running_loop().time() + 10
        while not await self.answers():
            if asyncio.get_running_loop().time() > deadline or self._proc.returncode is not None:
                await self.stop()
                pytest.fail("redis-server did not start")
            await asyncio.sleep(0.05)

    async def answers(self) -> bool:
        """True when something on the port answers PING with PONG."""
        import asyncio

        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 1)
        except (OSError, asyncio.TimeoutError):
            return False
        try:
            writer.write(b"PING\r\n")
            return await asyncio.wait_for(reader.readline(), 1) == b"+PONG\r\n"
        except (OSError, asyncio.TimeoutError):
            return False
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            await self._proc.wait()
        self._proc = None


@pytest.fixture
async def redis_server(tmp_path):
    """A real redis-server on a free loopback port (``.url``, ``.stop()``, ``.start()``)."""
    server = RedisServer(tmp_path / "redis")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def redis_server_module_loop(tmp_path):
    """`redis_server` for tests that run in their module's event loop (tests/web)."""
    server = RedisServer(tmp_path / "redis")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def node_process(tmp_path):
    """A started ``safemeet serve`` process of its own (tests/nodeproc.py), for tests that kill it."""
    from nodeproc import NodeProcess

    proc = NodeProcess(tmp_path / "node-process")
    proc.start()
    yield proc
    proc.stop()
