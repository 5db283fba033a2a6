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


async def until(predicate, what: str, timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` holds; fail saying ``what`` did not happen in ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not met in {timeout} s")
        await asyncio.sleep(0.05)


async def next_event(call, kind, timeout: float = 10.0):
    """The next event of type ``kind`` from ``call.events()`` (others are skipped)."""
    async def find():
        async for event in call.events():
            if isinstance(event, kind):
                return event
        raise AssertionError(f"the call ended before a {kind.__name__} event")
    return await asyncio.wait_for(find(), timeout)


def cut_path(call) -> None:
    """The call's network goes away under it: every UDP socket of its connection is closed, with
    no DTLS close and no ICE goodbye, so the other side notices only silence."""
    ice = call._live.pc.getTransceivers()[0].receiver.transport.transport  # max-bundle: one transport
    for protocol in ice._connection._protocols:
        protocol.transport.close()
