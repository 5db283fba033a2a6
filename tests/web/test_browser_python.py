"""The browser app and the Python peer (aiortc) call each other through one real node."""

import asyncio

import pytest
from playwright.async_api import expect

from safemeet.core.identity import Identity
from safemeet.peer import ChatMessage, Ended, Peer

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

TEXTS = ["hello from the browser 👋", "RTL: שלום עולם", "e\u0301 𝄞"]


async def collect_chat(call, n):
    got = []
    async for event in call.events():
        if isinstance(event, ChatMessage):
            got.append(event.text)
            if len(got) == n:
                break
    return got


async def test_browser_calls_python(app, node):
    browser = await app()
    async with Peer(node, Identity.generate()) as py:
        await browser.dial(py.number)
        await expect(browser.status).to_have_text("Ringing")
        call = await py.next_incoming(5)
        assert call.remote == await browser.number()
        await call.accept()
        await expect(browser.status).to_have_text("Connected")
        await asyncio.wait_for(call.wait_connected(), 10)
        await browser.assert_video_playing()

        reader = asyncio.create_task(collect_chat(call, len(TEXTS)))
        for text in TEXTS:
            await browser.send_chat(text)
        assert await asyncio.wait_for(reader, 10) == TEXTS
        await call.send_chat("hi from python 🐍")
        await expect(browser.chat_log.get_by_text("hi from python 🐍", exact=True)).to_be_visible()

        await browser.button("Hang up").click()
        result = await asyncio.wait_for(call.wait_ended(), 10)
        assert (result.ended_by, result.reason) == ("remote", "hangup")
        assert min(result.audio_frames_received, result.video_frames_received) > 0
        await expect(browser.status).to_have_text("Call ended")
        await browser.assert_nothing_left()


async def test_python_calls_browser(app, node):
    browser = await app()
    async with Peer(node, Identity.generate()) as py:
        call = await py.call(await browser.number())
        incoming = browser.page.get_by_role("region", name="Incoming call")
        await expect(incoming).to_contain_text(f"{py.number[:3]} {py.number[3:6]} {py.number[6:]}")
        await browser.button("Accept").click()
        await asyncio.wait_for(call.wait_connected(), 10)
        await expect(browser.status).to_have_text("Connected")
        await browser.assert_video_playing()

        await call.send_chat("ring ring ☎")
        await expect(browser.chat_log.get_by_text("ring ring ☎", exact=True)).to_be_visible()
        reader = asyncio.create_task(collect_chat(call, 1))
        await browser.send_chat("answered ✔")
        assert await asyncio.wait_for(reader, 10) == ["answered ✔"]

        await call.hangup()
        await expect(browser.status).to_have_text("Call ended")
        await browser.assert_nothing_left()
        result = call.result
        assert result is not None and result.reason == "hangup"
        assert min(result.audio_frames_received, result.video_frames_received) > 0  # browser → Python media


async def test_python_decline_and_browser_cancel(app, node):
    browser = await app()
    async with Peer(node, Identity.generate()) as py:
        await browser.dial(py.number)
        call = await py.next_incoming(5)
        await call.decline()
        await expect(browser.status).to_have_text("Declined")

        await browser.dial(py.number)
        await expect(browser.status).to_have_text("Ringing")
        call = await py.next_incoming(5)
        await browser.button("Hang up").click()
        ended = [e async for e in call.events() if isinstance(e, Ended)]
        assert ended and ended[0].ended_by == "remote"
        await expect(browser.status).to_have_text("Call ended")
