"""Node wire protocol (docs/protocol.md, "Node wire protocol"): limits, parsing, builders.

Sans-I/O: ``parse_client_message`` turns one raw frame into a typed request or raises
``WireError``; the builders return the JSON objects the node sends; ``RateLimiter`` is a
token bucket that is told the time instead of reading a clock.
"""

import json
import re
from dataclasses import dataclass
from typing import Any, NoReturn, Sequence

from .b64 import B64Error, b64u_decode, b64u_encode
from .envelope import MAX_ENV  # largest env in characters, shared with the envelope layer
from .identity import SEAL_KEY_LABEL, PublicKeys, verify_auth_proof
from .numbers import is_valid

VERSION = 1
MAX_FRAME = 65_536  # largest frame the node parses (bytes)
HARD_FRAME = 1 << 20  # largest frame the node accepts at all (bytes); larger closes with 1009
RATE_BUCKET = 60  # messages a connection may burst
RATE_PER_S = 30  # bucket refill per second
ABUSE_LIMIT = 200  # consecutive rate-limited frames before the node closes the connection
REGISTER_TIMEOUT_S = 30  # an unregistered connection is closed after this long
MAX_ID = 2**31 - 1
NONCE_LEN = 32
DELETE_LABEL = b"safemeet/v1/delete\x00"
DELETED_CLOSE_CODE = 4000  # the node closes every connection of a deleted number with this code...
DELETED_REASON = "deleted"  # ...and this reason

BAD_MESSAGE = "bad_message"
UNKNOWN_TYPE = "unknown_type"
TOO_LARGE = "too_large"
UNAUTHORIZED = "unauthorized"
UNKNOWN_NUMBER = "unknown_number"
INVALID_NUMBER = "invalid_number"
OFFLINE = "offline"
RATE_LIMITED = "rate_limited"
UNSUPPORTED_VERSION = "unsupported_version"
INTERNAL = "internal"
UNAVAILABLE = "unavailable"

ERROR_TEXT = {
    BAD_MESSAGE: "the message does not follow the protocol",
    UNKNOWN_TYPE: "unknown message type",
    TOO_LARGE: f"frame larger than {MAX_FRAME} bytes",
    UNAUTHORIZED: "not allowed",
    UNKNOWN_NUMBER: "no identity is registered for that number",
    INVALID_NUMBER: "malformed number or wrong check digit",
    OFFLINE: "that number is not connected",
    RATE_LIMITED: "too many messages, slow down",
    UNSUPPORTED_VERSION: f"this node speaks protocol version {VERSION}",
    INTERNAL: "the node failed",
    UNAVAILABLE: "the node cannot reach its shared registry right now; try again shortly",
}

_ENV_CHARS = re.compile(r"[A-Za-z0-9_-]+")


class WireError(Exception):
    """A request is rejected with one of the protocol's error codes."""

    def __init__(self, code: str, message: str | None = None, id: int | None = None) -> None:
        self.code = code
        self.message = message or ERROR_TEXT[code]
        self.id = id
        super().__init__(f"{code}: {self.message}")


@dataclass(frozen=True)
class Register:
    keys: PublicKeys  # decoded, ``bind`` not yet verified: see ``check_register``
    proof: bytes
    id: int | None = None


@dataclass(frozen=True)
class Lookup:
    number: str
    id: int | None = None


@dataclass(frozen=True)
class Send:
    to: str
    env: str
    id: int | None = None


@dataclass(frozen=True)
class Ping:
    id: int | None = None


@dataclass(frozen=True)
class Delete:
    proof: bytes  # not yet verified: see ``check_delete``
    id: int | None = None


ClientMessage = Register | Lookup | Send | Ping | Delete

# Every field each request type must carry (besides ``t``); ``id`` is always optional.
_FIELDS = {"register": {"v", "keys", "proof"}, "lookup": {"number"}, "send": {"to", "env"}, "ping": set(),
           "delete": {"proof"}}


