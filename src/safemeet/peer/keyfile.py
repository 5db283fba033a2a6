"""The identity key file: JSON with both private keys, created 0600, refused if others can read it."""

import json
import os
import stat
from pathlib import Path

from ..core.b64 import B64Error, b64u_decode, b64u_encode
from ..core.identity import Identity
from .errors import KeyFileError

DEFAULT_PATH = Path("~/.config/safemeet/identity.json")


def default_identity_path() -> Path:
    return Path(os.environ.get("SAFEMEET_IDENTITY") or DEFAULT_PATH).expanduser()


def load_identity(path: Path) -> Identity:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KeyFileError(f"cannot read identity file {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"identity file {path} is accessible by other users (mode {stat.S_IMODE(mode):o}); "
            f"run 'chmod 600 {path}' and try again"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != "safemeet-identity-v1":
            raise KeyFileError(f"{path} is not a safemeet identity file")
        return Identity.from_secrets(b64u_decode(data["ed25519"], 32), b64u_decode(data["x25519"], 32))
    except (ValueError, KeyError, TypeError, AttributeError, B64Error) as exc:
        raise KeyFileError(f"identity file {path} is damaged: {exc}") from exc


def save_identity(identity: Identity, path: Path) -> None:
    """Write a new key file with mode 0600; never overwrites an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    ed, x = identity.secrets()
    text = json.dumps({"format": "safemeet-identity-v1", "ed25519": b64u_encode(ed), "x25519": b64u_encode(x)})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def load_or_create_identity(path: Path | str | None = None) -> Identity:
    """Load the identity at ``path`` (default ``$SAFEMEET_IDENTITY`` or ~/.config/...), making one if absent."""
    path = Path(path).expanduser() if path else default_identity_path()
    try:
        return load_identity(path)
    except FileNotFoundError:
        identity = Identity.generate()
        save_identity(identity, path)
        return identity
