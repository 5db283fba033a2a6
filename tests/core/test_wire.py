"""core.wire: limits, strict request parsing, server message builders, the token bucket."""

import json

import pytest

from safemeet.core import wire
from safemeet.core.b64 import b64u_decode, b64u_encode
from safemeet.core.identity import Identity, PublicKeys
from safemeet.core.numbers import check_digit
from safemeet.core.wire import Lookup, Ping, RateLimiter, Register, Send, WireError, parse_client_message

N = "12345678" + check_digit("12345678")
BAD_CHECK = N[:8] + str((int(N[8]) + 1) % 10)
ENV = b64u_encode(b"\x00" * 48)
NONCE = b"\x07" * 32


def frame(**fields) -> str:
    return json.dumps(fields)


def register_frame(identity: Identity, nonce: bytes = NONCE, **overrides) -> str:
    msg = {"t": "register", "v": 1, "keys": identity.public.to_json(), "proof": b64u_encode(identity.auth_proof(nonce))}
    msg.update(overrides)
    return json.dumps(msg)


def code_of(data) -> tuple[str, int | None]:
    with pytest.raises(WireError) as info:
        parse_client_message(data)
    return info.value.code, info.value.id


def test_limits_match_the_spec():
    assert (wire.MAX_FRAME, wire.HARD_FRAME, wire.MAX_ENV) == (65_536, 1_048_576, 60_000)
    assert (wire.RATE_BUCKET, wire.RATE_PER_S, wire.REGISTER_TIMEOUT_S) == (60, 30, 30)
    assert set(wire.ERROR_TEXT) == {
        "bad_message", "unknown_type", "too_large", "unauthorized", "unknown_number",
        "invalid_number", "offline", "rate_limited", "unsupported_version", "internal", "unavailable",
    }


def test_parse_each_request():
    assert parse_client_message(frame(t="ping")) == Ping(None)
    assert parse_client_message(frame(t="ping", id=0)) == Ping(0)
    assert parse_client_message(frame(t="lookup", id=2**31 - 1, number=N)) == Lookup(N, 2**31 - 1)
    assert parse_client_message(frame(t="send", id=3, to=N, env=ENV)) == Send(N, ENV, 3)
    ident = Identity.generate()
    reg = parse_client_message(register_frame(ident, id=4))
    assert isinstance(reg, Register) and reg.keys == ident.public and reg.id == 4
    wire.check_register(reg, NONCE)


def test_register_proof_and_bind_are_checked():
    ident, other = Identity.generate(), Identity.generate()
    reg = parse_client_message(register_frame(ident, id=1))
    with pytest.raises(WireError) as info:
        wire.check_register(reg, b"\x08" * 32)  # another connection's challenge
    assert (info.value.code, info.value.id) == ("unauthorized", 1)
    swapped = PublicKeys(ident.public.sig, other.public.seal, ident.public.bind)
    forged = parse_client_message(register_frame(ident, keys=swapped.to_json()))
    with pytest.raises(WireError, match="unauthorized"):
        wire.check_register(forged, NONCE)


def test_size_is_checked_before_parsing():
    big = "{" + " " * wire.MAX_FRAME  # not JSON either: the size is what is reported
    assert code_of(big) == ("too_large", None)
    assert code_of(b"x" * (wire.MAX_FRAME + 1)) == ("too_large", None)
    multibyte = '{"t": "ping", "x": "' + "é" * 33_000 + '"}'  # < MAX_FRAME characters, > MAX_FRAME bytes
    assert len(multibyte) < wire.MAX_FRAME and code_of(multibyte)[0] == "too_large"
    exact = frame(t="ping").ljust(wire.MAX_FRAME)
    assert parse_client_message(exact) == Ping(None)


@pytest.mark.parametrize(
    "data",
    ["", "{", "nope", "[]", "1", "null", '"x"', b'{"t": "ping"}', '{"t": "ping", "t": "ping"}',
     '{"t": "ping", "id": NaN}', '{"t": "ping", "id": Infinity}', "[" * 50_000, "1" * 5000],
)
def test_not_a_json_object_is_bad_message(data):
    assert code_of(data) == ("bad_message", None)


