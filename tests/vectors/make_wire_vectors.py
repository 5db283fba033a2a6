"""Writes wire.json: node wire frames and how the node must answer them, for pytest and node --test.

``requests`` are frames a peer sends, each with the parsed request (``ok``) or the error code and
id the node answers with (``error``); ``pad_to`` means "pad the frame with spaces to this many
bytes" (keeps the file small). ``register`` cases carry the challenge nonce; ``replies`` are
frames the node sends, built by ``safemeet.core.wire``. Run from the repository root:
``python tests/vectors/make_wire_vectors.py``.
"""

import hashlib
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "src"))

from safemeet.core import wire  # noqa: E402
from safemeet.core.b64 import b64u_encode  # noqa: E402
from safemeet.core.identity import Identity, PublicKeys, auth_message  # noqa: E402
from safemeet.core.numbers import check_digit  # noqa: E402

N = "12345678" + check_digit("12345678")
BAD_CHECK = N[:8] + str((int(N[8]) + 1) % 10)
ENV = b64u_encode(hashlib.sha256(b"env").digest() * 3)


def _seed(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def _identity(label: str) -> Identity:
    return Identity.from_secrets(_seed(label + "/ed25519"), _seed(label + "/x25519"))


def _ok(name: str, frame: dict, parsed: dict) -> dict:
    return {"name": name, "frame": json.dumps(frame), "ok": parsed}


def _err(name: str, frame: str | dict, code: str, id_: int | None = None, pad_to: int | None = None) -> dict:
    case: dict = {"name": name, "frame": frame if isinstance(frame, str) else json.dumps(frame)}
    if pad_to is not None:
        case["pad_to"] = pad_to
    case["error"] = {"code": code, "id": id_}
    return case


def requests() -> list[dict]:
    ping = {"t": "ping", "id": 1}
    return [
        _ok("ping", {"t": "ping"}, {"t": "ping"}),
        _ok("ping with largest id", {"t": "ping", "id": 2**31 - 1}, {"t": "ping", "id": 2**31 - 1}),
        _ok("lookup", {"t": "lookup", "id": 2, "number": N}, {"t": "lookup", "id": 2, "number": N}),
        _ok("send", {"t": "send", "id": 3, "to": N, "env": ENV}, {"t": "send", "id": 3, "to": N, "env": ENV}),
        {"name": "frame of exactly 65536 bytes", "frame": json.dumps(ping), "pad_to": 65_536, "ok": ping},
        _err("frame of 65537 bytes", ping, "too_large", None, pad_to=65_537),
        _err("not JSON", "{", "bad_message"),
        _err("empty frame", "", "bad_message"),
        _err("array", "[]", "bad_message"),
        _err("duplicate key", '{"t": "ping", "t": "ping"}', "bad_message"),
        _err("NaN", '{"t": "ping", "id": NaN}', "bad_message"),
        _err("no type", {"id": 4}, "bad_message", 4),
        _err("type not a string", {"t": 1, "id": 4}, "bad_message", 4),
        _err("unknown type", {"t": "hello", "id": 5}, "unknown_type", 5),
        _err("server type from a peer", {"t": "msg", "id": 5, "env": ENV}, "unknown_type", 5),
        _err("id as string", {"t": "ping", "id": "1"}, "bad_message"),
        _err("negative id", {"t": "ping", "id": -1}, "bad_message"),
        _err("id too large", {"t": "ping", "id": 2**31}, "bad_message"),
        _err("id boolean", {"t": "ping", "id": True}, "bad_message"),
        _err("id float", {"t": "ping", "id": 1.5}, "bad_message"),
        _err("extra field", {"t": "ping", "id": 6, "x": 0}, "bad_message", 6),
        _err("lookup without number", {"t": "lookup", "id": 7}, "bad_message", 7),
        _err("number as integer", {"t": "lookup", "id": 7, "number": int(N)}, "bad_message", 7),
        _err("wrong check digit", {"t": "lookup", "id": 8, "number": BAD_CHECK}, "invalid_number", 8),
        _err("leading zero", {"t": "lookup", "number": "0" + N[1:]}, "invalid_number"),
        _err("ten digits", {"t": "lookup", "number": N + "0"}, "invalid_number"),
        _err("send without env", {"t": "send", "id": 9, "to": N}, "bad_message", 9),
        _err("send with from", {"t": "send", "to": N, "env": ENV, "from": N}, "bad_message"),
        _err("empty env", {"t": "send", "to": N, "env": ""}, "bad_message"),
        _err("padded env", {"t": "send", "to": N, "env": ENV + "="}, "bad_message"),
        _err("send to bad number", {"t": "send", "id": 10, "to": BAD_CHECK, "env": ENV}, "invalid_number", 10),
        _err("delete without proof", {"t": "delete", "id": 11}, "bad_message", 11),
        _err("delete with short proof", {"t": "delete", "id": 12, "proof": "AAAA"}, "bad_message", 12),
        _err("delete with number", {"t": "delete", "proof": b64u_encode(bytes(64)), "number": N}, "bad_message"),
    ]


def register() -> dict:
    alice, mallory = _identity("alice"), _identity("mallory")
    nonce = _seed("challenge")
    keys = alice.public.to_json()
    good = {"t": "register", "v": 1, "keys": keys, "proof": b64u_encode(alice.auth_proof(nonce))}
    swapped = PublicKeys(alice.public.sig, mallory.public.seal, alice.public.bind)
    cases = [
        {"name": "valid", "frame": json.dumps(good), "result": "registered"},
        {"name": "valid with id", "frame": json.dumps(good | {"id": 1}), "result": "registered"},
        {"name": "proof over another nonce", "result": "unauthorized",
         "frame": json.dumps(good | {"proof": b64u_encode(alice.auth_proof(_seed("other")))})},
        {"name": "proof by another identity", "result": "unauthorized",
         "frame": json.dumps(good | {"proof": b64u_encode(mallory.sign(auth_message(nonce, alice.public)))})},
        {"name": "sealing key not bound", "result": "unauthorized",
         "frame": json.dumps(good | {"keys": swapped.to_json(),
                                     "proof": b64u_encode(alice.sign(auth_message(nonce, swapped)))})},
        {"name": "version 2", "frame": json.dumps(good | {"v": 2}), "result": "unsupported_version"},
        {"name": "version as string", "frame": json.dumps(good | {"v": "1"}), "result": "bad_message"},
        {"name": "short proof", "frame": json.dumps(good | {"proof": "AAAA"}), "result": "bad_message"},
        {"name": "keys missing bind", "result": "bad_message",
         "frame": json.dumps(good | {"keys": {"sig": keys["sig"], "seal": keys["seal"]}})},
    ]
    return {"nonce": b64u_encode(nonce), "cases": cases}


def delete() -> dict:
    """Delete requests on a connection registered as ``keys`` with challenge ``nonce``."""
    alice, mallory = _identity("alice"), _identity("mallory")
    nonce = _seed("challenge")
    proof = alice.sign(wire.delete_message(nonce, alice.public.sig))
    cases = [
        {"name": "valid", "frame": json.dumps(wire.delete_request(proof)), "result": "deleted"},
        {"name": "valid with id", "frame": json.dumps(wire.delete_request(proof, 7)), "result": "deleted"},
        {"name": "proof over another nonce", "result": "unauthorized",
         "frame": json.dumps(wire.delete_request(alice.sign(wire.delete_message(_seed("other"), alice.public.sig))))},
        {"name": "proof by another identity", "result": "unauthorized",
         "frame": json.dumps(wire.delete_request(mallory.sign(wire.delete_message(nonce, alice.public.sig))))},
        {"name": "proof over another identity key", "result": "unauthorized",
         "frame": json.dumps(wire.delete_request(alice.sign(wire.delete_message(nonce, mallory.public.sig))))},
        {"name": "registration proof reused", "result": "unauthorized",
         "frame": json.dumps(wire.delete_request(alice.auth_proof(nonce)))},
    ]
    return {"nonce": b64u_encode(nonce), "keys": alice.public.to_json(),
            "close": {"code": wire.DELETED_CLOSE_CODE, "reason": wire.DELETED_REASON}, "cases": cases}


def replies() -> list[dict]:
    alice = _identity("alice")
    built = [
        wire.challenge(_seed("challenge")),
        wire.registered(N),
        wire.keys(N, alice.public, 2),
        wire.sent(3),
        wire.msg(ENV),
        wire.pong(4),
        wire.pong(),
        wire.error("offline", id_=3),
        wire.error("rate_limited"),
        wire.registered(N, nodes=["https://a.example.org", "http://192.0.2.7:8765"]),
    ]
    return [{"frame": wire.encode(message)} for message in built]


def main() -> None:
    vectors = {
        "about": "Node wire frames and the node's answers (docs/protocol.md); made by make_wire_vectors.py",
        "limits": {"max_frame": wire.MAX_FRAME, "hard_frame": wire.HARD_FRAME, "max_env": wire.MAX_ENV,
                   "rate_bucket": wire.RATE_BUCKET, "rate_per_s": wire.RATE_PER_S,
                   "register_timeout_s": wire.REGISTER_TIMEOUT_S},
        "error_codes": sorted(wire.ERROR_TEXT),
        "requests": requests(),
        "register": register(),
        "delete": delete(),
        "replies": replies(),
    }
    out = pathlib.Path(__file__).with_name("wire.json")
    out.write_text(json.dumps(vectors, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
