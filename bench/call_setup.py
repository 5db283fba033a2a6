"""Call setup time: safemeet Python↔Python through a real node against a bare aiortc pair.

Prints median and p90 of N calls for
  ring → connected     (caller: dial starts → peer connection connected, everything included)
  accept → connected   (callee: user accepts → peer connection connected)
against the bare pair's createOffer → connected, measured in the same run with the same media
(tone + test pattern + a data channel) in the same process, and the ratios. Also the cost of
sign+seal and open+verify for one ~3 KB envelope.

    .venv/bin/python bench/call_setup.py [--calls 20]
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection

from safemeet.core import envelope
from safemeet.core.envelope import ReplayGuard
from safemeet.core.identity import Identity
from safemeet.node.app import create_app, create_runner
from safemeet.node.config import NodeConfig
from safemeet.peer import Peer
from safemeet.peer.media import MediaOptions


def median_p90(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


async def _connected(pc: RTCPeerConnection) -> None:
    done = asyncio.Event()

    @pc.on("connectionstatechange")
    def changed() -> None:
        if pc.connectionState == "connected":
            done.set()

    if pc.connectionState == "connected":
        return
    await done.wait()


async def bare_pair() -> float:
    """createOffer → connected for two aiortc peers exchanging SDP directly."""
    a, b = RTCPeerConnection(RTCConfiguration(iceServers=[])), RTCPeerConnection(RTCConfiguration(iceServers=[]))
    for pc in (a, b):
        for track in MediaOptions().tracks():
            pc.addTrack(track)
    a.createDataChannel("chat")
    t0 = time.perf_counter()
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await asyncio.gather(_connected(a), _connected(b))
    elapsed = (time.perf_counter() - t0) * 1000
    await asyncio.gather(a.close(), b.close())
    return elapsed


async def safemeet_call(alice: Peer, bob: Peer) -> tuple[float, float]:
    """(ring → connected at the caller, accept → connected at the callee) for one call."""
    t0 = time.perf_counter()
    call = await alice.call(bob.number)
    incoming = await bob.next_incoming(10)
    t_accept = time.perf_counter()
    await incoming.accept()
    await incoming.wait_connected()
    t_callee = time.perf_counter()
    await call.wait_connected()
    t_caller = time.perf_counter()
    await call.hangup()
    await incoming.wait_ended()
    return (t_caller - t0) * 1000, (t_callee - t_accept) * 1000


def envelope_costs(rounds: int = 2000) -> tuple[float, float]:
    alice, bob = Identity.generate(), Identity.generate()
    inner = envelope.make_inner("accept", envelope.new_call_id(), "123456786", "987654329",
                                {"sdp": "a=candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host\r\n" * 50}, 0)
    t0 = time.perf_counter()
    for _ in range(rounds):
        env = envelope.seal(alice, bob.public, inner)
    seal_us = (time.perf_counter() - t0) / rounds * 1e6
    t0 = time.perf_counter()
    for _ in range(rounds):
        envelope.verify(envelope.open_envelope(bob, "987654329", env), alice.public, 0, ReplayGuard())
    open_us = (time.perf_counter() - t0) / rounds * 1e6
    return seal_us, open_us, len(env)


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        runner = create_runner(create_app(NodeConfig(port=0, data_dir=Path(tmp) / "data")))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        bare, ring, accept = [], [], []
        async with Peer(url, Path(tmp) / "a.key") as alice, Peer(url, Path(tmp) / "b.key") as bob:
            await bare_pair()  # warm-up of both paths (codec setup, first lookups)
            await safemeet_call(alice, bob)
            for _ in range(calls):  # interleaved so machine noise hits both alike
                bare.append(await bare_pair())
                r, a = await safemeet_call(alice, bob)
                ring.append(r)
                accept.append(a)
        await runner.cleanup()
    (bm, bp), (rm, rp), (am, ap) = median_p90(bare), median_p90(ring), median_p90(accept)
    print(f"calls: {calls} each, interleaved, one process, loopback")
    print(f"bare aiortc pair  offer  → connected   median {bm:7.1f} ms   p90 {bp:7.1f} ms")
    print(f"safemeet          ring   → connected   median {rm:7.1f} ms   p90 {rp:7.1f} ms   ratio {rm / bm:.2f}× (goal ≤ 1.15×)")
    print(f"safemeet          accept → connected   median {am:7.1f} ms   p90 {ap:7.1f} ms   ratio {am / bm:.2f}× (goal ≤ 0.70×)")
    seal_us, open_us, size = envelope_costs()
    print(f"envelope ({size} chars): sign+seal {seal_us:.0f} µs, open+verify {open_us:.0f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    asyncio.run(main(parser.parse_args().calls))
