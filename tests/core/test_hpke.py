from cryptography.hazmat.primitives import hpke as native
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
import pytest

from safemeet.core import hpke

SUITE = native.Suite(native.KEM.X25519, native.KDF.HKDF_SHA256, native.AEAD.AES_128_GCM)


def _rfc_case(vectors) -> dict:
    data = vectors("hpke_rfc9180.json")
    return data["A.1.1"] if "A.1.1" in data else data


def test_rfc9180_a11_seal_and_open(vectors):
    v = _rfc_case(vectors)
    sk_e = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["skEm"]))
    sk_r = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["skRm"]))
    pk_r = bytes.fromhex(v["pkRm"])
    shared, enc = hpke.encap(pk_r, sk_e)
    assert enc.hex() == v["enc"]
    assert shared.hex() == v["shared_secret"]
    key, base_nonce = hpke.key_schedule(shared, bytes.fromhex(v["info"]))
    assert key.hex() == v["key"] and base_nonce.hex() == v["base_nonce"]
    first = v["encryptions"][0]
    enc2, ct = hpke.seal_base(pk_r, bytes.fromhex(v["info"]), bytes.fromhex(first["aad"]),
                              bytes.fromhex(first["pt"]), sk_e)
    assert (enc2.hex(), ct.hex()) == (v["enc"], first["ct"])
    assert hpke.open_base(enc2, sk_r, bytes.fromhex(v["info"]), bytes.fromhex(first["aad"]), ct).hex() == first["pt"]


def test_interoperates_with_cryptography_builtin_hpke():
    sk = X25519PrivateKey.generate()
    pk = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    enc, ct = hpke.seal_base(pk, b"info", b"", b"ours")
    assert SUITE.decrypt(enc + ct, sk, info=b"info") == b"ours"
    theirs = SUITE.encrypt(b"theirs", sk.public_key(), info=b"info")
    assert hpke.open_base(theirs[:32], sk, b"info", b"", theirs[32:]) == b"theirs"


def test_open_rejects_tampering_and_wrong_key():
    sk = X25519PrivateKey.generate()
    pk = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    enc, ct = hpke.seal_base(pk, b"i", b"", b"secret")
    with pytest.raises(hpke.HpkeError):
        hpke.open_base(enc, sk, b"i", b"", ct[:-1] + bytes([ct[-1] ^ 1]))
    with pytest.raises(hpke.HpkeError):
        hpke.open_base(enc, X25519PrivateKey.generate(), b"i", b"", ct)
    with pytest.raises(hpke.HpkeError):
        hpke.open_base(enc, sk, b"other info", b"", ct)
    with pytest.raises(hpke.HpkeError):
        hpke.open_base(bytes(32), sk, b"i", b"", ct)
