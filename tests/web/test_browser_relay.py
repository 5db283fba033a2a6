"""Relay-only calls with strangers in the browser, through a real coturn (docs/security.md).

The node of every test here hands out TURN credentials. A stranger's ring is answered with relay
candidates only: the callee's SDP carries no host candidate and its selected pair is relayed. Once
a call connected, the numbers are pinned contacts and the next call goes direct.
"""

import asyncio
import re

import pytest
from aioice.ice import get_host_addresses
from playwright.async_api import expect
from page_scripts import KEEP_PCS
from test_browser_calls import _spaced, connect

from safemeet.core.identity import Identity
from safemeet.peer import Peer, RelayPolicy

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

HOSTS = get_host_addresses(use_ipv4=True, use_ipv6=True)

# The newest peer connection: its configuration, local candidate types and selected local type.
PC_FACTS = """
async () => {
  const pc = window.__pcs.at(-1);
  const sdp = pc.localDescription?.sdp ?? '';
  const types = [...sdp.matchAll(/^a=candidate:\\S+ \\d+ \\w+ \\d+ \\S+ \\d+ typ (\\w+)/gm)].map((m) => m[1]);
  const stats = [...(await pc.getStats()).values()];
  const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
  const pair = stats.find((s) => s.id === transport?.selectedCandidatePairId);
  const local = stats.find((s) => s.id === pair?.localCandidateId);
  return { sdp, policy: pc.getConfiguration().iceTransportPolicy, types: [...new Set(types)].sort(),
           selected: local?.candidateType ?? null, servers: pc.getConfiguration().iceServers.length };
}
"""


@pytest.fixture
def node_turn(turn_server_module_loop):
    """This module's node hands out credentials for a real coturn on loopback."""
    return turn_server_module_loop


async def open_watched(app):
    a = await app(register=False)
    await a.page.add_init_script(KEEP_PCS)
    await a.open()
    return a


async def pc_facts(a, selected: bool = True) -> dict:
    """Facts of the newest peer connection; waits for its selected pair when `selected`."""
    for _ in range(100):
        facts = await a.page.evaluate(PC_FACTS)
        if facts["selected"] or not selected:
            return facts
        await asyncio.sleep(0.1)
    raise AssertionError(f"no selected candidate pair: {facts}")


async def test_a_strangers_call_is_relayed_then_pinned_contacts_go_direct(app):
    alice, bob = await asyncio.gather(open_watched(app), open_watched(app))
    await expect(bob.page.get_by_label("Hide my IP address from unknown callers")).to_be_checked()
    await expect(bob.page.get_by_label("Also when I call unknown numbers")).not_to_be_checked()

    await connect(alice, bob)
    await asyncio.gather(alice.assert_video_playing(), bob.assert_video_playing())
    callee, caller = await asyncio.gather(pc_facts(bob), pc_facts(alice))
    assert callee["policy"] == "relay" and callee["servers"] == 1, callee
    assert callee["types"] == ["relay"] and callee["selected"] == "relay", callee  # bob's address stays hidden
    assert not [a for a in HOSTS if a in callee["sdp"]], (HOSTS, callee["sdp"])
    await expect(bob.page.get_by_text("IP address hidden")).to_be_visible()
    await expect(alice.page.get_by_text("IP address hidden")).to_be_hidden()
    assert caller["policy"] == "all" and "host" in caller["types"], caller  # alice calls direct by default
    await alice.button("Hang up").click()
    await expect(bob.status).to_have_text("Call ended")

    # Both are pinned contacts now: the next call is direct on both sides.
    await expect(bob.page.get_by_role("list", name="Contacts").get_by_text(_spaced(await alice.number()))).to_be_visible()
    await connect(alice, bob)
    await bob.assert_video_playing()
    callee = await pc_facts(bob)
    assert callee["policy"] == "all" and "host" in callee["types"], callee
    await expect(bob.page.get_by_text("IP address hidden")).to_be_hidden()
    await bob.button("Hang up").click()
    await expect(alice.status).to_have_text("Call ended")


async def test_the_outgoing_switch_hides_the_caller_too(app):
    alice, bob = await asyncio.gather(open_watched(app), open_watched(app))
    await alice.page.get_by_label("Also when I call unknown numbers").check()
    await connect(alice, bob)
    caller = await pc_facts(alice)
    assert caller["types"] == ["relay"] and caller["selected"] == "relay", caller
    await alice.button("Hang up").click()

    # With the main switch off, neither switch applies (the second one is greyed out).
    await alice.page.get_by_label("Hide my IP address from unknown callers").uncheck()
    await expect(alice.page.get_by_label("Also when I call unknown numbers")).to_be_disabled()
    carol = await open_watched(app)
    await connect(carol, alice)
    callee = await pc_facts(alice)
    assert callee["policy"] == "all" and "host" in callee["types"], callee
    await carol.button("Hang up").click()


async def test_browser_calls_a_python_peer_that_hides_its_address(app, node):
    browser = await open_watched(app)
    async with Peer(node, Identity.generate(), relay=RelayPolicy(incoming="always")) as py:
        await browser.dial(py.number)
        await expect(browser.status).to_have_text("Ringing")
        call = await py.next_incoming(5)
        assert call.relay_only
        await call.accept()
        await expect(browser.status).to_have_text("Connected")
        await asyncio.wait_for(call.wait_connected(), 15)
        await browser.assert_video_playing()
        sdp = call._live.pc.localDescription.sdp
        assert set(re.findall(r"typ (\w+)", sdp)) == {"relay"}, sdp
        facts = await pc_facts(browser)
        assert facts["policy"] == "all" and facts["selected"] in ("host", "prflx", "srflx", "relay"), facts
        await browser.button("Hang up").click()
        await asyncio.wait_for(call.wait_ended(), 10)
        await expect(browser.status).to_have_text("Call ended")
