import pytest

from safemeet.core.b64 import B64Error, b64u_decode, b64u_encode
from safemeet.core.identity import Identity, IdentityError, PublicKeys, verify_auth_proof


def test_public_keys_round_trip_and_bind():
    ident = Identity.generate()
    parsed = PublicKeys.from_json(ident.public.to_json())
    assert parsed == ident.public


def test_seal_key_swap_is_detected():
    a, b = Identity.generate(), Identity.generate()
    forged = dict(a.public.to_json(), seal=b.public.to_json()["seal"])
    with pytest.raises(IdentityError, match="not signed"):
        PublicKeys.from_json(forged)


@pytest.mark.parametrize("bad", [None, [], {"sig": "x"}, {"sig": "AA", "seal": "AA", "bind": "AA"},
                                 {"sig": "a", "seal": "b", "bind": "c", "extra": 1}])
def test_malformed_keys_are_rejected(bad):
    with pytest.raises(IdentityError):
        PublicKeys.from_json(bad)


def test_auth_proof_binds_nonce_and_keys():
    ident = Identity.generate()
    proof = ident.auth_proof(b"n" * 32)
    assert verify_auth_proof(ident.public, b"n" * 32, proof)
    assert not verify_auth_proof(ident.public, b"m" * 32, proof)
    assert not verify_auth_proof(Identity.generate().public, b"n" * 32, proof)


def test_secrets_round_trip():
    ident = Identity.generate()
    again = Identity.from_secrets(*ident.secrets())
    assert again.public == ident.public


def test_b64u_is_strict():
    assert b64u_decode(b64u_encode(b"\xff\x00")) == b"\xff\x00"
    for bad in ["a", "ab=", "a+b/", "!!", "AB"]:  # "AB" is non-canonical (stray bits)
        with pytest.raises(B64Error):
            b64u_decode(bad)
    with pytest.raises(B64Error):
        b64u_decode(b64u_encode(b"abc"), 4)
