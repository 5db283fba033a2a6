"""Envelopes: call messages signed by the sender and sealed to the recipient (docs/protocol.md)."""

import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from . import hpke
from .b64 import B64Error, b64u_decode, b64u_encode
from .identity import Identity, PublicKeys
from .numbers import is_valid

VERSION = 1
SIGN_LABEL = b"safemeet/v1/envelope\x00"
HPKE_INFO = b"safemeet/v1/envelope"
FRESHNESS_MS = 60_000
REPLAY_WINDOW_MS = 120_000
MAX_SDP = 32_000
MAX_ENV = 60_000
_SIG_LEN = 64
_INNER_FIELDS = {"v", "type", "call", "from", "to", "ts", "nonce", "body"}

TYPES = ("ring", "accept", "decline", "busy", "cancel", "ice", "offer", "answer", "hangup")


class EnvelopeError(ValueError):
    """An envelope was rejected; ``code`` is one of the codes in docs/protocol.md."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Opened:
    """An envelope decrypted and addressed to us, not yet verified."""

    inner: dict[str, Any]
    payload: bytes
    signature: bytes

    @property
    def sender(self) -> str:
        return self.inner["from"]


@dataclass(frozen=True)
class Message:
    """A verified call message."""

    type: str
    call: str
    sender: str
    to: str
    ts: int
    body: dict[str, Any]


def new_call_id() -> str:
    return b64u_encode(os.urandom(16))


def make_inner(type_: str, call: str, sender: str, to: str, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
    check_body(type_, body)
    return {
        "v": VERSION,
        "type": type_,
        "call": call,
        "from": sender,
        "to": to,
        "ts": now_ms,
        "nonce": b64u_encode(os.urandom(16)),
        "body": body,
    }


def seal(
    sender: Identity,
    recipient: PublicKeys,
    inner: dict[str, Any] | bytes,
    ephemeral: X25519PrivateKey | None = None,
) -> str:
    """Sign and seal an inner message (a dict, or its exact JSON bytes) into an ``env`` string."""
    payload = inner if isinstance(inner, bytes) else json.dumps(inner, ensure_ascii=False, separators=(",", ":")).encode()
    signature = sender.sign(SIGN_LABEL + payload)
    enc, ct = hpke.seal_base(recipient.seal, HPKE_INFO, b"", signature + payload, ephemeral)
    return b64u_encode(enc + ct)


def open_envelope(me: Identity, my_number: str, env: str) -> Opened:
    """Steps 1-3 of the receiver's checks: decrypt, parse, check the addressee."""
    if not isinstance(env, str) or len(env) > MAX_ENV:
        raise EnvelopeError("malformed", "envelope is not a string of allowed size")
    try:
        raw = b64u_decode(env)
        if len(raw) < hpke.N_ENC + 16 + _SIG_LEN:
            raise EnvelopeError("undecryptable", "envelope too short")
        plain = hpke.open_base(raw[: hpke.N_ENC], me.sealing, HPKE_INFO, b"", raw[hpke.N_ENC :])
    except (B64Error, hpke.HpkeError) as exc:
        raise EnvelopeError("undecryptable", "cannot decrypt envelope") from exc
    if len(plain) <= _SIG_LEN:
        raise EnvelopeError("malformed", "no payload")
    signature, payload = plain[:_SIG_LEN], plain[_SIG_LEN:]
    inner = _parse_inner(payload)
    if inner["to"] != my_number:
        raise EnvelopeError("misaddressed", "envelope is addressed to another number")
    return Opened(inner, payload, signature)


