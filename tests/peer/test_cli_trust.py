"""The trust commands as a user runs them: verify, contacts, key changes, backup, delete."""

import asyncio
import json
import os
import sys

from safemeet.core import safety
from safemeet.core.identity import Identity
from safemeet.peer import Peer, UnknownNumber
from safemeet.peer.contacts import Contacts, contacts_path

CLI = [sys.executable, "-m", "safemeet"]


async def _run(*args, env, stdin: bytes = b"", timeout=40):
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    return proc.returncode, out.decode(), err.decode()


def _env(tmp_path, name, url, **extra):
    return {**os.environ, "SAFEMEET_NODE": url, "SAFEMEET_IDENTITY": str(tmp_path / f"{name}.key"), **extra}


async def _number(tmp_path, name, url) -> str:
    code, out, err = await _run("id", "--json", env=_env(tmp_path, name, url))
    assert code == 0, err
    return json.loads(out)["number"]


async def test_verify_prints_the_safety_number_and_marks_verified(live_node, tmp_path):
    alice_number = await _number(tmp_path, "alice", live_node.url)
    async with Peer(live_node.url, tmp_path / "bob.key") as bob:
        alice_keys = await bob.lookup(alice_number)
        expected = safety.safety_number(alice_number, alice_keys.sig, bob.number, bob.identity.public.sig)
        env = _env(tmp_path, "alice", live_node.url)
        code, out, err = await _run("verify", bob.number, env=env)
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0] == f"Safety number with {bob.number}:"
        assert [line.split() for line in lines[1:4]] == [safety.groups(expected)[i:i + 4] for i in (0, 4, 8)]
        assert "Contact: not pinned" in out and "--mark-verified" in out

        code, out, err = await _run("verify", bob.number, "--json", "--mark-verified", env=env)
        assert code == 0, err
        result = json.loads(out)
        assert result["safety_number"] == expected == await bob.safety_number(alice_number)
        assert result["groups"] == safety.groups(expected) and len(result["groups"]) == 12
        assert (result["pinned"], result["verified"], result["key_changed"]) == (True, True, False)
        path = contacts_path(tmp_path / "alice.key")
        assert path.stat().st_mode & 0o777 == 0o600
        assert Contacts(path).get(bob.number).keys == bob.identity.public

        code, out, _ = await _run("contacts", "name", bob.number, "Bob ✓", env=env)
        assert code == 0
        code, out, _ = await _run("contacts", "--json", env=env)
        assert code == 0
        [contact] = json.loads(out)["contacts"]
        assert (contact["number"], contact["name"], contact["verified"]) == (bob.number, "Bob ✓", True)
        assert contact["keys"] == bob.identity.public.to_json()
        code, out, _ = await _run("contacts", env=env)
        assert out == f"{bob.number}  Bob ✓  verified\n"
        code, out, _ = await _run("verify", bob.number, env=env)
        assert out.startswith(f"Safety number with {bob.number} (Bob ✓):") and "Contact: verified" in out


async def test_contacts_file_readable_by_others_is_refused(tmp_path):
    env = _env(tmp_path, "alice", "http://127.0.0.1:9")
    code, _, _ = await _run("contacts", "name", "123456786", "X", env=env)
    assert code == 0
    os.chmod(contacts_path(tmp_path / "alice.key"), 0o644)
    code, out, err = await _run("contacts", env=env)
    assert code == 1 and "chmod 600" in err and err.count("\n") == 1 and out == ""


