import importlib.util
import pathlib

import pytest

from safemeet.core import safety
from safemeet.core.identity import Identity

GEN = pathlib.Path(__file__).parents[1] / "vectors" / "make_safety_vectors.py"


def test_vectors(vectors):
    data = vectors("safety.json")
    assert data["iterations"] == safety.ITERATIONS
    for h in data["halves"]:
        assert safety.half(h["number"], bytes.fromhex(h["sig"])) == h["half"]
    for p in data["pairs"]:
        a, b = p["a"], p["b"]
        ab = safety.safety_number(a["number"], bytes.fromhex(a["sig"]), b["number"], bytes.fromhex(b["sig"]))
        assert ab == p["safety_number"] and safety.groups(ab) == p["groups"]


def test_vector_file_is_current(vectors):
    spec = importlib.util.spec_from_file_location("gen", GEN)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert vectors("safety.json") == gen.build()


def test_same_for_both_sides_and_sensitive_to_every_input():
    a, b, c = (Identity.generate().public.sig for _ in range(3))
    n = safety.safety_number("123456786", a, "987654329", b)
    assert n == safety.safety_number("987654329", b, "123456786", a)
    assert len(n) == 60 and n.isdigit() and len(safety.groups(n)) == 12
    assert n != safety.safety_number("123456786", a, "987654329", c)  # swapped key
    assert n != safety.safety_number("123456786", a, "555123456", b)  # other number


def test_typed_value_matching():
    n = safety.safety_number("123456786", bytes(32), "987654329", bytes(range(32)))
    assert safety.matches(n, " ".join(safety.groups(n)))
    assert safety.matches(n, "\n".join(safety.groups(n)))
    assert not safety.matches(n, n[:-1] + str((int(n[-1]) + 1) % 10))


def test_rejects_wrong_key_length():
    with pytest.raises(ValueError):
        safety.half("123456786", b"short")
