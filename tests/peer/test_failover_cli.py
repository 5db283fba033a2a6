"""``safemeet answer`` and ``safemeet call`` with a node list: answering goes on across a node
restart, and a bad list is one clear line and a usage exit before anything else happens."""

import asyncio
import json
import os
import re
import sys

import pytest

from failover_checks import start
from nodeproc import NodeProcess, free_tcp_port

CLI = [sys.executable, "-m", "safemeet"]


async def _run(*args, env, timeout=60):
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


def _env(tmp_path, name):
    env = {k: v for k, v in os.environ.items() if k != "SAFEMEET_NODE"}
    return {**env, "SAFEMEET_IDENTITY": str(tmp_path / f"{name}.key")}


@pytest.mark.timeout(180)
async def test_answer_keeps_answering_across_a_node_restart(tmp_path):
    node = NodeProcess(tmp_path / "node")
    await start(node)
    nodes = f"http://127.0.0.1:{free_tcp_port()},{node.url}"  # the first one is never up
    answer = await asyncio.create_subprocess_exec(
        *CLI, "answer", "--node", nodes, "--count", "2", "--timeout", "120", "--chat", "still here",
        env=_env(tmp_path, "bob"), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(answer.stdout.readline(), 20)).decode()
        bob = re.fullmatch(r"Waiting for calls on (\d{9})\n", line).group(1)

        async def call() -> dict:
            code, out, err = await _run("call", bob, "--node", nodes, "--json", "--duration", "1",
                                        env=_env(tmp_path, "alice"))
            assert code == 0, err
            return json.loads(out)

        first = await call()
        assert first["connected"] and first["chat_received"] == ["still here"]
        assert re.match(rb"\d{9}: call ended \(remote\)", await asyncio.wait_for(answer.stdout.readline(), 10))

        node.kill()
        lost = (await asyncio.wait_for(answer.stderr.readline(), 10)).decode()
        assert lost == "safemeet: lost the node; reconnecting (a call in progress goes on)\n"
        await asyncio.sleep(3)
        await start(node)
        back = (await asyncio.wait_for(answer.stderr.readline(), 40)).decode()
        assert back == f"safemeet: connected to the node again; waiting for calls on {bob}\n"

        second = await call()
        assert second["connected"] and second["chat_received"] == ["still here"]
        assert await asyncio.wait_for(answer.wait(), 20) == 0
        assert re.match(rb"\d{9}: call ended \(remote\)", await answer.stdout.readline())
    finally:
        if answer.returncode is None:
            answer.kill()
            await answer.wait()
        node.stop()


@pytest.mark.parametrize("nodes, says", [
    ("http://127.0.0.1:8765,,http://127.0.0.1:8766", "empty entry in the node list"),
    ("http://127.0.0.1:8765,ftp://127.0.0.1", "not a node URL: 'ftp://127.0.0.1'"),
    ("http://127.0.0.1:70000", "not a node URL: 'http://127.0.0.1:70000'"),
])
async def test_a_bad_node_list_is_one_line_and_a_usage_exit(tmp_path, nodes, says):
    for args in (["call", "123456786"], ["answer"], ["id"]):
        code, out, err = await _run(*args, "--node", nodes, env=_env(tmp_path, "me"))
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith("safemeet: --node: ") and says in err, err
        code, _, err = await _run(*args, env={**_env(tmp_path, "me"), "SAFEMEET_NODE": nodes})
        assert code == 2 and err.startswith("safemeet: SAFEMEET_NODE: ") and says in err, err
    assert not (tmp_path / "me.key").exists()  # refused before any key file was made


async def test_call_and_answer_when_no_node_of_the_list_is_up(tmp_path):
    nodes = f"http://127.0.0.1:{free_tcp_port()},http://127.0.0.1:{free_tcp_port()}"
    code, out, err = await _run("call", "123456786", "--node", nodes, env=_env(tmp_path, "me"))
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("safemeet: unreachable: cannot reach any node of the list: ")
