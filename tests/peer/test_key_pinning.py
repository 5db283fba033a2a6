"""Trust on first use: pins, key changes (a lying node), accept_key_change, verified contacts."""

import asyncio
import os
import time

import pytest

from safemeet.core import envelope, safety
from safemeet.core.identity import Identity
from safemeet.peer import KeyChanged, Peer, VerifiedKeyChanged
from safemeet.peer.contacts import Contacts, ContactsFileError, contacts_path
from safemeet.peer.signaling import NodeClient
from call_helpers import connect_pair


async def _hangup(call, incoming) -> None:
    await call.hangup()
    await asyncio.wait_for(incoming.wait_ended(), 5)


async def _first_call(url, tmp_path):
    """Alice calls Bob once; returns their numbers and identities."""
    async with Peer(url, tmp_path / "a.key") as alice, Peer(url, tmp_path / "b.key") as bob:
        await _hangup(*await connect_pair(alice, bob))
        return alice.number, bob.number, alice.identity, bob.identity


async def test_first_connected_call_pins_and_second_call_is_fine(live_node, tmp_path):
    async with Peer(live_node.url, tmp_path / "a.key") as alice, Peer(live_node.url, tmp_path / "b.key") as bob:
        call = await alice.call(bob.number)
        incoming = await bob.next_incoming(5)
        assert alice.contacts.get(bob.number) is None and bob.contacts.get(alice.number) is None  # not yet
        await incoming.accept()
        await asyncio.wait_for(call.wait_connected(), 10)
        await asyncio.wait_for(incoming.wait_connected(), 10)
        assert alice.contacts.get(bob.number).keys == bob.identity.public
        assert bob.contacts.get(alice.number).keys == alice.identity.public
        assert not alice.contacts.get(bob.number).verified
        await _hangup(call, incoming)
    for name in ("a.key", "b.key"):
        path = contacts_path(tmp_path / name)
        assert path.exists() and path.stat().st_mode & 0o777 == 0o600
    async with Peer(live_node.url, tmp_path / "a.key") as alice, Peer(live_node.url, tmp_path / "b.key") as bob:
        await _hangup(*await connect_pair(alice, bob))


async def test_declined_call_pins_nothing(live_node, tmp_path):
    async with Peer(live_node.url, tmp_path / "a.key") as alice, Peer(live_node.url, tmp_path / "b.key") as bob:
        call = await alice.call(bob.number)
        await (await bob.next_incoming(5)).decline()
        await asyncio.wait_for(call.wait_ended(), 5)
        assert alice.contacts.all() == [] and bob.contacts.all() == []


async def test_node_swaps_callee_key_caller_stops_before_ringing(live_node, tmp_path):
    _, bob_number, _, _ = await _first_call(live_node.url, tmp_path)
    mallory = Identity.generate()
    live_node.lie(bob_number, mallory.public)
    async with Peer(live_node.url, tmp_path / "a.key") as alice, Peer(live_node.url, tmp_path / "b.key") as bob:
        with pytest.raises(KeyChanged) as err:
            await alice.call(bob_number)
        assert err.value.reason == "key_changed" and not isinstance(err.value, VerifiedKeyChanged)
        assert bob_number in str(err.value) and "safety number" in str(err.value)
        assert "re-checked" in str(err.value)
        assert alice.active_calls == 0
        with pytest.raises(asyncio.TimeoutError):
            await bob.next_incoming(1.0)  # nothing rang
        assert alice.contacts.get(bob_number).keys == bob.identity.public  # pin unchanged


async def test_node_swaps_caller_key_callee_refuses_the_ring(live_node, tmp_path):
    alice_number, bob_number, alice_identity, bob_identity = await _first_call(live_node.url, tmp_path)
    mallory = Identity.generate()
    live_node.lie(alice_number, mallory.public)

    async def _noop(_env: str) -> None:
        return None

    async with Peer(live_node.url, tmp_path / "b.key") as bob:
        impostor = NodeClient(live_node.url, mallory, _noop)
        await impostor.connect()
        try:
            ring = envelope.make_inner("ring", envelope.new_call_id(), alice_number, bob_number,
                                       {"media": {"audio": True, "video": False}, "sdp": "v=0\r\n"},
                                       int(time.time() * 1000))
            await impostor.send(bob_number, envelope.seal(mallory, bob_identity.public, ring))
            with pytest.raises(KeyChanged) as err:
                await bob.next_incoming(5)
            assert err.value.number == alice_number and alice_number in str(err.value)
            assert bob.active_calls == 0  # no call object, nothing applied, no media
            assert bob.contacts.get(alice_number).keys == alice_identity.public
        finally:
            await impostor.close()


async def test_accept_key_change_repins_and_calls(live_node, tmp_path):
    _, bob_number, _, _ = await _first_call(live_node.url, tmp_path)
    new_bob = Identity.generate()
    live_node.lie(bob_number, new_bob.public)  # say Bob really has a new key
    async with Peer(live_node.url, tmp_path / "a.key") as alice:
        with pytest.raises(KeyChanged):
            await alice.call(bob_number)
    async with Peer(live_node.url, tmp_path / "a.key", accept_key_change=True) as alice:
        call = await alice.call(bob_number)  # goes ahead: the new key is pinned, verified cleared
        contact = alice.contacts.get(bob_number)
        assert contact.keys == new_bob.public and not contact.verified
        await call.hangup()


