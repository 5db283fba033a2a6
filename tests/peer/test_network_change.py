"""A call survives losing its path for a while, without anyone doing anything.

Two CLI peers in separate namespaces (tests/netns.py) talk directly through the lab's router for
a 60 s call. A few seconds in, the UDP port the caller's media goes through is dropped inside the
caller's namespace for 20 s (the path is gone, as when a laptop changes networks), then let
through again. The call must still be up at the end, ended by the caller's own hang-up, with
audio having kept arriving after the block (far more frames than the time before the block can
explain) and during it: more frames than the time before and after the block together can
explain, so the call found a new path by itself instead of waiting for the old one to return.
"""

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest
from netns import lab_node, net_lab

from safemeet.peer.media import AUDIO_PTIME

pytestmark = pytest.mark.timeout(240)

SAFEMEET = str(Path(sys.executable).with_name("safemeet"))
CALL_S = 60
BEFORE_BLOCK_S = 8
BLOCK_S = 20
AFTER_BLOCK_MIN_S = 10  # of the ~30 s left after the block, at least this much audio must arrive
DURING_BLOCK_MIN_S = 5  # the call moves to a new path well before the old one comes back
AUDIO_PER_S = round(1 / AUDIO_PTIME)


async def test_a_call_outlives_a_20_s_loss_of_its_path(tmp_path):
    async with net_lab() as lab, lab_node(tmp_path / "node", lab.server) as node:
        def args(key: str) -> list[str]:
            return ["--node", node, "--identity", str(tmp_path / key), "--json"]

        ident = await lab.b.run(SAFEMEET, "id", *args("b.key"))
        out, err = await asyncio.wait_for(ident.communicate(), 30)
        assert ident.returncode == 0, err.decode()
        number = json.loads(out)["number"]
        answer = await lab.b.run(SAFEMEET, "answer", "--no-video", "--relay", "never", "--timeout", "60",
                                 *args("b.key"))
        await asyncio.sleep(2)  # registered and waiting

        started = time.monotonic()
        call = await lab.a.run(SAFEMEET, "call", number, "--no-video", "--duration", str(CALL_S), *args("a.key"))
        await asyncio.sleep(BEFORE_BLOCK_S)
        port = await lab.a.busiest_udp_port(call.pid)
        blocked_at = time.monotonic() - started
        await lab.a.block_udp_port(port, BLOCK_S)
        unblocked_at = time.monotonic() - started

        out, err = await asyncio.wait_for(call.communicate(), CALL_S + 60)
        ended_at = time.monotonic() - started
        answered, answer_err = await asyncio.wait_for(answer.communicate(), 30)
        caller, callee = json.loads(out), json.loads(answered)
        before = AUDIO_PER_S * blocked_at  # the most audio that could arrive before the block
        after = AUDIO_PER_S * (ended_at - unblocked_at)  # ... and after it
        print(f"\nblocked caller port {port} at {blocked_at:.1f} s for {BLOCK_S} s, call over at {ended_at:.1f} s; "
              f"audio frames received: caller {caller['audio_frames_received']}, callee "
              f"{callee['audio_frames_received']} (at most {before:.0f} before the block and {after:.0f} after it; "
              f"an unbroken {CALL_S} s call ≈ {AUDIO_PER_S * CALL_S}); "
              f"reconnects caller {caller.get('reconnects')}, callee {callee.get('reconnects')}")
        assert call.returncode == 0, err.decode()
        assert caller["connected"] and (caller["ended_by"], caller["reason"]) == ("local", "hangup"), caller
        assert callee["connected"] and callee["ended_by"] == "remote", callee
        for side in (caller, callee):
            assert side["audio_frames_received"] > before + AUDIO_PER_S * AFTER_BLOCK_MIN_S, side
            # The old path stayed blocked for 20 s: audio during the block came over a new path.
            during = side["audio_frames_received"] - before - after
            assert during > AUDIO_PER_S * DURING_BLOCK_MIN_S, (during, side)