def frame_size(data: str | bytes) -> int:
    """Size of a frame in bytes as it travelled (UTF-8 for text frames)."""
    if isinstance(data, bytes):
        return len(data)
    if len(data) > MAX_FRAME:  # at least one byte per character: no need to encode
        return len(data)
    return len(data.encode("utf-8", "surrogatepass"))


def parse_client_message(data: str | bytes) -> ClientMessage:
    """Check the size, then parse and validate one frame from a peer; raise WireError."""
    if frame_size(data) > MAX_FRAME:
        raise WireError(TOO_LARGE)
    if not isinstance(data, str):
        raise WireError(BAD_MESSAGE, "frames are JSON text")
    obj = _loads(data)
    if not isinstance(obj, dict):
        raise WireError(BAD_MESSAGE, "a frame is one JSON object")
    id_ = _request_id(obj)
    t = obj.get("t")
    if not isinstance(t, str):
        raise WireError(BAD_MESSAGE, "missing message type", id_)
    if t not in _FIELDS:
        raise WireError(UNKNOWN_TYPE, None, id_)
    if t == "register" and "v" in obj and _is_int(obj["v"]) and obj["v"] != VERSION:
        raise WireError(UNSUPPORTED_VERSION, None, id_)
    fields = set(obj) - {"t", "id"}
    if fields != _FIELDS[t]:
        raise WireError(BAD_MESSAGE, f"{t} needs exactly the fields {sorted(_FIELDS[t])}", id_)
    if t == "register":
        return _register(obj, id_)
    if t == "lookup":
        return Lookup(_number(obj["number"], id_), id_)
    if t == "send":
        return Send(_number(obj["to"], id_), _env(obj["env"], id_), id_)
    if t == "delete":
        try:
            return Delete(b64u_decode(obj["proof"], 64), id_)
        except B64Error as exc:
            raise WireError(BAD_MESSAGE, "proof is base64url of 64 bytes", id_) from exc
    return Ping(id_)


def check_register(msg: Register, nonce: bytes) -> None:
    """Verify ``bind`` and the proof over this connection's challenge; raise WireError."""
    if not msg.keys.verify(SEAL_KEY_LABEL + msg.keys.seal, msg.keys.bind):
        raise WireError(UNAUTHORIZED, "the sealing key is not bound to the identity key", msg.id)
    if not verify_auth_proof(msg.keys, nonce, msg.proof):
        raise WireError(UNAUTHORIZED, "the proof does not answer this challenge", msg.id)


def delete_message(nonce: bytes, sig_pub: bytes) -> bytes:
    """The byte string a delete proof signs: label, this connection's challenge, the identity key."""
    return DELETE_LABEL + nonce + sig_pub


def delete_request(proof: bytes, id_: int | None = None) -> dict[str, Any]:
    """The ``delete`` frame a peer sends (``proof`` signs ``delete_message``)."""
    return _with_id({"t": "delete", "proof": b64u_encode(proof)}, id_)


def check_delete(msg: Delete, nonce: bytes, registered: PublicKeys) -> None:
    """Verify a delete proof over this connection's challenge with the number's registered key."""
    if not registered.verify(delete_message(nonce, registered.sig), msg.proof):
        raise WireError(UNAUTHORIZED, "the proof does not answer this challenge", msg.id)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key")
    return obj


# Made once: json.loads/dumps with options build a new decoder/encoder on every call.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_reject_constant)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _loads(text: str) -> Any:
    try:
        return _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise WireError(BAD_MESSAGE, "not JSON") from exc


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _request_id(obj: dict[str, Any]) -> int | None:
    if "id" not in obj:
        return None
    value = obj["id"]
    if not _is_int(value) or not 0 <= value <= MAX_ID:
        raise WireError(BAD_MESSAGE, f"id must be an integer 0..{MAX_ID}")
    return int(value)


def _number(value: Any, id_: int | None) -> str:
    if not isinstance(value, str):
        raise WireError(BAD_MESSAGE, "a number is a string", id_)
    if not is_valid(value):
        raise WireError(INVALID_NUMBER, None, id_)
    return value


