"""Browser ↔ browser calls through a real node, in real headless Chromium with fake media.

Everything is driven as a user would: by role and label. The `app` fixture (conftest.py) also
checks every page for CSP violations and for requests that leave the node's origin.
"""

import asyncio
import re
import time

import pytest
from playwright.async_api import expect

from safemeet.core.envelope import make_inner, new_call_id, seal
from safemeet.core.numbers import check_digit

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

CHATS = [
    "hello 👋",
    "astral: 𝄞 🧑🏽‍🚀 👩‍👩‍👧‍👦 𠜎",
    "combining: e\u0301 a\u0308 n\u0303 \u1e9b\u0323",
    "RTL: שלום עולם مرحبا بالعالم",
]


async def connect(caller, callee):
    """Caller dials the callee, the callee accepts; both end up Connected."""
    await caller.dial(await callee.number())
    await expect(caller.status).to_have_text("Ringing")
    incoming = callee.page.get_by_role("region", name="Incoming call")
    await expect(incoming).to_contain_text(_spaced(await caller.number()))
    before = await callee.counts()
    await callee.button("Accept").click()
    await expect(caller.status).to_have_text("Connected")
    after = await callee.counts()
    assert (after["pc"] - before["pc"], after["gum"] - before["gum"]) == (1, 1)
    await expect(callee.status).to_have_text("Connected")


def _spaced(number: str) -> str:
    return f"{number[:3]} {number[3:6]} {number[6:]}"


async def test_call_video_chat_switches_and_hangup_from_each_side(app):
    alice, bob = await asyncio.gather(app(), app())
    await connect(alice, bob)
    await asyncio.gather(alice.assert_video_playing(), bob.assert_video_playing())
    await expect(alice.page.get_by_label("Local video", exact=True)).to_have_js_property("muted", True)

    for text in CHATS:
        await alice.send_chat(text)
        await bob.send_chat(text[::-1])
    for text in CHATS:
        await expect(bob.chat_log.get_by_text(text, exact=True)).to_be_visible()
        await expect(alice.chat_log.get_by_text(text[::-1], exact=True)).to_be_visible()
    assert await bob.chat_log.locator(".msg-them .msg-text").all_inner_texts() == CHATS

    # The limit is 64,000 UTF-8 bytes: exactly that goes through, one more byte is refused.
    big = "x" * 63_996 + "😀"
    await alice.send_chat(big)
    await expect(bob.chat_log.locator(".msg-them")).to_have_count(len(CHATS) + 1)
    assert await bob.chat_log.locator(".msg-them .msg-text").last.text_content() == big
    await alice.page.get_by_label("Message", exact=True).fill(big + "x")
    await alice.button("Send").click()
    await expect(alice.page.get_by_role("alert").filter(has_text="64,000 bytes")).to_be_visible()
    await expect(alice.page.get_by_label("Message", exact=True)).to_have_value(big + "x")
    await alice.page.get_by_label("Message", exact=True).fill("")

    for name, initial in (("Mute", "false"), ("Camera", "true")):
        toggle = alice.button(name)
        await expect(toggle).to_have_attribute("aria-pressed", initial)
        await toggle.click()
        await expect(toggle).to_have_attribute("aria-pressed", "true" if initial == "false" else "false")
    tracks = await alice.page.evaluate(
        "() => document.querySelector('[aria-label=\"Local video\"]').srcObject.getTracks().map((t) => [t.kind, t.enabled])"
    )
    assert sorted(tracks) == [["audio", False], ["video", False]]
    await alice.button("Mute").click()
    await expect(alice.button("Mute")).to_have_attribute("aria-pressed", "false")

    await alice.button("Hang up").click()
    await expect(alice.status).to_have_text("Call ended")
    await expect(bob.status).to_have_text("Call ended")
    await asyncio.gather(alice.assert_nothing_left(), bob.assert_nothing_left())

    # A second call between the same two, ended by the callee this time.
    await connect(alice, bob)
    await expect(alice.chat_log).to_be_empty()
    await bob.send_chat("second call")
    await expect(alice.chat_log.get_by_text("second call", exact=True)).to_be_visible()
    await expect(alice.button("Mute")).to_have_attribute("aria-pressed", "false")
    await bob.button("Hang up").click()
    await expect(bob.status).to_have_text("Call ended")
    await expect(alice.status).to_have_text("Call ended")
    await asyncio.gather(alice.assert_nothing_left(), bob.assert_nothing_left())


async def test_decline(app):
    alice, bob = await asyncio.gather(app(), app())
    await alice.dial(await bob.number())
    await bob.button("Decline").click()
    await expect(alice.status).to_have_text("Declined")
    await expect(bob.status).to_have_text("Declined")
    await expect(bob.button("Accept")).to_be_hidden()
    await expect(alice.button("Hang up")).to_be_hidden()
    assert await bob.counts() == {"pc": 0, "gum": 0}


async def test_busy(app):
    alice, bob, carol = await asyncio.gather(app(), app(), app())
    await connect(alice, bob)
    await carol.dial(await alice.number())
    await expect(carol.status).to_have_text("Busy")
    await expect(alice.status).to_have_text("Connected")
    await expect(alice.button("Accept")).to_be_hidden()
    await alice.send_chat("still here")
    await expect(bob.chat_log.get_by_text("still here", exact=True)).to_be_visible()


