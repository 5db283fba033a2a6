"""Safety numbers: 60 digits both parties compute from both numbers and identity keys.

Each party's half is 30 digits derived from its number and Ed25519 key by iterated SHA-512; the
two halves are sorted and joined, so both sides see the same 60 digits. Comparing them (by eye,
or by scanning a QR code) proves that neither the node nor anyone else swapped a key.
Specified in docs/security.md; ``tests/vectors/safety.json`` is read by pytest and node --test.
"""

import hashlib

LABEL = b"safemeet/v1/safety\x00"
ITERATIONS = 5200
DIGITS_PER_HALF = 30


def half(number: str, sig_key: bytes) -> str:
    """The 30-digit half of one party."""
    if len(sig_key) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    digest = hashlib.sha512(LABEL + number.encode("ascii") + sig_key).digest()
    for _ in range(ITERATIONS - 1):
        digest = hashlib.sha512(digest + sig_key).digest()
    chunks = (int.from_bytes(digest[i : i + 5], "big") % 100_000 for i in range(0, 30, 5))
    return "".join(f"{c:05d}" for c in chunks)


def safety_number(number_a: str, key_a: bytes, number_b: str, key_b: bytes) -> str:
    """The 60-digit safety number of two parties (the same whichever side computes it)."""
    return "".join(sorted((half(number_a, key_a), half(number_b, key_b))))


def groups(digits: str) -> list[str]:
    """Groups of five for display: twelve groups for a safety number."""
    return [digits[i : i + 5] for i in range(0, len(digits), 5)]


def matches(expected: str, typed: str) -> bool:
    """Whether what a user typed (spaces and line breaks allowed) is this safety number."""
    return "".join(ch for ch in typed if not ch.isspace()) == expected
