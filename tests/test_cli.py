"""The safemeet command as a user runs it: real processes, a real node, real calls."""

import asyncio
import json
import os
import re
import signal
import sys

import pytest

from safemeet.peer import Peer

CLI = [sys.executable, "-m", "safemeet"]


async def _run(*args, env=None, timeout=40):
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def served(tmp_path):
    """``safemeet serve`` as a subprocess on a free port; yields (url, process)."""
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve", "--port", "0", "--data", str(tmp_path / "data"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
    url = re.search(r"open (http://127\.0\.0\.1:\d+)/", line).group(1)
    yield url, proc
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 10)


def _env(tmp_path, name, url):
    return {**os.environ, "SAFEMEET_NODE": url, "SAFEMEET_IDENTITY": str(tmp_path / f"{name}.key")}


async def test_serve_prints_url_and_stops_cleanly_on_sigterm(served):
    url, proc = served
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    assert "open " not in (await proc.stderr.read()).decode()


async def test_id_is_stable_and_key_file_private(served, tmp_path):
    url, _ = served
    env = _env(tmp_path, "me", url)
    code, out, _ = await _run("id", "--json", env=env)
    assert code == 0
    number = json.loads(out)["number"]
    assert re.fullmatch(r"[1-9]\d{8}", number)
    assert (tmp_path / "me.key").stat().st_mode & 0o777 == 0o600
    code, out, _ = await _run("id", env=env)
    assert code == 0 and out.strip() == f"Your number: {number}"
    os.chmod(tmp_path / "me.key", 0o644)
    code, _, err = await _run("id", env=env)
    assert code == 1 and "chmod 600" in err and err.count("\n") == 1


async def test_call_and_answer_with_chat_json(served, tmp_path):
    url, _ = served
    code, out, _ = await _run("id", "--json", env=_env(tmp_path, "bob", url))
    bob = json.loads(out)["number"]
    answer = asyncio.create_task(_run("answer", "--json", "--count", "1", "--timeout", "30",
                                      "--chat", "from bob ✓", env=_env(tmp_path, "bob", url)))
    await asyncio.sleep(1.5)  # let the answering process register
    code, out, err = await _run("call", bob, "--json", "--duration", "2", "--chat", "héllo 👋", "--chat", "שלום",
                                env=_env(tmp_path, "alice", url))
    assert code == 0, err
    caller = json.loads(out)
    assert caller["peer"] == bob and caller["connected"] is True and caller["ended_by"] == "local"
    assert caller["setup_ms"] > 0 and caller["audio_frames_received"] > 20 and caller["video_frames_received"] > 10
    assert caller["chat_received"] == ["from bob ✓"]
    code, out, err = await answer
    assert code == 0, err
    callee = json.loads(out)
    assert callee["chat_received"] == ["héllo 👋", "שלום"] and callee["ended_by"] == "remote"
    assert callee["video_frames_received"] > 10


async def test_bad_check_digit_fails_without_network(tmp_path):
    env = {**os.environ, "SAFEMEET_NODE": "http://127.0.0.1:9", "SAFEMEET_IDENTITY": str(tmp_path / "x.key")}
    code, out, err = await _run("call", "123456789", env=env)
    assert code == 2 and "check digit" in err and out == ""
    assert not (tmp_path / "x.key").exists()


async def test_unknown_number(served, tmp_path):
    url, _ = served
    code, _, err = await _run("call", "123456786", env=_env(tmp_path, "a", url))
    assert code == 1 and "unknown number" in err


async def test_unreachable_node_is_one_clear_line(tmp_path):
    env = {**os.environ, "SAFEMEET_NODE": "http://127.0.0.1:9", "SAFEMEET_IDENTITY": str(tmp_path / "x.key")}
    code, _, err = await _run("id", env=env)
    assert code == 1 and "cannot reach the node" in err and err.count("\n") == 1


@pytest.mark.parametrize("behaviour, expected", [("decline", "Declined"), ("ignore", "No answer"),
                                                 ("busy", "Busy")])
async def test_call_failures_say_why(served, tmp_path, behaviour, expected):
    url, _ = served
    async with Peer(url, tmp_path / "callee.key") as callee, Peer(url, tmp_path / "other.key") as other:
        if behaviour == "busy":
            first = await other.call(callee.number)
            await (await callee.next_incoming(5)).accept()
            await first.wait_connected()
        args = ["call", callee.number, "--json", "--ring-timeout", "1.5"]
        task = asyncio.create_task(_run(*args, env=_env(tmp_path, "caller", url)))
        if behaviour == "decline":
            await (await callee.next_incoming(10)).decline()
        code, out, err = await task
        assert code == 1 and expected in err
        result = json.loads(out)
        assert result["connected"] is False and result["ended_by"] in ("remote", "local")


async def test_ctrl_c_hangs_up_and_exits_130(served, tmp_path):
    url, _ = served
    async with Peer(url, tmp_path / "callee.key") as callee:
        proc = await asyncio.create_subprocess_exec(
            *CLI, "call", callee.number, "--duration", "60", env=_env(tmp_path, "caller", url),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        incoming = await callee.next_incoming(15)
        await incoming.accept()
        await asyncio.wait_for(incoming.wait_connected(), 10)
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 10) == 130
        err = (await proc.stderr.read()).decode()
        assert err == "safemeet: interrupted\n"
        result = await asyncio.wait_for(incoming.wait_ended(), 5)
        assert (result.ended_by, result.reason) == ("remote", "hangup")


async def test_failed_call_is_one_line_and_bad_options_are_usage_errors(served, tmp_path):
    url, _ = served
    env = _env(tmp_path, "a", url)
    code, out, err = await _run("call", "123456786", env=env)
    assert code == 1 and out == "" and err.count("\n") == 1
    async with Peer(url, tmp_path / "callee.key") as callee:
        code, _, err = await _run("call", callee.number, "--media", str(tmp_path / "none.mp4"), env=env)
        assert code == 2 and err.count("\n") == 1 and "cannot play media file" in err
        assert callee.active_calls == 0
    code, _, err = await _run("call", "123456786", "--duration", "-3", env=env)
    assert code == 2 and "not a positive number of seconds" in err
