"""The trust commands of ``safemeet``: verify, contacts, identity export/import/delete.

``add_parsers`` adds them to the main parser; ``COMMANDS`` maps each to its function (async ones
connect to the node, the others only touch local files). Errors end as one line on stderr.
"""

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from .core.numbers import normalize

PASSPHRASE_ENV = "SAFEMEET_PASSPHRASE"


class CommandFailed(Exception):
    """A trust command failed for a reason the user can act on (exit 1, the message on stderr)."""


def _local(p: argparse.ArgumentParser, top: bool = True) -> None:
    """--identity and --json on a parser; sub-levels must not overwrite what the top level parsed."""
    default = None if top else argparse.SUPPRESS
    p.add_argument("--identity", default=default,
                   help="identity key file (env SAFEMEET_IDENTITY; default ~/.config/safemeet/identity.json)")
    p.add_argument("--json", action="store_true", default=False if top else argparse.SUPPRESS,
                   help="print JSON")


def add_parsers(sub: Any, peer_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``verify``, ``contacts`` and ``identity`` to the main parser's subcommands."""
    verify = sub.add_parser("verify", help="show the safety number with a number (compare it with them)")
    verify.add_argument("number")
    verify.add_argument("--mark-verified", action="store_true",
                        help="record that you compared the safety number with them and it matched")
    peer_options(verify)

    contacts = sub.add_parser("contacts", help="list contacts, name or delete one")
    _local(contacts)
    actions = contacts.add_subparsers(dest="action")
    name = actions.add_parser("name", help="give a number a local name (never sent anywhere)")
    name.add_argument("number")
    name.add_argument("name", help='the name ("" clears it)')
    _local(name, top=False)
    forget = actions.add_parser("delete", help="forget a contact: its pinned keys, name and verified flag")
    forget.add_argument("number")
    _local(forget, top=False)

    identity = sub.add_parser("identity", help="back up, restore or delete your identity")
    steps = identity.add_subparsers(dest="action", required=True)
    export = steps.add_parser("export", help="write a passphrase-sealed backup of the identity")
    export.add_argument("file")
    _local(export)
    restore = steps.add_parser("import", help="restore an identity from a backup")
    restore.add_argument("file")
    restore.add_argument("--force", action="store_true", help="replace an existing identity file")
    _local(restore)
    delete = steps.add_parser("delete", help="delete the number on the node and the keys on this device")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    peer_options(delete)


def _identity_path(args: argparse.Namespace) -> Path:
    from .peer.keyfile import default_identity_path

    return Path(args.identity).expanduser() if args.identity else default_identity_path()


def _contacts(args: argparse.Namespace):
    from .peer.contacts import Contacts, contacts_path

    return Contacts(contacts_path(_identity_path(args)))


def _state(contact: Any) -> str:
    if contact is None or contact.keys is None:
        return "not pinned"
    return "verified" if contact.verified else "pinned, not verified"


def _print(args: argparse.Namespace, obj: dict[str, Any], text: str) -> None:
    print(json.dumps(obj, ensure_ascii=False) if args.json else text, flush=True)


# --- verify (connects to the node) ------------------------------------------------------------


async def cmd_verify(args: argparse.Namespace) -> int:
    from .core import safety
    from .peer import Peer
    from .peer.contacts import CHANGED, VERIFIED_CHANGED

    number = normalize(args.number)
    async with Peer(args.node, args.identity) as peer:
        node_keys = await peer.lookup(number)
        digits = await peer.safety_number(number)
        changed = peer.contacts.check(number, node_keys) in (CHANGED, VERIFIED_CHANGED)
        if args.mark_verified:  # the digits shown come from the pin if there is one, else the node's keys
            pinned = peer.contacts.get(number)
            peer.contacts.mark_verified(number, None if pinned and pinned.keys else node_keys)
        contact = peer.contacts.get(number)
    groups = safety.groups(digits)
    name = contact.name if contact else None
    result = {"number": number, "name": name, "safety_number": digits, "groups": groups,
              "pinned": bool(contact and contact.keys), "verified": bool(contact and contact.verified),
              "key_changed": changed}
    lines = [f"Safety number with {number}{f' ({name})' if name else ''}:"]
    lines += ["  " + " ".join(groups[i:i + 4]) for i in range(0, len(groups), 4)]
    lines.append(f"Contact: {_state(contact)}")
    if changed:
        lines.append(f"Warning: the node now gives another key for {number}; "
                     f"this safety number is from the key pinned on your first call")
    if not result["verified"]:
        lines.append(f"Compare it with {number} in person or on a call you trust, then run "
                     f"'safemeet verify {number} --mark-verified'")
    _print(args, result, "\n".join(lines))
    return 0


# --- contacts (local) -------------------------------------------------------------------------


def cmd_contacts(args: argparse.Namespace) -> int:
    contacts = _contacts(args)
    if args.action == "name":
        contact = contacts.name(args.number, args.name)
        _print(args, contact.to_json(), f"{contact.number}: name {'set to ' + contact.name if contact.name else 'cleared'}")
        return 0
    if args.action == "delete":
        number = normalize(args.number)
        if not contacts.delete(number):
            raise CommandFailed(f"{number} is not in your contacts")
        _print(args, {"number": number, "deleted": True}, f"{number}: forgotten")
        return 0
    everyone = contacts.all()
    if args.json:
        _print(args, {"contacts": [c.to_json() for c in everyone]}, "")
    elif not everyone:
        print("No contacts yet: a number's keys are pinned when a call with it connects.", flush=True)
    else:
        for c in everyone:
            print(f"{c.number}  {c.name or '-'}  {_state(c)}", flush=True)
    return 0


# --- identity export / import (local) and delete (node) ---------------------------------------


def _passphrase(confirm: bool) -> str:
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return from_env
    try:
        first = getpass.getpass("Backup passphrase: ")
        if confirm and getpass.getpass("Same passphrase again: ") != first:
            raise CommandFailed("the passphrases do not match")
    except EOFError as exc:
        raise CommandFailed(f"no passphrase given (set {PASSPHRASE_ENV} or run in a terminal)") from exc
    if not first:
        raise CommandFailed("the passphrase must not be empty")
    return first


def cmd_identity_local(args: argparse.Namespace) -> int:
    from .core.backup import BackupError
    from .peer.backupfile import IdentityExists, export_identity, import_identity

    path, file = _identity_path(args), Path(args.file).expanduser()
    if args.action == "export":
        if not path.exists():
            raise CommandFailed(f"no identity at {path} to export")
        if file.exists():
            raise CommandFailed(f"{file} already exists; choose another file name")
        export_identity(path, file, _passphrase(confirm=True))
        _print(args, {"exported": str(file)},
               f"Identity exported to {file}; it is safe only while the passphrase stays secret")
        return 0
    if path.exists() and not args.force:
        raise CommandFailed(f"an identity already exists at {path}; use --force to replace it "
                            f"(its number is lost unless you have a backup of it)")
    try:
        import_identity(file, path, _passphrase(confirm=False), force=args.force)
    except (BackupError, IdentityExists) as exc:
        raise CommandFailed(str(exc)) from exc
    except FileNotFoundError as exc:
        raise CommandFailed(f"no backup file at {file}") from exc
    _print(args, {"imported": str(path)}, f"Identity imported to {path}")
    return 0


async def cmd_identity_delete(args: argparse.Namespace) -> int:
    from .peer import Peer

    path = _identity_path(args)
    if not path.exists():
        raise CommandFailed(f"no identity at {path}")
    async with Peer(args.node, path) as peer:
        number = peer.number
        if not args.yes:
            print(f"Delete {number}? The node forgets it for good, and your keys and contacts are "
                  f"removed from this device. [y/N] ", end="", flush=True)
            answer = sys.stdin.readline().strip().lower()
            if answer not in ("y", "yes"):
                raise CommandFailed("nothing deleted")
        await peer.delete_identity()
    _print(args, {"deleted": number}, f"Deleted {number}")
    return 0