async def test_caller_cancels_before_answer(app):
    alice, bob = await asyncio.gather(app(), app())
    await alice.dial(await bob.number())
    await expect(alice.status).to_have_text("Ringing")
    await expect(bob.button("Accept")).to_be_visible()
    await bob.page.wait_for_timeout(300)  # the caller's trickled candidates reach bob meanwhile
    assert await bob.counts() == {"pc": 0, "gum": 0}  # nothing applied, nothing gathered
    await alice.button("Hang up").click()
    await expect(alice.status).to_have_text("Call ended")
    await expect(bob.button("Accept")).to_be_hidden()
    await expect(bob.page.get_by_role("region", name="Incoming call")).to_be_hidden()
    await expect(bob.status).to_have_text(f"Missed call from {_spaced(await alice.number())}")


async def test_no_answer(app):
    alice, bob = await asyncio.gather(app(ring_timeout_ms=1500), app())
    await alice.dial(await bob.number())
    await expect(alice.status).to_have_text("Ringing")
    await expect(bob.button("Accept")).to_be_visible()
    await expect(alice.status).to_have_text("No answer", timeout=5_000)
    await expect(bob.button("Accept")).to_be_hidden()
    await expect(bob.status).to_have_text(f"Missed call from {_spaced(await alice.number())}")


async def test_unknown_number(app):
    alice = await app()
    payload = "10000000"
    number = payload + check_digit(payload)
    assert number != await alice.number()
    await alice.dial(number)
    await expect(alice.status).to_have_text("Unknown number")
    await expect(alice.button("Hang up")).to_be_hidden()


async def test_bad_check_digit_sends_nothing(app):
    alice, bob = await asyncio.gather(app(), app())
    good = await bob.number()
    bad = good[:8] + str((int(good[8]) + 1) % 10)
    before = len(alice.frames_sent)
    await alice.dial(f"{bad[:3]}-{bad[3:6]} {bad[6:]}")
    alert = alice.page.get_by_role("alert").filter(has_text=re.compile("typo|check digit", re.I))
    await expect(alert).to_be_visible()
    await expect(alice.page.get_by_label("Number to call")).to_have_attribute("aria-invalid", "true")
    await alice.page.wait_for_timeout(300)
    assert alice.frames_sent[before:] == []
    await expect(alice.status).to_be_empty()
    await expect(bob.button("Accept")).to_be_hidden()
    # Fixing the number clears the error and the call goes through.
    await alice.dial(good)
    await expect(alert).to_be_hidden()
    await expect(alice.status).to_have_text("Ringing")


async def test_offline_number(app):
    alice, bob = await asyncio.gather(app(), app())
    number = await bob.number()
    await bob.page.context.close()
    await alice.dial(number)
    await expect(alice.status).to_have_text(re.compile(r"^Call failed"))
    await expect(alice.button("Hang up")).to_be_hidden()


async def test_forged_and_broken_envelopes_never_disturb_a_call(app, mallory):
    alice, bob = await asyncio.gather(app(), app())
    await connect(alice, bob)
    a_num, b_num, m_num = await alice.number(), await bob.number(), mallory.number
    keys = await mallory.keys(a_num)
    now = int(time.time() * 1000)
    call = new_call_id()

    def forged(sender, to=a_num, ts=now):
        return seal(mallory.identity, keys, make_inner("hangup", call, sender, to, {}, ts))

    broken = {
        "undecryptable": "A" * 200,
        "bad_signature": forged(b_num),  # claims to be bob, signed by mallory
        "stale": forged(m_num, ts=now - 120_000),
        "misaddressed": forged(m_num, to=b_num),
    }
    for env in broken.values():
        assert (await mallory.send(a_num, env))["t"] == "sent"

    # A genuine ring from mallory while alice is in a call is answered "busy".
    body = {"media": {"audio": True, "video": True}, "sdp": "v=0\r\n"}
    await mallory.send(a_num, seal(mallory.identity, keys, make_inner("ring", call, m_num, a_num, body, now)))
    reply = await mallory.next_message(a_num)
    assert (reply.type, reply.call) == ("busy", call)

    expected = {f"envelope dropped: {code}" for code in broken}
    for _ in range(50):  # console events reach Python a little after the page logs them
        warnings = {text for kind, text in alice.console if kind == "warning"}
        if expected <= warnings:
            break
        await asyncio.sleep(0.1)
    assert expected <= warnings, warnings
    await expect(alice.status).to_have_text("Connected")
    await expect(bob.status).to_have_text("Connected")
    await expect(alice.button("Accept")).to_be_hidden()
    await bob.send_chat("still connected")
    await expect(alice.chat_log.get_by_text("still connected", exact=True)).to_be_visible()


async def test_reconnects_after_the_node_restarts(app, node_server):
    alice, bob = await asyncio.gather(app(), app())
    a_num = await alice.number()
    await node_server.stop()
    await expect(alice.signaling).to_have_text("Reconnecting…")
    await expect(alice.button("Call")).to_be_disabled()
    await node_server.start()
    await expect(alice.button("Call")).to_be_enabled()
    await expect(bob.button("Call")).to_be_enabled()
    assert await alice.number() == a_num  # same key, same number
    await connect(bob, alice)
    await bob.button("Hang up").click()
    await expect(alice.status).to_have_text("Call ended")
