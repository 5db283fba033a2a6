"""A browser call whose network path dies recovers by itself: the page says "Reconnecting…", a
fresh connection is negotiated through the node (the caller offers, the callee answers), and the
call, its chat and its media carry on. The path is cut on the Python side by closing its UDP
sockets with no goodbye (as when a network interface disappears), so the page notices only
silence; each browser role is tested: recovering as callee and as caller.
"""

import asyncio
import time

import pytest
import pytest_asyncio
from playwright.async_api import expect

from call_helpers import cut_path, until
from safemeet.peer import Peer

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

RECOVERY_S = 30  # silence noticed after 5 s, then one offer/answer through the node

# Every text the call status shows, in order (a short "Reconnecting…" is easy to miss by polling).
RECORD_STATUS = """
window.__status = [];
document.addEventListener('DOMContentLoaded', () => {
  const el = document.getElementById('status');
  new MutationObserver(() => window.__status.push(el.textContent))
    .observe(el, { childList: true, characterData: true, subtree: true });
});
"""


@pytest_asyncio.fixture(loop_scope="module")
async def app(apps_at, node):
    """Pages that record their call status texts."""
    async with apps_at(node, init_scripts=(RECORD_STATUS,)) as open_app:
        yield open_app


async def _recovers(page, python_call, chat_from_page: str) -> float:
    cut = time.monotonic()
    await page.page.evaluate("window.__status = []")
    cut_path(python_call)
    await page.page.wait_for_function(
        "() => { const s = window.__status, i = s.indexOf('Reconnecting…'); return i >= 0 && s.slice(i).includes('Connected'); }",
        timeout=RECOVERY_S * 1000)
    took = time.monotonic() - cut
    await expect(page.status).to_have_text("Connected")
    await until(lambda: python_call.phase == "connected", "Python side connected again", 10)
    await page.assert_video_playing()
    frames = python_call.frames_received
    await until(lambda: python_call.frames_received[0] > frames[0] + 100
                 and python_call.frames_received[1] > frames[1] + 20, "media to Python again", 10)
    await page.send_chat(chat_from_page)
    await python_call.send_chat("back again ↺")
    await expect(page.chat_log.get_by_text("back again ↺", exact=True)).to_be_visible()
    await until(lambda: chat_from_page in python_call._live.chat, "chat to Python again", 10)
    return took


async def test_page_as_callee_recovers_a_lost_path(app, node, tmp_path):
    page = await app()
    async with Peer(node, tmp_path / "py.key") as python:
        call = await python.call(await page.number())
        await page.button("Accept").click()
        await asyncio.wait_for(call.wait_connected(), 10)
        await page.send_chat("before")
        await until(lambda: call._live.chat == ["before"], "chat before the cut", 10)

        took = await _recovers(page, call, "after")
        await expect(page.chat_log.get_by_text("before", exact=True)).to_be_visible()  # the chat was kept
        await page.button("Hang up").click()
        result = await call.wait_ended()
        assert result.reconnects == 1 and result.chat_received == ["before", "after"], result
        await page.assert_nothing_left()
        print(f"\npage as callee: Connected again {took:.1f} s after the path was cut")


async def test_page_as_caller_recovers_a_lost_path(app, node, tmp_path):
    page = await app()
    async with Peer(node, tmp_path / "py.key") as python:
        await page.dial(python.number)
        incoming = await python.next_incoming(10)
        await incoming.accept()
        await expect(page.status).to_have_text("Connected")

        took = await _recovers(page, incoming, "after")
        await incoming.hangup()
        await expect(page.status).to_have_text("Call ended")
        result = await incoming.wait_ended()
        assert result.reconnects == 1 and result.chat_received == ["after"], result
        await page.assert_nothing_left()
        print(f"\npage as caller: Connected again {took:.1f} s after the path was cut")
