"""bench/node_load.py's safemeet client against a real `safemeet serve --rate-limit` process: a
small version of the load benchmark (its figures are not checked here, only that it measures)."""

import importlib.util
import sys
import time
from pathlib import Path

import aiohttp

from nodeproc import NodeProcess
from safemeet.core import envelope
from safemeet.core.identity import Identity
from safemeet.core.numbers import is_valid

BENCH = Path(__file__).resolve().parents[2] / "bench" / "node_load.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("node_load", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("node_load", module)  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


async def test_bench_connects_and_relays_sealed_envelopes_beyond_the_default_rate_limit(tmp_path):
    bench = _load_bench()
    node = NodeProcess(tmp_path / "data", extra=("--rate-limit", "100000"))
    node.start()
    try:
        identities = [Identity.generate() for _ in range(20)]
        adapter = bench.SafemeetAdapter(identities, sdp_length=1800)
        async with aiohttp.ClientSession() as session:
            clients, latencies, errors = await bench.connect_clients(adapter, session, [node.url], 20, concurrency=8)
            assert not errors and len(clients) == len(latencies) == 20
            numbers = [c.address for c in clients]
            assert all(is_valid(n) for n in numbers) and len(set(numbers)) == 20
            pairs = [(clients[2 * p], clients[2 * p + 1]) for p in range(10)]
            frames = [adapter.pair_frames(a, b, 3) for a, b in pairs]
            ring_env, accept_env = frames[0][0][0][1], frames[0][1][0][1]
            assert 2900 <= len(ring_env) <= 3300  # a ~3 KB sealed envelope
            a, b = pairs[0]
            now_ms = int(time.time() * 1000)
            ring = envelope.verify(envelope.open_envelope(identities[b.index], b.address, ring_env),
                                   identities[a.index].public, now_ms, envelope.ReplayGuard())
            answer = envelope.verify(envelope.open_envelope(identities[a.index], a.address, accept_env),
                                     identities[b.index].public, now_ms, envelope.ReplayGuard())
            assert (ring.type, ring.sender, answer.type, answer.sender) == ("ring", a.address, "accept", b.address)
            assert ring.call == answer.call and ring.body["sdp"].startswith("v=0\r\n")
            # 80 in flight per sender: the default bucket (60) would refuse some with rate_limited
            result = await bench.relay(adapter, pairs, frames, window=80, warmup=0.2, duration=1.0,
                                       meter=bench.CpuMeter([node.proc.pid]))
            await bench.close_clients(clients)
    finally:
        node.stop()
    assert result["relayed"] > 200 and result["mismatched"] == 0 and result["lost_in_flight"] == 0
    assert result["other"] == {}, result["other"]  # no error replies, nothing unexpected
    assert result["acks"] >= result["relayed"]  # every send got its receipt
    assert result["p50_ms"] > 0 and result["server_cpu_us_per_msg"] > 0