@pytest.mark.parametrize("t", ["pong", "msg", "keys", "registered", "error", "x", ""])
def test_unknown_type_keeps_the_id(t):
    assert code_of(frame(t=t, id=5)) == ("unknown_type", 5)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"id": 1}, ("bad_message", 1)),
        ({"t": None}, ("bad_message", None)),
        ({"t": "ping", "id": "1"}, ("bad_message", None)),
        ({"t": "ping", "id": -1}, ("bad_message", None)),
        ({"t": "ping", "id": 2**31}, ("bad_message", None)),
        ({"t": "ping", "id": False}, ("bad_message", None)),
        ({"t": "ping", "id": 1.5}, ("bad_message", None)),
        ({"t": "ping", "id": 1, "x": 0}, ("bad_message", 1)),
        ({"t": "lookup", "id": 1}, ("bad_message", 1)),
        ({"t": "lookup", "id": 1, "number": int(N)}, ("bad_message", 1)),
        ({"t": "lookup", "id": 1, "number": BAD_CHECK}, ("invalid_number", 1)),
        ({"t": "lookup", "number": "0" + N[1:]}, ("invalid_number", None)),
        ({"t": "lookup", "number": N + "0"}, ("invalid_number", None)),
        ({"t": "lookup", "number": "１２３４５６７８９"}, ("invalid_number", None)),
        ({"t": "send", "id": 1, "to": N}, ("bad_message", 1)),
        ({"t": "send", "id": 1, "to": BAD_CHECK, "env": ENV}, ("invalid_number", 1)),
        ({"t": "send", "to": N, "env": ENV, "from": N}, ("bad_message", None)),
        ({"t": "send", "to": N, "env": None}, ("bad_message", None)),
        ({"t": "send", "to": N, "env": ""}, ("bad_message", None)),
        ({"t": "send", "to": N, "env": ENV + "="}, ("bad_message", None)),
        ({"t": "send", "to": N, "env": "A" * 60_001}, ("bad_message", None)),
    ],
)
def test_schemas_are_strict(fields, expected):
    assert code_of(json.dumps(fields)) == expected


def test_largest_env_is_accepted():
    assert parse_client_message(frame(t="send", to=N, env="A" * 60_000)).env == "A" * 60_000


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"v": 2}, "unsupported_version"),
        ({"v": 0, "extra": 1}, "unsupported_version"),  # the version decides which schema applies
        ({"v": "1"}, "bad_message"),
        ({"v": True}, "bad_message"),
        ({"keys": []}, "bad_message"),
        ({"keys": {"sig": "AA", "seal": "AA"}}, "bad_message"),
        ({"proof": b64u_encode(b"\x00" * 63)}, "bad_message"),
        ({"proof": None}, "bad_message"),
        ({"extra": 1}, "bad_message"),
    ],
)
def test_register_schema(overrides, expected):
    assert code_of(register_frame(Identity.generate(), **overrides))[0] == expected


def test_register_keys_must_be_canonical_base64url():
    ident = Identity.generate()
    keys = dict(ident.public.to_json())
    keys["sig"] += "="
    assert code_of(register_frame(ident, keys=keys))[0] == "bad_message"


def test_builders():
    ident = Identity.generate()
    assert wire.challenge(NONCE) == {"t": "challenge", "v": 1, "nonce": b64u_encode(NONCE)}
    assert wire.registered(N) == {"t": "registered", "number": N}
    assert wire.registered(N, 0) == {"t": "registered", "number": N, "id": 0}
    assert wire.keys(N, ident.public, 1) == {"t": "keys", "number": N, "keys": ident.public.to_json(), "id": 1}
    assert wire.sent(2) == {"t": "sent", "id": 2}
    assert wire.msg(ENV) == {"t": "msg", "env": ENV}
    assert wire.pong() == {"t": "pong"}
    offline = {"t": "error", "code": "offline", "message": wire.ERROR_TEXT["offline"], "id": 3}
    assert wire.error("offline", id_=3) == offline
    why = {"t": "error", "code": "bad_message", "message": "why", "id": 4}
    assert wire.error_from(WireError("bad_message", "why", 4)) == why
    assert json.loads(wire.encode(wire.msg(ENV))) == {"t": "msg", "env": ENV}
    assert " " not in wire.encode(wire.sent(1))


