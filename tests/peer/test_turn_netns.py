"""Python peers on two separated networks (tests/netns.py) meet at the TURN relay; a relay that
refuses the credentials fails a relay-only call at once, saying so.

The node and coturn run in this process's namespace on the lab's server address; each peer runs
inside its own namespace, as the ``safemeet`` CLI or as netns_peer.py (the same Peer, reporting
its candidates and selected pair).
"""

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netns import Side, lab_node, net_lab

from safemeet.core.identity import Identity
from safemeet.peer import CallError, Peer, RelayPolicy
from safemeet.peer.call import CONNECT_TIMEOUT_S
from safemeet.peer.relaycheck import RelayRefused

pytestmark = pytest.mark.timeout(240)

SAFEMEET = str(Path(sys.executable).with_name("safemeet"))
PEER = str(Path(__file__).with_name("netns_peer.py"))


@pytest.fixture
async def lab():
    async with net_lab() as lab:
        yield lab


@pytest.fixture
async def relay(lab, tmp_path, run_turnserver):
    """coturn on the lab's server address: (urls, secret)."""
    async with run_turnserver(tmp_path, lab.server) as turn:
        yield turn


async def test_the_lab_is_removed_even_when_a_test_fails():
    with pytest.raises(RuntimeError, match="test failed"):
        async with net_lab() as lab:
            lab.block_direct()
            await lab.a.run("sleep", "60")
            with lab.b.udp_port_blocked(4000):
                raise RuntimeError("test failed")
    names = [lab.a.ns, lab.b.ns, lab.a.root_dev, lab.b.root_dev, lab.table]
    left = "".join(subprocess.run(argv, capture_output=True, text=True).stdout for argv in (
        [lab.a.ip, "netns", "list"], [lab.a.ip, "link", "show"], [lab.nft, "list", "tables"]))
    assert not [name for name in names if name in left], left
    assert lab.a.processes[0].returncode is not None


async def line(proc: asyncio.subprocess.Process, timeout: float = 60) -> dict:
    """The next JSON line of a netns_peer.py."""
    raw = await asyncio.wait_for(proc.stdout.readline(), timeout)
    if not raw:
        err = await proc.stderr.read()
        raise AssertionError(f"peer exited without output: {err.decode()[-2000:]}")
    return json.loads(raw)


async def cli(side: Side, *args: str, timeout: float = 90) -> tuple[int, str, str, float]:
    """Run ``safemeet ARGS`` inside ``side``: exit code, stdout, stderr, seconds taken."""
    started = time.monotonic()
    proc = await side.run(SAFEMEET, *args)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode(), time.monotonic() - started


async def answering_peer(side: Side, node: str, key: Path, relay: str) -> tuple[asyncio.subprocess.Process, str]:
    """netns_peer.py waiting for one call inside ``side``: the process and its number."""
    proc = await side.run(sys.executable, PEER, node, str(key), "answer", "--relay", relay, "--hold", "30")
    return proc, (await line(proc))["number"]


async def test_separated_peers_meet_only_at_the_relay(lab, relay, tmp_path):
    async with lab_node(tmp_path / "node", lab.server, relay) as node:
        facts = {}
        for blocked in (False, True):  # the lab routes between the namespaces until blocked
            if blocked:
                lab.block_direct()
            bob, number = await answering_peer(lab.b, node, tmp_path / "b.key", "never")
            code, out, err, _ = await cli(lab.a, "call", number, "--node", node, "--identity",
                                          str(tmp_path / "a.key"), "--json", "--duration", "3")
            assert code == 0, err
            caller, callee = json.loads(out), await line(bob)
            assert caller["connected"] and callee["connected"], (caller, callee)
            assert min(caller["audio_frames_received"], caller["video_frames_received"]) > 0, caller
            assert min(callee["audio_frames_received"], callee["video_frames_received"]) > 0, callee
            facts[blocked] = callee
            await bob.wait()
        print(f"\nopen: {facts[False]['selected']}, separated: {facts[True]['selected']}, "
              f"direct packets dropped: {lab.direct_drops()}, callee frames (audio, video) "
              f"{facts[True]['audio_frames_received']}, {facts[True]['video_frames_received']}")
        assert facts[False]["selected"] == {"local": "host", "remote": "host"}, facts[False]
        assert "relay" in facts[True]["selected"].values(), facts[True]
        assert lab.a.address in facts[True]["remote_hosts"]  # the direct path was offered, and failed
        assert lab.direct_drops() > 0


