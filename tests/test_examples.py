"""The README's Python example runs as written, against a real node."""

import asyncio
import os
import pathlib
import re
import sys

EXAMPLE = pathlib.Path(__file__).parents[1] / "examples" / "hello.py"


async def test_hello_example(node_url, tmp_path):
    env = {**os.environ, "SAFEMEET_NODE": node_url}
    bob = await asyncio.create_subprocess_exec(sys.executable, str(EXAMPLE), cwd=tmp_path, env=env,
                                               stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    line = (await asyncio.wait_for(bob.stdout.readline(), 15)).decode()
    number = re.fullmatch(r"my number: (\d{9})\n", line).group(1)
    alice = await asyncio.create_subprocess_exec(sys.executable, str(EXAMPLE), number, cwd=tmp_path, env=env,
                                                 stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(alice.communicate(), 30)
    assert alice.returncode == 0, err.decode()
    assert "they said: you said 'hello 👋'" in out.decode()
    out, err = await asyncio.wait_for(bob.communicate(), 10)
    assert bob.returncode == 0, err.decode()
    assert "chat_received=['hello 👋']" in out.decode() and "ended_by='remote'" in out.decode()
