"""What a new user sees: one wording per state, who calls or was missed, clear switches, a chat
that sends only real messages and scrolls, and why Call is off while offline."""

import asyncio
import re

import pytest
from playwright.async_api import expect
from test_browser_calls import _spaced, connect

from safemeet.core.numbers import check_digit, is_valid

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


def stage_overlay(a):
    return a.page.locator("#stage").get_attribute("data-overlay")


async def test_who_calls_status_overlay_and_stale_messages(app, node_server):
    alice, bob = await asyncio.gather(app(), app())
    a_no, b_no = await alice.number(), await bob.number()
    placeholder = await alice.page.get_by_label("Number to call").get_attribute("placeholder")
    assert is_valid(re.sub(r"\D", "", placeholder)), placeholder

    # A failed call's status goes away when the user tries again; only the new error shows.
    await alice.dial("10000000" + check_digit("10000000"))
    await expect(alice.status).to_have_text("Unknown number")
    await alice.dial(a_no)
    await expect(alice.page.get_by_role("alert").filter(has_text="your own number")).to_be_visible()
    await expect(alice.status).to_be_empty()

    # Ringing: the status line and the video overlay say the same thing.
    await alice.dial(b_no)
    await expect(alice.status).to_have_text("Ringing")
    assert await stage_overlay(alice) == "Ringing"
    incoming = bob.page.get_by_role("region", name="Incoming call")
    await expect(incoming).to_be_visible()
    text = await incoming.inner_text()
    assert text.count(_spaced(a_no)) == 1 and text.lower().count("incoming call") == 1, text
    await expect(bob.status).to_have_text(f"Incoming call from {_spaced(a_no)}")  # for screen readers
    assert await bob.status.evaluate("(el) => el.getBoundingClientRect().width") <= 1  # shown once, in the card
    await bob.button("Accept").click()
    await expect(alice.status).to_have_text("Connected")
    assert await stage_overlay(alice) is None
    await alice.button("Hang up").click()
    await expect(bob.status).to_have_text("Call ended")

    # Pinned now: a contact's local name shows on the incoming screen, with the number.
    await bob.page.get_by_role("listitem").filter(has_text=_spaced(a_no)).get_by_role("button", name="Rename").click()
    await bob.page.get_by_label(f"Name for {_spaced(a_no)}").fill("Alice")
    await bob.button("Save").click()
    await alice.dial(b_no)
    await expect(incoming.locator("#incoming-name")).to_have_text("Alice")
    await expect(incoming).to_contain_text(_spaced(a_no))
    await alice.button("Hang up").click()
    await expect(bob.status).to_have_text(f"Missed call from {_spaced(a_no)}")
    await expect(incoming.locator("#incoming-name")).to_be_hidden()

    # Offline: the dial box says why Call is off.
    await node_server.stop()
    await expect(alice.button("Call")).to_be_disabled()
    await expect(alice.page.locator("#dial-hint")).to_contain_text("offline")
    await node_server.start()
    await expect(alice.button("Call")).to_be_enabled()
    await expect(alice.page.locator("#dial-hint")).to_be_hidden()


async def test_switches_chat_and_remote_camera_hint(app):
    alice, bob = await asyncio.gather(app(), app())
    await connect(alice, bob)
    mute, camera = alice.button("Mute"), alice.button("Camera")
    await mute.click()
    await camera.click()
    await expect(mute).to_have_attribute("aria-pressed", "true")
    await expect(mute).to_contain_text("Muted")
    await expect(camera).to_have_attribute("aria-pressed", "false")
    await expect(camera).to_contain_text("Camera off")
    hint = bob.page.get_by_text("Their camera is off")
    await expect(hint).to_be_visible()
    await camera.click()
    await expect(camera).not_to_contain_text("off")
    await expect(hint).to_be_hidden()

    # Blank messages are not sent; others go exactly as typed.
    box = alice.page.get_by_label("Message", exact=True)
    await box.fill(" \t  ")
    await alice.button("Send").click()
    await alice.send_chat("  spaced  ")
    await expect(bob.chat_log.locator(".msg-them")).to_have_count(1)
    assert await bob.chat_log.locator(".msg-text").text_content() == "  spaced  "

    # A long chat scrolls: the first bubble can be scrolled back into full view.
    for i in range(30):
        await alice.send_chat(f"line {i}")
    log = bob.chat_log
    await expect(log.locator(".msg")).to_have_count(31)
    box = await log.evaluate("""(el) => { el.scrollTop = 0; const first = el.firstElementChild.getBoundingClientRect();
        const r = el.getBoundingClientRect(); return [el.scrollHeight > el.clientHeight, first.top >= r.top - 1, first.height > 10]; }""")
    assert box == [True, True, True]
