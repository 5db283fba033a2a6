"""A peer that vanishes without hanging up (crash, pulled cable) ends the call on the other side:
first the call tries to reconnect (the path may come back), then it gives up."""

import asyncio
import os
import signal
import sys
from pathlib import Path

from safemeet.peer import Ended, Peer, Reconnecting
from safemeet.peer import call as call_module

SAFEMEET = str(Path(sys.executable).with_name("safemeet"))


async def test_callee_notices_a_caller_that_vanished(node_url, tmp_path, monkeypatch):
    monkeypatch.setattr(call_module, "RECONNECT_TIMEOUT_S", 3.0)  # 60 s in real life
    async with Peer(node_url, tmp_path / "bob.key") as bob:
        caller = await asyncio.create_subprocess_exec(
            SAFEMEET, "call", bob.number, "--node", node_url, "--identity", str(tmp_path / "alice.key"),
            "--duration", "120", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            incoming = await bob.next_incoming(20)
            await incoming.accept()
            await asyncio.wait_for(incoming.wait_connected(), 10)
            await asyncio.sleep(1)  # the control channel is heard from
            os.kill(caller.pid, signal.SIGKILL)  # no DTLS close, no hangup, no node goodbye
            seen = []

            async def watch() -> None:
                async for event in incoming.events():
                    seen.append(type(event))

            await asyncio.wait_for(watch(), call_module.SILENCE_S + 3.0 + 10)
            assert seen[-2:] == [Reconnecting, Ended], seen
            result = await incoming.wait_ended()
            assert result.connected and (result.ended_by, result.reason) == ("error", "failed"), result
            assert result.error.endswith(": could not reconnect"), result
            assert bob.active_calls == 0
        finally:
            if caller.returncode is None:
                caller.kill()
            await caller.wait()
