"""A deployment's node list (``--nodes``): checked at start, handed to browsers at registration,
and the only WebSocket origins the page's Content-Security-Policy lets it reach."""

import re

import pytest

from safemeet.cli import main
from safemeet.node.config import NodeConfig, node_origin


def connect_src(csp: str) -> list[str]:
    found = re.findall(r"(?:^|; )connect-src ([^;]*)", csp)
    assert len(found) == 1, csp
    return found[0].split(" ")


@pytest.mark.parametrize(("url", "origin"), [
    ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
    ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
    (" HTTPS://Meet.Example.org:443 ", "https://meet.example.org"),
    ("http://node-b.lan:80", "http://node-b.lan"),
    ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
])
def test_node_urls_become_origins(url, origin):
    assert node_origin(url) == origin


@pytest.mark.parametrize("url", [
    "", "node-b.lan:8765", "ftp://node-b.lan", "ws://node-b.lan", "http://", "http://node-b.lan/app",
    "http://node-b.lan/?x=1", "http://node-b.lan#top", "http://user@node-b.lan", "http://node-b.lan:0",
    "http://node-b.lan:70000", "http://node-b.lan:port", "http://a;connect-src *", "http://a b",
    "http://*.example.org",
])
def test_anything_but_a_base_url_is_refused_by_name(url):
    with pytest.raises(ValueError, match=re.escape(repr(url))):
        NodeConfig(nodes=(url,))


def test_the_list_keeps_its_order_without_duplicates():
    config = NodeConfig(nodes=("http://b:2", "http://a:1/", "HTTP://B:2"))
    assert config.nodes == ("http://b:2", "http://a:1")


@pytest.mark.parametrize(("value", "message"), [
    ("http://a:1,,http://b:2", "empty entry in --nodes"),
    ("http://a:1,", "empty entry in --nodes"),
    ("http://a:1,file:///etc", "not a node base URL: 'file:///etc'"),
])
def test_serve_refuses_a_bad_list_before_starting(tmp_path, capsys, value, message):
    assert main(["serve", "--port", "0", "--data", str(tmp_path), "--nodes", value]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing was opened


async def test_csp_allows_exactly_the_listed_nodes(start_node):
    node = await start_node(nodes=("http://127.0.0.1:1111", "https://meet.example.org", "http://[::1]:2222/"))
    for path in ("/", "/app.css", "/nothing-here"):
        async with node.session.get(node.base + path) as resp:
            csp = resp.headers["Content-Security-Policy"]
            assert connect_src(csp) == ["'self'", "ws://127.0.0.1:1111", "wss://meet.example.org", "ws://[::1]:2222"], csp
    # A Host header that is not in the list adds nothing.
    async with node.session.get(node.base + "/", headers={"Host": "evil.example:80"}) as resp:
        assert connect_src(resp.headers["Content-Security-Policy"]) == [
            "'self'", "ws://127.0.0.1:1111", "wss://meet.example.org", "ws://[::1]:2222"]


async def test_without_a_list_the_page_reaches_only_its_own_node(node):
    async with node.session.get(node.base + "/") as resp:
        host = node.base.removeprefix("http://")
        assert connect_src(resp.headers["Content-Security-Policy"]) == ["'self'", f"ws://{host}"]


async def test_registered_carries_the_list_only_when_there_is_one(start_node):
    listed = await start_node(nodes=("http://127.0.0.1:1111/", "http://127.0.0.1:2222"))
    peer = await listed.connect(register=False)
    reply = await peer.request(peer.register_message(id=5))
    assert reply == {"t": "registered", "number": reply["number"], "id": 5,
                     "nodes": ["http://127.0.0.1:1111", "http://127.0.0.1:2222"]}
    await peer.close()

    single = await start_node(data_dir=listed.config.data_dir.parent / "other")
    peer = await single.connect(register=False)
    reply = await peer.request(peer.register_message())
    assert "nodes" not in reply and reply["t"] == "registered"
    await peer.close()
