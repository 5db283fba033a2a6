"""Contacts: pinned keys, local names and the verified flag, per number (docs/security.md).

The file lives next to the identity file (``<identity>.contacts.json``), is written atomically
(temporary file + rename) with mode 0600, and is refused like the key file when other users can
read it. It is re-read before every change, so several processes of the same user share it.
Without a path (an in-memory identity) contacts live only as long as the object.
"""

import json
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..core.identity import IdentityError, PublicKeys
from ..core.numbers import normalize
from .errors import KeyFileError

FORMAT = "safemeet-contacts-v1"

NEW = "new"  # not pinned: the keys will be pinned when a call connects
SAME = "same"  # the pinned keys
CHANGED = "changed"  # pinned, not verified, and the node now gives other keys
VERIFIED_CHANGED = "verified_changed"  # pinned and verified, and the node now gives other keys


class ContactsFileError(KeyFileError):
    """The contacts file is unusable (unsafe permissions, unreadable or malformed)."""


@dataclass(frozen=True)
class Contact:
    """What this device knows about one number. ``keys`` is None until a call connects."""

    number: str
    keys: PublicKeys | None = None
    name: str | None = None
    verified: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "name": self.name, "verified": self.verified,
                "keys": self.keys.to_json() if self.keys else None}


def contacts_path(identity_path: Path | str) -> Path:
    """``<identity path>.contacts.json``."""
    path = Path(identity_path).expanduser()
    return path.with_name(path.name + ".contacts.json")


class Contacts:
    """The contacts of one identity. All methods take numbers in any typed form."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._memory: dict[str, Contact] = {}
        if path is not None:
            self._load()  # refuse an unsafe or damaged file up front

    # --- reading ----------------------------------------------------------------------------

    def get(self, number: str) -> Contact | None:
        return self._load().get(normalize(number))

    def all(self) -> list[Contact]:
        """Every contact, by number."""
        return [c for _, c in sorted(self._load().items())]

    def check(self, number: str, keys: PublicKeys) -> str:
        """Compare the node's ``keys`` with the pin: NEW, SAME, CHANGED or VERIFIED_CHANGED.

        The identity key (``sig``) decides: a new sealing key bound by the same identity key
        (``bind``, checked when the keys arrived) is the same contact, and the safety number,
        made from ``sig`` alone, does not change either.
        """
        contact = self.get(number)
        if contact is None or contact.keys is None:
            return NEW
        if contact.keys.sig == keys.sig:
            return SAME
        return VERIFIED_CHANGED if contact.verified else CHANGED

    # --- changing ---------------------------------------------------------------------------

    def pin(self, number: str, keys: PublicKeys) -> Contact:
        """Pin ``keys`` for ``number``; pinning another identity key than before clears ``verified``."""
        def change(old: Contact) -> Contact:
            if old.keys == keys:
                return old
            same_identity = old.keys is not None and old.keys.sig == keys.sig
            return replace(old, keys=keys, verified=old.verified and same_identity)
        return self._update(number, change)

    def name(self, number: str, name: str | None) -> Contact:
        """Set (or with None or "" clear) the local name; never sent anywhere."""
        name = (name or "").strip() or None
        if name is not None and (len(name) > 100 or any(ord(ch) < 32 for ch in name)):
            raise ValueError("a name is at most 100 characters, without control characters")
        return self._update(number, lambda old: replace(old, name=name))

    def mark_verified(self, number: str, keys: PublicKeys | None = None, verified: bool = True) -> Contact:
        """Record that the user compared the safety number made from ``keys`` (default: the pin).

        Marking with keys other than the pinned ones is refused: the user compared a number made
        from the pinned keys, or must delete the contact first.
        """
        def change(old: Contact) -> Contact:
            if keys is not None and old.keys is not None and old.keys.sig != keys.sig:
                raise ValueError(f"the keys of {old.number} are not the pinned ones")
            pinned = old.keys or keys
            if pinned is None:
                raise ValueError(f"no keys are known for {old.number}")
            return replace(old, keys=pinned, verified=verified)
        return self._update(number, change)

    def delete(self, number: str) -> bool:
        """Forget a number entirely (pin, name, verified); True if it was known."""
        number = normalize(number)
        contacts = self._load()
        if number not in contacts:
            return False
        del contacts[number]
        self._save(contacts)
        return True

    def remove_file(self) -> None:
        """Delete the contacts file (when the identity is deleted)."""
        self._memory.clear()
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    # --- storage ----------------------------------------------------------------------------

    def _update(self, number: str, change: Any) -> Contact:
        number = normalize(number)
        contacts = self._load()
        contact = change(contacts.get(number, Contact(number)))
        contacts[number] = contact
        self._save(contacts)
        return contact

    def _load(self) -> dict[str, Contact]:
        if self.path is None:
            return dict(self._memory)
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ContactsFileError(f"cannot read contacts file {self.path}: {exc.strerror}") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ContactsFileError(
                f"contacts file {self.path} is accessible by other users (mode {stat.S_IMODE(mode):o}); "
                f"run 'chmod 600 {self.path}' and try again")
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError("not a safemeet contacts file")
            return {normalize(n): _contact(normalize(n), c) for n, c in data["contacts"].items()}
        except (ValueError, KeyError, TypeError, AttributeError, IdentityError) as exc:
            raise ContactsFileError(f"contacts file {self.path} is damaged: {exc}") from exc

    def _save(self, contacts: dict[str, Contact]) -> None:
        if self.path is None:
            self._memory = dict(contacts)
            return
        body = {n: {k: v for k, v in c.to_json().items() if k != "number"} for n, c in sorted(contacts.items())}
        text = json.dumps({"format": FORMAT, "contacts": body}, ensure_ascii=False, indent=1) + "\n"
        _atomic_write(self.path, text)


def _contact(number: str, obj: dict[str, Any]) -> Contact:
    keys = PublicKeys.from_json(obj["keys"]) if obj.get("keys") is not None else None
    name = obj.get("name")
    verified = obj.get("verified", False)
    if not (name is None or isinstance(name, str)) or not isinstance(verified, bool):
        raise ValueError(f"bad entry for {number}")
    return Contact(number, keys, name, verified and keys is not None)


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to a new 0600 file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_TRUNC on a leftover file keeps its old mode
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