async def test_changed_key_stops_the_call_unless_accepted(live_node, tmp_path):
    await _number(tmp_path, "alice", live_node.url)
    contacts = Contacts(contacts_path(tmp_path / "alice.key"))
    env = _env(tmp_path, "alice", live_node.url)
    async with Peer(live_node.url, tmp_path / "bob.key") as bob:
        contacts.pin(bob.number, Identity.generate().public)  # what the node said before (or says now)
        code, out, err = await _run("call", bob.number, "--ring-timeout", "2", env=env)
        assert code == 1 and out == "" and err.count("\n") == 1
        assert bob.number in err and "safety number" in err and "--accept-key-change" in err

        task = asyncio.create_task(_run("call", bob.number, "--accept-key-change", "--json", env=env))
        await (await bob.next_incoming(10)).decline()
        code, out, err = await task
        assert code == 1 and "Declined" in err  # it rang: the new key is pinned
        assert contacts.get(bob.number).keys == bob.identity.public and not contacts.get(bob.number).verified

        contacts.delete(bob.number)
        contacts.mark_verified(bob.number, Identity.generate().public)
        code, _, err = await _run("call", bob.number, "--accept-key-change", env=env)
        assert code == 1 and "verified" in err and f"safemeet contacts delete {bob.number}" in err
        assert err.count("\n") == 1


async def test_answer_refuses_a_ring_from_a_changed_key(live_node, tmp_path):
    bob_number = await _number(tmp_path, "bob", live_node.url)
    env = _env(tmp_path, "bob", live_node.url)
    async with Peer(live_node.url, tmp_path / "alice.key") as alice:
        Contacts(contacts_path(tmp_path / "bob.key")).pin(alice.number, Identity.generate().public)
        answer = asyncio.create_task(_run("answer", "--timeout", "20", env=env))
        await asyncio.sleep(1.5)  # let it register
        call = await alice.call(bob_number)
        code, out, err = await answer
        assert code == 1 and alice.number in err and "safety number" in err and err.count("\n") == 1
        assert "call ended" not in out
        assert call.phase == "outgoing"  # never answered
        await call.hangup()


async def test_export_import_and_delete(live_node, tmp_path):
    number = await _number(tmp_path, "alice", live_node.url)
    env = _env(tmp_path, "alice", live_node.url, SAFEMEET_PASSPHRASE="pässwörd")
    backup = tmp_path / "alice.backup.json"
    code, out, err = await _run("identity", "export", str(backup), env=env)
    assert code == 0, err
    assert backup.stat().st_mode & 0o777 == 0o600 and json.loads(backup.read_text())["kdf"]["N"] == 2**17
    code, _, err = await _run("identity", "export", str(backup), env=env)
    assert code == 1 and "already exists" in err

    new_env = _env(tmp_path, "new", live_node.url, SAFEMEET_PASSPHRASE="wrong")
    code, _, err = await _run("identity", "import", str(backup), env=new_env)
    assert code == 1 and "wrong passphrase or damaged backup" in err and not (tmp_path / "new.key").exists()
    new_env["SAFEMEET_PASSPHRASE"] = "pässwörd"
    code, _, err = await _run("identity", "import", str(backup), env=new_env)
    assert code == 0, err
    assert (tmp_path / "new.key").stat().st_mode & 0o777 == 0o600
    assert await _number(tmp_path, "new", live_node.url) == number

    other_env = _env(tmp_path, "other", live_node.url, SAFEMEET_PASSPHRASE="pässwörd")
    other = await _number(tmp_path, "other", live_node.url)
    code, _, err = await _run("identity", "import", str(backup), env=other_env)
    assert code == 1 and "--force" in err and err.count("\n") == 1
    assert await _number(tmp_path, "other", live_node.url) == other
    code, _, err = await _run("identity", "import", str(backup), "--force", env=other_env)
    assert code == 0, err
    assert await _number(tmp_path, "other", live_node.url) == number

    code, out, err = await _run("identity", "delete", env=env, stdin=b"n\n")
    assert code == 1 and "nothing deleted" in err and (tmp_path / "alice.key").exists()
    code, out, err = await _run("identity", "delete", "--yes", "--json", env=env)
    assert code == 0, err
    assert json.loads(out) == {"deleted": number} and not (tmp_path / "alice.key").exists()
    async with Peer(live_node.url, tmp_path / "bob.key") as bob:
        try:
            await bob.lookup(number)
            raise AssertionError("the node still knows the number")
        except UnknownNumber:
            pass
    assert await _number(tmp_path, "new", live_node.url) != number  # same key, registers anew