def _env(value: Any, id_: int | None) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ENV or not _ENV_CHARS.fullmatch(value):
        raise WireError(BAD_MESSAGE, f"env is base64url of at most {MAX_ENV} characters", id_)
    return value


def _register(obj: dict[str, Any], id_: int | None) -> Register:
    if not _is_int(obj["v"]):
        raise WireError(BAD_MESSAGE, "v is an integer", id_)
    raw = obj["keys"]
    if not isinstance(raw, dict) or set(raw) != {"sig", "seal", "bind"}:
        raise WireError(BAD_MESSAGE, "keys needs exactly sig, seal and bind", id_)
    try:
        public = PublicKeys(
            sig=b64u_decode(raw["sig"], 32), seal=b64u_decode(raw["seal"], 32), bind=b64u_decode(raw["bind"], 64)
        )
        proof = b64u_decode(obj["proof"], 64)
    except B64Error as exc:
        raise WireError(BAD_MESSAGE, "keys and proof are base64url of the right length", id_) from exc
    return Register(public, proof, id_)


# --- messages the node sends -------------------------------------------------------------


def _with_id(msg: dict[str, Any], id_: int | None) -> dict[str, Any]:
    if id_ is not None:
        msg["id"] = id_
    return msg


def challenge(nonce: bytes) -> dict[str, Any]:
    return {"t": "challenge", "v": VERSION, "nonce": b64u_encode(nonce)}


def registered(number: str, id_: int | None = None, ice_servers: list[dict[str, Any]] | None = None,
               nodes: Sequence[str] = ()) -> dict[str, Any]:
    """``registered``; with ``ice_servers`` when the node offers a TURN relay (core.turn), and with
    ``nodes`` (the deployment's node base URLs, this one included) when it has a node list."""
    msg: dict[str, Any] = {"t": "registered", "number": number}
    if ice_servers:
        msg["ice_servers"] = ice_servers
    if nodes:
        msg["nodes"] = list(nodes)
    return _with_id(msg, id_)


def keys(number: str, public: PublicKeys, id_: int | None = None) -> dict[str, Any]:
    return _with_id({"t": "keys", "number": number, "keys": public.to_json()}, id_)


def sent(id_: int | None = None) -> dict[str, Any]:
    return _with_id({"t": "sent"}, id_)


def msg(env: str) -> dict[str, Any]:
    """What every connection of the recipient receives: the envelope and nothing else."""
    return {"t": "msg", "env": env}


def msg_frame(env: str) -> str:
    """``encode(msg(env))`` for a checked ``env`` (base64url: nothing to escape), built directly
    because the node writes one per routed envelope."""
    return '{"t":"msg","env":"' + env + '"}'



def pong(id_: int | None = None) -> dict[str, Any]:
    return _with_id({"t": "pong"}, id_)


def error(code: str, message: str | None = None, id_: int | None = None) -> dict[str, Any]:
    return _with_id({"t": "error", "code": code, "message": message or ERROR_TEXT[code]}, id_)


def error_from(exc: WireError) -> dict[str, Any]:
    return error(exc.code, exc.message, exc.id)


def encode(message: dict[str, Any]) -> str:
    """Serialise a server message as one compact JSON text frame."""
    return _ENCODER.encode(message)


class RateLimiter:
    """Token bucket: ``capacity`` messages at once, refilled at ``per_second``; time is passed in."""

    def __init__(self, now: float, capacity: float = RATE_BUCKET, per_second: float = RATE_PER_S) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self.tokens = float(capacity)
        self.updated = now
        self.denied_streak = 0  # consecutive refusals; reset by any allowed message

    def allow(self, now: float) -> bool:
        """Spend one token if there is one; True when the message may be handled."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.per_second)
        self.updated = max(self.updated, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.denied_streak = 0
            return True
        self.denied_streak += 1
        return False
