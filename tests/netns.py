"""Two separated networks on one machine, for calls that must cross a relay or survive a path loss.

``net_lab()`` makes two network namespaces, ``a`` and ``b``, each joined to the root namespace by
a veth pair with documentation-range addresses (a /30 out of 198.51.100.0/24 for ``a``, out of
203.0.113.0/24 for ``b``). The root namespace routes between them (forwarding is switched on for
these two veth devices only), and services the test runs in the root namespace (node, coturn)
listen on ``lab.server``, the root end of ``a``'s pair, which both namespaces reach. The lab is
IPv4 only (IPv6 is switched off on its devices).

Peers run inside a namespace (``lab.a.run(...)`` or the ``lab.a.prefix`` argv prefix). Firewall
rules live in nftables tables of their own: ``lab.block_direct()`` drops everything forwarded
between the two namespaces (two separated networks that can only meet at the relay), and
``Side.block_udp_port`` drops one UDP port inside a namespace for a while (the path a call uses
goes away). Everything is removed when the ``async with`` block ends, also on failure.

Needs root, ``ip`` (iproute2) and ``nft`` (nftables); scripts/setup-env installs both. Without
network namespaces (not root, or a container that refuses them) ``net_lab`` skips the test.
"""

import asyncio
import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

NETS = (ipaddress.ip_network("198.51.100.0/24"), ipaddress.ip_network("203.0.113.0/24"))


