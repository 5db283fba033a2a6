"""Backup to another device and deletion, through a real node."""

import json

import pytest

from safemeet.core.backup import BackupError
from safemeet.peer import Peer, UnknownNumber
from safemeet.peer.backupfile import IdentityExists, export_identity, import_identity
from safemeet.peer.contacts import contacts_path


async def test_backup_round_trip_keeps_the_number(live_node, tmp_path):
    async with Peer(live_node.url, tmp_path / "old.key") as old:
        number = old.number
    export_identity(tmp_path / "old.key", tmp_path / "backup.json", "pass phrase", n=1024)
    assert (tmp_path / "backup.json").stat().st_mode & 0o777 == 0o600
    assert json.loads((tmp_path / "backup.json").read_text())["format"] == "safemeet-backup-v1"
    import_identity(tmp_path / "backup.json", tmp_path / "new" / "id.key", "pass phrase")
    assert (tmp_path / "new" / "id.key").stat().st_mode & 0o777 == 0o600
    async with Peer(live_node.url, tmp_path / "new" / "id.key") as new:
        assert new.number == number


async def test_wrong_passphrase_and_existing_identity(tmp_path):
    from safemeet.core.identity import Identity
    from safemeet.peer.keyfile import load_identity, save_identity

    save_identity(Identity.generate(), tmp_path / "a.key")
    export_identity(tmp_path / "a.key", tmp_path / "b.json", "right", n=1024)
    with pytest.raises(FileExistsError):
        export_identity(tmp_path / "a.key", tmp_path / "b.json", "right", n=1024)
    with pytest.raises(BackupError, match="^wrong passphrase or damaged backup$"):
        import_identity(tmp_path / "b.json", tmp_path / "c.key", "wrong")
    assert not (tmp_path / "c.key").exists()
    save_identity(Identity.generate(), tmp_path / "c.key")
    with pytest.raises(IdentityExists, match="--force"):
        import_identity(tmp_path / "b.json", tmp_path / "c.key", "right")
    import_identity(tmp_path / "b.json", tmp_path / "c.key", "right", force=True)
    assert load_identity(tmp_path / "c.key").secrets() == load_identity(tmp_path / "a.key").secrets()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.key", "b.json", "c.key"]  # no leftovers


async def test_delete_identity_forgets_the_number_everywhere(live_node, tmp_path):
    async with Peer(live_node.url, tmp_path / "a.key") as alice, Peer(live_node.url, tmp_path / "b.key") as bob:
        number = alice.number
        alice.contacts.name(bob.number, "Bob")
        assert contacts_path(tmp_path / "a.key").exists()
        await alice.delete_identity()
        assert not (tmp_path / "a.key").exists() and not contacts_path(tmp_path / "a.key").exists()
    async with Peer(live_node.url, tmp_path / "b.key") as bob:  # a new connection: no cached lookups
        with pytest.raises(UnknownNumber):
            await bob.lookup(number)
    async with Peer(live_node.url, tmp_path / "a.key") as again:  # a fresh identity, a new number
        assert again.number != number
