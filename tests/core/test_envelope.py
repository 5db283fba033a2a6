import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from safemeet.core import envelope
from safemeet.core.envelope import EnvelopeError, ReplayGuard
from safemeet.core.identity import Identity, PublicKeys


def _identity(party: dict) -> Identity:
    return Identity.from_secrets(bytes.fromhex(party["ed25519_seed"]), bytes.fromhex(party["x25519_private"]))


def test_vectors_seal_byte_exact_and_open(vectors):
    data = vectors("envelope.json")
    assert data["hpke_info"] == envelope.HPKE_INFO.decode()
    for case in data["cases"]:
        sender, recipient = _identity(case["sender"]), _identity(case["recipient"])
        assert sender.public.to_json() == case["sender"]["keys"]
        assert recipient.public.to_json() == case["recipient"]["keys"]
        eph = X25519PrivateKey.from_private_bytes(bytes.fromhex(case["ephemeral_private"]))
        assert envelope.seal(sender, recipient.public, case["payload_utf8"].encode(), eph) == case["env"]
        opened = envelope.open_envelope(recipient, case["recipient"]["number"], case["env"])
        assert opened.payload.decode() == case["payload_utf8"]
        assert opened.signature.hex() == case["signature_hex"]
        msg = envelope.verify(opened, sender.public, case["now_ms"], ReplayGuard())
        assert msg.sender == case["sender"]["number"]


def test_vectors_rejections(vectors):
    data = vectors("envelope.json")
    for case in data["rejects"]:
        me = _identity(case["recipient"])
        with pytest.raises(EnvelopeError) as err:
            opened = envelope.open_envelope(me, case["recipient"]["number"], case["env"])
            envelope.verify(opened, PublicKeys.from_json(case["sender_keys"]), case["now_ms"], ReplayGuard())
        assert err.value.code == case["expect_code"], case["name"]


def test_vectors_replay(vectors):
    data = vectors("envelope.json")
    case = next(c for c in data["cases"] if c["name"] == data["replay"]["case"])
    me, guard = _identity(case["recipient"]), ReplayGuard()
    sender = PublicKeys.from_json(case["sender"]["keys"])
    envelope.verify(envelope.open_envelope(me, case["recipient"]["number"], case["env"]), sender, case["now_ms"], guard)
    with pytest.raises(EnvelopeError, match="replayed"):
        envelope.verify(envelope.open_envelope(me, case["recipient"]["number"], case["env"]), sender,
                        case["now_ms"] + 5, guard)


def test_round_trip_with_random_ephemeral_and_unicode():
    alice, bob = Identity.generate(), Identity.generate()
    inner = envelope.make_inner("offer", envelope.new_call_id(), "123456786", "987654329",
                                {"sdp": "v=0 👩‍👩‍👧 שלום e\u0301"}, 1000)
    env = envelope.seal(alice, bob.public, inner)
    msg = envelope.verify(envelope.open_envelope(bob, "987654329", env), alice.public, 1500, ReplayGuard())
    assert msg.body == inner["body"] and msg.type == "offer"


def test_replay_guard_forgets_after_window_and_is_bounded():
    guard = ReplayGuard(window_ms=100, max_entries=3)
    assert guard.check_and_remember("a", "n1", 0)
    assert not guard.check_and_remember("a", "n1", 50)
    assert guard.check_and_remember("b", "n1", 50)
    assert guard.check_and_remember("a", "n1", 201)
    for i in range(10):
        guard.check_and_remember("c", f"x{i}", 300)
    assert len(guard._seen) <= 3


@pytest.mark.parametrize("type_, body", [
    ("ring", {"media": {"audio": True}, "sdp": "x"}),
    ("ring", {"media": {"audio": 1, "video": True}, "sdp": "x"}),
    ("accept", {"sdp": ""}),
    ("accept", {"sdp": "x" * 32_001}),
    ("ice", {"candidate": 5, "sdpMid": None, "sdpMLineIndex": None}),
    ("ice", {"candidate": None, "sdpMid": None, "sdpMLineIndex": True}),
    ("cancel", {"reason": "bored"}),
    ("hangup", {"extra": 1}),
    ("dance", {}),
])
def test_body_schema_rejects(type_, body):
    with pytest.raises(EnvelopeError, match="malformed"):
        envelope.check_body(type_, body)
