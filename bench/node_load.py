"""The signaling node under load, against PeerJS's server measured in the same run.

For each server and each N (fresh server per N):
  connect   N clients connect and authenticate (at most --concurrency handshakes at a time):
            connections/s, handshake p50/p99, server CPU µs and RSS KB per connection, and the
            server's idle CPU while it holds them;
  relay     with the N connections held, --pairs pairs of them relay ~3 KB call messages: A keeps
            --window offers in flight to B, B answers each with one of the same size (50 x 4 = 200
            in flight): relayed msgs/s, one-way latency p50/p99 (send call → receive, one clock),
            server CPU µs per message.
Servers (all pinned to --server-cpu, the load generator to --client-cpu):
  safemeet         one `safemeet serve` (SQLite registry)
  safemeet-redis2  two `safemeet serve --redis` on a redis-server started here; clients alternate
                   between the nodes and every pair spans both, so each message crosses Redis;
                   "server" figures are the sum of both nodes and redis-server
  peerjs           PeerServer from npm `peer` (library, without the CLI's per-client log line)
Safemeet clients do what the Python client does: answer the challenge with an Ed25519 proof and
`send` real sealed envelopes (ring with an offer, accept with an answer), sealed before the timed
part. The nodes run with `--rate-limit` raised: the per-connection limiter (30 msg/s by default)
would otherwise refuse a benchmark pair's traffic.

PeerJS is driven through sigbench's adapter (../shared/tools/sigbench from the project root, or
--sigbench DIR) and installed with npm under --peer-dir (outside the repository) when missing.

    .venv/bin/python bench/node_load.py [--quick] [--n 1000,5000,15000] [--json out.json]
"""

import argparse
import asyncio
import contextlib
import gc
import importlib
import json
import os
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

import aiohttp

from safemeet.core import envelope
from safemeet.core.b64 import b64u_decode, b64u_encode
from safemeet.core.identity import Identity
from safemeet.core.numbers import check_digit

ROOT = Path(__file__).resolve().parents[1]
SIGBENCH_DIR = ROOT / ".." / "shared" / "tools" / "sigbench"
PEER_VERSION = "1.0.2"  # the PeerServer release sigbench's published figures were taken with
BENCH_RATE_LIMIT = 1_000_000  # msgs/s per connection given to the nodes: the limiter never refuses
ENV_CHARS = 3000  # size of a sealed envelope (base64url characters)
QUIET_PCT = 15.0  # wait for the machine to be below this (% of one core) before each phase
NOISY_PCT = 20.0  # a phase in which other processes used more than this is flagged (and retried)

now = time.perf_counter
CLK = os.sysconf("SC_CLK_TCK")


# --- /proc probes -------------------------------------------------------------------------


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process, all its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def machine_busy_s() -> float:
    """Busy CPU seconds of the whole machine, all cores."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / CLK


def self_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class CpuMeter:
    """CPU of the server processes, of this process and of everything else over one window."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)

    def start(self) -> None:
        self.t0, self.m0, self.c0 = now(), machine_busy_s(), self_cpu_s()
        self.s0 = sum(proc_cpu_s(p) for p in self.pids)

    def stop(self) -> dict[str, float]:
        dt = now() - self.t0
        server = sum(proc_cpu_s(p) for p in self.pids) - self.s0
        client = self_cpu_s() - self.c0
        machine = machine_busy_s() - self.m0
        return {"seconds": dt, "server_cpu_s": server, "server_cpu_pct": 100 * server / dt,
                "client_cpu_pct": 100 * client / dt, "other_cpu_pct": 100 * (machine - server - client) / dt}


async def wait_quiet(max_pct: float, timeout: float) -> float:
    """Wait (up to ``timeout``) for a 1 s window in which the machine is below ``max_pct``."""
    deadline = now() + timeout
    while True:
        b0 = machine_busy_s()
        await asyncio.sleep(1.0)
        busy = 100 * (machine_busy_s() - b0)
        if busy <= max_pct or now() > deadline:
            return busy


def percentile(sorted_xs: Sequence[float], q: float) -> float | None:
    if not sorted_xs:
        return None
    return sorted_xs[min(len(sorted_xs) - 1, int(q * len(sorted_xs)))]


# --- what travels: a browser-like SDP, sealed for safemeet, plain for PeerJS -------------