def _tool(name: str, package: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail(f"{name} is not installed: scripts/setup-env installs {package}")
    return path


def _run(*argv: str, input: str | None = None) -> str:
    done = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Side:
    """One namespace: its name, its address, and the root-namespace address it routes through."""

    ns: str
    address: str
    gateway: str
    root_dev: str
    ns_dev: str
    ip: str
    nft: str
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    @property
    def prefix(self) -> list[str]:
        """argv prefix that runs a command inside this namespace."""
        return [self.ip, "netns", "exec", self.ns]

    def exec(self, *argv: str) -> str:
        """Run a short command inside the namespace; its stdout."""
        return _run(*self.prefix, *argv)

    async def run(self, *argv: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
        """Start ``argv`` inside the namespace (stdout and stderr piped); killed when the lab ends."""
        proc = await asyncio.create_subprocess_exec(*self.prefix, *argv, env=env, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        self.processes.append(proc)
        return proc

    def udp_ports(self, pid: int) -> list[int]:
        """The local UDP ports process ``pid`` has open in this namespace, on our veth address."""
        out = self.exec("ss", "-H", "-u", "-a", "-n", "-p")
        ports = []
        for line in out.splitlines():
            if f"pid={pid}," not in line:
                continue
            host, _, port = line.split()[3].rpartition(":")
            if host == self.address:
                ports.append(int(port))
        return sorted(set(ports))

    async def busiest_udp_port(self, pid: int, window_s: float = 1.0) -> int:
        """Of the UDP ports ``pid`` has open, the one that sends the most packets: the local end of
        the path its call uses. Counted by nftables over ``window_s``."""
        ports = self.udp_ports(pid)
        if not ports:
            raise AssertionError(f"process {pid} has no UDP socket on {self.address}")
        table = "safemeet_count_" + secrets.token_hex(3)
        rules = "".join(f"  udp sport {p} counter comment \"{p}\"\n" for p in ports)
        self._nft(f"table inet {table} {{\n chain outbound {{\n  type filter hook output priority 0; policy accept;\n"
                  f"{rules} }}\n}}\n")
        try:
            await asyncio.sleep(window_s)
            listing = json.loads(self.exec(self.nft, "-j", "list", "table", "inet", table))
        finally:
            self.exec(self.nft, "delete", "table", "inet", table)
        sent = {}
        for item in listing["nftables"]:
            rule = item.get("rule")
            if rule:
                counter = next(e["counter"] for e in rule["expr"] if "counter" in e)
                sent[int(rule["comment"])] = counter["packets"]
        port = max(sent, key=sent.__getitem__)
        if sent[port] == 0:
            raise AssertionError(f"no UDP traffic from process {pid} in {window_s} s: {sent}")
        return port

    @contextlib.contextmanager
    def udp_port_blocked(self, port: int) -> Iterator[None]:
        """Drop every UDP packet to or from local ``port`` in this namespace while inside."""
        table = "safemeet_block_" + secrets.token_hex(3)
        self._nft(f"table inet {table} {{\n"
                  f" chain inbound {{ type filter hook input priority -10; policy accept; udp dport {port} drop; }}\n"
                  f" chain outbound {{ type filter hook output priority -10; policy accept; udp sport {port} drop; }}\n"
                  f"}}\n")
        try:
            yield
        finally:
            self.exec(self.nft, "delete", "table", "inet", table)

    async def block_udp_port(self, port: int, seconds: float) -> None:
        """Drop UDP on local ``port`` for ``seconds``, then let it through again."""
        with self.udp_port_blocked(port):
            await asyncio.sleep(seconds)

    def _nft(self, script: str) -> None:
        _run(*self.prefix, self.nft, "-f", "-", input=script)


@dataclass
class NetLab:
    """Two namespaces routed through the root namespace; see the module docstring."""

    a: Side
    b: Side
    nft: str
    table: str
    blocked: bool = False

    @property
    def server(self) -> str:
        """The root-namespace address both namespaces reach: where node and coturn listen."""
        return self.a.gateway

    def block_direct(self) -> None:
        """Drop every packet forwarded between the two namespaces (they meet only at the server)."""
        if not self.blocked:
            _run(self.nft, "add", "rule", "inet", self.table, "between", "iifname", f"{{ {self.a.root_dev}, "
                 f"{self.b.root_dev} }}", "oifname", f"{{ {self.a.root_dev}, {self.b.root_dev} }}",
                 "counter", "drop", "comment", "direct")
            self.blocked = True

    def direct_drops(self) -> int:
        """Packets the direct block has dropped so far (0 while not blocked)."""
        listing = json.loads(_run(self.nft, "-j", "list", "chain", "inet", self.table, "between"))
        for item in listing["nftables"]:
            rule = item.get("rule")
            if rule and rule.get("comment") == "direct":
                return next(e["counter"]["packets"] for e in rule["expr"] if "counter" in e)
        return 0


def _pick_slot(ip: str) -> int:
    """A /30 index whose addresses no interface here uses (another run may hold others)."""
    used = _run(ip, "-4", "-o", "addr", "show")
    free = [k for k in range(1, 63)
            if not any(f" {net[4 * k + 1]}/" in used or f" {net[4 * k + 2]}/" in used for net in NETS)]
    if not free:
        raise RuntimeError("no free documentation-range /30 for a network lab")
    return secrets.choice(free)


def _namespaces_usable(ip: str) -> str | None:
    """Why network namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = "safemeet-probe-" + secrets.token_hex(3)
    try:
        _run(ip, "netns", "add", probe)
    except RuntimeError as exc:
        return f"cannot create a network namespace: {exc}"
    _run(ip, "netns", "del", probe)
    return None


@contextlib.asynccontextmanager
async def net_lab() -> AsyncIterator[NetLab]:
    """Two separated namespaces and everything around them; all removed on the way out."""
    ip = _tool("ip", "iproute2")
    reason = _namespaces_usable(ip)
    if reason:
        pytest.skip(f"no network lab: {reason}")
    nft = _tool("nft", "nftables")
    token = secrets.token_hex(3)
    slot = _pick_slot(ip)
    table = f"safemeet_lab_{token}"
    sides: list[Side] = []
    try:
        for name, net in zip("ab", NETS):
            side = Side(ns=f"safemeet-{token}-{name}", address=str(net[4 * slot + 2]),
                        gateway=str(net[4 * slot + 1]), root_dev=f"sm{token}{name}0", ns_dev=f"sm{token}{name}1",
                        ip=ip, nft=nft)
            _run(ip, "netns", "add", side.ns)
            sides.append(side)
            _run(ip, "link", "add", side.root_dev, "type", "veth", "peer", "name", side.ns_dev, "netns", side.ns)
            _run(ip, "addr", "add", f"{side.gateway}/30", "dev", side.root_dev)
            _run(ip, "link", "set", side.root_dev, "up")
            # IPv4 only: IPv6 link-local addresses settling a moment later look like a network
            # change to Chromium, which then aborts its page loads (ERR_NETWORK_CHANGED).
            # (A kernel without IPv6 has nothing to switch off.)
            side.exec("sh", "-c", "for c in all default lo " + side.ns_dev + "; do "
                      "f=/proc/sys/net/ipv6/conf/$c/disable_ipv6; [ ! -e $f ] || echo 1 > $f; done")
            with contextlib.suppress(FileNotFoundError), \
                    open(f"/proc/sys/net/ipv6/conf/{side.root_dev}/disable_ipv6", "w") as f:
                f.write("1")
            side.exec(ip, "addr", "add", f"{side.address}/30", "dev", side.ns_dev)
            side.exec(ip, "link", "set", "lo", "up")
            side.exec(ip, "link", "set", side.ns_dev, "up")
            side.exec(ip, "route", "add", "default", "via", side.gateway)
            # Forward between our two veth devices only; the root namespace's own setting stays.
            with open(f"/proc/sys/net/ipv4/conf/{side.root_dev}/forwarding", "w") as f:
                f.write("1")
        a, b = sides
        devs = f"{{ {a.root_dev}, {b.root_dev} }}"
        # Nothing from the lab leaves it: forwarded packets go only from one lab device to the other.
        _run(nft, "-f", "-", input=(
            f"table inet {table} {{\n chain between {{\n  type filter hook forward priority -10; policy accept;\n"
            f"  iifname {devs} oifname != {devs} drop\n  oifname {devs} iifname != {devs} drop\n }}\n}}\n"))
        yield NetLab(a=a, b=b, nft=nft, table=table)
    finally:
        for side in sides:
            for proc in side.processes:
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
        subprocess.run([nft, "delete", "table", "inet", table], capture_output=True)
        for side in sides:  # the namespace would take it along, but only later, in the kernel's own time
            subprocess.run([ip, "link", "del", side.root_dev], capture_output=True)
        for side in sides:
            subprocess.run([ip, "netns", "del", side.ns], capture_output=True)


@contextlib.asynccontextmanager
async def lab_node(data_dir, address: str, turn: tuple[tuple[str, ...], str] | None = None,
                   turn_ttl_s: int = 3600) -> AsyncIterator[str]:
    """A real node in this process listening on ``address`` (``lab.server``); yields its URL.
    ``turn``: (urls, secret) it mints credentials for, valid ``turn_ttl_s`` (negative: expired)."""
    from aiohttp import web

    from safemeet.node.app import create_app, create_runner
    from safemeet.node.config import NodeConfig

    urls, secret = turn or ((), None)
    app = create_app(NodeConfig(host=address, port=0, data_dir=data_dir, turn_urls=urls, turn_secret=secret,
                                turn_ttl_s=turn_ttl_s))
    runner = create_runner(app)
    await runner.setup()
    await web.TCPSite(runner, address, 0).start()
    try:
        yield f"http://{address}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