async def test_verified_contact_key_change_fails_hard_even_when_accepting(live_node, tmp_path):
    alice_number, bob_number, _, bob_identity = await _first_call(live_node.url, tmp_path)
    async with Peer(live_node.url, tmp_path / "a.key") as alice:
        alice.contacts.mark_verified(bob_number)
    live_node.lie(bob_number, Identity.generate().public)
    async with Peer(live_node.url, tmp_path / "a.key", accept_key_change=True) as alice:
        with pytest.raises(VerifiedKeyChanged) as err:
            await alice.call(bob_number)
        assert err.value.reason == "verified_key_changed" and bob_number in str(err.value)
        assert alice.contacts.get(bob_number).keys == bob_identity.public
        assert alice.contacts.get(bob_number).verified
        alice.contacts.delete(bob_number)  # the way out: forget the contact, then call again
        call = await alice.call(bob_number)
        await call.hangup()


async def test_safety_number_is_equal_on_both_sides(live_node, tmp_path):
    async with Peer(live_node.url, tmp_path / "a.key") as alice, Peer(live_node.url, tmp_path / "b.key") as bob:
        expected = safety.safety_number(alice.number, alice.identity.public.sig, bob.number, bob.identity.public.sig)
        assert await alice.safety_number(bob.number) == expected  # not pinned: the node's key
        assert await bob.safety_number(alice.number) == expected
        await _hangup(*await connect_pair(alice, bob))
        assert await alice.safety_number(bob.number) == await bob.safety_number(alice.number) == expected
        assert len(expected) == 60 and expected.isdigit()


async def test_safety_number_uses_the_pin_not_the_node(live_node, tmp_path):
    alice_number, bob_number, alice_identity, bob_identity = await _first_call(live_node.url, tmp_path)
    live_node.lie(bob_number, Identity.generate().public)
    async with Peer(live_node.url, tmp_path / "a.key") as alice:
        assert await alice.safety_number(bob_number) == safety.safety_number(
            alice_number, alice_identity.public.sig, bob_number, bob_identity.public.sig)


async def test_contacts_file_refused_when_others_can_read_it(live_node, tmp_path):
    await _first_call(live_node.url, tmp_path)
    path = contacts_path(tmp_path / "a.key")
    os.chmod(path, 0o644)
    with pytest.raises(ContactsFileError, match="chmod 600"):
        Peer(live_node.url, tmp_path / "a.key")
    os.chmod(path, 0o600)
    assert len(Contacts(path).all()) == 1


async def _ring_as(url, impostor: Identity, sender: str, bob: Peer) -> None:
    """A ring that claims to be from ``sender``, signed with ``impostor``'s key."""
    async def _noop(_env: str) -> None:
        return None

    client = NodeClient(url, impostor, _noop)
    await client.connect()
    try:
        ring = envelope.make_inner("ring", envelope.new_call_id(), sender, bob.number,
                                   {"media": {"audio": True, "video": False}, "sdp": "v=0\r\n"},
                                   int(time.time() * 1000))
        await client.send(bob.number, envelope.seal(impostor, bob.identity.public, ring))
    finally:
        await client.close()


async def test_callee_accepting_key_changes_repins_and_rings(live_node, tmp_path):
    alice_number, _, _, _ = await _first_call(live_node.url, tmp_path)
    new_alice = Identity.generate()
    live_node.lie(alice_number, new_alice.public)
    async with Peer(live_node.url, tmp_path / "b.key", accept_key_change=True) as bob:
        await _ring_as(live_node.url, new_alice, alice_number, bob)
        incoming = await bob.next_incoming(5)
        assert incoming.remote == alice_number and incoming.phase == "incoming"
        assert bob.contacts.get(alice_number).keys == new_alice.public
        await incoming.decline()


async def test_callee_verified_contact_key_change_fails_hard(live_node, tmp_path):
    alice_number, _, alice_identity, _ = await _first_call(live_node.url, tmp_path)
    mallory = Identity.generate()
    live_node.lie(alice_number, mallory.public)
    async with Peer(live_node.url, tmp_path / "b.key", accept_key_change=True) as bob:
        bob.contacts.mark_verified(alice_number)
        await _ring_as(live_node.url, mallory, alice_number, bob)
        with pytest.raises(VerifiedKeyChanged):
            await bob.next_incoming(5)
        assert bob.active_calls == 0 and bob.contacts.get(alice_number).keys == alice_identity.public


async def test_new_sealing_key_of_a_pinned_identity_is_no_key_change(live_node, tmp_path):
    alice_number, bob_number, _, bob_identity = await _first_call(live_node.url, tmp_path)
    rotated = Identity(bob_identity.signing, Identity.generate().sealing)
    live_node.lie(bob_number, rotated.public)
    async with Peer(live_node.url, tmp_path / "a.key") as alice:
        alice.contacts.mark_verified(bob_number)
        call = await alice.call(bob_number)  # no KeyChanged: the safety number is unchanged
        assert alice.contacts.get(bob_number).keys == rotated.public and alice.contacts.get(bob_number).verified
        await call.hangup()
