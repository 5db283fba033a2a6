"""A connected call needs the node for nothing, with a browser on either end: the node process is
SIGKILLed mid-call and media, chat, a screen share (started and stopped) and the hangup all keep
working over the peers' own connection. Real `safemeet serve` process, real Chromium, aiortc.
"""

import asyncio
import time

import pytest
from playwright.async_api import expect
from page_scripts import KEEP_PCS
from test_browser_calls import connect

from call_helpers import next_event, until
from safemeet.peer import Ended, Peer, RemoteScreen

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# Audio packets and video frames received on the page's live connection (the camera slot only:
# the first inbound video, by mid order).
RECEIVED = """
async () => {
  const pc = window.__pcs.filter((p) => p.connectionState === 'connected').at(-1);
  if (!pc) return { audio: 0, video: 0 };
  const out = { audio: 0, video: [] };
  (await pc.getStats()).forEach((s) => {
    if (s.type !== 'inbound-rtp') return;
    if (s.kind === 'audio') out.audio += s.packetsReceived;
    else out.video.push([s.mid, s.framesDecoded ?? 0]);
  });
  out.video.sort((a, b) => Number(a[0]) - Number(b[0]));
  return { audio: out.audio, video: out.video[0]?.[1] ?? 0 };
}
"""


@pytest.fixture
def node(node_process):
    return node_process


async def _received(page) -> dict[str, int]:
    return await page.page.evaluate(RECEIVED)


async def _share_and_stop(sharer, viewer) -> float:
    """The sharer's screen shows on the viewer's page, then goes away; returns seconds to show."""
    share = sharer.button("Share screen")
    screen = viewer.page.get_by_label("Remote screen", exact=True)
    await expect(screen).to_be_hidden()
    clicked = time.monotonic()
    await share.click()
    await expect(share).to_have_attribute("aria-pressed", "true")
    await viewer.assert_video_playing("Remote screen")
    shown = time.monotonic() - clicked
    await viewer.assert_video_playing()  # the camera goes on beside the screen
    await share.click()
    await expect(share).to_have_attribute("aria-pressed", "false")
    await expect(screen).to_be_hidden(timeout=2_000)
    assert await screen.evaluate("el => el.srcObject") is None  # no frozen last frame
    return shown


async def test_browser_call_outlives_a_killed_node(apps_at, node):
    async with apps_at(node.url, init_scripts=(KEEP_PCS,)) as open_app:
        alice, bob = await asyncio.gather(open_app(), open_app())
        await connect(alice, bob)
        await asyncio.gather(alice.assert_video_playing(), bob.assert_video_playing())

        node.kill()
        for page in (alice, bob):
            await expect(page.signaling).to_have_text("Reconnecting…")
        before = [await _received(p) for p in (alice, bob)]
        await asyncio.sleep(10)
        after = [await _received(p) for p in (alice, bob)]
        for b, a in zip(before, after):  # 10 s: ~500 audio packets, ~200 camera frames (20 fps)
            assert a["audio"] - b["audio"] > 300 and a["video"] - b["video"] > 100, (b, a)
        for page in (alice, bob):
            await expect(page.status).to_have_text("Connected")

        await alice.send_chat("no node, still here 🛰")
        await bob.send_chat("same here")
        await expect(bob.chat_log.get_by_text("no node, still here 🛰", exact=True)).to_be_visible()
        await expect(alice.chat_log.get_by_text("same here", exact=True)).to_be_visible()

        shown = [await _share_and_stop(alice, bob), await _share_and_stop(bob, alice)]

        hung_up = time.monotonic()
        await alice.button("Hang up").click()
        await expect(bob.status).to_have_text("Call ended")
        heard = time.monotonic() - hung_up
        await expect(alice.status).to_have_text("Call ended")
        for page in (alice, bob):
            await page.assert_nothing_left()
        print(f"\nwith no node: screen shown {shown[0]:.2f} s / {shown[1]:.2f} s after Share screen; "
              f"hangup heard in {heard:.2f} s")


async def test_browser_and_python_call_outlives_a_killed_node(apps_at, node, tmp_path):
    async with apps_at(node.url, init_scripts=(KEEP_PCS,)) as open_app, \
            Peer(node.url, tmp_path / "py.key") as python:
        page = await open_app()
        await page.dial(python.number)
        incoming = await python.next_incoming(10)
        await incoming.accept()
        await expect(page.status).to_have_text("Connected")
        await page.assert_video_playing()

        node.kill()
        await expect(page.signaling).to_have_text("Reconnecting…")
        before_page, before_py = await _received(page), incoming.frames_received
        await asyncio.sleep(10)
        after_page, after_py = await _received(page), incoming.frames_received
        assert after_page["audio"] - before_page["audio"] > 300, (before_page, after_page)
        assert after_page["video"] - before_page["video"] > 150, (before_page, after_page)  # aiortc: 30 fps
        assert after_py[0] - before_py[0] > 300 and after_py[1] - before_py[1] > 100, (before_py, after_py)
        await expect(page.status).to_have_text("Connected")
        assert incoming.phase == "connected"

        await page.send_chat("from the browser, no node")
        await incoming.send_chat("from Python, no node ✓")
        await expect(page.chat_log.get_by_text("from Python, no node ✓", exact=True)).to_be_visible()
        await until(lambda: "from the browser, no node" in incoming._live.chat, what="chat to Python")

        # Python shares a screen: the page shows it, then hides it.
        screen = page.page.get_by_label("Remote screen", exact=True)
        await incoming.share_screen()
        await page.assert_video_playing("Remote screen")
        await incoming.stop_screen()
        await expect(screen).to_be_hidden(timeout=2_000)

        # The page shares a screen: Python receives its frames, then hears it stopped.
        share = page.button("Share screen")
        await share.click()
        assert (await next_event(incoming, RemoteScreen)).sharing
        try:
            await until(lambda: incoming.screen_frames_received > 20, what="screen frames in Python")
        except AssertionError:
            sent = await page.page.evaluate("""async () => {
              const pc = window.__pcs.filter((p) => p.connectionState === 'connected').at(-1);
              const out = [];
              (await pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video')
                out.push([s.mid, s.framesEncoded, s.framesSent, s.keyFramesEncoded, s.qualityLimitationReason, s.frameWidth]); });
              return out; }""")
            raise AssertionError(f"screen frames {incoming.screen_frames_received}, page sent {sent}")
        await share.click()
        assert not (await next_event(incoming, RemoteScreen)).sharing
        assert incoming.frames_received[1] > after_py[1]  # the camera went on all along

        await page.button("Hang up").click()
        ended = await next_event(incoming, Ended, timeout=5)
        assert (ended.ended_by, ended.reason) == ("remote", "hangup")
        result = await incoming.wait_ended()
        assert result.chat_received == ["from the browser, no node"] and result.screen_frames_received > 20
        await expect(page.status).to_have_text("Call ended")
        await page.assert_nothing_left()