def test_rate_limiter_bucket_and_refill():
    limiter = RateLimiter(now=100.0)
    assert all(limiter.allow(100.0) for _ in range(60))
    assert not limiter.allow(100.0) and not limiter.allow(100.0)
    assert limiter.denied_streak == 2
    assert limiter.allow(100.04)  # one token back after 1/30 s
    assert limiter.denied_streak == 0
    assert not limiter.allow(100.04)
    assert sum(limiter.allow(200.0) for _ in range(100)) == 60  # refill is capped at the bucket


def test_rate_limiter_ignores_time_going_backwards():
    limiter = RateLimiter(now=10.0, capacity=2, per_second=1)
    assert limiter.allow(10.0) and limiter.allow(10.0)
    assert not limiter.allow(5.0)
    assert not limiter.allow(10.5)
    assert limiter.allow(11.0)


def _vector_frame(case: dict) -> str:
    return case["frame"].ljust(case["pad_to"]) if "pad_to" in case else case["frame"]


def test_request_vectors(vectors):
    data = vectors("wire.json")
    assert data["error_codes"] == sorted(wire.ERROR_TEXT)
    for case in data["requests"]:
        text = _vector_frame(case)
        if "ok" in case:
            parsed = parse_client_message(text)
            assert json.loads(case["frame"]) == case["ok"], case["name"]
            assert type(parsed).__name__.lower() == case["ok"]["t"], case["name"]
        else:
            assert code_of(text) == (case["error"]["code"], case["error"]["id"]), case["name"]


def test_register_vectors(vectors):
    data = vectors("wire.json")["register"]
    nonce = b64u_decode(data["nonce"], 32)
    for case in data["cases"]:
        try:
            wire.check_register(parse_client_message(case["frame"]), nonce)  # type: ignore[arg-type]
            result = "registered"
        except WireError as exc:
            result = exc.code
        assert result == case["result"], case["name"]


def test_reply_vectors_are_what_the_builders_make(vectors):
    frames = [json.loads(case["frame"]) for case in vectors("wire.json")["replies"]]
    assert {frame["t"] for frame in frames} == {"challenge", "registered", "keys", "sent", "msg", "pong", "error"}
    assert wire.msg(frames[4]["env"]) == frames[4]


def test_delete_vectors(vectors):
    data = vectors("wire.json")["delete"]
    nonce = b64u_decode(data["nonce"], 32)
    keys = PublicKeys.from_json(data["keys"])
    assert data["close"] == {"code": 4000, "reason": "deleted"}
    for case in data["cases"]:
        request = parse_client_message(case["frame"])
        assert isinstance(request, wire.Delete), case["name"]
        try:
            wire.check_delete(request, nonce, keys)
            result = "deleted"
        except WireError as exc:
            result = exc.code
        assert result == case["result"], case["name"]


def test_delete_request_round_trips():
    ident = Identity.generate()
    proof = ident.sign(wire.delete_message(NONCE, ident.public.sig))
    request = parse_client_message(json.dumps(wire.delete_request(proof, 9)))
    assert request == wire.Delete(proof, 9)
    wire.check_delete(request, NONCE, ident.public)
    with pytest.raises(WireError) as info:
        wire.check_delete(request, NONCE, Identity.generate().public)
    assert (info.value.code, info.value.id) == ("unauthorized", 9)


def test_msg_frame_is_the_encoded_msg():
    for env in ("A", "abc-_XYZ019", "x" * wire.MAX_ENV):
        frame = wire.msg_frame(env)
        assert frame == wire.encode(wire.msg(env))
        assert json.loads(frame) == {"t": "msg", "env": env}
