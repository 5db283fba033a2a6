"""Screen sharing in a 1:1 call: start, stop and restart from either side and both at once, many
camera and share toggles that never add a transceiver (the screen has a slot of its own, filled
and emptied with replaceTrack), the receiver showing the screen and removing it when sharing stops.
Real Chromium pages and an aiortc peer through a real node.
"""

import asyncio
import time

import pytest
import pytest_asyncio
from playwright.async_api import expect
from page_scripts import KEEP_PCS
from test_browser_calls import connect

from call_helpers import next_event, until
from safemeet.peer import Peer, RemoteScreen

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

TOGGLES = 20

# Transceivers of the page's live connection, and how many connections it ever made.
SLOTS = """() => {
  const live = window.__pcs.filter((p) => p.connectionState === 'connected');
  return { pcs: window.__pcs.length, transceivers: live.map((p) => p.getTransceivers().length) };
}"""


@pytest_asyncio.fixture(loop_scope="module")
async def pages(apps_at, node):
    async with apps_at(node, init_scripts=(KEEP_PCS,)) as open_app:
        yield open_app


async def _slots(app) -> dict:
    return await app.page.evaluate(SLOTS)


async def test_share_toggles_between_pages_never_renegotiate(pages):
    alice, bob = await asyncio.gather(pages(), pages())
    await connect(alice, bob)
    before = [await _slots(p) for p in (alice, bob)]
    assert [b["transceivers"] for b in before] == [[3], [3]]  # audio, camera, screen

    share, camera = alice.button("Share screen"), alice.button("Camera")
    screen = bob.page.get_by_label("Remote screen", exact=True)
    shown = []
    for _ in range(TOGGLES):  # start, stop, restart … each share reaches the other side
        clicked = time.monotonic()
        await share.click()
        await expect(screen).to_be_visible()
        await bob.assert_video_playing("Remote screen")
        shown.append(time.monotonic() - clicked)
        await share.click()
        await expect(screen).to_be_hidden()
        assert await screen.evaluate("el => el.srcObject") is None
    for _ in range(TOGGLES):
        await camera.click()
        await camera.click()
    await expect(camera).to_have_attribute("aria-pressed", "true")

    # Both share at once: each sees the other's screen.
    await share.click()
    await bob.button("Share screen").click()
    await asyncio.gather(alice.assert_video_playing("Remote screen"), bob.assert_video_playing("Remote screen"))
    await asyncio.gather(alice.assert_video_playing(), bob.assert_video_playing())  # cameras still on
    assert [await _slots(p) for p in (alice, bob)] == before  # no new transceiver, no new connection
    await alice.button("Hang up").click()
    await expect(bob.status).to_have_text("Call ended")
    await bob.assert_nothing_left()
    print(f"\nscreen shown after Share screen: median {sorted(shown)[len(shown) // 2]:.2f} s, "
          f"worst {max(shown):.2f} s over {TOGGLES} shares")


async def test_python_and_page_share_at_once_and_restart(pages, node, tmp_path):
    page = await pages()
    async with Peer(node, tmp_path / "py.key") as python:
        call = await python.call(await page.number())
        await page.button("Accept").click()
        await asyncio.wait_for(call.wait_connected(), 10)
        pcs_before = await _slots(page)
        transceivers = len(call._live.pc.getTransceivers())
        screen = page.page.get_by_label("Remote screen", exact=True)

        for _ in range(TOGGLES):  # Python: start, stop, restart …
            await call.share_screen()
            await expect(screen).to_be_visible()
            await call.stop_screen()
            await expect(screen).to_be_hidden()
        await call.share_screen()
        await page.assert_video_playing("Remote screen")

        await page.button("Share screen").click()  # both at once
        assert (await next_event(call, RemoteScreen)).sharing
        seen = call.screen_frames_received
        await until(lambda: call.screen_frames_received > seen + 10, "page's screen frames in Python", 15)
        await page.assert_video_playing("Remote screen")

        await page.button("Share screen").click()
        assert not (await next_event(call, RemoteScreen)).sharing
        assert (await _slots(page)) == pcs_before and len(call._live.pc.getTransceivers()) == transceivers
        await call.hangup()
        result = await call.wait_ended()
        assert result.screen_frames_received > seen + 10
        await expect(page.status).to_have_text("Call ended")
        await page.assert_nothing_left()

