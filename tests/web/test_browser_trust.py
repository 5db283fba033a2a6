"""Trust in the browser: pinning, safety numbers (typed, QR, scanned), backup and delete.

Real headless Chromium against a real node, driven by role and label. A lying node is made by
patching the running node's registry `lookup` for one number.
"""

import asyncio
import json
import re
from pathlib import Path

import numpy as np
import pytest
from playwright.async_api import expect

from safemeet.core import safety
from safemeet.core.backup import open_backup


pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

PASSPHRASE = "correct horse battery staple"


App = object  # conftest.App; pages come from the `app` and `camera_app` fixtures


def spaced(number: str) -> str:
    return f"{number[:3]} {number[3:6]} {number[6:]}"


def status(a: App):
    return a.page.locator("#status")


async def connect(caller: App, callee: App) -> None:
    await caller.dial(await callee.number())
    await callee.button("Accept").click()
    await expect(status(caller)).to_have_text("Connected")
    await expect(status(callee)).to_have_text("Connected")


async def hang_up(a: App, b: App) -> None:
    await a.button("Hang up").click()
    await expect(status(a)).to_have_text("Call ended")
    await expect(status(b)).to_have_text("Call ended")


def contact(a: App, number: str):
    return a.page.get_by_role("listitem").filter(has_text=spaced(number))


def key_change(a: App):
    return a.page.get_by_role("alertdialog", name="Safety number changed")


def lie_about(node_server, monkeypatch, number: str, keys) -> None:
    """From now on the node answers lookups of `number` with `keys`."""
    registry = node_server.registry
    real = registry.lookup

    async def lookup(asked: str):
        return keys if asked == number else await real(asked)

    monkeypatch.setattr(registry, "lookup", lookup)


async def shown_digits(a: App) -> str:
    region = a.page.get_by_role("region", name="Safety number")
    await expect(region).to_have_text(re.compile(r"^(\d{5}\s*){12}$"))
    groups = await region.locator("span").all_inner_texts()
    assert len(groups) == 12 and all(re.fullmatch(r"\d{5}", g) for g in groups), groups
    return "".join(groups)


def decode_qr(png: bytes) -> str:
    import io

    import zxingcpp
    from PIL import Image

    found = zxingcpp.read_barcodes(np.asarray(Image.open(io.BytesIO(png)).convert("L")))
    assert len(found) == 1, found
    return found[0].text


async def expected_digits(node_server, a: str, b: str) -> str:
    ka, kb = await node_server.registry.lookup(a), await node_server.registry.lookup(b)
    return safety.safety_number(a, ka.sig, b, kb.sig)


async def test_pin_then_lying_node_stops_calls_before_any_peer_connection(app, node_server, mallory, monkeypatch):
    alice, bob = await asyncio.gather(app(), app())
    a_no, b_no = await alice.number(), await bob.number()
    await connect(alice, bob)
    await hang_up(alice, bob)
    await expect(contact(alice, b_no)).to_contain_text("Not verified")
    await expect(contact(bob, a_no)).to_contain_text("Not verified")

    # The node now gives Mallory's keys for Bob: Alice's call stops before it rings.
    lie_about(node_server, monkeypatch, b_no, mallory.identity.public)
    before, bob_before = await alice.counts(), await bob.counts()
    await alice.dial(b_no)
    dialog = key_change(alice)
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text(spaced(b_no))
    await expect(status(alice)).to_have_text("Call failed: safety number changed")
    await expect(dialog.get_by_role("button", name="Close")).to_be_hidden()
    assert await alice.counts() == before  # no peer connection, no camera
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    assert mallory.inbox == [] and await bob.counts() == bob_before
    await expect(bob.page.get_by_role("region", name="Incoming call")).to_be_hidden()

    # Accepting the lie re-pins; when the node tells the truth again that is a change too, and
    # accepting it gives a working call.
    await alice.dial(b_no)
    await dialog.get_by_role("button", name="Accept new key").click()
    await expect(dialog).to_be_hidden()
    monkeypatch.undo()
    await alice.dial(b_no)
    await expect(dialog).to_be_visible()
    assert await alice.counts() == before
    await dialog.get_by_role("button", name="Accept new key").click()
    await connect(alice, bob)
    await alice.assert_video_playing()
    await hang_up(bob, alice)


