"""Identity backup: both private keys sealed under a passphrase (docs/security.md, "Identity backup").

Sans-I/O: ``seal_backup`` turns an identity into the JSON object of a backup file and
``open_backup`` turns it back, raising ``BackupError``. The key is scrypt over the NFC-normalised
passphrase; the keys are sealed with AES-256-GCM. Vectors: ``tests/vectors/backup.json``.
"""

import json
import secrets
import unicodedata
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .b64 import B64Error, b64u_decode, b64u_encode
from .identity import Identity

FORMAT = "safemeet-backup-v1"
AAD = b"safemeet/v1/backup"
DEFAULT_N = 2**17
R = 8
P = 1
SALT_LEN = 16
NONCE_LEN = 12
KEY_LEN = 32
# Largest work factors an imported file may ask for: bounds the memory (128 * r * N bytes) a
# hostile file can make us spend. N = 2**20, r = 8 is 1 GiB.
MAX_N = 2**20
MAX_R = 16
MAX_P = 4
WRONG = "wrong passphrase or damaged backup"


class BackupError(ValueError):
    """The backup cannot be opened (wrong passphrase, damaged or not a backup)."""


def derive_key(passphrase: str, salt: bytes, n: int, r: int = R, p: int = P) -> bytes:
    """scrypt(UTF-8(NFC(passphrase)), salt, N, r, p) → 32 bytes."""
    data = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    return Scrypt(salt=salt, length=KEY_LEN, n=n, r=r, p=p).derive(data)


def seal_backup(identity: Identity, passphrase: str, *, salt: bytes | None = None,
                nonce: bytes | None = None, n: int = DEFAULT_N) -> dict[str, Any]:
    """The backup file's JSON object for ``identity``; fresh random salt and nonce unless given."""
    if not passphrase:
        raise ValueError("the passphrase must not be empty")
    if n < 2 or n & (n - 1) or n > MAX_N:
        raise ValueError(f"N must be a power of two up to {MAX_N}")
    salt = secrets.token_bytes(SALT_LEN) if salt is None else salt
    nonce = secrets.token_bytes(NONCE_LEN) if nonce is None else nonce
    if len(salt) != SALT_LEN or len(nonce) != NONCE_LEN:
        raise ValueError(f"the salt is {SALT_LEN} bytes and the nonce {NONCE_LEN}")
    ed, x = identity.secrets()
    plaintext = json.dumps({"ed25519": b64u_encode(ed), "x25519": b64u_encode(x)},
                           separators=(",", ":")).encode("utf-8")
    ct = AESGCM(derive_key(passphrase, salt, n)).encrypt(nonce, plaintext, AAD)
    return {
        "format": FORMAT,
        "kdf": {"name": "scrypt", "N": n, "r": R, "p": P, "salt": b64u_encode(salt)},
        "nonce": b64u_encode(nonce),
        "ct": b64u_encode(ct),
    }


def _params(obj: Any) -> tuple[int, int, int, bytes, bytes, bytes]:
    """Check the file's shape; (N, r, p, salt, nonce, ct) or BackupError."""
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise BackupError("not a safemeet backup file")
    kdf = obj.get("kdf")
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise BackupError("unsupported key derivation in the backup")
    n, r, p = kdf.get("N"), kdf.get("r"), kdf.get("p")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (n, r, p)):
        raise BackupError("bad scrypt parameters in the backup")
    if n < 2 or n & (n - 1) or n > MAX_N or not 1 <= r <= MAX_R or not 1 <= p <= MAX_P:
        raise BackupError("scrypt parameters in the backup are out of range")
    try:
        salt = b64u_decode(kdf.get("salt"), SALT_LEN)
        nonce = b64u_decode(obj.get("nonce"), NONCE_LEN)
        ct = b64u_decode(obj.get("ct"))
    except B64Error as exc:
        raise BackupError(WRONG) from exc
    return n, r, p, salt, nonce, ct


def open_backup(obj: Any, passphrase: str) -> Identity:
    """The identity in a backup object; ``BackupError(WRONG)`` if the passphrase does not open it."""
    n, r, p, salt, nonce, ct = _params(obj)
    try:
        plaintext = AESGCM(derive_key(passphrase, salt, n, r, p)).decrypt(nonce, ct, AAD)
    except (InvalidTag, ValueError) as exc:
        raise BackupError(WRONG) from exc
    try:
        keys = json.loads(plaintext.decode("utf-8"))
        return Identity.from_secrets(b64u_decode(keys["ed25519"], 32), b64u_decode(keys["x25519"], 32))
    except (ValueError, KeyError, TypeError) as exc:  # B64Error and JSON errors are ValueErrors
        raise BackupError(WRONG) from exc
