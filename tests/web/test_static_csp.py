"""The page loads under the node's strict CSP with zero console errors and nothing off-origin."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def test_page_loads_clean(app):
    a = await app()
    number = await a.number()
    assert number.isdigit() and len(number) == 9
    await a.page.wait_for_timeout(300)  # let late errors (favicon, module graph) surface
    assert a.console_errors() == []
    assert await a.csp_violations() == []
    assert a.foreign_requests() == []
    assert any(url.endswith("/js/main.js") for url in a.requests)
    assert len(a.sockets) == 1 and a.sockets[0].endswith("/ws")
