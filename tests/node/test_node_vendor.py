"""Third-party browser modules (npm, package-lock.json) served at /vendor/ from a fixed map."""

import pytest

from safemeet.node.static import VENDOR


@pytest.fixture
def vendor_dir(tmp_path):
    root = tmp_path / "node_modules"
    for rel in VENDOR.values():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"export const name = {rel!r};\n")
    (root / "uqr" / "package.json").write_text('{"secret": "TOP-SECRET"}')
    return root


async def test_every_mapped_file_is_served_as_javascript(start_node, vendor_dir):
    node = await start_node(vendor_dir=vendor_dir)
    for name, rel in VENDOR.items():
        async with node.session.get(f"{node.base}/vendor/{name}") as resp:
            assert resp.status == 200, name
            assert resp.headers["Content-Type"] == "text/javascript; charset=utf-8"
            assert rel in await resp.text()
            assert "script-src 'self';" in resp.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/vendor/uqr/package.json",
        "/vendor/uqr/dist/index.mjs",
        "/vendor/other.js",
        "/vendor/../uqr/package.json",
        "/vendor/%2e%2e/uqr/package.json",
        "/vendor/noble-hashes/../../uqr/package.json",
        "/vendor/noble-hashes/index.js",
    ],
)
async def test_nothing_else_in_node_modules_is_reachable(start_node, vendor_dir, raw_http, path):
    node = await start_node(vendor_dir=vendor_dir)
    answer = await raw_http(node, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 404"), answer[:80]
    assert b"TOP-SECRET" not in answer


async def test_no_vendor_dir_means_404(start_node):
    node = await start_node(vendor_dir=None)
    async with node.session.get(node.base + "/vendor/uqr.js") as resp:
        assert resp.status == 404


def test_the_checkout_has_every_mapped_file():
    from safemeet.node.config import VENDOR_DIR

    if VENDOR_DIR is None:
        pytest.skip("npm ci has not run in this checkout")
    assert [rel for rel in VENDOR.values() if not (VENDOR_DIR / rel).is_file()] == []