async def test_relay_only_peers_never_show_their_address(lab, relay, tmp_path):
    lab.block_direct()
    async with lab_node(tmp_path / "node", lab.server, relay) as node:
        bob, number = await answering_peer(lab.b, node, tmp_path / "b.key", "always")
        code, out, err, _ = await cli(lab.a, "call", number, "--relay", "always", "--node", node, "--identity",
                                      str(tmp_path / "a.key"), "--json", "--duration", "2")
        assert code == 0, err
        caller, callee = json.loads(out), await line(bob)
        assert caller["video_frames_received"] > 0 and callee["audio_frames_received"] > 0, (caller, callee)
        assert callee["local_types"] == ["relay"] and callee["remote_types"] == ["relay"], callee
        assert callee["selected"] == {"local": "relay", "remote": "relay"}, callee
        assert not {lab.a.address, lab.b.address} & set(callee["remote_hosts"]), callee
        assert lab.direct_drops() == 0  # nobody even tried a direct path


@pytest.mark.parametrize("fault", ["wrong secret", "expired"])
async def test_refused_credentials_fail_a_relay_only_call_at_once(lab, relay, tmp_path, fault):
    urls, secret = relay
    turn = (urls, "not-" + secret) if fault == "wrong secret" else relay
    async with lab_node(tmp_path / "node", lab.server, turn, turn_ttl_s=-60 if fault == "expired" else 3600) as node:
        def peer_args(key: str) -> tuple[str, ...]:
            return "--node", node, "--identity", str(tmp_path / key), "--json"

        code, out, err, _ = await cli(lab.b, "id", *peer_args("b.key"))
        number = json.loads(out)["number"]

        # Calling a stranger relay-only: fails before anything rings, one line saying why.
        code, out, err, took = await cli(lab.a, "call", number, "--relay", "always", *peer_args("a.key"))
        print(f"\n{fault}: relay-only caller failed after {took:.2f} s: {err.strip()}")
        assert code == 1
        [message] = err.strip().splitlines()
        assert message.startswith("safemeet:") and "refused the credentials" in message, err
        assert took < CONNECT_TIMEOUT_S / 2

        # Answering a stranger (relay-only by default): the answer fails, and so does the call.
        answer = await lab.b.run(SAFEMEET, "answer", "--timeout", "30", *peer_args("b.key"))
        await asyncio.sleep(2)  # registered and waiting
        code, out, err, took = await cli(lab.a, "call", number, "--duration", "5", *peer_args("a.key"))
        answered, _ = await asyncio.wait_for(answer.communicate(), 30)
        callee = json.loads(answered)
        print(f"{fault}: direct caller gave up after {took:.2f} s ({err.strip()}); callee: {callee.get('error')}")
        assert code == 1 and not json.loads(out)["connected"], out
        assert not callee["connected"] and "refused the credentials" in callee["error"], callee
        assert took < CONNECT_TIMEOUT_S / 2


async def test_the_python_api_raises_relay_refused(turn_server, tmp_path):
    urls, secret = turn_server
    async with lab_node(tmp_path / "node", "127.0.0.1", (urls, secret), turn_ttl_s=-1) as node:
        hide = RelayPolicy(outgoing="always")
        async with Peer(node, Identity.generate(), relay=hide) as alice, Peer(node, Identity.generate()) as bob:
            with pytest.raises(RelayRefused, match="refused the credentials") as err:
                await alice.call(bob.number)
            assert isinstance(err.value, CallError) and err.value.reason == "failed"
            assert alice.active_calls == 0
