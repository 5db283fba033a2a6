"""Helpers shared by the Python-peer test files (importable: pytest puts tests/ on sys.path)."""

import asyncio


async def connect_pair(caller, callee, timeout: float = 10):
    """``caller`` rings ``callee``, which accepts; returns both sides' calls once connected."""
    call = await caller.call(callee.number)
    incoming = await callee.next_incoming(5)
    assert incoming.remote == caller.number and incoming.phase == "incoming"
    await incoming.accept()
    await asyncio.wait_for(call.wait_connected(), timeout)
    await asyncio.wait_for(incoming.wait_connected(), timeout)
    return call, incoming
