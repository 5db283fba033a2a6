"""Chromium and a Python peer on two separated networks (tests/netns.py) meet at the TURN relay;
a relay that refuses the credentials fails the browser's relay-only call at once, saying so.

Chromium runs inside the lab's namespace ``a`` (Playwright starts it through a wrapper that runs
``ip netns exec``); the node and coturn listen on the lab's server address, which is plain http
and not localhost, so Chromium is told to treat that one origin as secure. The Python peer is
tests/peer/netns_peer.py inside namespace ``b``.
"""

import asyncio
import importlib.util
import json
import sys
import time
from pathlib import Path

import pytest
import pytest_asyncio
from netns import lab_node, net_lab
from playwright.async_api import async_playwright, expect
from test_browser_relay import KEEP_PCS, pc_facts

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(240)]

PEER = str(Path(__file__).parent.parent / "peer" / "netns_peer.py")


def _web_conftest():
    """tests/web/conftest.py as a module (the same launch arguments as every browser test)."""
    name = "safemeet_tests_web_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("conftest.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def turn_fault() -> str | None:
    """What is wrong with the TURN credentials the node mints: nothing here."""
    return None


@pytest_asyncio.fixture(loop_scope="module")
async def lab():
    async with net_lab() as lab:
        yield lab


@pytest_asyncio.fixture(loop_scope="module")
async def node(lab, tmp_path, run_turnserver, turn_fault) -> str:
    """The lab's node (with coturn beside it): overrides tests/web's loopback node."""
    async with run_turnserver(tmp_path, lab.server) as (urls, secret):
        secret = "not-" + secret if turn_fault == "wrong secret" else secret
        async with lab_node(tmp_path / "node", lab.server, (urls, secret)) as url:
            yield url


@pytest_asyncio.fixture(loop_scope="module")
async def browser(lab, node, tmp_path):
    """Chromium inside namespace ``a``: overrides tests/web's browser for this module's `app`."""
    web = _web_conftest()
    wrapper = tmp_path / "chromium-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec {" ".join(lab.a.prefix)} {web.CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(wrapper), args=[
            *web.CHROMIUM_ARGS, f"--unsafely-treat-insecure-origin-as-secure={node}"])
        try:
            yield browser
        finally:
            await browser.close()


async def open_watched(app):
    a = await app(register=False)
    await a.page.add_init_script(KEEP_PCS)
    await a.open()
    return a


async def python_peer(lab, node: str, key: Path, relay: str):
    """netns_peer.py answering one call inside namespace ``b``: the process and its number."""
    proc = await lab.b.run(sys.executable, PEER, node, str(key), "answer", "--relay", relay, "--hold", "60")
    return proc, (await read_json(proc))["number"]


async def read_json(proc) -> dict:
    raw = await asyncio.wait_for(proc.stdout.readline(), 60)
    if not raw:
        raise AssertionError(f"peer exited without output: {(await proc.stderr.read()).decode()[-2000:]}")
    return json.loads(raw)


SELECTED_PAIR = """
async () => {
  const stats = [...(await window.__pcs.at(-1).getStats()).values()];
  const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
  const pair = stats.find((s) => s.id === transport?.selectedCandidatePairId);
  const type = (id) => stats.find((s) => s.id === id)?.candidateType ?? null;
  return { local: type(pair?.localCandidateId), remote: type(pair?.remoteCandidateId) };
}
"""


async def test_browser_and_python_peer_on_separated_networks_meet_at_the_relay(lab, app, node, tmp_path):
    lab.block_direct()
    browser = await open_watched(app)
    proc, number = await python_peer(lab, node, tmp_path / "py.key", "never")
    await browser.dial(number)
    await expect(browser.status).to_have_text("Connected", timeout=20_000)
    await browser.assert_video_playing()
    pair = await browser.page.evaluate(SELECTED_PAIR)
    facts = await pc_facts(browser)
    await browser.button("Hang up").click()
    callee = await read_json(proc)
    print(f"\nbrowser selected {pair}, browser local types {facts['types']}; python selected {callee['selected']}, "
          f"frames (audio, video) {callee['audio_frames_received']}, {callee['video_frames_received']}; "
          f"direct packets dropped {lab.direct_drops()}")
    assert facts["policy"] == "all" and "host" in facts["types"], facts  # the browser offered a direct path
    assert "relay" in pair.values(), pair
    assert "relay" in callee["selected"].values(), callee
    assert callee["audio_frames_received"] > 0 and callee["video_frames_received"] > 0, callee
    assert lab.direct_drops() > 0  # the direct path was tried and dropped


async def test_a_relay_only_browser_never_shows_its_address(lab, app, node, tmp_path):
    lab.block_direct()
    browser = await open_watched(app)
    await browser.page.get_by_label("Also when I call unknown numbers").check()
    proc, number = await python_peer(lab, node, tmp_path / "py.key", "always")
    await browser.dial(number)
    await expect(browser.status).to_have_text("Connected", timeout=20_000)
    await browser.assert_video_playing()
    facts = await pc_facts(browser)
    pair = await browser.page.evaluate(SELECTED_PAIR)
    await browser.button("Hang up").click()
    callee = await read_json(proc)
    assert facts["policy"] == "relay" and facts["types"] == ["relay"], facts
    assert pair == {"local": "relay", "remote": "relay"}, pair
    assert lab.a.address not in facts["sdp"]
    # What the Python peer received from the browser (SDP and trickled candidates): relay only.
    assert callee["remote_types"] == ["relay"] and lab.a.address not in callee["remote_hosts"], callee
    assert callee["local_types"] == ["relay"] and callee["video_frames_received"] > 0, callee
    assert lab.direct_drops() == 0


@pytest.mark.parametrize("turn_fault", ["wrong secret"])
async def test_refused_credentials_fail_the_browsers_relay_only_call_at_once(lab, app, node, tmp_path, turn_fault):
    browser = await open_watched(app)
    await browser.page.get_by_label("Also when I call unknown numbers").check()
    _, number = await python_peer(lab, node, tmp_path / "py.key", "never")
    started = time.monotonic()
    await browser.dial(number)
    await expect(browser.status).to_have_text("Call failed: the relay refused the credentials", timeout=15_000)
    print(f"\nbrowser relay-only call failed after {time.monotonic() - started:.2f} s: "
          f"{await browser.status.inner_text()}")
