"""Exceptions raised by the Python peer."""


class CallError(Exception):
    """A call could not be placed or did not connect; ``reason`` is a callstate END_TEXT key."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class UnknownNumber(CallError):
    """No identity is registered for the number."""

    def __init__(self, number: str) -> None:
        super().__init__("unknown_number", f"unknown number: {number} is not registered on this node")


class NodeError(Exception):
    """The node answered a request with an error, or the connection to it failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class KeyFileError(Exception):
    """The identity file is unusable (unsafe permissions, unreadable or malformed)."""


class KeyChanged(CallError):
    """The node gives other keys for a pinned number than the ones pinned on this device.

    Raised before a call rings out, or by ``Peer.next_incoming`` for a ring whose sender's key
    changed (that ring is dropped: nothing applied, no media). ``reason`` is ``key_changed``.
    """

    def __init__(self, number: str, message: str | None = None, reason: str = "key_changed") -> None:
        super().__init__(reason, message or (
            f"the key of {number} has changed since your last call: the safety number with {number} "
            f"must be re-checked before you trust calls with it"))
        self.number = number


class VerifiedKeyChanged(KeyChanged):
    """A verified contact's key changed: always refused; only deleting the contact clears it."""

    def __init__(self, number: str) -> None:
        super().__init__(number, (
            f"the key of {number} has changed although you verified their safety number: refused; "
            f"if they really have a new key, delete the contact and verify the new safety number"),
            reason="verified_key_changed")


class MediaError(ValueError):
    """A media source cannot be opened (e.g. a media file that does not exist)."""
