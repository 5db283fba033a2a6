"""The contacts file: pins, names, the verified flag, atomic private writes, refusal when unsafe."""

import json
import os

import pytest

from safemeet.core.identity import Identity, PublicKeys
from safemeet.peer.contacts import (CHANGED, NEW, SAME, VERIFIED_CHANGED, Contacts, ContactsFileError,
                                    contacts_path)

BOB = "123456786"


def test_path_is_next_to_the_identity_file(tmp_path):
    assert contacts_path(tmp_path / "id.json") == tmp_path / "id.json.contacts.json"


def test_pin_check_and_verified_flag(tmp_path):
    contacts = Contacts(contacts_path(tmp_path / "a.key"))
    bob, mallory = Identity.generate().public, Identity.generate().public
    assert contacts.check(BOB, bob) == NEW and contacts.all() == []
    contacts.pin("123 456-786", bob)
    assert contacts.check(BOB, bob) == SAME and contacts.check(BOB, mallory) == CHANGED
    contacts.mark_verified(BOB)
    assert contacts.check(BOB, mallory) == VERIFIED_CHANGED
    with pytest.raises(ValueError, match="not the pinned"):
        contacts.mark_verified(BOB, mallory)
    contacts.pin(BOB, mallory)  # re-pinning another identity key clears verified
    assert contacts.get(BOB).keys == mallory and not contacts.get(BOB).verified


def test_new_sealing_key_under_the_same_identity_key_keeps_verified(tmp_path):
    contacts = Contacts(contacts_path(tmp_path / "a.key"))
    bob = Identity.generate()
    contacts.pin(BOB, bob.public)
    contacts.mark_verified(BOB)
    rotated = Identity(bob.signing, Identity.generate().sealing).public
    assert rotated.sig == bob.public.sig and rotated != bob.public
    assert contacts.check(BOB, rotated) == SAME
    contacts.pin(BOB, rotated)
    assert contacts.get(BOB).keys == rotated and contacts.get(BOB).verified


def test_name_and_delete_and_verify_needs_keys(tmp_path):
    contacts = Contacts(contacts_path(tmp_path / "a.key"))
    contacts.name(BOB, "  Bob 👋 ")
    assert contacts.get(BOB).name == "Bob 👋" and contacts.get(BOB).keys is None
    assert contacts.check(BOB, Identity.generate().public) == NEW  # a name pins nothing
    with pytest.raises(ValueError, match="no keys"):
        contacts.mark_verified(BOB)
    with pytest.raises(ValueError, match="control"):
        contacts.name(BOB, "a\nb")
    contacts.name(BOB, "")
    assert contacts.get(BOB).name is None
    assert contacts.delete(BOB) and not contacts.delete(BOB) and contacts.get(BOB) is None


def test_file_is_private_atomic_and_shared_between_instances(tmp_path):
    path = contacts_path(tmp_path / "a.key")
    first, second = Contacts(path), Contacts(path)
    keys = Identity.generate().public
    first.pin(BOB, keys)
    second.name(BOB, "Bob")  # re-read before changing: keeps the pin made by the other instance
    assert first.get(BOB).keys == keys and first.get(BOB).name == "Bob"
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left
    data = json.loads(path.read_text())
    assert data["format"] == "safemeet-contacts-v1"
    assert data["contacts"][BOB] == {"name": "Bob", "verified": False, "keys": keys.to_json()}


def test_unsafe_or_damaged_file_is_refused(tmp_path):
    path = contacts_path(tmp_path / "a.key")
    Contacts(path).pin(BOB, Identity.generate().public)
    os.chmod(path, 0o640)
    with pytest.raises(ContactsFileError, match="chmod 600"):
        Contacts(path)
    os.chmod(path, 0o600)
    data = json.loads(path.read_text())
    data["contacts"][BOB]["keys"]["seal"] = Identity.generate().public.to_json()["seal"]  # bind fails
    path.write_text(json.dumps(data))
    with pytest.raises(ContactsFileError, match="damaged"):
        Contacts(path)
    path.write_text("{")
    with pytest.raises(ContactsFileError, match="damaged"):
        Contacts(path).all()


def test_in_memory_contacts():
    contacts = Contacts()
    keys: PublicKeys = Identity.generate().public
    contacts.pin(BOB, keys)
    assert contacts.get(BOB).keys == keys
    contacts.remove_file()
    assert contacts.all() == []
