"""Backup files: export the identity sealed under a passphrase, import it on another device.

The format is ``safemeet.core.backup`` (docs/security.md, "Identity backup"); this module only
reads and writes files: exports are created 0600, imports never replace an identity unasked.
"""

import json
import os
from pathlib import Path

from ..core.backup import DEFAULT_N, BackupError, open_backup, seal_backup
from ..core.identity import Identity
from .keyfile import load_identity, save_identity


class IdentityExists(Exception):
    """Importing would replace an existing identity file (pass ``force`` to replace it)."""


def export_identity(identity_path: Path, backup_path: Path, passphrase: str, *, n: int = DEFAULT_N) -> Identity:
    """Seal the identity at ``identity_path`` into a new 0600 file ``backup_path``."""
    identity = load_identity(identity_path)  # FileNotFoundError when there is none
    text = json.dumps(seal_backup(identity, passphrase, n=n), indent=1) + "\n"
    fd = os.open(backup_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return identity


def read_backup(backup_path: Path, passphrase: str) -> Identity:
    """Open a backup file; BackupError if it is not one or the passphrase is wrong."""
    try:
        obj = json.loads(backup_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{backup_path} is not a safemeet backup file") from exc
    return open_backup(obj, passphrase)


def import_identity(backup_path: Path, identity_path: Path, passphrase: str, *, force: bool = False) -> Identity:
    """Write the identity in ``backup_path`` to ``identity_path`` (0600).

    An existing identity file is replaced only with ``force`` (atomically: a new file is renamed
    over it); otherwise ``IdentityExists``. The passphrase is checked before anything is written.
    """
    if identity_path.exists() and not force:
        raise IdentityExists(f"an identity already exists at {identity_path}; use --force to replace it "
                             f"(its number is lost unless you have a backup of it)")
    identity = read_backup(backup_path, passphrase)
    tmp = identity_path.with_name(f".{identity_path.name}.{os.getpid()}.import")
    tmp.unlink(missing_ok=True)
    try:
        save_identity(identity, tmp)
        os.replace(tmp, identity_path)
    finally:
        tmp.unlink(missing_ok=True)
    return identity