def synthetic_sdp(kind: str, length: int) -> str:
    """An audio+video SDP of about ``length`` characters with fresh random ids (Chrome's shape)."""
    h = secrets.token_hex(8)
    lines = ["v=0", f"o=- {secrets.randbits(62)} 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
             "a=extmap-allow-mixed", f"a=msid-semantic: WMS {h}", "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8",
             "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0", f"a=ice-ufrag:{secrets.token_hex(2)}",
             f"a=ice-pwd:{secrets.token_hex(12)}", "a=ice-options:trickle",
             "a=fingerprint:sha-256 " + ":".join(f"{b:02X}" for b in secrets.token_bytes(32)),
             f"a=setup:{'actpass' if kind == 'offer' else 'active'}", "a=mid:0", "a=sendrecv",
             "a=rtcp-mux", "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1"]
    extra = ["a=rtcp-fb:{p} goog-remb", "a=rtcp-fb:{p} transport-cc", "a=rtcp-fb:{p} ccm fir",
             "a=rtcp-fb:{p} nack", "a=rtcp-fb:{p} nack pli", "a=rtpmap:{p} VP8/90000",
             "a=rtpmap:{q} rtx/90000", "a=fmtp:{q} apt={p}", "a=ssrc:{s} cname:{h}", "a=ssrc:{s} msid:{h} {h}"]
    i = 0
    while len("\r\n".join(lines)) < length:
        p = 96 + 2 * (i // len(extra)) % 30
        lines.append(extra[i % len(extra)].format(p=p, q=p + 1, s=secrets.randbits(31), h=h))
        i += 1
    return "\r\n".join(lines) + "\r\n"


def _number(payload: int) -> str:
    return f"{payload}{check_digit(str(payload))}"


def sealed(type_: str, call: str, sender: Identity, recipient: Identity, from_: str, to: str, sdp: str) -> str:
    """A real envelope: a ``ring`` (offer) or ``accept`` (answer) signed by ``sender``, sealed to ``recipient``."""
    body: dict[str, Any] = {"sdp": sdp}
    if type_ == "ring":
        body["media"] = {"audio": True, "video": True}
    inner = envelope.make_inner(type_, call, from_, to, body, int(time.time() * 1000))
    return envelope.seal(sender, recipient.public, inner)


def sdp_length_for(env_chars: int) -> int:
    """The SDP length whose sealed ring envelope is about ``env_chars`` characters long."""
    a, b = Identity.generate(), Identity.generate()
    length = env_chars // 2
    for _ in range(6):
        got = len(sealed("ring", envelope.new_call_id(), a, b, _number(12345678), _number(87654321),
                         synthetic_sdp("offer", length)))
        length += int((env_chars - got) * 0.7)
    return length


# --- protocols --------------------------------------------------------------------------

RELAYED, ACK = "relayed", "ack"  # classify() kinds; anything else is counted by its own name


@dataclass
class Client:
    """One connected, authenticated client: its socket, the address others reach it by, and the
    task that reads it while no workload does (see ``idle``)."""

    ws: aiohttp.ClientWebSocketResponse
    address: str
    index: int
    reader: asyncio.Task | None = None

    def idle(self) -> None:
        """Keep reading in the background, as a real client does: aiohttp answers the node's
        heartbeat pings only inside ``receive()``, and a node drops a client that never answers."""
        if self.reader is None:
            self.reader = asyncio.create_task(_discard(self.ws))

    async def busy(self) -> None:
        """Stop the background reader, so that a workload can read this socket itself."""
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
            self.reader = None


async def _discard(ws: aiohttp.ClientWebSocketResponse) -> None:
    while (await ws.receive()).type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                                            aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
        pass


Frames = list[tuple[str, Any]]  # (wire text to send, the token the receiver should see)


class LoadAdapter(Protocol):
    name: str

    async def connect(self, session: aiohttp.ClientSession, url: str, index: int) -> Client: ...

    def pair_frames(self, a: Client, b: Client, count: int) -> tuple[Frames, Frames]:
        """``count`` pre-built offers A→B and answers B→A."""
        ...

    def classify(self, text: str) -> tuple[str, Any]:
        """(RELAYED, token) for a delivered message, (ACK, None) for a send receipt, else (kind, None)."""
        ...


async def _ws_connect(session: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    # no permessage-deflate (neither server would take it), pings answered, none sent
    return await session.ws_connect(url, compress=0, autoping=True, heartbeat=None, max_msg_size=4 << 20)


class SafemeetAdapter:
    """The node's wire protocol (docs/protocol.md): challenge → register with an Ed25519 proof →
    ``registered``; ``send`` {to, env} → ``msg`` {env} to the recipient and ``sent`` to the sender.

    Client ``index`` uses ``identities[index]`` (generated beforehand: key generation is not part
    of a connection's cost on either side)."""

    name = "safemeet"

    def __init__(self, identities: Sequence[Identity], sdp_length: int) -> None:
        self.identities = identities
        self.sdp_length = sdp_length

    async def connect(self, session: aiohttp.ClientSession, url: str, index: int) -> Client:
        identity = self.identities[index]
        ws = await _ws_connect(session, url.rstrip("/") + "/ws")
        try:
            challenge = await _receive_json(ws)
            if challenge.get("t") != "challenge":
                raise ConnectionError(f"expected a challenge, got {challenge.get('t')!r}")
            nonce = b64u_decode(challenge["nonce"], 32)
            await ws.send_str(json.dumps({"t": "register", "v": 1, "keys": identity.public.to_json(),
                                          "proof": b64u_encode(identity.auth_proof(nonce))}))
            reply = await _receive_json(ws)
            if reply.get("t") != "registered":
                raise ConnectionError(f"register refused: {reply.get('code')}")
        except BaseException:
            await ws.close()
            raise
        return Client(ws, reply["number"], index)

    def pair_frames(self, a: Client, b: Client, count: int) -> tuple[Frames, Frames]:
        ia, ib = self.identities[a.index], self.identities[b.index]
        offers, answers = [], []
        for k in range(count):
            call = envelope.new_call_id()
            env = sealed("ring", call, ia, ib, a.address, b.address, synthetic_sdp("offer", self.sdp_length))
            offers.append((json.dumps({"t": "send", "id": k, "to": b.address, "env": env}), env))
            env = sealed("accept", call, ib, ia, b.address, a.address, synthetic_sdp("answer", self.sdp_length))
            answers.append((json.dumps({"t": "send", "id": k, "to": a.address, "env": env}), env))
        return offers, answers

    def classify(self, text: str) -> tuple[str, Any]:
        m = json.loads(text)
        t = m.get("t")
        if t == "msg":
            return RELAYED, m["env"]
        if t == "sent":
            return ACK, None
        return (f"error:{m.get('code')}" if t == "error" else str(t)), None


class PeerJSLoadAdapter:
    """PeerServer's protocol through sigbench's ``PeerJSAdapter`` (connect/encode/decode).

    Offers and answers carry the same kind of SDP as safemeet's sealed envelopes, in the payload
    a PeerJS client sends ({sdp: {type, sdp}, type, connectionId, browser}), plus a ``seq``."""

    name = "peerjs"

    def __init__(self, adapter_class: Any, sdp_length: int) -> None:
        self.adapter_class = adapter_class
        self.sdp_length = sdp_length
        self._adapters: dict[str, Any] = {}
        self._run = secrets.token_hex(3)

    def _adapter(self, url: str) -> Any:
        if url not in self._adapters:
            self._adapters[url] = self.adapter_class(url.rstrip("/").replace("http", "ws", 1))
        return self._adapters[url]

    async def connect(self, session: aiohttp.ClientSession, url: str, index: int) -> Client:
        client_id = f"{self._run}-{index}"
        ws = await self._adapter(url).connect(session, client_id)
        return Client(ws, client_id, index)

    def _payload(self, kind: str, seq: int) -> str:
        sdp = synthetic_sdp(kind, self.sdp_length)
        return json.dumps({"seq": seq, "sdp": {"type": kind, "sdp": sdp}, "type": "media",
                           "connectionId": "mc_" + secrets.token_hex(6), "browser": "chrome"},
                          separators=(",", ":"))

    def pair_frames(self, a: Client, b: Client, count: int) -> tuple[Frames, Frames]:
        encode = next(iter(self._adapters.values())).encode
        offers = [(encode("OFFER", b.address, self._payload("offer", k)), (a.address, k)) for k in range(count)]
        answers = [(encode("ANSWER", a.address, self._payload("answer", k)), (b.address, k)) for k in range(count)]
        return offers, answers

    def classify(self, text: str) -> tuple[str, Any]:
        kind, src, payload = next(iter(self._adapters.values())).decode(text)
        if kind in ("OFFER", "ANSWER"):
            return RELAYED, (src, payload.get("seq"))
        return str(kind), None


async def _receive_json(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=30)
    if msg.type != aiohttp.WSMsgType.TEXT:
        raise ConnectionError(f"connection ended: {msg.type.name}")
    return json.loads(msg.data)


def load_sigbench(directory: Path) -> Any | None:
    """sigbench's PeerJSAdapter class, or None (with the reason printed) when it is not there."""
    if not (directory / "adapters.py").is_file():
        print(f"sigbench not found at {directory}: the PeerJS comparison is skipped "
              f"(pass --sigbench DIR)", flush=True)
        return None
    sys.path.insert(0, str(directory.resolve()))
    try:
        return importlib.import_module("adapters").PeerJSAdapter
    except (ImportError, AttributeError) as exc:
        print(f"cannot use sigbench's adapters.py ({exc}): the PeerJS comparison is skipped", flush=True)
        return None


# --- workloads --------------------------------------------------------------------------


async def connect_clients(adapter: LoadAdapter, session: aiohttp.ClientSession, urls: Sequence[str],
                          n: int, concurrency: int = 100) -> tuple[list[Client], list[float], Counter]:
    """Connect clients 0..n-1 (client i to ``urls[i % len(urls)]``), ``concurrency`` at a time.
    Returns the clients that made it (in order), handshake latencies and the failures by reason."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors: Counter = Counter()

    async def one(i: int) -> Client | None:
        async with gate:
            t0 = now()
            try:
                client = await adapter.connect(session, urls[i % len(urls)], i)
            except Exception as exc:  # counted and reported: a refused client is a result too
                errors[f"{type(exc).__name__}: {str(exc)[:60]}"] += 1
                return None
            latencies.append(now() - t0)
            client.idle()
            return client

    clients = await asyncio.gather(*(one(i) for i in range(n)))
    return [c for c in clients if c is not None], latencies, errors


@dataclass
class RelayStats:
    measuring: bool = False
    relayed: int = 0
    latencies: list[float] = field(default_factory=list)
    acks: int = 0
    mismatched: int = 0
    other: Counter = field(default_factory=Counter)


async def relay(adapter: LoadAdapter, pairs: Sequence[tuple[Client, Client]],
                frames: Sequence[tuple[Frames, Frames]], window: int, warmup: float, duration: float,
                meter: CpuMeter | None = None) -> dict[str, Any]:
    """Each pair: A keeps ``window`` offers in flight to B, B answers each. Counts every message
    delivered during ``duration`` (after ``warmup``) and its one-way latency; each delivery is
    checked against what was sent on that path (routes keep order), mismatches are counted."""
    st = RelayStats()
    senders: list[asyncio.Task] = []
    readers: list[asyncio.Task] = []
    paths: list[deque] = []
    for a, b in pairs:
        await a.busy()
        await b.busy()

    def record(path: deque, token: Any) -> bool:
        if not path:
            st.other["unexpected"] += 1
            return False
        sent_at, expected = path.popleft()
        if token != expected:
            st.mismatched += 1
        if st.measuring:
            st.relayed += 1
            st.latencies.append(now() - sent_at)
        return True

    async def read(ws: aiohttp.ClientWebSocketResponse, on_relayed) -> None:
        classify = adapter.classify
        while True:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                kind, token = classify(msg.data)
                if kind == RELAYED:
                    await on_relayed(token)
                elif kind == ACK:
                    st.acks += 1
                else:
                    st.other[kind] += 1
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED,
                              aiohttp.WSMsgType.ERROR):
                st.other["closed"] += 1
                return

    for (a, b), (offers, answers) in zip(pairs, frames):
        gate = asyncio.Semaphore(window)
        to_b: deque = deque()
        to_a: deque = deque()
        paths += [to_b, to_a]
        turn = [0]

        async def send_offers(a=a, offers=offers, gate=gate, to_b=to_b) -> None:
            k = 0
            while True:
                await gate.acquire()
                text, token = offers[k % len(offers)]
                k += 1
                to_b.append((now(), token))
                await a.ws.send_str(text)

        async def at_b(token: Any, b=b, answers=answers, to_b=to_b, to_a=to_a, turn=turn) -> None:
            if record(to_b, token):
                text, expected = answers[turn[0] % len(answers)]
                turn[0] += 1
                to_a.append((now(), expected))
                await b.ws.send_str(text)

        async def at_a(token: Any, gate=gate, to_a=to_a) -> None:
            if record(to_a, token):
                gate.release()

        readers += [asyncio.create_task(read(b.ws, at_b)), asyncio.create_task(read(a.ws, at_a))]
        senders.append(asyncio.create_task(send_offers()))

    await asyncio.sleep(warmup)
    if meter:
        meter.start()
    st.measuring = True
    await asyncio.sleep(duration)
    st.measuring = False
    cpu = meter.stop() if meter else {"seconds": duration}
    for task in senders:
        task.cancel()
    # let what is in flight arrive, so the connections are clean for whatever runs next
    deadline = now() + 10
    while any(paths) and now() < deadline and not all(t.done() for t in readers):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # the last receipts
    for task in readers:
        task.cancel()
    await asyncio.gather(*senders, *readers, return_exceptions=True)
    for a, b in pairs:
        a.idle()
        b.idle()
    lat = sorted(st.latencies)
    res = {"relayed": st.relayed, "msgs_per_s": st.relayed / cpu["seconds"],
           "p50_ms": _ms(percentile(lat, 0.5)), "p99_ms": _ms(percentile(lat, 0.99)),
           "max_ms": _ms(lat[-1] if lat else None),
           "acks": st.acks, "mismatched": st.mismatched, "lost_in_flight": sum(len(p) for p in paths),
           "other": dict(st.other), **cpu}
    if meter and st.relayed:
        res["server_cpu_us_per_msg"] = 1e6 * cpu["server_cpu_s"] / st.relayed
    return res


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


async def close_clients(clients: Sequence[Client], batch: int = 2000) -> None:
    for client in clients:
        await client.busy()
    for k in range(0, len(clients), batch):
        await asyncio.gather(*(asyncio.wait_for(c.ws.close(), 5) for c in clients[k:k + batch]),
                             return_exceptions=True)


# --- servers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_tcp(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{' '.join(map(str, proc.args[3:5]))} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on port {port}")
        time.sleep(0.05)


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the node exited with {proc.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/healthz", timeout=1) as r:
            if r.status == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError("the node did not become healthy")
        time.sleep(0.05)


PEERJS_STARTER = """\
// PeerServer from the npm package, started as a library (no per-client console.log).
import { createRequire } from "node:module";
const require = createRequire(process.env.PEER_DIR + "/");
const { PeerServer } = require("peer");
const [port, limit, alive] = process.argv.slice(2).map(Number);
PeerServer({ host: "127.0.0.1", port, path: "/", key: "peerjs", concurrent_limit: limit,
             alive_timeout: alive }, () => console.log("listening"));
"""


class Servers:
    """The processes of one server setup, pinned to one core; ``pids`` are what "server" sums."""

    def __init__(self, label: str, workdir: Path, cpu: int, logdir: Path | None = None) -> None:
        self.label = label
        self.workdir = workdir
        self.logdir = logdir or workdir
        self.cpu = cpu
        self.procs: list[subprocess.Popen] = []
        self.urls: list[str] = []
        self.logs: list[Any] = []

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def _spawn(self, args: list[str], log_name: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        self.logdir.mkdir(parents=True, exist_ok=True)
        log = open(self.logdir / log_name, "ab")
        self.logs.append(log)
        proc = subprocess.Popen(["taskset", "-c", str(self.cpu), *args], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, env=env)
        self.procs.append(proc)
        return proc

    def start_safemeet(self, nodes: int, redis: bool) -> None:
        redis_url = None
        if redis:
            port = free_port()
            proc = self._spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--maxclients", "1000"], "redis.log")
            _wait_tcp(port, proc)
            redis_url = f"redis://127.0.0.1:{port}/0"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for k in range(nodes):
            port = free_port()
            args = [sys.executable, "-m", "safemeet", "serve", "--port", str(port),
                    "--data", str(self.workdir / f"node{k}"), "--rate-limit", str(BENCH_RATE_LIMIT)]
            if redis_url:
                args += ["--redis", redis_url]
            proc = self._spawn(args, f"node{k}.log", env)
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, proc)
            self.urls.append(url)

    def start_peerjs(self, peer_dir: Path, limit: int) -> None:
        starter = self.workdir / "peerjs_server.mjs"
        starter.write_text(PEERJS_STARTER)
        port = free_port()
        # alive_timeout: the bench's clients send no HEARTBEAT (a browser sends one every 5 s);
        # an hour keeps the held connections without that load, which only flatters PeerJS
        proc = self._spawn(["node", str(starter), str(port), str(limit), "3600000"], "peerjs.log",
                           {**os.environ, "PEER_DIR": str(peer_dir)})
        _wait_tcp(port, proc)
        self.urls.append(f"http://127.0.0.1:{port}")

    def rss_kb(self) -> int:
        return sum(rss_kb(p) for p in self.pids)

    def stop(self) -> None:
        for proc in reversed(self.procs):  # nodes before their Redis
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        for log in self.logs:
            log.close()
        self.procs.clear()


def ensure_peer(peer_dir: Path) -> bool:
    """npm ``peer`` under ``peer_dir`` (installed there when missing); False when impossible."""
    if (peer_dir / "node_modules" / "peer" / "package.json").is_file():
        return True
    if not shutil.which("npm") or not shutil.which("node"):
        print("node/npm not found: the PeerJS comparison is skipped", flush=True)
        return False
    peer_dir.mkdir(parents=True, exist_ok=True)
    print(f"installing npm peer@{PEER_VERSION} under {peer_dir} ...", flush=True)
    result = subprocess.run(["npm", "install", "--prefix", str(peer_dir), "--no-audit", "--no-fund",
                             "--no-save", f"peer@{PEER_VERSION}"], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"npm install failed: the PeerJS comparison is skipped\n{result.stderr[-800:]}", flush=True)
        return False
    return True


# --- one server setup at one N ----------------------------------------------------------


async def run_case(label: str, adapter: LoadAdapter, servers: Servers, n: int, args: argparse.Namespace,
                   retry_noisy: bool = False) -> dict[str, Any] | None:
    """Connect N, then relay with them held. None when ``retry_noisy`` and other processes disturbed
    the connect phase: the caller starts fresh servers and tries again."""
    res: dict[str, Any] = {"server": label, "n": n}
    res["busy_before_pct"] = await wait_quiet(QUIET_PCT, args.quiet_timeout)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        rss0 = servers.rss_kb()
        meter = CpuMeter(servers.pids)
        meter.start()
        t0 = now()
        clients, latencies, errors = await connect_clients(adapter, session, servers.urls, n, args.concurrency)
        elapsed = now() - t0
        cpu = meter.stop()
        gc.collect()
        gc.freeze()  # 15,000 sockets' worth of objects: keep the collector off them in the timed part
        lat = sorted(latencies)
        res.update({"connected": len(clients), "connect_errors": dict(errors), "connect_s": elapsed,
                    "connect_per_s": len(clients) / elapsed, "connect_p50_ms": _ms(percentile(lat, 0.5)),
                    "connect_p99_ms": _ms(percentile(lat, 0.99)),
                    "server_cpu_us_per_conn": 1e6 * cpu["server_cpu_s"] / max(1, len(clients)),
                    "connect_client_cpu_pct": cpu["client_cpu_pct"], "connect_other_cpu_pct": cpu["other_cpu_pct"],
                    "connect_noisy": cpu["other_cpu_pct"] > NOISY_PCT})
        if res["connect_noisy"] and retry_noisy:
            print(f"  {label} N={n}: other processes used {cpu['other_cpu_pct']:.0f}% of a core while "
                  f"connecting; again with a fresh server", flush=True)
            gc.unfreeze()
            await close_clients(clients)
            return None
        idle = CpuMeter(servers.pids)
        idle.start()
        await asyncio.sleep(args.settle)
        res["idle_server_cpu_pct"] = idle.stop()["server_cpu_pct"]
        rss1 = servers.rss_kb()
        res.update({"rss_before_kb": rss0, "rss_after_kb": rss1,
                    "rss_per_conn_kb": (rss1 - rss0) / max(1, len(clients))})
        print(f"  {label} N={n}: {len(clients)} connected in {elapsed:.1f} s, "
              f"{res['server_cpu_us_per_conn']:.0f} µs CPU and {res['rss_per_conn_kb']:.1f} KB per connection"
              + (f", failures {dict(errors)}" if errors else ""), flush=True)

        pairs_n = min(args.pairs, len(clients) // 2)
        pairs = [(clients[2 * p], clients[2 * p + 1]) for p in range(pairs_n)]
        frames = [adapter.pair_frames(a, b, args.window + 1) for a, b in pairs]
        res["frame_bytes"] = len(frames[0][0][0][0].encode()) if frames else None
        runs = []
        for rep in range(args.reps):
            for attempt in range(args.retries + 1):
                busy = await wait_quiet(QUIET_PCT, args.quiet_timeout)
                run = await relay(adapter, pairs, frames, args.window, args.warmup, args.duration,
                                  CpuMeter(servers.pids))
                run["busy_before_pct"] = busy
                run["noisy"] = run["other_cpu_pct"] > NOISY_PCT
                runs.append(run)
                print(f"  {label} N={n} relay {rep + 1}/{args.reps}: {run['msgs_per_s']:,.0f} msgs/s, "
                      f"p50 {run['p50_ms'] or 0:.1f} ms, p99 {run['p99_ms'] or 0:.1f} ms, "
                      f"{run.get('server_cpu_us_per_msg', 0):.0f} µs/msg, server {run['server_cpu_pct']:.0f}%, "
                      f"generator {run['client_cpu_pct']:.0f}%, other {run['other_cpu_pct']:.0f}%"
                      + (" (noisy)" if run["noisy"] else "")
                      + (f", {run['mismatched']} mismatched" if run["mismatched"] else "")
                      + (f", {run['other']}" if run["other"] else ""), flush=True)
                if not run["noisy"]:
                    break
        clean = [r for r in runs if not r["noisy"]] or runs
        res["relay_runs"] = runs
        res["pairs"], res["window"] = pairs_n, args.window
        for key in ("msgs_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_msg", "server_cpu_pct", "client_cpu_pct",
                    "other_cpu_pct"):
            values = [r[key] for r in clean if r.get(key) is not None]
            res[key] = statistics.mean(values) if values else None
        res["relay_noisy"] = all(r["noisy"] for r in runs)
        gc.unfreeze()
        await close_clients(clients)
    return res


# --- report -----------------------------------------------------------------------------


def _f(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table(results: Sequence[dict[str, Any]]) -> str:
    head = ("| server | N | connected | conn/s | connect p99 ms | CPU µs/conn | RSS KB/conn | idle CPU % "
            "| msgs/s | p50 ms | p99 ms | CPU µs/msg | server CPU % | generator CPU % | other CPU % |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        noisy = "*" if r.get("relay_noisy") else ""
        cnoisy = "*" if r.get("connect_noisy") else ""
        rows.append(
            f"| {r['server']} | {r['n']:,} | {r['connected']:,} | {_f(r['connect_per_s'])}{cnoisy} "
            f"| {_f(r['connect_p99_ms'], 1)} | {_f(r['server_cpu_us_per_conn'])}{cnoisy} "
            f"| {_f(r['rss_per_conn_kb'], 1)} | {_f(r['idle_server_cpu_pct'], 1)} "
            f"| {_f(r.get('msgs_per_s'))}{noisy} | {_f(r.get('p50_ms'), 1)} | {_f(r.get('p99_ms'), 1)} "
            f"| {_f(r.get('server_cpu_us_per_msg'))} | {_f(r.get('server_cpu_pct'))} | {_f(r.get('client_cpu_pct'))} "
            f"| {_f(r.get('other_cpu_pct'))} |")
    return "\n".join(rows)


def ratios(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per N and safemeet setup: msgs/s and CPU per connection and per message against PeerJS."""
    out = []
    by = {(r["server"], r["n"]): r for r in results}
    for (server, n), r in by.items():
        base = by.get(("peerjs", n))
        if server == "peerjs" or base is None:
            continue
        def ratio(key: str) -> float | None:
            a, b = r.get(key), base.get(key)
            return None if not a or not b else a / b
        out.append({"server": server, "n": n, "msgs_per_s": ratio("msgs_per_s"),
                    "cpu_per_conn": ratio("server_cpu_us_per_conn"), "cpu_per_msg": ratio("server_cpu_us_per_msg"),
                    "rss_per_conn": ratio("rss_per_conn_kb")})
    return out


def ratio_text(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "(no PeerJS figures in this run: no ratios)"
    lines = ["| vs PeerJS | N | msgs/s ratio | CPU/conn ratio | CPU/msg ratio | RSS/conn ratio "
             "| goal (≥1.2× msgs/s at ≤1.0× CPU/conn) |",
             "|---|---|---|---|---|---|---|"]
    for q in rows:
        goal = "-"
        if q["server"] == "safemeet" and q["msgs_per_s"] is not None and q["cpu_per_conn"] is not None:
            goal = "met" if q["msgs_per_s"] >= 1.2 and q["cpu_per_conn"] <= 1.0 else "not met"
        lines.append(f"| {q['server']} | {q['n']:,} | {_f(q['msgs_per_s'], 2)} | {_f(q['cpu_per_conn'], 2)} "
                     f"| {_f(q['cpu_per_msg'], 2)} | {_f(q['rss_per_conn'], 2)} | {goal} |")
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the servers
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small N (500), one 3 s relay run: a minute in all")
    ap.add_argument("--n", default="1000,5000,15000", help="connection counts (comma list)")
    ap.add_argument("--servers", default="safemeet,safemeet-redis2,peerjs", help="which setups (comma list)")
    ap.add_argument("--pairs", type=int, default=50)
    ap.add_argument("--window", type=int, default=4, help="offers in flight per pair")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds measured per relay run")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--reps", type=int, default=2, help="relay runs per server and N")
    ap.add_argument("--retries", type=int, default=2, help="extra runs when other processes disturbed one")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds before reading RSS (idle CPU window)")
    ap.add_argument("--concurrency", type=int, default=100, help="handshakes in flight while connecting")
    ap.add_argument("--quiet-timeout", type=float, default=30.0, help="longest wait for a quiet machine")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--sigbench", type=Path, default=SIGBENCH_DIR, help="sigbench directory (PeerJS adapter)")
    ap.add_argument("--peer-dir", type=Path,
                    default=Path(os.environ.get("SAFEMEET_BENCH_DIR", "/tmp/safemeet-bench")) / "peerjs",
                    help="where npm `peer` is (installed when missing)")
    ap.add_argument("--json", type=Path, help="also write the results to this file")
    ap.add_argument("--logs", type=Path, help="keep the servers' logs here (default: dropped with their temp dir)")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.duration, args.warmup, args.reps = "500", 3.0, 1.0, 1
    args.ns = [int(x) for x in args.n.split(",") if x.strip()]
    args.server_list = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.server_list) - {"safemeet", "safemeet-redis2", "peerjs"}
    if unknown:
        ap.error(f"unknown servers: {', '.join(sorted(unknown))}")
    return args


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
    sdp_length = sdp_length_for(ENV_CHARS)
    adapters: dict[str, LoadAdapter] = {}
    if {"safemeet", "safemeet-redis2"} & set(args.server_list):
        t0 = now()
        identities = [Identity.generate() for _ in range(max(args.ns))]
        print(f"{len(identities):,} identities generated in {now() - t0:.1f} s (not timed)", flush=True)
        adapters["safemeet"] = adapters["safemeet-redis2"] = SafemeetAdapter(identities, sdp_length)
    if "peerjs" in args.server_list:
        adapter_class = load_sigbench(args.sigbench)
        if adapter_class is not None and ensure_peer(args.peer_dir):
            adapters["peerjs"] = PeerJSLoadAdapter(adapter_class, sdp_length)
    results = []
    for n in args.ns:
        for label in args.server_list:
            if label not in adapters:
                continue
            adapter = adapters[label]
            for attempt in range(args.retries + 1):
                with tempfile.TemporaryDirectory(prefix="node-load-") as tmp:
                    logdir = args.logs / f"{label}-{n}-{attempt}" if args.logs else None
                    servers = Servers(label, Path(tmp), args.server_cpu, logdir)
                    try:
                        if label == "peerjs":
                            servers.start_peerjs(args.peer_dir, n + 1000)
                        else:
                            servers.start_safemeet(2 if label == "safemeet-redis2" else 1, label == "safemeet-redis2")
                        await asyncio.sleep(0.5)
                        result = await run_case(label, adapter, servers, n, args, attempt < args.retries)
                    finally:
                        servers.stop()
                if result is not None:
                    results.append(result)
                    break
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "client_loop": loop_name,
            "server_cpu": args.server_cpu, "client_cpu": args.client_cpu, "rate_limit": BENCH_RATE_LIMIT,
            "env_chars": ENV_CHARS, "sdp_chars": sdp_length, "pairs": args.pairs, "window": args.window,
            "duration_s": args.duration, "peer_version": PEER_VERSION if "peerjs" in adapters else None,
            "results": results, "ratios": ratios(results)}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    fds = raise_fd_limit()
    if max(args.ns) + 500 > fds:
        print(f"the fd limit is {fds}: N above {fds - 500} cannot be held by one process", file=sys.stderr)
        return 2
    os.sched_setaffinity(0, {args.client_cpu})
    print(f"servers on core {args.server_cpu}, load generator on core {args.client_cpu}; fd limit {fds}; "
          f"safemeet nodes run with --rate-limit {BENCH_RATE_LIMIT} (lifts the per-connection limiter, "
          f"30 msg/s by default)", flush=True)
    run = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop  # optional: a faster load generator

        run = uvloop.run
    report = run(amain(args))
    print()
    print(f"{report['date']}, {report['cpus']} cores; {args.pairs} pairs x {args.window} in flight; "
          f"envelope {ENV_CHARS} chars (SDP {report['sdp_chars']} chars, the same SDP in PeerJS's payload); "
          "offer frame bytes: " + ", ".join(f"{k} {v}" for k, v in
                                            {r["server"]: r["frame_bytes"] for r in report["results"]}.items()))
    print(table(report["results"]))
    print(f"`*` = other processes used more than {NOISY_PCT:.0f}% of a core while connecting (conn/s, CPU/conn) "
          f"or in every relay run (msgs/s)")
    print()
    print(ratio_text(report["ratios"]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
        print(f"\nwritten: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