async def test_callee_drops_a_ring_from_a_changed_key(app, node_server, mallory, monkeypatch):
    alice, bob = await asyncio.gather(app(), app())
    a_no = await alice.number()
    await connect(alice, bob)
    await hang_up(alice, bob)

    lie_about(node_server, monkeypatch, a_no, mallory.identity.public)
    before = await bob.counts()
    await alice.dial(await bob.number())
    await expect(key_change(bob)).to_be_visible()
    await expect(key_change(bob)).to_contain_text(spaced(a_no))
    await expect(bob.page.get_by_role("region", name="Incoming call")).to_be_hidden()
    assert await bob.counts() == before
    await alice.button("Hang up").click()
    await key_change(bob).get_by_role("button", name="Cancel").click()


async def test_safety_number_typed_and_qr_on_both_pages(app, node_server):
    alice, bob = await asyncio.gather(app(), app())
    a_no, b_no = await alice.number(), await bob.number()
    await connect(alice, bob)
    expected = await expected_digits(node_server, a_no, b_no)
    shown = []
    for me, other in ((alice, b_no), (bob, a_no)):
        await me.button("Verify").click()
        dialog = me.page.get_by_role("dialog", name=f"Verify {spaced(other)}")
        await expect(dialog).to_be_visible()
        shown.append(await shown_digits(me))
        qr = me.page.get_by_role("img", name="Safety number QR code")
        await expect(qr).to_be_visible()
        assert decode_qr(await qr.screenshot()) == f"safemeet-safety:1:{expected}"
    assert shown == [expected, expected]

    # A wrong value is refused; the right one (spaces and line breaks allowed) verifies.
    typed = alice.page.get_by_label("Their safety number")
    await typed.fill(expected[:-1] + str((int(expected[-1]) + 1) % 10))
    await alice.button("Mark verified").click()
    await expect(alice.page.get_by_role("alert").filter(has_text="Safety numbers do not match")).to_be_visible()
    await typed.fill(" ".join(safety.groups(expected)[:6]) + "\n" + " ".join(safety.groups(expected)[6:]))
    await alice.button("Mark verified").click()
    await expect(alice.page.get_by_role("dialog").get_by_role("status")).to_have_text("Verified")
    await expect(alice.page.get_by_role("alert").filter(has_text="Safety numbers do not match")).to_have_count(0)
    await alice.button("Close").click()
    await bob.button("Close").click()
    await hang_up(alice, bob)
    await expect(contact(alice, b_no)).to_contain_text("Verified")
    await expect(contact(bob, a_no)).to_contain_text("Not verified")

    # The contacts list shows the same number without a call; a local name is only shown there.
    await contact(bob, a_no).get_by_role("button", name="Rename").click()
    await bob.page.get_by_label(f"Name for {spaced(a_no)}").fill("  Alice ✨ ")
    await bob.button("Save").click()
    await expect(contact(bob, a_no).locator(".contact-name")).to_have_text("Alice ✨")
    await contact(bob, a_no).get_by_role("button", name="Verify").click()
    assert await shown_digits(bob) == expected


async def test_verified_contact_key_change_is_a_hard_failure(app, node_server, mallory, monkeypatch):
    alice, bob = await asyncio.gather(app(), app())
    a_no, b_no = await alice.number(), await bob.number()
    await connect(alice, bob)
    await hang_up(alice, bob)
    await contact(alice, b_no).get_by_role("button", name="Verify").click()
    await alice.page.get_by_label("Their safety number").fill(await expected_digits(node_server, a_no, b_no))
    await alice.button("Mark verified").click()
    await expect(alice.page.get_by_role("dialog").get_by_role("status")).to_have_text("Verified")
    await alice.button("Close").click()
    await expect(contact(alice, b_no)).to_contain_text("Verified")

    lie_about(node_server, monkeypatch, b_no, mallory.identity.public)
    before = await alice.counts()
    await alice.dial(b_no)
    dialog = key_change(alice)
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("You verified the safety number")
    await expect(dialog.get_by_role("button")).to_have_count(1)
    await expect(dialog.get_by_role("button", name="Close")).to_be_visible()
    assert await alice.counts() == before
    await dialog.get_by_role("button", name="Close").click()
    await expect(contact(alice, b_no)).to_contain_text("Verified")

    # Only forgetting the contact lets a new key in; the next call that connects pins it afresh.
    monkeypatch.undo()
    await contact(alice, b_no).get_by_role("button", name="Forget").click()
    await expect(contact(alice, b_no)).to_have_count(0)
    await connect(alice, bob)
    await hang_up(alice, bob)
    await expect(contact(alice, b_no)).to_contain_text("Not verified")


