"""``node.server.run`` as a real process: one announced line, real port, clean exit on signals."""

import asyncio
import datetime
import ipaddress
import json
import re
import signal
import socket
import ssl
import sys
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from safemeet.core.b64 import b64u_decode, b64u_encode
from safemeet.core.identity import Identity
from safemeet.node.config import NodeConfig
from safemeet.node.server import public_url

LINE = re.compile(r"^safemeet node listening — open (https?)://127\.0\.0\.1:(\d+)/$")
START = """
import sys
from pathlib import Path
from safemeet.node import NodeConfig, run
tls = sys.argv[3:] and dict(tls_cert=Path(sys.argv[3]), tls_key=Path(sys.argv[4])) or {}
sys.exit(run(NodeConfig(port=0, data_dir=Path(sys.argv[1]), web_dir=Path(sys.argv[2]), **tls)))
"""


async def start(tmp_path: Path, web_dir: Path, *tls: Path) -> tuple[asyncio.subprocess.Process, str, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", START, str(tmp_path / "data"), str(web_dir), *map(str, tls),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode("utf-8").rstrip("\n")
    match = LINE.match(line)
    assert match, line
    port = int(match.group(2))
    assert port != 0
    return proc, match.group(1), port


async def stop(proc: asyncio.subprocess.Process, sig: int) -> tuple[int, bytes, bytes]:
    proc.send_signal(sig)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 5)
    return proc.returncode, stdout, stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_run_announces_the_real_port_and_exits_cleanly(tmp_path, web_dir, sig):
    proc, scheme, port = await start(tmp_path, web_dir)
    try:
        assert scheme == "http"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200 and await resp.text() == "ok"
            ws = await session.ws_connect(f"http://127.0.0.1:{port}/ws")
            identity = Identity.generate()
            nonce = b64u_decode(json.loads((await ws.receive(timeout=5)).data)["nonce"], 32)
            keys = identity.public.to_json()
            proof = b64u_encode(identity.auth_proof(nonce))
            await ws.send_json({"t": "register", "v": 1, "keys": keys, "proof": proof})
            number = json.loads((await ws.receive(timeout=5)).data)["number"]
            code, stdout, stderr = await stop(proc, sig)
            closing = await ws.receive(timeout=5)
            assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == aiohttp.WSCloseCode.GOING_AWAY
        assert code == 0, stderr
        assert stdout == b""  # the announcement was the one and only line
        logs = stderr.decode()
        assert "registration" in logs
        for secret in (number, "127.0.0.1", *keys.values()):
            assert secret not in logs
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


async def test_https_when_a_certificate_is_given(tmp_path, web_dir):
    cert, key = _self_signed(tmp_path)
    proc, scheme, port = await start(tmp_path, web_dir, cert, key)
    try:
        assert scheme == "https"
        context = ssl.create_default_context(cafile=str(cert))
        async with aiohttp.ClientSession() as session:
            async with session.get(f"https://127.0.0.1:{port}/", ssl=context) as resp:
                assert resp.status == 200
                assert "wss://127.0.0.1:" in resp.headers["Content-Security-Policy"]
        code, _, stderr = await stop(proc, signal.SIGTERM)
        assert code == 0, stderr
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_public_url():
    assert public_url(NodeConfig(host="0.0.0.0"), 80) == "http://127.0.0.1:80/"
    assert public_url(NodeConfig(host="::"), 80) == "http://[::1]:80/"
    assert public_url(NodeConfig(host="fe80::1"), 80) == "http://[fe80::1]:80/"
    assert public_url(NodeConfig(host="node.example", tls_cert=Path("c"), tls_key=Path("k")), 443) == (
        "https://node.example:443/"
    )


def test_config_needs_both_tls_files():
    with pytest.raises(ValueError):
        NodeConfig(tls_cert=Path("c"))


async def test_a_peer_that_ignores_the_close_does_not_hold_up_shutdown(tmp_path, web_dir):
    proc, _, port = await start(tmp_path, web_dir)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await writer.drain()
        assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 101")
        code, _, stderr = await stop(proc, signal.SIGTERM)  # we never answer the close frame
        assert code == 0, stderr
        writer.close()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_run_reports_a_port_in_use(tmp_path, capsys):
    from safemeet.node.server import run

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run(NodeConfig(port=port, data_dir=tmp_path / "data")) == 1
    out, err = capsys.readouterr()
    assert out == "" and "cannot start" in err


def test_run_reports_a_missing_certificate(tmp_path, capsys):
    from safemeet.node.server import run

    config = NodeConfig(port=0, data_dir=tmp_path / "data", tls_cert=tmp_path / "no.pem", tls_key=tmp_path / "no.key")
    assert run(config) == 1
    assert "cannot start" in capsys.readouterr().err
