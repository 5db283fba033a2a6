"""The registry in Redis, shared by every node of a deployment (``serve --redis``).

Two kinds of keys, the same facts as the SQLite table: ``num:<number>`` (hash of the b64u
``sig``, ``seal``, ``bind``) and ``sig:<sig>`` (the number that identity key holds). A Lua
script claims a number and its key in one atomic step, so two nodes registering at once never
hand one number to two keys, and one key always gets one number whichever node it asks.
Every script declares the keys it touches.
"""

import secrets
from collections.abc import Callable

import redis.asyncio as aioredis

from ..core.b64 import b64u_decode, b64u_encode
from ..core.identity import PublicKeys
from ..core.numbers import new_number
from .redis_store import number_key, reachable, sig_key
from .registry import MAX_TRIES, RegistryFull

# KEYS: sig key, number key of the candidate. ARGV: sig, seal, bind, candidate.
# Returns the number the key holds (the candidate when claimed or refreshed), or nil when the
# candidate number belongs to another key.
_CLAIM = """
local held = redis.call('GET', KEYS[1])
if held then
  if held == ARGV[4] then
    redis.call('HSET', KEYS[2], 'seal', ARGV[2], 'bind', ARGV[3])
  end
  return held
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return false
end
redis.call('HSET', KEYS[2], 'sig', ARGV[1], 'seal', ARGV[2], 'bind', ARGV[3])
redis.call('SET', KEYS[1], ARGV[4])
return ARGV[4]
"""

# KEYS: number key, sig key. ARGV: sig. Deletes both only while the number still has that key.
_FORGET = """
if redis.call('HGET', KEYS[1], 'sig') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
"""


class RedisRegistry:
    """``registry.Registry`` on Redis; raises ``backends.Unavailable`` when Redis cannot be reached."""

    def __init__(self, client: aioredis.Redis, randbelow: Callable[[int], int] = secrets.randbelow) -> None:
        self._client = client
        self._randbelow = randbelow
        self._claim = client.register_script(_CLAIM)  # EVALSHA, and EVAL again after a Redis restart
        self._forget = client.register_script(_FORGET)

    async def register(self, keys: PublicKeys) -> str:
        """See ``registry.Registry.register``."""
        sig, seal, bind = b64u_encode(keys.sig), b64u_encode(keys.seal), b64u_encode(keys.bind)
        with reachable():
            held = await self._client.get(sig_key(sig))
            candidate = held.decode() if held else new_number(self._randbelow)
            for _ in range(MAX_TRIES):
                claimed = await self._claim(keys=[sig_key(sig), number_key(candidate)],
                                            args=[sig, seal, bind, candidate])
                if claimed is None:  # the number is someone else's: draw again
                    candidate = new_number(self._randbelow)
                    continue
                number = claimed.decode()
                if number == candidate:
                    return number
                candidate = number  # another node gave this key a number meanwhile: refresh that one
        raise RegistryFull("no free number found")

    async def lookup(self, number: str) -> PublicKeys | None:
        with reachable():
            sig, seal, bind = await self._client.hmget(number_key(number), ["sig", "seal", "bind"])
        if sig is None or seal is None or bind is None:
            return None
        return PublicKeys(sig=b64u_decode(sig.decode(), 32), seal=b64u_decode(seal.decode(), 32),
                          bind=b64u_decode(bind.decode(), 64))

    async def delete(self, number: str) -> bool:
        """See ``registry.Registry.delete``."""
        with reachable():
            sig = await self._client.hget(number_key(number), "sig")
            if sig is None:
                return False
            return bool(await self._forget(keys=[number_key(number), sig_key(sig.decode())], args=[sig]))

    async def close(self) -> None:
        """Nothing of its own to close: the client belongs to whoever opened it."""
