"""What a node keeps: the registry table only; what it logs: nothing that identifies anyone."""

import asyncio
import logging
import sqlite3

from safemeet.core.b64 import b64u_encode
from safemeet.node.registry import FILENAME


async def _session(node) -> list:
    """Register, look up, route, and misbehave in a few ways; return the peers."""
    alice, bob = await node.connect(), await node.connect()
    env = b64u_encode(b"sealed-envelope-bytes" * 4)
    assert (await alice.request({"t": "lookup", "id": 1, "number": bob.number}))["t"] == "keys"
    assert (await alice.request({"t": "send", "id": 2, "to": bob.number, "env": env}))["t"] == "sent"
    assert (await bob.recv())["env"] == env
    await alice.request("not json")
    await alice.request({"t": "nope"})
    typo = alice.number[:8] + str((int(alice.number[8]) + 1) % 10)  # a wrong check digit, always
    await alice.request({"t": "send", "to": typo, "env": env})
    await bob.close()
    await asyncio.sleep(0.05)
    await alice.request({"t": "send", "to": bob.number, "env": env})  # offline
    stranger = await node.connect(register=False)
    await stranger.request(stranger.register_message(proof=b64u_encode(b"\x00" * 64)))
    return [alice, bob, stranger], env


async def test_database_holds_only_the_registry(node):
    peers, env = await _session(node)
    db = sqlite3.connect(node.config.data_dir / FILENAME)
    try:
        tables = db.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
        assert tables == [("table", "registry")]
        columns = [row[1] for row in db.execute("PRAGMA table_info(registry)")]
        assert columns == ["number", "sig", "seal", "bind"]
        rows = db.execute("SELECT number, sig, seal, bind FROM registry ORDER BY number").fetchall()
    finally:
        db.close()
    registered = sorted((p.number, *p.identity.public.to_json().values()) for p in peers if p.number)
    assert rows == registered
    assert env not in str(rows)


async def test_logs_identify_no_one(node, raw_http, caplog):
    caplog.set_level(logging.DEBUG)
    peers, env = await _session(node)
    # Malformed HTTP makes aiohttp log "Error handling request from <ip>"; the node strips it.
    await raw_http(node, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n")
    await raw_http(node, b"\x16\x03\x01 garbage\r\n\r\n")
    await node.stop()
    secrets = {env, "127.0.0.1", "::1"}
    for peer in peers:
        secrets.update(peer.identity.public.to_json().values())
        if peer.number:
            secrets.add(peer.number)
    text = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "registration" in text and "connection opened" in text  # it does log events
    for secret in secrets:
        assert secret not in text
    port = str(node.runner.addresses[0][1]) if node.runner.addresses else None
    assert all(not r.exc_info and not r.exc_text for r in caplog.records if r.name.startswith("safemeet"))
    if port:
        assert f":{port}" not in text
