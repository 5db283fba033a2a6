"""The embedded registry (SQLite) and in-process presence, without a network."""

import itertools

import pytest

from safemeet.core.identity import Identity
from safemeet.core.numbers import PAYLOAD_MIN, is_valid
from safemeet.node.hub import LocalPresence
from safemeet.node.registry import RegistryFull, SqliteRegistry


@pytest.fixture
async def registry(tmp_path):
    reg = SqliteRegistry.open(tmp_path / "data")
    yield reg
    await reg.close()


async def test_register_is_idempotent_per_identity_key(registry):
    alice, bob = Identity.generate(), Identity.generate()
    number = await registry.register(alice.public)
    assert is_valid(number)
    assert await registry.register(alice.public) == number
    assert await registry.register(bob.public) != number
    assert await registry.lookup(number) == alice.public


async def test_lookup_unknown_is_none(registry):
    assert await registry.lookup("100000001") is None


async def test_numbers_survive_a_restart(tmp_path):
    alice = Identity.generate()
    first = SqliteRegistry.open(tmp_path)
    number = await first.register(alice.public)
    await first.close()
    second = SqliteRegistry.open(tmp_path)
    try:
        assert await second.register(alice.public) == number
        assert await second.lookup(number) == alice.public
    finally:
        await second.close()


async def test_collisions_are_retried(tmp_path):
    draws = itertools.chain([0, 0, 0, 5], itertools.repeat(7))
    reg = SqliteRegistry(tmp_path / "r.sqlite3", randbelow=lambda _n: next(draws))
    try:
        first = await reg.register(Identity.generate().public)
        second = await reg.register(Identity.generate().public)  # draws 0 (taken), 0 (taken), 5
        assert first.startswith(str(PAYLOAD_MIN)) and second.startswith(str(PAYLOAD_MIN + 5))
    finally:
        await reg.close()


async def test_no_free_number_raises_and_leaves_no_trace(tmp_path):
    reg = SqliteRegistry(tmp_path / "r.sqlite3", randbelow=lambda _n: 0)
    try:
        first = Identity.generate().public
        number = await reg.register(first)
        with pytest.raises(RegistryFull):
            await reg.register(Identity.generate().public)
        assert await reg.register(first) == number  # the failed transaction was rolled back
    finally:
        await reg.close()


async def test_new_sealing_key_for_the_same_identity_replaces_the_old(registry):
    old = Identity.generate()
    number = await registry.register(old.public)
    new = Identity(old.signing, Identity.generate().sealing)
    assert await registry.register(new.public) == number
    assert await registry.lookup(number) == new.public


class _Endpoint:
    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.got: list[str] = []

    def deliver(self, text: str) -> bool:
        self.got.append(text)
        return self.accept


async def test_presence_routes_to_every_endpoint_of_a_number():
    presence = LocalPresence()
    a1, a2, b, full = _Endpoint(), _Endpoint(), _Endpoint(), _Endpoint(accept=False)
    for number, endpoint in (("a", a1), ("a", a2), ("b", b), ("a", full)):
        await presence.join(number, endpoint)
    assert await presence.route("a", "hi") == 2
    assert a1.got == a2.got == ["hi"] and b.got == []
    assert await presence.route("nobody", "hi") == 0
    await presence.leave("a", a1)
    await presence.leave("a", full)
    assert await presence.route("a", "again") == 1 and a1.got == ["hi"]
    await presence.leave("a", a2)
    await presence.leave("a", a2)  # leaving twice is harmless
    assert presence.online() == 1
    await presence.close()
    assert presence.online() == 0
