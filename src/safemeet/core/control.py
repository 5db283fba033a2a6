"""Call control between the two peers of a connected call, on the "control" data channel.

Each message is one small JSON object: ``{"t":"ping"}`` (keepalive, every second),
``{"t":"hangup"}`` and ``{"t":"screen","on":true|false}`` (the sender started or stopped sharing
its screen). The channel belongs to the call's own DTLS connection, so only the peer can write it.
The browser's ``control.js`` parses the same messages; ``tests/vectors/control.json`` holds both.
"""

import json
from typing import Any

MAX_CONTROL_CHARS = 256  # real messages are a few dozen characters


def encode_control(kind: str, on: bool | None = None) -> str:
    """The wire text of one control message."""
    message: dict[str, Any] = {"t": kind}
    if on is not None:
        message["on"] = on
    return json.dumps(message, separators=(",", ":"))


def parse_control(data: str | bytes) -> dict[str, Any] | None:
    """One control message as ``{"t": ..., "on"?: bool}``; None when it is not one we know."""
    if not isinstance(data, str) or len(data) > MAX_CONTROL_CHARS:
        return None
    try:
        message = json.loads(data)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    kind = message.get("t")
    if kind in ("ping", "hangup"):
        return {"t": kind}
    if kind == "screen" and isinstance(message.get("on"), bool):
        return {"t": "screen", "on": message["on"]}
    return None