def write_y4m(path: Path, gray: np.ndarray, frames: int = 4) -> None:
    """A tiny 640x480 4:2:0 Y4M clip showing `gray` (uint8, at most 480x640) centred on white."""
    y = np.full((480, 640), 255, np.uint8)
    h, w = gray.shape
    top, left = (480 - h) // 2, (640 - w) // 2
    y[top : top + h, left : left + w] = gray
    chroma = np.full((240, 320), 128, np.uint8).tobytes()
    with path.open("wb") as f:
        f.write(b"YUV4MPEG2 W640 H480 F20:1 Ip A1:1 C420jpeg\n")
        for _ in range(frames):
            f.write(b"FRAME\n" + y.tobytes() + chroma + chroma)


async def test_scanning_the_other_sides_qr_code_marks_verified(app, camera_app, tmp_path):
    import io

    from PIL import Image

    clip = tmp_path / "camera.y4m"
    write_y4m(clip, np.full((8, 8), 255, np.uint8))
    alice, bob = await asyncio.gather(app(), camera_app(clip))
    a_no, b_no = await alice.number(), await bob.number()
    await connect(alice, bob)
    await hang_up(alice, bob)

    # Bob's camera now films Alice's QR code.
    await contact(alice, b_no).get_by_role("button", name="Verify").click()
    png = await alice.page.get_by_role("img", name="Safety number QR code").screenshot()
    qr = Image.open(io.BytesIO(png)).convert("L").resize((360, 360), Image.NEAREST)
    write_y4m(clip, np.asarray(qr))

    await contact(bob, a_no).get_by_role("button", name="Verify").click()
    await bob.button("Scan QR code").click()
    await expect(bob.page.get_by_role("dialog").get_by_role("status")).to_have_text("Verified", timeout=15_000)
    await expect(bob.page.get_by_label("Camera", exact=True)).to_be_hidden()
    await bob.button("Close").click()
    await expect(contact(bob, a_no)).to_contain_text("Verified")


async def test_export_then_import_in_a_fresh_context_keeps_the_number(app, tmp_path):
    alice = await app()
    a_no = await alice.number()
    keys = await alice.page.evaluate(
        """() => new Promise((ok) => { const r = indexedDB.open('safemeet'); r.onsuccess = () => {
             const g = r.result.transaction('identity').objectStore('identity').get('self');
             g.onsuccess = () => { ok(g.result.keys); r.result.close(); }; }; })"""
    )

    await alice.button("Export identity").click()
    dialog = alice.page.get_by_role("dialog", name="Export identity")
    await dialog.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    await dialog.get_by_label("Repeat passphrase").fill(PASSPHRASE + "!")
    await dialog.get_by_role("button", name="Download backup").click()
    await expect(dialog.get_by_role("alert")).to_have_text("The passphrases do not match.")
    await dialog.get_by_label("Repeat passphrase").fill(PASSPHRASE)
    async with alice.page.expect_download(timeout=30_000) as info:
        await dialog.get_by_role("button", name="Download backup").click()
    download = await info.value
    assert download.suggested_filename == "safemeet-identity.json"
    path = tmp_path / "safemeet-identity.json"
    await download.save_as(path)
    backup = json.loads(path.read_text())
    assert backup["format"] == "safemeet-backup-v1" and backup["kdf"]["N"] == 2**17
    assert open_backup(backup, PASSPHRASE).public.to_json() == keys  # Python opens the browser's file

    other = await app()
    assert await other.number() != a_no
    await other.button("Import identity").click()
    dialog = other.page.get_by_role("dialog", name="Import identity")
    await dialog.get_by_label("Backup file").set_input_files(path)
    await dialog.get_by_label("Passphrase").fill("wrong " + PASSPHRASE)
    await dialog.get_by_role("button", name="Import").click()
    await expect(dialog.get_by_role("alert")).to_have_text("Cannot import: wrong passphrase or damaged backup.", timeout=30_000)
    await dialog.get_by_label("Passphrase").fill(PASSPHRASE)
    await dialog.get_by_role("button", name="Import").click()
    confirm = other.page.get_by_role("alertdialog", name="Replace identity")
    await expect(confirm).to_be_visible(timeout=30_000)
    await confirm.get_by_role("button", name="Replace identity").click()
    await expect(other.page.get_by_label("Your number")).to_contain_text(spaced(a_no))
    await expect(other.button("Call")).to_be_enabled()
    assert await other.number() == a_no


