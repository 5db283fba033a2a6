"""The browser app behind a malicious node (tests/trust/mitm.py): every attack is detected or harmless.

Real headless Chromium; the pages load the app through the proxy, so their node is the proxy.
Detected: the call does not connect and the page says why (status, dialog, the connection line).
Harmless: the call connects, and the DTLS certificate each page sees (getStats) is the other
real page's own. No recorded frame ever carries SDP, candidates or chat text.
"""

import asyncio
import re
import time

import pytest
from playwright.async_api import expect

from safemeet.core import envelope, safety
from safemeet.core.envelope import open_envelope
from safemeet.core.identity import PublicKeys

from mitm import DOWN, UP, flip, forge

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

CHAT = "browser secret chat ✉"
FAKE_SDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

# [our certificate fingerprint, the certificate the far end presented] of the page's last
# peer connection, from getStats; null when it has no connected DTLS transport.
DTLS = """
async () => {
  const pc = window.__pcs.at(-1);
  if (!pc) return null;
  const stats = await pc.getStats();
  let transport = null;
  stats.forEach((s) => { if (s.type === 'transport' && s.dtlsState === 'connected') transport = s; });
  if (!transport) return null;
  const fp = (id) => stats.get(id)?.fingerprint?.toUpperCase() ?? null;
  return [fp(transport.localCertificateId), fp(transport.remoteCertificateId)];
}
"""

# Whether the page's last peer connection (this call's) ever reached "connected".
LAST_CONNECTED = "() => !!window.__pcs.at(-1)?.__states.includes('connected')"


def spaced(number: str) -> str:
    return f"{number[:3]} {number[3:6]} {number[6:]}"


def status(a):
    return a.page.locator("#status")


def incoming_region(a):
    return a.page.get_by_role("region", name="Incoming call")


def key_change(a):
    return a.page.get_by_role("alertdialog", name="Safety number changed")


async def connect(caller, callee) -> None:
    await caller.dial(await callee.number())
    await expect(incoming_region(callee)).to_be_visible()
    await callee.button("Accept").click()
    await expect(status(caller)).to_have_text("Connected")
    await expect(status(callee)).to_have_text("Connected")


async def hang_up(a, b) -> None:
    await a.button("Hang up").click()
    await expect(status(a)).to_have_text("Call ended")
    await expect(status(b)).to_have_text("Call ended")


async def assert_real_peers_and_chat(a, b) -> None:
    """Harmless: each page's DTLS peer is the other real page, and chat flows between them."""
    da, db = await a.page.evaluate(DTLS), await b.page.evaluate(DTLS)
    assert da and db and None not in da + db, (da, db)
    assert da[1] == db[0] and db[1] == da[0]
    await a.send_chat(CHAT)
    await expect(b.chat_log.get_by_text(CHAT, exact=True)).to_be_visible()


async def never_connected(*apps) -> None:
    for a in apps:
        assert not await a.page.evaluate(LAST_CONNECTED)


def warned(a, text: str) -> bool:
    return any(text in t for _, t in a.console)


async def numbers(*apps) -> list[str]:
    return [await a.number() for a in apps]


async def page_keys(mitm, number: str) -> PublicKeys:
    """The keys a page registered with (the proxy saw its `register`)."""
    return next(c.keys for c in mitm.conns if c.number == number)


# (1) ------------------------------------------------------------------------------------------

async def test_1_swapped_key_in_lookup_reply_is_detected(app, browser_mitm):
    mitm = browser_mitm
    alice, bob = await asyncio.gather(app(), app())
    a, b = await numbers(alice, bob)
    await connect(alice, bob)  # a legitimate first call pins both keys
    await assert_real_peers_and_chat(alice, bob)
    await hang_up(alice, bob)

    mallory = await mitm.mallory()

    def hook(conn, direction, frame):
        if direction == DOWN and frame.get("t") == "keys" and frame.get("number") == b:
            return [{**frame, "keys": mallory.identity.public.to_json()}]
        return None

    mitm.hook = hook
    pcs_before = await alice.counts()
    await alice.dial(b)
    await expect(key_change(alice)).to_be_visible()
    await expect(key_change(alice)).to_contain_text(spaced(b))
    await expect(status(alice)).to_have_text("Call failed: safety number changed")
    assert await alice.counts() == pcs_before  # no peer connection, no camera
    await expect(incoming_region(bob)).to_be_hidden()
    await key_change(alice).get_by_role("button", name="Cancel").click()
    mitm.assert_no_plaintext(CHAT)


