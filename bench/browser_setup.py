"""Browser ↔ browser call setup: safemeet's app against a bare two-page WebRTC loopback.

Both run in the same headless Chromium (fake camera and microphone) in the same run:
  safemeet  click Call → remote video playing at the caller, less the time the callee's "user"
            took between the incoming-call screen showing and its click on Accept; and
            click Accept → remote video playing;
  bare      two blank pages on a loopback server: getUserMedia, offer/answer and trickled
            candidates relayed by this script, start → remote video playing at the offerer.
"Playing" means the `<video>` has a frame size and its currentTime has advanced. Every time is
stamped inside the pages (clicks by capture listeners, playing by a requestAnimationFrame watch),
so the automation's own latency is not counted on either side.

    .venv/bin/python bench/browser_setup.py [--calls 10]
"""

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from aiohttp import web
from playwright.async_api import async_playwright, expect

from call_setup import median_p90  # bench/ is on sys.path when a bench script runs
from safemeet.node import NodeConfig, create_app, create_runner

CHROMIUM_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "--no-sandbox",
                 "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

BLANK = "<!doctype html><meta charset=utf-8><title>bare</title><video autoplay playsinline muted></video>"

# Runs in every page before its scripts: stamps (epoch ms, comparable across pages of one browser)
# the clicks on Call and Accept, the moment Accept appears, and the first playing remote frame.
STAMPS = """
window.__t = {};
const now = () => performance.timeOrigin + performance.now();
document.addEventListener('click', (e) => {
  const id = e.target.closest('button')?.id;
  if (id === 'dial-button') __t.call = now();
  if (id === 'accept-button') __t.accept = now();
}, true);
const watch = () => {
  const v = document.querySelector('video[aria-label="Remote video"]') || document.querySelector('video');
  if (!__t.playing && v && v.videoWidth > 0 && v.currentTime > 0) __t.playing = now();
  const accept = document.getElementById('accept-button');
  if (!__t.incoming && accept && accept.offsetParent) __t.incoming = now();
  requestAnimationFrame(watch);
};
requestAnimationFrame(watch);
"""

BARE_SETUP = """async () => {
  window.stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
  window.pc = new RTCPeerConnection({iceServers: []});
  for (const t of stream.getTracks()) pc.addTrack(t, stream);
  pc.ontrack = (e) => { document.querySelector('video').srcObject = e.streams[0]; };
  pc.onicecandidate = (e) => window.relay(JSON.stringify(e.candidate));
}"""


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def bare_call(browser, origin: str) -> float:
    a, b = await (await browser.new_context()).new_page(), await (await browser.new_context()).new_page()
    pages = {"a": a, "b": b}
    for name, page in pages.items():
        other = pages["b" if name == "a" else "a"]

        async def relay(_source, cand: str, other=other) -> None:
            await other.evaluate("(c) => { const x = JSON.parse(c); if (x) pc.addIceCandidate(x); }", cand)

        await page.expose_binding("relay", relay)
        await page.add_init_script(STAMPS)
        await page.goto(origin + "/blank")
    t0 = await a.evaluate("performance.timeOrigin + performance.now()")
    await asyncio.gather(a.evaluate(BARE_SETUP), b.evaluate(BARE_SETUP))
    offer = await a.evaluate("async () => { await pc.setLocalDescription(); return pc.localDescription.toJSON(); }")
    answer = await b.evaluate("""async (o) => { await pc.setRemoteDescription(o); await pc.setLocalDescription();
                                 return pc.localDescription.toJSON(); }""", offer)
    await a.evaluate("(d) => pc.setRemoteDescription(d)", answer)
    await a.wait_for_function("() => !!__t.playing")
    elapsed = await a.evaluate("__t.playing") - t0
    await a.context.close()
    await b.context.close()
    return elapsed


async def safemeet_call(browser, origin: str) -> tuple[float, float]:
    """(click Call → playing less the callee's reaction time, click Accept → playing), in ms.

    Two fresh contexts, so two identities, as two people on two devices.
    """
    a, b = await (await browser.new_context()).new_page(), await (await browser.new_context()).new_page()
    for page in (a, b):
        await page.add_init_script(STAMPS)
        await page.goto(origin + "/")
        await expect(page.get_by_role("button", name="Call", exact=True)).to_be_enabled(timeout=10_000)
    number = "".join(ch for ch in await b.get_by_label("Your number").inner_text() if ch.isdigit())
    await a.get_by_label("Number to call").fill(number)
    await a.get_by_role("button", name="Call", exact=True).click()
    await b.get_by_role("button", name="Accept", exact=True).click()
    await a.wait_for_function("() => !!__t.playing", timeout=10_000)
    ta, tb = await a.evaluate("__t"), await b.evaluate("__t")
    await a.get_by_role("button", name="Hang up", exact=True).click()
    await a.context.close()
    await b.context.close()
    reaction = tb["accept"] - tb["incoming"]
    return ta["playing"] - ta["call"] - reaction, ta["playing"] - tb["accept"]


def _fmt(values: list[float]) -> str:
    median, p90 = median_p90(values)
    return f"median {median:7.1f} ms   p90 {p90:7.1f} ms"


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        node_runner = create_runner(create_app(NodeConfig(port=0, data_dir=Path(tmp) / "data")))
        await node_runner.setup()
        site = web.TCPSite(node_runner, "127.0.0.1", 0)
        await site.start()
        origin = f"http://127.0.0.1:{node_runner.addresses[0][1]}"
        blank = web.Application()
        blank.router.add_get("/blank", lambda _r: web.Response(text=BLANK, content_type="text/html"))
        blank_runner, blank_origin = await _serve(blank)
        bare, total, after_accept = [], [], []
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            await bare_call(browser, blank_origin)  # warm-up
            await safemeet_call(browser, origin)
            for _ in range(calls):
                bare.append(await bare_call(browser, blank_origin))
                t, a = await safemeet_call(browser, origin)
                total.append(t)
                after_accept.append(a)
            await browser.close()
        await blank_runner.cleanup()
        await node_runner.cleanup()
    bm = statistics.median(bare)
    print(f"calls: {calls} each, interleaved, one Chromium, loopback")
    print(f"bare two-page loopback  start        → remote video playing   {_fmt(bare)}")
    print(f"safemeet                click Call   → remote video playing*   {_fmt(total)}   "
          f"ratio {statistics.median(total) / bm:.2f}×")
    print(f"safemeet                click Accept → remote video playing   {_fmt(after_accept)}   "
          f"ratio {statistics.median(after_accept) / bm:.2f}×")
    print("* less the callee's reaction time (incoming screen shown → Accept clicked)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    asyncio.run(main(parser.parse_args().calls))
