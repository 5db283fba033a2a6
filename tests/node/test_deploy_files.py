"""Dockerfile, compose.yaml and deploy/turnserver.conf agree with the node and with each other.

No Docker here: every node command line in the files goes through the real ``safemeet serve``
argument handling (up to the point where it would start serving), and the values that must match
across files (the TURN secret, ports, the node list, the vendor directory) are compared.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from safemeet import cli
from safemeet.node import config as node_config
from safemeet.node import server
from safemeet.node.config import NodeConfig
from safemeet.node.static import VENDOR

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = (ROOT / "compose.yaml").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()
TURNSERVER = (ROOT / "deploy" / "turnserver.conf").read_text()


def _services(text: str) -> dict[str, str]:
    """Each service block of compose.yaml by name (its lines, indentation kept)."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    inside = False
    for line in text.splitlines():
        if line == "services:":
            inside = True
        elif inside and line and not line.startswith((" ", "#")):
            inside = False  # the next top-level key
        elif inside and (m := re.fullmatch(r"  ([A-Za-z0-9_-]+):", line)):
            current = blocks[m.group(1)] = []
        elif inside and current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in blocks.items()}


def _flow(block: str, key: str) -> Any:
    """The value of ``key:`` written as a JSON array (YAML flow style), possibly over several lines."""
    m = re.search(rf"^\s+{re.escape(key)}: (?=\[)", block, re.MULTILINE)
    assert m, f"no '{key}: [...]' in\n{block}"
    return json.JSONDecoder().raw_decode(block, m.end())[0]


def _scalar(block: str, key: str) -> str:
    m = re.search(rf"^\s+{re.escape(key)}: (\S+)\s*$", block, re.MULTILINE)
    assert m, f"no '{key}:' in\n{block}"
    return m.group(1)


def _turn_conf() -> dict[str, str | None]:
    """coturn's ``key=value`` and bare ``flag`` lines."""
    settings: dict[str, str | None] = {}
    for line in TURNSERVER.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip() if value else None
    return settings


def _dockerfile_json(instruction: str) -> list[str]:
    m = re.search(rf"^{instruction} (\[.*\])$", DOCKERFILE, re.MULTILINE)
    assert m, f"no exec-form {instruction} in the Dockerfile"
    return json.loads(m.group(1))


@pytest.fixture
def serve_config(monkeypatch):
    """Run ``safemeet`` with these arguments through the real CLI and return the NodeConfig it
    would serve (or the exit code when it refuses them)."""
    for name in ("SAFEMEET_TURN_SECRET", "SAFEMEET_REDIS", "SAFEMEET_DATA"):
        monkeypatch.delenv(name, raising=False)

    def run(argv: list[str]) -> NodeConfig | int:
        seen: list[NodeConfig] = []

        def capture(config: NodeConfig) -> int:
            seen.append(config)
            return 0

        monkeypatch.setattr(server, "run", capture)
        code = cli.main(argv)
        return seen[0] if seen else code

    return run


SERVICES = _services(COMPOSE)
NODES = sorted(name for name, block in SERVICES.items() if "<<: *node" in block)


def test_compose_has_two_nodes_redis_and_coturn():
    assert len(NODES) == 2, SERVICES.keys()
    assert {"redis", "coturn"} <= SERVICES.keys()
    # The anchor the nodes share builds this repository's image.
    anchor = COMPOSE.split("x-node: &node", 1)[1].split("\nservices:", 1)[0]
    assert re.search(r"^\s+build: \.$", anchor, re.MULTILINE)


@pytest.mark.parametrize("name", NODES)
def test_node_command_is_accepted_by_safemeet_serve(serve_config, name):
    block = SERVICES[name]
    config = serve_config(_flow(block, "command"))
    assert isinstance(config, NodeConfig), f"safemeet refused the command of {name} (exit {config})"
    assert config.host == "0.0.0.0"
    assert config.redis_url == "redis://redis:6379/0"
    (published,) = _flow(block, "ports")
    bind, host_port, container_port = published.split(":")
    assert bind == "127.0.0.1"  # plain http is published on loopback only
    assert int(container_port) == config.port
    assert f"http://localhost:{host_port}" in config.nodes  # the URL people open is in the CSP


