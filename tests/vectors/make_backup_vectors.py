"""Writes backup.json: passphrase-sealed identity backups, read by pytest and node --test.

Fixed keys, salt and nonce make every field byte-exact; N is 1024 so that tests run fast (real
backups use N = 2**17). Run from the repository root: ``python tests/vectors/make_backup_vectors.py``.
"""

import hashlib
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "src"))

from safemeet.core import backup  # noqa: E402
from safemeet.core.b64 import b64u_encode  # noqa: E402
from safemeet.core.identity import Identity  # noqa: E402

N = 1024


def _seed(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def _case(name: str, label: str, passphrase: str, **extra: object) -> dict:
    identity = Identity.from_secrets(_seed(label + "/ed25519"), _seed(label + "/x25519"))
    salt, nonce = _seed(label + "/salt")[:16], _seed(label + "/nonce")[:12]
    ed, x = identity.secrets()
    sealed = backup.seal_backup(identity, passphrase, salt=salt, nonce=nonce, n=N)
    return {
        "name": name,
        "passphrase": passphrase,
        "secrets": {"ed25519": b64u_encode(ed), "x25519": b64u_encode(x)},
        "public": identity.public.to_json(),
        "key": backup.derive_key(passphrase, salt, N).hex(),
        "backup": sealed,
        **extra,
    }


def build() -> dict:
    """The whole vector file."""
    nfc = "caf\u00e9 \u1e9b\u0323 \U0001f511 \u05e9\u05dc\u05d5\u05dd"
    nfd = "cafe\u0301 \u017f\u0323\u0307 \U0001f511 \u05e9\u05dc\u05d5\u05dd"  # NFC(nfd) == nfc
    return {
        "about": "Identity backups (docs/security.md); made by make_backup_vectors.py",
        "format": backup.FORMAT,
        "aad": backup.AAD.decode(),
        "kdf": {"name": "scrypt", "N": N, "r": backup.R, "p": backup.P, "key_len": backup.KEY_LEN},
        "cases": [
            _case("ascii", "alice", "correct horse battery staple", wrong_passphrase="correct horse battery stapler"),
            _case("unicode, sealed from the NFC form", "bob", nfc, also_opens_with=[nfd],
                  wrong_passphrase="cafe \u1e9b\u0323 \U0001f511 \u05e9\u05dc\u05d5\u05dd"),
        ],
    }


def main() -> None:
    out = pathlib.Path(__file__).with_name("backup.json")
    out.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
