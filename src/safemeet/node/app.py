"""The node application: ``create_app(config)`` builds it, ``create_runner(app)`` serves it quietly."""

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web

from . import metrics, static, websocket
from .appkeys import CONFIG, HEALTH, PRESENCE, REGISTRY, SOCKETS
from .backends import open_backends
from .config import NodeConfig

log = logging.getLogger("safemeet.node")


async def _backends_ctx(app: web.Application) -> AsyncIterator[None]:
    """Registry and presence: embedded, or shared through Redis (``NodeConfig.redis_url``)."""
    backends = await open_backends(app[CONFIG])
    app[REGISTRY], app[PRESENCE], app[HEALTH] = backends.registry, backends.presence, backends.health
    yield
    await backends.close()


async def _close_sockets(app: web.Application) -> None:
    """``on_shutdown``: tell every peer the node is going away (1001) before handlers stop."""
    open_sockets = app[SOCKETS]
    sockets = list(open_sockets)
    if sockets:
        log.info("closing %d connections", len(sockets))
    await asyncio.gather(
        *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"node shutting down") for ws in sockets),
        return_exceptions=True,
    )


def create_app(config: NodeConfig) -> web.Application:
    """A complete node: web app, ``/healthz``, ``/ws``; registry and presence owned by cleanup_ctx."""
    app = web.Application(client_max_size=64 * 1024)
    app[CONFIG] = config
    app[SOCKETS] = set()
    app[metrics.METRICS] = metrics.Metrics()
    app.cleanup_ctx.append(_backends_ctx)
    app.on_shutdown.append(_close_sockets)
    app.on_response_prepare.append(static.security_headers)
    app.router.add_get("/ws", websocket.handle)
    app.router.add_get("/metrics", metrics.handle)
    static.add_routes(app)
    return app


class _Anonymous(logging.Filter):
    """Strip aiohttp's server log records of arguments (it logs client addresses) and tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        kind = type(record.exc_info[1]).__name__ if record.exc_info and record.exc_info[1] else None
        record.msg = str(record.msg).split(" from %s")[0] + (f": {kind}" if kind else "")
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        return True


def _http_logger() -> logging.Logger:
    logger = logging.getLogger("safemeet.node.http")
    if not any(isinstance(f, _Anonymous) for f in logger.filters):
        logger.addFilter(_Anonymous())
    return logger


def create_runner(app: web.Application) -> web.AppRunner:
    """An AppRunner without access log (it records IPs) and with an anonymising error logger."""
    config = app[CONFIG]
    return web.AppRunner(
        app,
        access_log=None,
        logger=_http_logger(),
        handle_signals=False,
        shutdown_timeout=config.shutdown_timeout_s,
    )
