"""Base64url without padding, the only byte encoding used on the wire."""

import base64
import binascii
import re

_ALPHABET = re.compile(r"^[A-Za-z0-9_-]*$")


class B64Error(ValueError):
    """The text is not strict unpadded base64url."""


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str, length: int | None = None) -> bytes:
    """Decode strict unpadded base64url; with ``length``, demand exactly that many bytes."""
    if not isinstance(text, str) or not _ALPHABET.match(text) or len(text) % 4 == 1:
        raise B64Error("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise B64Error("not base64url") from exc
    if b64u_encode(data) != text:
        raise B64Error("non-canonical base64url")
    if length is not None and len(data) != length:
        raise B64Error(f"expected {length} bytes, got {len(data)}")
    return data
