"""The Redis registry and presence against a real redis-server, two clients standing for two nodes."""

import asyncio
import secrets

import pytest

from safemeet.core import wire
from safemeet.core.identity import Identity
from safemeet.core.numbers import is_valid
from safemeet.node.backends import Unavailable
from safemeet.node.presence_redis import RedisPresence
from safemeet.node.redis_store import connect, number_key, sig_key
from safemeet.node.registry import RegistryFull
from safemeet.node.registry_redis import RedisRegistry


@pytest.fixture
async def clients(redis_server):
    """Two independent clients (own pools), as two nodes have."""
    made = [connect(redis_server.url, retries=1) for _ in range(2)]
    yield made
    for client in made:
        await client.aclose()


async def test_same_key_same_number_on_both_and_lookups_agree(clients):
    one, two = RedisRegistry(clients[0]), RedisRegistry(clients[1])
    alice, bob = Identity.generate(), Identity.generate()
    number = await one.register(alice.public)
    assert is_valid(number)
    assert await two.register(alice.public) == number
    assert await two.register(bob.public) != number
    assert await one.lookup(number) == await two.lookup(number) == alice.public
    assert await two.lookup("100000001") is None


async def test_concurrent_registrations_on_two_registries_never_share_a_number(clients):
    # Payloads drawn from 200 values only, so the two sides collide often and must retry.
    def randbelow(_n: int) -> int:
        return secrets.randbelow(200)

    one, two = RedisRegistry(clients[0], randbelow), RedisRegistry(clients[1], randbelow)
    identities = [Identity.generate() for _ in range(120)]
    # each identity asks both sides at once: one number per key, never one number for two keys
    numbers = await asyncio.gather(*(side.register(i.public) for i in identities for side in (one, two)))
    per_key = [numbers[k:k + 2] for k in range(0, len(numbers), 2)]
    assert all(a == b for a, b in per_key), "one key got two numbers"
    distinct = {a for a, _ in per_key}
    assert len(distinct) == len(identities), "two keys got one number"
    for identity, (number, _) in zip(identities, per_key):
        assert await one.lookup(number) == identity.public


async def test_new_sealing_key_replaces_the_old_and_keeps_the_number(clients):
    one, two = RedisRegistry(clients[0]), RedisRegistry(clients[1])
    old = Identity.generate()
    number = await one.register(old.public)
    new = Identity(old.signing, Identity.generate().sealing)
    assert await two.register(new.public) == number
    assert await one.lookup(number) == new.public


async def test_delete_on_one_is_seen_by_the_other_and_leaves_nothing(clients):
    one, two = RedisRegistry(clients[0]), RedisRegistry(clients[1])
    alice = Identity.generate()
    number = await one.register(alice.public)
    assert await two.delete(number)
    assert await one.lookup(number) is None
    assert not await one.delete(number)
    assert await clients[0].exists(number_key(number)) == 0
    assert await clients[0].keys("*") == []  # the key's index entry went with it
    assert await one.register(alice.public) != number  # a deleted key gets a fresh number


async def test_stored_data_is_only_number_to_keys(clients):
    registry = RedisRegistry(clients[0])
    alice = Identity.generate()
    number = await registry.register(alice.public)
    keys = sorted(k.decode() for k in await clients[0].keys("*"))
    sig = alice.public.to_json()["sig"]
    assert keys == sorted([number_key(number), sig_key(sig)])
    assert await clients[0].hgetall(number_key(number)) == {
        k.encode(): v.encode() for k, v in alice.public.to_json().items()}
    assert await clients[0].ttl(number_key(number)) == -1  # no expiry: kept until deleted


async def test_no_free_number_raises(clients):
    registry = RedisRegistry(clients[0], randbelow=lambda _n: 0)
    first = Identity.generate().public
    number = await registry.register(first)
    with pytest.raises(RegistryFull):
        await registry.register(Identity.generate().public)
    assert await registry.register(first) == number


class _Endpoint:
    def __init__(self) -> None:
        self.got: list[str] = []
        self.closed: list[tuple[int, bytes]] = []
        self.arrived = asyncio.Event()

    def deliver(self, text: str) -> bool:
        self.got.append(text)
        self.arrived.set()
        return True

    async def close(self, code: int, reason: bytes) -> None:
        self.closed.append((code, reason))
        self.arrived.set()


@pytest.fixture
async def presences(redis_server):
    made, clients = [], []
    for _ in range(2):
        commands, subscriber = connect(redis_server.url, retries=1), connect(redis_server.url, retries=0)
        clients += [commands, subscriber]
        presence = RedisPresence(commands, subscriber)
        presence.start()
        made.append(presence)
    for presence in made:
        await _until(lambda p=presence: p.available)
    yield made
    for presence in made:
        await presence.close()
    for client in clients:
        await client.aclose()


async def _until(check, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_route_reaches_every_node_once_and_counts_nodes(presences):
    one, two = presences
    a1, a2, a3 = _Endpoint(), _Endpoint(), _Endpoint()
    await one.join("a", a1)
    await one.join("a", a2)
    await two.join("a", a3)
    assert await one.route("a", "hi") == 2  # two nodes hold "a"
    await _until(lambda: a1.got and a2.got and a3.got)
    assert await two.route("nobody", "hi") == 0
    await one.leave("a", a1)
    await one.leave("a", a2)
    assert await two.route("a", "again") == 1
    await _until(lambda: a3.got == ["hi", "again"])
    assert a1.got == a2.got == ["hi"]  # exactly once, and nothing after leaving
    await two.leave("a", a3)
    assert await one.route("a", "gone") == 0
    assert one.online() == two.online() == 0


async def test_frames_keep_their_order(presences):
    one, two = presences
    b = _Endpoint()
    await two.join("b", b)
    for k in range(200):
        assert await one.route("b", str(k)) == 1
    await _until(lambda: len(b.got) == 200)
    assert b.got == [str(k) for k in range(200)]


async def test_evict_closes_the_number_on_every_node(presences):
    one, two = presences
    here, there, other = _Endpoint(), _Endpoint(), _Endpoint()
    await one.join("c", here)
    await two.join("c", there)
    await two.join("d", other)
    assert await one.evict("c") == [here]  # this node closes its own
    await asyncio.wait_for(there.arrived.wait(), 10)
    assert there.closed == [(wire.DELETED_CLOSE_CODE, wire.DELETED_REASON.encode())]
    assert here.closed == [] and other.closed == []
    await _until(lambda: two.online() == 1)
    assert await one.route("c", "late") == 0


async def test_outage_is_unavailable_and_subscriptions_come_back(redis_server, presences):
    one, two = presences
    kept = _Endpoint()
    await two.join("e", kept)
    await redis_server.stop()
    with pytest.raises(Unavailable):
        await one.route("e", "lost")
    await _until(lambda: not two.available)
    with pytest.raises(Unavailable):
        await two.join("f", _Endpoint())
    assert two.online() == 1  # the failed join kept nothing; the connected one stays
    await redis_server.start()
    await _until(lambda: one.available and two.available)
    assert await one.route("e", "back") == 1  # "e" was subscribed again without a new join
    await _until(lambda: kept.got == ["back"])