# (2) ------------------------------------------------------------------------------------------

async def test_2_tampered_sdp_envelope_is_rejected_and_nothing_connects(app, browser_mitm):
    mitm = browser_mitm
    alice, bob = await asyncio.gather(app(ring_timeout_ms=1500), app(ring_timeout_ms=1500))
    a, b = await numbers(alice, bob)
    target = {"type": "ring"}

    def hook(conn, direction, frame):
        # The proxy cannot read the SDP: it flips bytes of the envelope that carries it.
        if direction == UP and frame.get("t") == "send":
            if (target["type"], conn.number) in (("ring", a), ("accept", b)):
                target["type"] = "done"
                return [{**frame, "env": flip(frame["env"])}]
        return None

    mitm.hook = hook
    await alice.dial(b)  # the ring is tampered: it never rings
    await expect(status(alice)).to_have_text("No answer", timeout=8000)
    await expect(incoming_region(bob)).to_be_hidden()
    assert warned(bob, "envelope dropped: undecryptable")

    target["type"] = "accept"  # the accept is tampered: the caller never applies the answer
    await alice.dial(b)
    await expect(incoming_region(bob)).to_be_visible()
    await bob.button("Accept").click()
    await expect(status(alice)).to_have_text("No answer", timeout=8000)
    await expect(status(bob)).not_to_have_text("Connected")
    await expect(status(bob)).to_have_text(re.compile("Call ended|Call failed|Missed"), timeout=8000)
    await never_connected(alice, bob)

    await connect(alice, bob)  # untouched: connects between the real two
    await assert_real_peers_and_chat(alice, bob)
    await hang_up(alice, bob)
    mitm.assert_no_plaintext(CHAT)


# (3) ------------------------------------------------------------------------------------------

async def test_3_replayed_ring_and_accept_are_dropped(app, browser_mitm):
    mitm = browser_mitm
    alice, bob = await asyncio.gather(app(), app())
    a, b = await numbers(alice, bob)
    await connect(alice, bob)
    await hang_up(alice, bob)
    old_ring = next(e for e in mitm.sent_envelopes(a, b)
                    if len(e) > 1000)  # the ring carries the offer: the largest of the first ones
    old_accept = next(e for e in mitm.sent_envelopes(b, a) if len(e) > 1000)

    await mitm.conn_of(b).deliver(old_ring)  # at once, on its own: no ring
    await asyncio.sleep(0.5)
    await expect(incoming_region(bob)).to_be_hidden()
    assert warned(bob, "envelope dropped: replayed")

    # Into another call: the old accept while it rings, the old ring and accept once connected.
    await alice.dial(b)
    await expect(incoming_region(bob)).to_be_visible()
    await mitm.conn_of(a).deliver(old_accept)
    await asyncio.sleep(0.5)
    await expect(status(alice)).to_have_text("Ringing")
    await bob.button("Accept").click()
    await expect(status(alice)).to_have_text("Connected")
    await mitm.conn_of(b).deliver(old_ring)
    await mitm.conn_of(a).deliver(old_accept)
    await asyncio.sleep(0.5)
    await expect(status(alice)).to_have_text("Connected")
    await expect(status(bob)).to_have_text("Connected")
    assert warned(alice, "envelope dropped: replayed")
    await assert_real_peers_and_chat(alice, bob)
    await hang_up(bob, alice)
    mitm.assert_no_plaintext(CHAT)


# (4) ------------------------------------------------------------------------------------------

