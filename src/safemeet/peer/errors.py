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
