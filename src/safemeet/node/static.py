"""The web app's files, ``/healthz``, and the strict security headers on every response."""

import re

from aiohttp import hdrs, web

from .appkeys import CONFIG, HEALTH
from .config import ws_origin

MIME = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src {connect}; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self)",
}
# Third-party browser modules, installed by npm (package-lock.json) and served same-origin:
# a fixed map of URL name → file inside the vendor directory; nothing else there is reachable.
_NOBLE = ("_md", "_u64", "hmac", "pbkdf2", "scrypt", "sha2", "utils")  # scrypt.js and its imports
VENDOR = {
    "uqr.js": "uqr/dist/index.mjs",
    "jsqr.js": "jsqr/dist/jsQR.js",
    **{f"noble-hashes/{n}.js": f"@noble/hashes/{n}.js" for n in _NOBLE},
}
# A Host header is only echoed into the CSP when it is a plain host[:port]; anything else could
# smuggle directives, and then 'self' alone stays (it covers same-origin ws/wss in CSP Level 3).
_HOST = re.compile(r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def content_security_policy(request: web.BaseRequest) -> str:
    """The CSP for this request. The page may open WebSockets to its own origin and, with a node
    list (``--nodes``), to exactly those nodes, nothing else. Without a list its own origin is
    also named explicitly, for older browsers. ('self' stays with a list: the page may be opened
    under a name the list spells differently, e.g. 127.0.0.1 for localhost.)"""
    nodes = request.app[CONFIG].nodes
    if nodes:
        return _CSP.format(connect=" ".join(["'self'", *(ws_origin(origin) for origin in nodes)]))
    connect = "'self'"
    host = request.host
    if _HOST.fullmatch(host):
        connect += f" {'wss' if request.secure else 'ws'}://{host}"
    return _CSP.format(connect=connect)


async def security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: every response, including errors and the 101 upgrade."""
    response.headers["Content-Security-Policy"] = content_security_policy(request)
    response.headers.update(SECURITY_HEADERS)


def _file(request: web.Request, *parts: str) -> web.FileResponse:
    root = request.app[CONFIG].web_dir.resolve()
    path = root.joinpath(*parts).resolve()
    if not path.is_relative_to(root) or path.suffix not in MIME or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={hdrs.CONTENT_TYPE: MIME[path.suffix], hdrs.CACHE_CONTROL: "no-cache"})


async def index(request: web.Request) -> web.StreamResponse:
    return _file(request, "index.html")


async def top_level(request: web.Request) -> web.StreamResponse:
    return _file(request, request.match_info["name"])


async def script(request: web.Request) -> web.StreamResponse:
    return _file(request, "js", request.match_info["name"])


async def vendor(request: web.Request) -> web.StreamResponse:
    root = request.app[CONFIG].vendor_dir
    rel = VENDOR.get(request.match_info["name"])
    if root is None or rel is None or not (path := root / rel).is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={hdrs.CONTENT_TYPE: MIME[".js"], hdrs.CACHE_CONTROL: "no-cache"})


async def healthz(request: web.Request) -> web.StreamResponse:
    """``ok``; with Redis one more line per service (``redis: ok``), and 503 ``unavailable``
    while one is out of reach (the node still serves the app; use it for readiness, not liveness)."""
    checks = await request.app[HEALTH]()
    ok = all(state == "ok" for state in checks.values())
    lines = ["ok" if ok else "unavailable", *(f"{name}: {state}" for name, state in checks.items())]
    return web.Response(text="\n".join(lines), status=200 if ok else 503, headers={hdrs.CACHE_CONTROL: "no-store"})


def add_routes(app: web.Application) -> None:
    """Only plain file names match; ``..``, slashes and encoded tricks never reach the disk."""
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get(r"/{name:[A-Za-z0-9_-]+\.(?:css|svg)}", top_level)
    app.router.add_get(r"/js/{name:[A-Za-z0-9_-]+\.js}", script)
    app.router.add_get(r"/vendor/{name:[A-Za-z0-9_/-]+\.js}", vendor)