async def test_delete_identity_gives_a_new_number_and_frees_the_old_one(app, mallory):
    alice = await app()
    a_no = await alice.number()
    await alice.button("Delete identity").click()
    confirm = alice.page.get_by_role("alertdialog", name="Delete identity")
    await confirm.get_by_role("button", name="Cancel").click()
    await expect(confirm).to_be_hidden()
    assert (await mallory.request({"t": "lookup", "number": a_no}))["t"] == "keys"

    await alice.button("Delete identity").click()
    await confirm.get_by_role("button", name="Delete identity").click()
    await expect(alice.page.get_by_label("Your number")).not_to_contain_text(spaced(a_no), timeout=15_000)
    await expect(alice.button("Call")).to_be_enabled()
    assert await alice.number() != a_no
    reply = await mallory.request({"t": "lookup", "number": a_no})
    assert reply["t"] == "error" and reply["code"] == "unknown_number", reply


# An identity as the first browser app kept it: IndexedDB version 1, store "identity" only, keys
# made non-extractable with no sealed copy for backups.
MAKE_V1_IDENTITY = """
async () => {
  const { makeIdentity } = await import('/js/identity.js');
  const id = await makeIdentity();
  const db = await new Promise((ok, no) => {
    const r = indexedDB.open('safemeet', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('identity');
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
  const record = { sigPrivate: id.sigPrivate, sealPrivate: id.sealPrivate, sigPublic: id.sigPublic,
                   sealPublic: id.sealPublic, keys: id.keys, number: null };
  await new Promise((ok) => { const tx = db.transaction('identity', 'readwrite');
    tx.objectStore('identity').put(record, 'self'); tx.oncomplete = ok; });
  db.close();
  return id.keys;
}
"""


async def test_identity_of_database_version_1_survives_the_upgrade(app, node_server, mallory):
    old = await app(register=False)
    blank = "<!doctype html><title>setup</title><link rel=icon href='data:,'>"
    await old.page.route(node_server.origin + "/", lambda route: route.fulfill(body=blank, content_type="text/html"))
    await old.page.goto(node_server.origin + "/")
    keys = await old.page.evaluate(MAKE_V1_IDENTITY)
    await old.page.unroute(node_server.origin + "/")
    number = await old.open()
    assert (await mallory.request({"t": "lookup", "number": number}))["keys"] == keys
    stores = await old.page.evaluate(
        """() => new Promise((ok) => { const r = indexedDB.open('safemeet');
             r.onsuccess = () => { ok([r.result.version, [...r.result.objectStoreNames]]); r.result.close(); }; })"""
    )
    assert stores == [2, ["contacts", "identity"]]

    # Its keys were never extractable, so it cannot be exported; the app says so.
    await old.button("Export identity").click()
    dialog = old.page.get_by_role("dialog", name="Export identity")
    await dialog.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    await dialog.get_by_label("Repeat passphrase").fill(PASSPHRASE)
    await dialog.get_by_role("button", name="Download backup").click()
    await expect(dialog.get_by_role("alert")).to_contain_text("cannot be exported")