def test_nodes_share_one_list_naming_every_published_node(serve_config):
    configs = [serve_config(_flow(SERVICES[name], "command")) for name in NODES]
    published = {f"http://localhost:{_flow(SERVICES[name], 'ports')[0].split(':')[1]}" for name in NODES}
    assert all(c.nodes == configs[0].nodes for c in configs)
    assert set(configs[0].nodes) == published


def test_turn_secret_and_address_match_coturn(serve_config):
    turn = _turn_conf()
    assert "use-auth-secret" in turn
    for name in NODES:
        config = serve_config(_flow(SERVICES[name], "command"))
        assert config.turn_secret == turn["static-auth-secret"], name
        for url in config.turn_urls:
            m = re.fullmatch(r"turn:([0-9.]+):(\d+)(\?transport=udp)?", url)
            assert m, url
            assert (m.group(1), m.group(2)) == (turn["listening-ip"], turn["listening-port"])


def test_coturn_service_reads_the_deploy_config():
    coturn = SERVICES["coturn"]
    (mount,) = _flow(coturn, "volumes")
    source, target, mode = mount.split(":")
    assert (ROOT / source).resolve() == (ROOT / "deploy" / "turnserver.conf").resolve()
    assert mode == "ro"
    command = _flow(coturn, "command")
    assert command[command.index("-c") + 1] == target
    assert _scalar(coturn, "network_mode") == "host"  # the relay address is the host's


def test_redis_is_kept_as_a_database():
    command = _flow(SERVICES["redis"], "command")
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options["--appendonly"] == "yes"
    assert options["--maxmemory-policy"] == "noeviction"
    assert options["--dir"] == _flow(SERVICES["redis"], "volumes")[0].split(":")[1]


def test_image_default_command_is_accepted_and_matches_the_image(serve_config):
    assert _dockerfile_json("ENTRYPOINT") == ["safemeet"]
    config = serve_config(_dockerfile_json("CMD"))
    assert isinstance(config, NodeConfig)
    assert config.host == "0.0.0.0"
    assert re.search(rf"^EXPOSE {config.port}$", DOCKERFILE, re.MULTILINE)
    assert re.search(rf"^VOLUME {config.data_dir}$", DOCKERFILE, re.MULTILINE)
    assert f"http://127.0.0.1:{config.port}/healthz" in DOCKERFILE  # the HEALTHCHECK probes it
    assert re.search(r"^USER (?!root)\w+$", DOCKERFILE, re.MULTILINE)


def test_image_puts_node_modules_where_the_installed_node_looks():
    venv = re.search(r"python3 -m venv (\S+)", DOCKERFILE).group(1)
    python = re.search(r"^FROM python:(\d+\.\d+)-slim$", DOCKERFILE, re.MULTILINE).group(1)
    dest = re.search(r"^COPY --from=vendor /build/node_modules (\S+)$", DOCKERFILE, re.MULTILINE).group(1)
    # Where the package's web/ lands in that venv, and where the node then looks for node_modules.
    web_dir = Path(venv, "lib", f"python{python}", "site-packages", "safemeet", "web")
    hops = Path(node_config.WEB_DIR).relative_to(node_config._REPO_NODE_MODULES.parent)
    assert Path(dest) == web_dir.parents[len(hops.parts) - 1] / "node_modules"


def test_vendor_packages_survive_npm_omit_dev():
    assert "npm ci --omit=dev" in DOCKERFILE
    dependencies = json.loads((ROOT / "package.json").read_text())["dependencies"]
    for rel in VENDOR.values():
        parts = rel.split("/")
        package = "/".join(parts[:2]) if rel.startswith("@") else parts[0]
        assert package in dependencies, rel


def test_build_context_leaves_out_everything_but_the_sources():
    patterns = [line for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line and not line.startswith("#")]
    assert patterns[0] == "*"  # an allowlist: keys, data and venvs never reach the daemon
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    for m in re.finditer(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.MULTILINE):
        for source in m.group(1).split():
            assert source.rstrip("/") in allowed, source
