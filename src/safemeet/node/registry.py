"""The registry: number → public keys, the only thing a node stores.

``Registry`` is the interface the WebSocket handler uses (async, so that a networked store fits);
``SqliteRegistry`` is the embedded default (stdlib sqlite3, one file in the data directory).
``registry_redis.RedisRegistry`` is the shared one for several nodes (``serve --redis``).
"""

import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..core.b64 import b64u_decode, b64u_encode
from ..core.identity import PublicKeys
from ..core.numbers import new_number

FILENAME = "registry.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS registry (
    number TEXT PRIMARY KEY NOT NULL,
    sig    TEXT UNIQUE NOT NULL,
    seal   TEXT NOT NULL,
    bind   TEXT NOT NULL
) WITHOUT ROWID
"""
MAX_TRIES = 100  # a collision needs ~90 million registered numbers to become likely


class RegistryFull(RuntimeError):
    """No free number was found; practically unreachable."""


class Registry(Protocol):
    """Numbers and their keys. Nothing else: no timestamps, no addresses, no counters.

    Implementations that depend on another service raise ``backends.Unavailable`` when it
    cannot be reached; the handler answers ``unavailable`` then.
    """

    async def register(self, keys: PublicKeys) -> str:
        """The number of ``keys.sig``: the one it had before, or a fresh random one.

        Call only with verified keys. Re-registering an identity key with a new sealing key
        (proved by a new ``bind``) replaces the stored sealing key and keeps the number.
        """
        ...

    async def lookup(self, number: str) -> PublicKeys | None: ...

    async def delete(self, number: str) -> bool:
        """Forget ``number`` and its keys; True if it was registered. Its key may register again
        later and then gets a fresh random number."""
        ...

    async def close(self) -> None: ...


class SqliteRegistry:
    """The embedded registry. Each call is one short local transaction, run inline: no I/O wait
    worth handing to a thread, and one connection keeps registrations serialised."""

    def __init__(self, path: Path, randbelow: Callable[[int], int] = secrets.randbelow) -> None:
        self.path = path
        self._randbelow = randbelow
        self._db = sqlite3.connect(path, isolation_level=None)  # explicit transactions below
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    @classmethod
    def open(cls, data_dir: Path) -> "SqliteRegistry":
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(data_dir / FILENAME)

    async def close(self) -> None:
        self._db.close()

    async def register(self, keys: PublicKeys) -> str:
        """See ``Registry.register``."""
        sig, seal, bind = b64u_encode(keys.sig), b64u_encode(keys.seal), b64u_encode(keys.bind)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT number FROM registry WHERE sig = ?", (sig,)).fetchone()
            if row is not None:
                db.execute("UPDATE registry SET seal = ?, bind = ? WHERE sig = ?", (seal, bind, sig))
                number = str(row[0])
            else:
                number = self._free_number()
                db.execute("INSERT INTO registry VALUES (?, ?, ?, ?)", (number, sig, seal, bind))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return number

    async def lookup(self, number: str) -> PublicKeys | None:
        row = self._db.execute("SELECT sig, seal, bind FROM registry WHERE number = ?", (number,)).fetchone()
        if row is None:
            return None
        return PublicKeys(sig=b64u_decode(row[0], 32), seal=b64u_decode(row[1], 32), bind=b64u_decode(row[2], 64))

    async def delete(self, number: str) -> bool:
        """See ``Registry.delete``."""
        return self._db.execute("DELETE FROM registry WHERE number = ?", (number,)).rowcount > 0

    def _free_number(self) -> str:
        for _ in range(MAX_TRIES):
            number = new_number(self._randbelow)
            if self._db.execute("SELECT 1 FROM registry WHERE number = ?", (number,)).fetchone() is None:
                return number
        raise RegistryFull("no free number found")
