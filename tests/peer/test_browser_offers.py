"""Real browser offers (../shared/data/sdp) rung into a Python callee through a real node.

The "caller" here is a bare node client that speaks the envelope protocol by hand, so the Python
peer sees exactly what a browser would send: the offer in the ring, trickled candidates in both
end-of-candidates forms, garbage candidates, then a hangup.
"""

import asyncio
import pathlib
import re
import time

import pytest

from safemeet.core import envelope
from safemeet.core.envelope import ReplayGuard
from safemeet.core.identity import Identity
from safemeet.peer import Peer
from safemeet.peer.signaling import NodeClient

SDP_DIR = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "sdp"
OFFERS = sorted(SDP_DIR.glob("*.sdp")) if SDP_DIR.is_dir() else []


def _sections(sdp: str) -> list[str]:
    return re.split(r"\r\n(?=m=)", sdp)[1:]


def _payload_types(section: str) -> set[str]:
    return set(section.split("\r\n", 1)[0].split()[3:])


def _extmaps(section: str) -> set[tuple[str, str]]:
    return {(m[0], m[1]) for m in re.findall(r"a=extmap:(\d+)(?:/\w+)? (\S+)", section)}


class FakeBrowser:
    """Registers an identity and exchanges envelopes by hand."""

    def __init__(self, url: str) -> None:
        self.identity = Identity.generate()
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.client = NodeClient(url, self.identity, self._got)
        self.call_id = envelope.new_call_id()

    async def _got(self, env: str) -> None:
        await self.inbox.put(env)

    async def send(self, to: str, type_: str, body: dict) -> None:
        inner = envelope.make_inner(type_, self.call_id, self.client.number, to, body, int(time.time() * 1000))
        await self.client.send(to, envelope.seal(self.identity, await self.client.lookup(to), inner))

    async def receive(self) -> envelope.Message:
        env = await asyncio.wait_for(self.inbox.get(), 10)
        opened = envelope.open_envelope(self.identity, self.client.number, env)
        keys = await self.client.lookup(opened.sender)
        return envelope.verify(opened, keys, int(time.time() * 1000), ReplayGuard())


@pytest.mark.skipif(not OFFERS, reason="shared SDP fixtures not found")
@pytest.mark.parametrize("path", OFFERS, ids=lambda p: p.stem)
async def test_python_callee_answers_real_browser_offers(node_url, tmp_path, path):
    offer = path.read_text().replace("\r\n", "\n").replace("\n", "\r\n")
    browser = FakeBrowser(node_url)
    await browser.client.connect()
    async with Peer(node_url, tmp_path / "callee.key") as callee:
        await browser.send(callee.number, "ring", {"media": {"audio": True, "video": True}, "sdp": offer})
        incoming = await callee.next_incoming(5)
        await incoming.accept()
        reply = await browser.receive()
        assert reply.type == "accept", f"callee answered {reply.type}"
        answer = reply.body["sdp"]
        offered, answered = _sections(offer), _sections(answer)
        assert len(answered) == len(offered)
        for off, ans in zip(offered, answered):
            assert ans.split()[0] == off.split()[0]  # same media kind, same order
            rejected = ans.split()[1] == "0"  # port 0: the section is declined, codecs don't matter
            if "RTP" in off.split("\r\n", 1)[0] and not rejected:
                assert _payload_types(ans) <= _payload_types(off)
                assert _extmaps(ans) <= _extmaps(off)
        for body in (
            {"candidate": "candidate:1 1 udp 2122260223 198.51.100.7 50000 typ host", "sdpMid": "0",
             "sdpMLineIndex": 0},
            {"candidate": "candidate:garbage", "sdpMid": "0", "sdpMLineIndex": 0},
            {"candidate": "candidate:2 1 udp 1 x.local 9 typ host", "sdpMid": None, "sdpMLineIndex": 7},
            {"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0},
            {"candidate": None, "sdpMid": None, "sdpMLineIndex": None},
        ):
            await browser.send(callee.number, "ice", body)
        await asyncio.sleep(0.2)
        assert incoming.phase == "connecting"
        await browser.send(callee.number, "hangup", {})
        result = await asyncio.wait_for(incoming.wait_ended(), 5)
        assert (result.ended_by, result.reason) == ("remote", "hangup")
    await browser.client.close()
