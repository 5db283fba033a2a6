"""The web app's files, /healthz, security headers, and path traversal."""

import pytest

from safemeet.node.static import SECURITY_HEADERS

CSP_PREFIX = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'"
)
CSP_SUFFIX = "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def assert_security_headers(headers, host: str) -> None:
    assert headers["Content-Security-Policy"] == f"{CSP_PREFIX} ws://{host}{CSP_SUFFIX}"
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Permissions-Policy"] == "camera=(self), microphone=(self), display-capture=(self)"


def host_of(node) -> str:
    return node.base.removeprefix("http://")


async def test_index(node, web_dir):
    async with node.session.get(node.base + "/") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert await resp.text() == (web_dir / "index.html").read_text()
        assert_security_headers(resp.headers, host_of(node))


@pytest.mark.parametrize(
    ("path", "mime"),
    [("/app.css", "text/css; charset=utf-8"), ("/js/app.js", "text/javascript; charset=utf-8")],
)
async def test_assets_have_exact_mime_types(node, path, mime):
    async with node.session.get(node.base + path) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == mime
        assert_security_headers(resp.headers, host_of(node))


async def test_healthz(node):
    async with node.session.get(node.base + "/healthz") as resp:
        assert resp.status == 200 and await resp.text() == "ok"
        assert_security_headers(resp.headers, host_of(node))


async def test_not_found_has_security_headers_too(node):
    async with node.session.get(node.base + "/nope.txt") as resp:
        assert resp.status == 404
        assert_security_headers(resp.headers, host_of(node))


async def test_missing_index_is_404(start_node, tmp_path):
    empty = tmp_path / "empty-web"
    empty.mkdir()
    node = await start_node(web_dir=empty)
    async with node.session.get(node.base + "/") as resp:
        assert resp.status == 404


async def test_websocket_path_rejects_plain_http(node):
    async with node.session.get(node.base + "/ws") as resp:
        assert resp.status == 400


async def test_hostile_host_header_is_not_echoed_into_the_csp(node, raw_http):
    answer = await raw_http(node, b"GET /healthz HTTP/1.1\r\nHost: evil; script-src *\r\nConnection: close\r\n\r\n")
    head = answer.split(b"\r\n\r\n")[0].decode()
    assert "script-src *" not in head and "connect-src 'self'; base-uri" in head


@pytest.mark.parametrize(
    "path",
    [
        "/js/../../etc/passwd",
        "/js/../../secret.txt",
        "/js/..%2f..%2fsecret.txt",
        "/js/%2e%2e/%2e%2e/secret.txt",
        "/js/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/../secret.txt",
        "/js/..%5c..%5csecret.txt",
        "/js/app.js%00.css",
        "//etc/passwd",
        "/js//etc/passwd",
        "/web/index.html",
    ],
)
async def test_path_traversal_is_404(node, raw_http, path):
    answer = await raw_http(node, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 404"), answer[:80]
    assert b"TOP-SECRET" not in answer and b"root:" not in answer


async def test_symlink_out_of_the_web_dir_is_404(node, web_dir):
    (web_dir / "js" / "leak.js").symlink_to(web_dir.parent / "secret.txt")
    async with node.session.get(node.base + "/js/leak.js") as resp:
        assert resp.status == 404
        assert "TOP-SECRET" not in await resp.text()


async def test_the_packaged_web_app_is_served_by_default(start_node):
    from safemeet.node.config import WEB_DIR

    if not (WEB_DIR / "index.html").is_file():
        pytest.skip("the web app is not in the package yet")
    node = await start_node(web_dir=WEB_DIR)
    async with node.session.get(node.base + "/") as resp:
        assert resp.status == 200 and "text/html" in resp.headers["Content-Type"]
    for script in sorted((WEB_DIR / "js").glob("*.js")):
        async with node.session.get(f"{node.base}/js/{script.name}") as resp:
            assert resp.status == 200, script.name
            assert resp.headers["Content-Type"] == "text/javascript; charset=utf-8"
