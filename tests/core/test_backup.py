"""core.backup: scrypt + AES-256-GCM identity backups, byte-exact against the shared vectors."""

import copy

import pytest

from safemeet.core import backup
from safemeet.core.b64 import b64u_decode, b64u_encode
from safemeet.core.backup import BackupError, open_backup, seal_backup
from safemeet.core.identity import Identity


def _identity(case: dict) -> Identity:
    return Identity.from_secrets(b64u_decode(case["secrets"]["ed25519"], 32),
                                 b64u_decode(case["secrets"]["x25519"], 32))


def test_vectors_are_byte_exact_and_open(vectors):
    data = vectors("backup.json")
    assert (data["format"], data["aad"]) == (backup.FORMAT, "safemeet/v1/backup")
    for case in data["cases"]:
        sealed = case["backup"]
        assert {k: sealed["kdf"][k] for k in ("name", "N", "r", "p")} == {k: data["kdf"][k] for k in ("name", "N", "r", "p")}
        salt, nonce = b64u_decode(sealed["kdf"]["salt"], 16), b64u_decode(sealed["nonce"], 12)
        assert backup.derive_key(case["passphrase"], salt, sealed["kdf"]["N"]).hex() == case["key"]
        again = seal_backup(_identity(case), case["passphrase"], salt=salt, nonce=nonce, n=sealed["kdf"]["N"])
        assert again == sealed, case["name"]
        for passphrase in [case["passphrase"], *case.get("also_opens_with", [])]:
            opened = open_backup(sealed, passphrase)
            assert opened.public.to_json() == case["public"], case["name"]
        with pytest.raises(BackupError, match="^wrong passphrase or damaged backup$"):
            open_backup(sealed, case["wrong_passphrase"])


def test_round_trip_with_random_salt_and_nonce():
    identity = Identity.generate()
    first = seal_backup(identity, "pass", n=1024)
    second = seal_backup(identity, "pass", n=1024)
    assert first["kdf"]["salt"] != second["kdf"]["salt"] and first["nonce"] != second["nonce"]
    assert open_backup(first, "pass").secrets() == identity.secrets()
    assert seal_backup(identity, "pass", n=1024)["kdf"]["N"] == 1024


def test_default_work_factor_matches_the_spec():
    assert (backup.DEFAULT_N, backup.R, backup.P) == (2**17, 8, 1)


def test_damage_is_reported_like_a_wrong_passphrase(vectors):
    sealed = vectors("backup.json")["cases"][0]["backup"]
    passphrase = vectors("backup.json")["cases"][0]["passphrase"]
    ct = bytearray(b64u_decode(sealed["ct"]))
    ct[0] ^= 1
    for damaged in ({**sealed, "ct": b64u_encode(bytes(ct))}, {**sealed, "nonce": "AAAAAAAAAAAAAAAA"},
                    {**sealed, "ct": "!"}, {**sealed, "kdf": {**sealed["kdf"], "salt": b64u_encode(b"x" * 16)}}):
        with pytest.raises(BackupError, match="wrong passphrase or damaged backup"):
            open_backup(damaged, passphrase)


@pytest.mark.parametrize("change, message", [
    (lambda b: b.update(format="other"), "not a safemeet backup"),
    (lambda b: b["kdf"].update(name="pbkdf2"), "unsupported key derivation"),
    (lambda b: b["kdf"].update(N=1000), "out of range"),
    (lambda b: b["kdf"].update(N=2**30), "out of range"),
    (lambda b: b["kdf"].update(r=1024), "out of range"),
    (lambda b: b["kdf"].update(p="1"), "bad scrypt parameters"),
])
def test_malformed_files_are_refused_before_any_work(vectors, change, message):
    sealed = copy.deepcopy(vectors("backup.json")["cases"][0]["backup"])
    change(sealed)
    with pytest.raises(BackupError, match=message):
        open_backup(sealed, "x")
    with pytest.raises(BackupError, match="not a safemeet backup"):
        open_backup([], "x")


def test_empty_passphrase_is_refused():
    with pytest.raises(ValueError, match="empty"):
        seal_backup(Identity.generate(), "", n=1024)