def _parse_inner(payload: bytes) -> dict[str, Any]:
    try:
        inner = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise EnvelopeError("malformed", "payload is not JSON") from exc
    if not isinstance(inner, dict):
        raise EnvelopeError("malformed", "payload is not an object")
    if "v" in inner and not (type(inner["v"]) is int and inner["v"] == VERSION):
        raise EnvelopeError("unsupported_version", f"envelope version {inner['v']!r} is not spoken here")
    if set(inner) != _INNER_FIELDS:
        raise EnvelopeError("malformed", "payload fields are wrong")
    ok = (
        inner["type"] in TYPES
        and _is_id(inner["call"], 16)
        and _is_id(inner["nonce"], 16)
        and is_valid(inner["from"])
        and is_valid(inner["to"])
        and type(inner["ts"]) is int
        and isinstance(inner["body"], dict)
    )
    if not ok:
        raise EnvelopeError("malformed", "payload field has a wrong type or value")
    return inner


def _is_id(value: Any, length: int) -> bool:
    try:
        b64u_decode(value, length)
    except B64Error:
        return False
    return True


class ReplayGuard:
    """Remembers (sender, nonce) pairs for the replay window, bounded in size."""

    def __init__(self, window_ms: int = REPLAY_WINDOW_MS, max_entries: int = 100_000) -> None:
        self._seen: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._window = window_ms
        self._max = max_entries

    def check_and_remember(self, sender: str, nonce: str, now_ms: int) -> bool:
        """False when the pair was seen inside the window; remembers it otherwise."""
        while self._seen:
            key, seen_at = next(iter(self._seen.items()))
            if now_ms - seen_at <= self._window and len(self._seen) < self._max:
                break
            del self._seen[key]
        if (sender, nonce) in self._seen:
            return False
        self._seen[(sender, nonce)] = now_ms
        return True

    def clear(self) -> None:
        self._seen.clear()


def verify(opened: Opened, sender_keys: PublicKeys, now_ms: int, guard: ReplayGuard) -> Message:
    """Steps 4-7: signature, freshness, replay, body schema."""
    if not sender_keys.verify(SIGN_LABEL + opened.payload, opened.signature):
        raise EnvelopeError("bad_signature", "signature does not verify")
    inner = opened.inner
    if abs(now_ms - inner["ts"]) > FRESHNESS_MS:
        raise EnvelopeError("stale", "timestamp outside the freshness window")
    check_body(inner["type"], inner["body"])
    if not guard.check_and_remember(inner["from"], inner["nonce"], now_ms):
        raise EnvelopeError("replayed", "this envelope was already received")
    return Message(inner["type"], inner["call"], inner["from"], inner["to"], inner["ts"], inner["body"])


def _is_sdp(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_SDP


def _opt(value: Any, kind: type) -> bool:
    return value is None or (type(value) is kind)


def check_body(type_: str, body: Any) -> None:
    """Raise EnvelopeError('malformed') unless ``body`` fits the schema of ``type_``."""
    if not isinstance(body, dict):
        raise EnvelopeError("malformed", "body is not an object")
    keys = set(body)
    if type_ == "ring":
        media = body.get("media")
        ok = (
            keys == {"media", "sdp"}
            and isinstance(media, dict)
            and set(media) == {"audio", "video"}
            and all(type(media[k]) is bool for k in media)
            and _is_sdp(body["sdp"])
        )
    elif type_ in ("accept", "offer", "answer"):
        ok = keys == {"sdp"} and _is_sdp(body["sdp"])
    elif type_ in ("decline", "busy", "hangup"):
        ok = not keys
    elif type_ == "cancel":
        ok = keys == {"reason"} and body["reason"] in ("cancelled", "timeout")
    elif type_ == "ice":
        ok = (
            keys == {"candidate", "sdpMid", "sdpMLineIndex"}
            and _opt(body["candidate"], str)
            and len(body["candidate"] or "") <= 2000
            and _opt(body["sdpMid"], str)
            and _opt(body["sdpMLineIndex"], int)
        )
    else:
        raise EnvelopeError("malformed", f"unknown message type {type_!r}")
    if not ok:
        raise EnvelopeError("malformed", f"body does not fit a {type_} message")
