"""Typed application keys for the state a node shares between handlers."""

from aiohttp import web

from .backends import Health
from .config import NodeConfig
from .hub import Presence
from .registry import Registry

CONFIG = web.AppKey("config", NodeConfig)
REGISTRY = web.AppKey("registry", Registry)
PRESENCE = web.AppKey("presence", Presence)
HEALTH: web.AppKey[Health] = web.AppKey("health")  # checks of the services the node depends on
SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("sockets")
