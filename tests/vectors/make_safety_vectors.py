"""Writes safety.json: safety numbers for fixed keys, read by pytest and node --test.

Run from the repository root: ``python tests/vectors/make_safety_vectors.py``.
"""

import hashlib
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "src"))

from safemeet.core import safety  # noqa: E402
from safemeet.core.identity import Identity  # noqa: E402


def _identity(label: str) -> Identity:
    return Identity.from_secrets(hashlib.sha256(f"{label}/ed25519".encode()).digest(),
                                 hashlib.sha256(f"{label}/x25519".encode()).digest())


def build() -> dict:
    parties = [("alice", "123456786"), ("bob", "987654329"), ("carol", "555123456")]
    keys = {name: _identity(name).public.sig for name, _ in parties}
    numbers = dict(parties)
    halves = [{"number": numbers[n], "sig": keys[n].hex(), "half": safety.half(numbers[n], keys[n])}
              for n in numbers]
    pairs = []
    for a, b in (("alice", "bob"), ("bob", "carol"), ("alice", "carol")):
        digits = safety.safety_number(numbers[a], keys[a], numbers[b], keys[b])
        pairs.append({"a": {"number": numbers[a], "sig": keys[a].hex()},
                      "b": {"number": numbers[b], "sig": keys[b].hex()},
                      "safety_number": digits, "groups": safety.groups(digits)})
    return {"about": "safemeet safety numbers v1; see docs/security.md",
            "iterations": safety.ITERATIONS, "halves": halves, "pairs": pairs}


if __name__ == "__main__":
    (pathlib.Path(__file__).parent / "safety.json").write_text(json.dumps(build(), indent=1) + "\n")