async def test_4_reordered_duplicated_and_dropped_messages_end_cleanly(app, browser_mitm):
    mitm = browser_mitm
    opts = {"ring_timeout_ms": 2000, "connect_timeout_ms": 3000}
    alice, bob, carol, dave = await asyncio.gather(*(app(**opts) for _ in range(4)))
    a, b, c, d = await numbers(alice, bob, carol, dave)
    mode: dict[str, str] = {}  # per recipient (msg) or sender (send): shuffle, drop, drop-after-first
    held: dict[int, dict] = {}
    sends: dict[str, int] = {}

    async def release(conn):
        frame = held.pop(conn.index, None)
        if frame is not None:
            await conn.to_peer(frame)
            await conn.to_peer(frame)

    def hook(conn, direction, frame):
        if direction == UP and frame.get("t") == "send" and mode.get(conn.number) == "drop-after-first":
            sends[conn.number] = sends.get(conn.number, 0) + 1
            return [] if sends[conn.number] > 1 else None  # the ring / accept passes, no ICE after it
        if direction != DOWN or frame.get("t") != "msg":
            return None
        if mode.get(conn.number) == "shuffle":
            # Every envelope arrives twice, and each is held back behind the next one (so trickled
            # ICE overtakes the accept, and the accept overtakes earlier ICE).
            first = held.pop(conn.index, None)
            if first is None:
                held[conn.index] = frame
                mitm.later(0.3, lambda: release(conn))
                return []
            return [frame, first, first]
        if mode.get(conn.number) == "drop":  # every envelope to it is swallowed (hangup, cancel)
            return []
        return None

    mitm.hook = hook
    mode.update({a: "shuffle", b: "shuffle"})
    await connect(alice, bob)
    await assert_real_peers_and_chat(alice, bob)
    assert warned(bob, "envelope dropped: replayed")

    async def dropped_hangup():
        # The node drops the hangup envelope: the hangup also went on the call's control channel.
        mode[b] = "drop"
        await alice.button("Hang up").click()
        await expect(status(alice)).to_have_text("Call ended")
        started = time.monotonic()
        await expect(status(bob)).to_have_text("Call ended", timeout=5_000)
        return time.monotonic() - started

    async def dropped_cancel_then_dropped_ice():
        # A cancel is dropped: the callee's ring times out as a missed call; the caller has ended.
        await carol.dial(d)
        await expect(incoming_region(dave)).to_be_visible()
        mode[d] = "drop"
        await carol.button("Hang up").click()
        await expect(status(carol)).to_have_text("Call ended")
        await expect(status(dave)).to_have_text(re.compile(r"^Missed call from \d{3} \d{3} \d{3}$"), timeout=10_000)
        await expect(incoming_region(dave)).to_be_hidden()
        # All trickled ICE is dropped: the call cannot connect, and both ends give up cleanly after
        # the connect timeout (3 s here, 30 s by default) instead of "Connecting…" for ever.
        mode.update({c: "drop-after-first", d: "drop-after-first"})
        await carol.dial(d)
        await expect(incoming_region(dave)).to_be_visible()
        await dave.button("Accept").click()
        await expect(status(carol)).to_have_text("Call failed: could not connect", timeout=8000)
        await expect(status(dave)).to_have_text("Call failed: could not connect", timeout=8000)
        await never_connected(carol, dave)

    took, _ = await asyncio.gather(dropped_hangup(), dropped_cancel_then_dropped_ice())
    assert took < 40
    mitm.assert_no_plaintext(CHAT)


# (5) ------------------------------------------------------------------------------------------

