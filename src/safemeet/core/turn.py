"""Short-lived TURN credentials in the TURN REST scheme (coturn's ``use-auth-secret``).

The node and the TURN server share a secret; the node mints a username ``<expiry>:<random>``
and the password ``base64(HMAC-SHA1(secret, username))`` for each authenticated connection, so
the TURN server can check them without knowing anyone. The random part is not the number: the
TURN server's logs learn nothing about who relays.
"""

import base64
import hashlib
import hmac
from typing import Any


def rest_credentials(secret: str, ttl_s: int, now_s: int, tag: str) -> tuple[str, str]:
    """(username, password) valid until ``now_s + ttl_s``."""
    username = f"{now_s + ttl_s}:{tag}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers(urls: tuple[str, ...], secret: str, ttl_s: int, now_s: int, tag: str) -> list[dict[str, Any]]:
    """The ``ice_servers`` list a ``registered`` reply carries (RTCIceServer dictionaries)."""
    username, credential = rest_credentials(secret, ttl_s, now_s, tag)
    return [{"urls": list(urls), "username": username, "credential": credential}]


def check_ice_servers(value: Any) -> list[dict[str, Any]]:
    """Validate a received ``ice_servers`` list; raise ValueError if it is malformed."""
    if not isinstance(value, list) or len(value) > 8:
        raise ValueError("ice_servers must be a short list")
    out = []
    for server in value:
        if not isinstance(server, dict) or not set(server) <= {"urls", "username", "credential"}:
            raise ValueError("an ICE server is an object with urls, username and credential")
        urls = server.get("urls")
        if not (isinstance(urls, list) and urls and all(isinstance(u, str) and u.startswith(("turn:", "turns:", "stun:"))
                                                        for u in urls)):
            raise ValueError("ICE server urls must be turn:, turns: or stun: URLs")
        if not all(isinstance(server.get(k, ""), str) for k in ("username", "credential")):
            raise ValueError("ICE server username and credential are strings")
        out.append(dict(server))
    return out
