"""Identity keys: an Ed25519 signing key and an X25519 sealing key bound to it.

Pure data and signatures; reading and writing key files belongs to the peer adapter.
"""

from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from .b64 import B64Error, b64u_decode, b64u_encode

SEAL_KEY_LABEL = b"safemeet/v1/seal-key\x00"
AUTH_LABEL = b"safemeet/v1/auth\x00"


class IdentityError(ValueError):
    """Public keys are malformed or their binding signature does not verify."""


def _raw_public(key: Any) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _raw_private(key: Any) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


@dataclass(frozen=True)
class PublicKeys:
    """A peer's public identity: signing key, sealing key and the signature binding them."""

    sig: bytes
    seal: bytes
    bind: bytes

    @classmethod
    def from_json(cls, obj: Any) -> "PublicKeys":
        """Parse and verify a ``{"sig", "seal", "bind"}`` object; raise IdentityError if bad."""
        if not isinstance(obj, dict) or set(obj) != {"sig", "seal", "bind"}:
            raise IdentityError("keys must be an object with exactly sig, seal and bind")
        try:
            keys = cls(
                sig=b64u_decode(obj["sig"], 32),
                seal=b64u_decode(obj["seal"], 32),
                bind=b64u_decode(obj["bind"], 64),
            )
        except B64Error as exc:
            raise IdentityError(f"bad key encoding: {exc}") from exc
        if not keys.verify(SEAL_KEY_LABEL + keys.seal, keys.bind):
            raise IdentityError("the sealing key is not signed by the identity key")
        return keys

    def to_json(self) -> dict[str, str]:
        return {"sig": b64u_encode(self.sig), "seal": b64u_encode(self.seal), "bind": b64u_encode(self.bind)}

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this identity's Ed25519 signature over ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.sig).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class Identity:
    """A device's private identity. Private keys never leave this object except via ``secrets``."""

    def __init__(self, signing: Ed25519PrivateKey, sealing: X25519PrivateKey) -> None:
        self.signing = signing
        self.sealing = sealing
        seal_pub = _raw_public(sealing.public_key())
        self.public = PublicKeys(
            sig=_raw_public(signing.public_key()),
            seal=seal_pub,
            bind=signing.sign(SEAL_KEY_LABEL + seal_pub),
        )

    @classmethod
    def generate(cls) -> "Identity":
        return cls(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

    @classmethod
    def from_secrets(cls, ed25519_seed: bytes, x25519_private: bytes) -> "Identity":
        return cls(
            Ed25519PrivateKey.from_private_bytes(ed25519_seed),
            X25519PrivateKey.from_private_bytes(x25519_private),
        )

    def secrets(self) -> tuple[bytes, bytes]:
        """(Ed25519 seed, X25519 private key) as raw bytes, for the key file."""
        return _raw_private(self.signing), _raw_private(self.sealing)

    def sign(self, message: bytes) -> bytes:
        return self.signing.sign(message)

    def auth_proof(self, nonce: bytes) -> bytes:
        """Answer a node's registration challenge."""
        return self.sign(auth_message(nonce, self.public))


def auth_message(nonce: bytes, keys: PublicKeys) -> bytes:
    """The byte string a registration proof signs."""
    return AUTH_LABEL + nonce + keys.sig + keys.seal


def verify_auth_proof(keys: PublicKeys, nonce: bytes, proof: bytes) -> bool:
    return keys.verify(auth_message(nonce, keys), proof)