async def test_5_forged_sender_is_detected(app, browser_mitm):
    mitm = browser_mitm
    alice, bob = await asyncio.gather(app(ring_timeout_ms=1500), app())
    a, b = await numbers(alice, bob)
    a_keys, b_keys = await page_keys(mitm, a), await page_keys(mitm, b)
    me = (await mitm.mallory()).identity

    # A ring "from alice" signed by the node's own key: nothing rings.
    await mitm.conn_of(b).deliver(forge(me, b_keys, "ring", envelope.new_call_id(), a, b,
                                        {"media": {"audio": False, "video": False}, "sdp": FAKE_SDP}))
    await asyncio.sleep(0.5)
    await expect(incoming_region(bob)).to_be_hidden()
    assert warned(bob, "envelope dropped: bad_signature")

    # Alice rings bob; the node answers "from bob" with an accept of its own: not applied.
    async def swallow(conn, direction, frame):
        if direction == UP and frame.get("t") == "send" and frame.get("to") == b:
            await conn.to_peer({"t": "sent", "id": frame["id"]})
            return []
        return None

    mitm.hook = swallow
    await alice.dial(b)
    await expect(status(alice)).to_have_text("Ringing")
    await asyncio.sleep(0.2)
    # The node cannot read the call id (it is sealed), so it forges an accept for a call id of its own.
    await mitm.conn_of(a).deliver(forge(me, a_keys, "accept", envelope.new_call_id(), b, a, {"sdp": FAKE_SDP}))
    await expect(status(alice)).to_have_text("No answer", timeout=8000)
    await never_connected(alice)
    assert warned(alice, "envelope dropped: bad_signature")
    mitm.hook = None

    # In a real call, a forged hangup "from alice" does not end it.
    await connect(alice, bob)
    await mitm.conn_of(b).deliver(forge(me, b_keys, "hangup", envelope.new_call_id(), a, b, {}))
    await asyncio.sleep(0.5)
    await expect(status(bob)).to_have_text("Connected")
    await assert_real_peers_and_chat(alice, bob)
    await hang_up(alice, bob)
    mitm.assert_no_plaintext(CHAT)


# (6) ------------------------------------------------------------------------------------------

async def test_6_envelope_readdressed_to_a_third_party_is_harmless(app, browser_mitm):
    mitm = browser_mitm
    alice, bob, carol = await asyncio.gather(app(ring_timeout_ms=1500), app(), app())
    a, b, c = await numbers(alice, bob, carol)

    async def hook(conn, direction, frame):  # alice's envelopes for bob go to carol instead
        if direction == UP and frame.get("t") == "send" and frame.get("to") == b and conn.number == a:
            await mitm.conn_of(c).deliver(frame["env"])
            return [{**frame, "to": c}]  # and through the node to carol as well
        return None

    mitm.hook = hook
    await alice.dial(b)
    await expect(status(alice)).to_have_text("No answer", timeout=8000)
    await expect(incoming_region(bob)).to_be_hidden()
    await expect(incoming_region(carol)).to_be_hidden()
    assert warned(carol, "envelope dropped: undecryptable")
    assert await carol.counts() == {"pc": 0, "gum": 0}
    mitm.assert_no_plaintext(CHAT)


# (7) ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("attack", ["challenge_v2", "challenge_no_v", "register_v0", "register_no_v"])
async def test_7_version_downgrade_is_refused(app, browser_mitm, attack):
    mitm = browser_mitm

    def hook(conn, direction, frame):
        if direction == DOWN and frame.get("t") == "challenge" and attack.startswith("challenge"):
            return [{**frame, "v": 2}] if attack == "challenge_v2" else [{k: v for k, v in frame.items() if k != "v"}]
        if direction == UP and frame.get("t") == "register" and attack.startswith("register"):
            return [{**frame, "v": 0}] if attack == "register_v0" else [{k: v for k, v in frame.items() if k != "v"}]
        return None

    mitm.hook = hook
    page = await app(register=False)
    await page.page.goto(page.origin + "/")
    conn = page.signaling
    await expect(conn).to_have_text("Offline")
    await expect(conn).to_have_attribute("data-state", "offline")
    await expect(page.button("Call")).to_be_disabled()
    expected = {"challenge_v2": "protocol", "challenge_no_v": "protocol",
                "register_v0": "unsupported_version", "register_no_v": "bad_message"}[attack]
    for _ in range(50):
        if warned(page, f"cannot register at the node: {expected}"):
            break
        await asyncio.sleep(0.1)
    assert warned(page, f"cannot register at the node: {expected}"), page.console
    assert mitm.received("registered") == []
    await expect(page.page.get_by_label("Your number")).not_to_have_text(re.compile(r"\d{3} \d{3} \d{3}"))


# (8) ------------------------------------------------------------------------------------------

