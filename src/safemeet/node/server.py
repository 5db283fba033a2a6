"""Running a node as a process: listen (HTTP or HTTPS), announce the URL, stop on SIGINT/SIGTERM."""

import asyncio
import logging
import signal
import ssl
import sys

from aiohttp import web

from .app import create_app, create_runner
from .config import NodeConfig

log = logging.getLogger("safemeet.node")


def ssl_context(config: NodeConfig) -> ssl.SSLContext | None:
    """A server TLS context from the configured certificate chain and key, or None for HTTP."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


def public_url(config: NodeConfig, port: int) -> str:
    """The URL to open: wildcard binds are announced as the loopback address."""
    host = config.host
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host:
        host = f"[{host}]"
    return f"{'https' if config.tls else 'http'}://{host}:{port}/"


def _announce(url: str) -> None:
    """Exactly one line on stdout, UTF-8 whatever the locale, flushed at once."""
    line = f"safemeet node listening — open {url}\n"
    sys.stdout.flush()
    sys.stdout.buffer.write(line.encode("utf-8"))
    sys.stdout.buffer.flush()


async def serve(config: NodeConfig, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set or SIGINT/SIGTERM arrives; then close peers with 1001 and return."""
    stop = stop or asyncio.Event()
    context = ssl_context(config)  # fail on a bad certificate before binding
    runner = create_runner(create_app(config))
    await runner.setup()
    loop = asyncio.get_running_loop()
    signals: list[signal.Signals] = []
    try:
        site = web.TCPSite(runner, config.host, config.port, ssl_context=context)
        await site.start()
        port = runner.addresses[0][1]
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
                signals.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
                pass
        log.info("node started")
        _announce(public_url(config, port))
        await stop.wait()
        log.info("node stopping")
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await runner.cleanup()


def run(config: NodeConfig) -> int:
    """Blocking entry for the CLI: serve; the exit code is 0 after a signal, 1 if it cannot start."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass
    except (OSError, ssl.SSLError) as exc:  # port taken, address unknown, unreadable certificate
        print(f"safemeet node cannot start: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0
