"""Writes envelope.json: deterministic sign+seal cases and rejections, read by pytest and node --test.

Ed25519 signatures are deterministic and HPKE is given a fixed ephemeral key, so every field of
every case is reproducible byte for byte. Run from the repository root:
``python tests/vectors/make_envelope_vectors.py``.
"""

import hashlib
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "src"))

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey  # noqa: E402

from safemeet.core import envelope  # noqa: E402
from safemeet.core.b64 import b64u_decode, b64u_encode  # noqa: E402
from safemeet.core.identity import Identity  # noqa: E402

NOW_MS = 1_764_790_000_000
ALICE_NUMBER = "123456786"
BOB_NUMBER = "987654329"
CAROL_NUMBER = "555123456"


def _seed(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def _party(label: str, number: str) -> tuple[Identity, dict]:
    ed, x = _seed(label + "/ed25519"), _seed(label + "/x25519")
    ident = Identity.from_secrets(ed, x)
    return ident, {"ed25519_seed": ed.hex(), "x25519_private": x.hex(), "number": number,
                   "keys": ident.public.to_json()}


def _payload(type_: str, body: dict, sender: str, to: str, ts: int, n: int) -> bytes:
    inner = {"v": 1, "type": type_, "call": b64u_encode(_seed("call")[:16]), "from": sender, "to": to,
             "ts": ts, "nonce": b64u_encode(_seed(f"nonce{n}")[:16]), "body": body}
    return json.dumps(inner, ensure_ascii=False, separators=(",", ":")).encode()


def build() -> dict:
    alice, alice_j = _party("alice", ALICE_NUMBER)
    bob, bob_j = _party("bob", BOB_NUMBER)
    carol, carol_j = _party("carol", CAROL_NUMBER)
    eph = _seed("ephemeral")
    sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 AB:CD\r\n"
    bodies = [
        ("ring", {"media": {"audio": True, "video": True}, "sdp": sdp}),
        ("accept", {"sdp": sdp}),
        ("ice", {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0",
                 "sdpMLineIndex": 0}),
        ("ice", {"candidate": None, "sdpMid": None, "sdpMLineIndex": None}),
        ("hangup", {}),
        ("cancel", {"reason": "timeout"}),
    ]
    cases = []
    for n, (type_, body) in enumerate(bodies):
        payload = _payload(type_, body, ALICE_NUMBER, BOB_NUMBER, NOW_MS, n)
        env = envelope.seal(alice, bob.public, payload, X25519PrivateKey.from_private_bytes(eph))
        signature = alice.sign(envelope.SIGN_LABEL + payload)
        cases.append({"name": f"{type_}-{n}", "sender": alice_j, "recipient": bob_j,
                      "ephemeral_private": eph.hex(), "payload_utf8": payload.decode(),
                      "signature_hex": signature.hex(), "now_ms": NOW_MS, "env": env})

    def reject(name: str, env: str, code: str, now_ms: int = NOW_MS) -> dict:
        return {"name": name, "env": env, "recipient": bob_j, "sender_keys": alice_j["keys"],
                "now_ms": now_ms, "expect_code": code}

    good = cases[0]["env"]
    raw = bytearray(b64u_decode(good))
    raw[40] ^= 1
    rejects = [
        reject("tampered-ciphertext", b64u_encode(bytes(raw)), "undecryptable"),
        reject("not-base64", "!!!", "undecryptable"),
        reject("truncated", good[:40], "undecryptable"),
        reject("sealed-to-carol", envelope.seal(alice, carol.public, _payload("hangup", {}, ALICE_NUMBER, BOB_NUMBER, NOW_MS, 10),
                                                X25519PrivateKey.from_private_bytes(eph)), "undecryptable"),
        reject("misaddressed", envelope.seal(alice, bob.public, _payload("hangup", {}, ALICE_NUMBER, CAROL_NUMBER, NOW_MS, 11),
                                             X25519PrivateKey.from_private_bytes(eph)), "misaddressed"),
        reject("signed-by-carol", envelope.seal(carol, bob.public, _payload("hangup", {}, ALICE_NUMBER, BOB_NUMBER, NOW_MS, 12),
                                                X25519PrivateKey.from_private_bytes(eph)), "bad_signature"),
        reject("stale", good, "stale", NOW_MS + 61_000),
        reject("future", good, "stale", NOW_MS - 61_000),
        reject("bad-body", envelope.seal(alice, bob.public, _payload("hangup", {"x": 1}, ALICE_NUMBER, BOB_NUMBER, NOW_MS, 13),
                                         X25519PrivateKey.from_private_bytes(eph)), "malformed"),
        reject("unknown-type", envelope.seal(alice, bob.public, _payload("dance", {}, ALICE_NUMBER, BOB_NUMBER, NOW_MS, 14),
                                             X25519PrivateKey.from_private_bytes(eph)), "malformed"),
        reject("version-2", envelope.seal(alice, bob.public, json.dumps({"v": 2}).encode(),
                                          X25519PrivateKey.from_private_bytes(eph)), "unsupported_version"),
        reject("not-json", envelope.seal(alice, bob.public, b"\xff\xfe not json",
                                         X25519PrivateKey.from_private_bytes(eph)), "malformed"),
    ]
    return {
        "about": "safemeet envelope v1 vectors; see docs/protocol.md. HPKE suite 0x0020/0x0001/0x0001, "
                 "info 'safemeet/v1/envelope', empty aad; signature over 'safemeet/v1/envelope\\0' || payload.",
        "hpke_info": envelope.HPKE_INFO.decode(),
        "cases": cases,
        "replay": {"note": "opening and verifying cases[0] twice with one replay guard: the second is 'replayed'",
                   "case": cases[0]["name"], "expect_code": "replayed"},
        "rejects": rejects,
    }


if __name__ == "__main__":
    path = pathlib.Path(__file__).parent / "envelope.json"
    path.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n")
