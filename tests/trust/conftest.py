"""Fixtures for the malicious-node tests: a real node with a man-in-the-middle proxy in front.

Python tests: ``mitm`` (a started :class:`mitm.Mitm` in front of ``node_url``); peers connect to
``mitm.url``. Browser tests: ``browser_mitm`` (node + proxy on the module's event loop) and
``app`` that opens the app through the proxy; the browser launch and the page helpers are those
of tests/web/conftest.py, loaded from there so the two stay the same.
"""

import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).parent))
from mitm import Mitm  # noqa: E402


@pytest.fixture
async def mitm(node_url: str) -> AsyncIterator[Mitm]:
    proxy = Mitm(node_url)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


def _web_conftest():
    name = "safemeet_tests_web_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent.parent / "web" / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# Keeps every peer connection of a page, with the connection states it went through, so a test
# can read its DTLS certificates (getStats) and prove it never connected.
PCS = """
window.__pcs = [];
const WatchedPC = window.RTCPeerConnection;
window.RTCPeerConnection = class extends WatchedPC {
  constructor(...args) {
    super(...args);
    this.__states = [];
    window.__pcs.push(this);
    this.addEventListener('connectionstatechange', () => this.__states.push(this.connectionState));
  }
};
"""

try:
    web = _web_conftest()
except pytest.skip.Exception:  # playwright missing: the browser tests skip themselves
    web = None

if web is not None:
    browser = web.browser  # the same module-scoped Chromium launch as tests/web

    @pytest_asyncio.fixture(loop_scope="module")
    async def browser_mitm(tmp_path: Path) -> AsyncIterator[Mitm]:
        server = web.NodeServer(tmp_path / "node-data")
        await server.start()
        proxy = Mitm(server.origin)
        await proxy.start()
        try:
            yield proxy
        finally:
            await proxy.close()
            await server.stop()

    @pytest_asyncio.fixture(loop_scope="module")
    async def app(browser, browser_mitm: Mitm):
        """Open the app through the proxy: ``await app()`` → a registered ``web.App``.

        ``ring_timeout_ms`` / ``connect_timeout_ms`` shorten the call timeouts. After the test: no
        CSP violation and no request outside the proxy's origin on any page.
        """
        async with web.app_opener(browser, browser_mitm.url, init_scripts=(PCS,), check_console=False) as open_app:
            yield open_app