class FullMitm:
    """The node gives alice its own key for bob and bob its own key for alice, and relays every
    envelope by opening it with its key and re-signing and re-sealing it with the other."""

    def __init__(self, a: str, b: str, a_keys: PublicKeys, b_keys: PublicKeys, fake_a, fake_b) -> None:
        self.a, self.b = a, b
        self.real = {a: a_keys, b: b_keys}
        self.fake = {a: fake_a, b: fake_b}
        self.relayed: list[str] = []

    def hook(self, conn, direction, frame):
        if direction == DOWN and frame.get("t") == "keys" and frame.get("number") in self.fake:
            return [{**frame, "keys": self.fake[frame["number"]].identity.public.to_json()}]
        if direction == UP and frame.get("t") == "send" and frame.get("to") in self.fake:
            to = frame["to"]
            sender = self.a if to == self.b else self.b
            opened = open_envelope(self.fake[to].identity, to, frame["env"])
            self.relayed.append(opened.inner["type"])
            return [{**frame, "env": envelope.seal(self.fake[sender].identity, self.real[to], opened.payload)}]
        return None


async def test_8_full_mitm_of_pinned_contacts_is_detected(app, browser_mitm):
    mitm = browser_mitm
    alice, bob = await asyncio.gather(app(), app())
    a, b = await numbers(alice, bob)
    await connect(alice, bob)  # a legitimate first call pins both keys
    await hang_up(alice, bob)
    attack = FullMitm(a, b, await page_keys(mitm, a), await page_keys(mitm, b),
                      await mitm.mallory(), await mitm.mallory())
    mitm.hook = attack.hook
    before = await alice.counts()
    await alice.dial(b)
    await expect(key_change(alice)).to_be_visible()
    await expect(status(alice)).to_have_text("Call failed: safety number changed")
    assert await alice.counts() == before
    await key_change(alice).get_by_role("button", name="Cancel").click()

    # The node rings bob "from alice" with its own key: bob is warned, nothing rings.
    bob_before = await bob.counts()
    await mitm.conn_of(b).deliver(forge(attack.fake[a].identity, attack.real[b], "ring", envelope.new_call_id(),
                                        a, b, {"media": {"audio": True, "video": True}, "sdp": FAKE_SDP}))
    await expect(key_change(bob)).to_be_visible()
    await expect(key_change(bob)).to_contain_text(spaced(a))
    await expect(incoming_region(bob)).to_be_hidden()
    assert await bob.counts() == bob_before and attack.relayed == []
    mitm.assert_no_plaintext(CHAT)


async def shown_safety_number(a, other: str) -> str:
    await a.button("Verify").click()
    await expect(a.page.get_by_role("dialog", name=f"Verify {spaced(other)}")).to_be_visible()
    region = a.page.get_by_role("region", name="Safety number")
    await expect(region).to_have_text(re.compile(r"^(\d{5}\s*){12}$"))
    digits = "".join(await region.locator("span").all_inner_texts())
    await a.button("Close").click()
    return digits


async def test_8_first_contact_mitm_shows_in_the_safety_numbers(app, browser_mitm):
    """Unpinned first contact: the lying node relays the signalling (reading the SDP inside its
    own seals), but the safety number each page shows is made from the key it was given, so the
    two differ; comparing them exposes the node. Media stays end-to-end here because the node
    passed the SDP on unchanged."""
    mitm = browser_mitm
    alice, bob = await asyncio.gather(app(), app())
    a, b = await numbers(alice, bob)
    a_keys, b_keys = await page_keys(mitm, a), await page_keys(mitm, b)
    attack = FullMitm(a, b, a_keys, b_keys, await mitm.mallory(), await mitm.mallory())
    mitm.hook = attack.hook
    await connect(alice, bob)
    assert {"ring", "accept", "ice"} <= set(attack.relayed)
    await assert_real_peers_and_chat(alice, bob)
    a_says, b_says = await shown_safety_number(alice, b), await shown_safety_number(bob, a)
    honest = safety.safety_number(a, a_keys.sig, b, b_keys.sig)
    assert a_says != b_says and honest not in (a_says, b_says)
    assert a_says == safety.safety_number(a, a_keys.sig, b, attack.fake[b].identity.public.sig)
    assert b_says == safety.safety_number(b, b_keys.sig, a, attack.fake[a].identity.public.sig)
    await hang_up(alice, bob)
    mitm.assert_no_plaintext(CHAT)
