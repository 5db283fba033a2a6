"""HPKE base mode (RFC 9180) for one suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM.

Composed from ``cryptography`` primitives rather than its built-in HPKE because envelopes need
the RFC's deterministic test vectors (a fixed ephemeral key) and the browser composes the same
steps from WebCrypto; both are checked against RFC 9180 Appendix A.1.
"""

import hashlib
import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

KEM_ID = 0x0020
KDF_ID = 0x0001
AEAD_ID = 0x0001
N_SECRET = 32
N_K = 16
N_N = 12
N_ENC = 32

_KEM_SUITE = b"KEM" + KEM_ID.to_bytes(2, "big")
_HPKE_SUITE = b"HPKE" + KEM_ID.to_bytes(2, "big") + KDF_ID.to_bytes(2, "big") + AEAD_ID.to_bytes(2, "big")
_MODE_BASE = b"\x00"


class HpkeError(ValueError):
    """Decryption failed: wrong key, tampered ciphertext or malformed encapsulation."""


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite + label + ikm)


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return _expand(prk, length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info, length)


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _shared_secret(dh: bytes, enc: bytes, pk_rm: bytes) -> bytes:
    eae_prk = _labeled_extract(_KEM_SUITE, b"", b"eae_prk", dh)
    return _labeled_expand(_KEM_SUITE, eae_prk, b"shared_secret", enc + pk_rm, N_SECRET)


def key_schedule(shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
    """Base-mode key schedule: returns (key, base_nonce)."""
    psk_id_hash = _labeled_extract(_HPKE_SUITE, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(_HPKE_SUITE, b"", b"info_hash", info)
    context = _MODE_BASE + psk_id_hash + info_hash
    secret = _labeled_extract(_HPKE_SUITE, shared_secret, b"secret", b"")
    key = _labeled_expand(_HPKE_SUITE, secret, b"key", context, N_K)
    base_nonce = _labeled_expand(_HPKE_SUITE, secret, b"base_nonce", context, N_N)
    return key, base_nonce


def encap(pk_r: bytes, ephemeral: X25519PrivateKey | None = None) -> tuple[bytes, bytes]:
    """DHKEM Encap: returns (shared_secret, enc)."""
    sk_e = ephemeral or X25519PrivateKey.generate()
    enc = _raw_public(sk_e.public_key())
    dh = sk_e.exchange(X25519PublicKey.from_public_bytes(pk_r))
    return _shared_secret(dh, enc, pk_r), enc


def decap(enc: bytes, sk_r: X25519PrivateKey) -> bytes:
    """DHKEM Decap: returns shared_secret."""
    if len(enc) != N_ENC:
        raise HpkeError("bad encapsulated key")
    try:
        dh = sk_r.exchange(X25519PublicKey.from_public_bytes(enc))
    except ValueError as exc:  # all-zero shared secret (small-order point)
        raise HpkeError("bad encapsulated key") from exc
    return _shared_secret(dh, enc, _raw_public(sk_r.public_key()))


def seal_base(
    pk_r: bytes, info: bytes, aad: bytes, pt: bytes, ephemeral: X25519PrivateKey | None = None
) -> tuple[bytes, bytes]:
    """Single-shot SealBase: returns (enc, ct). ``ephemeral`` is for test vectors only."""
    shared, enc = encap(pk_r, ephemeral)
    key, nonce = key_schedule(shared, info)
    return enc, AESGCM(key).encrypt(nonce, pt, aad)


def open_base(enc: bytes, sk_r: X25519PrivateKey, info: bytes, aad: bytes, ct: bytes) -> bytes:
    """Single-shot OpenBase; raises HpkeError on any failure."""
    key, nonce = key_schedule(decap(enc, sk_r), info)
    try:
        return AESGCM(key).decrypt(nonce, ct, aad)
    except InvalidTag as exc:
        raise HpkeError("decryption failed") from exc
