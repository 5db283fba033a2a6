"""The Python peer: an aiortc adapter around the sans-I/O core.

    async with Peer("http://127.0.0.1:8765", "me.key") as peer:
        call = await peer.call("123456786")
        await call.wait_connected()
        await call.send_chat("hello")
        await call.hangup()
"""

from .call import Call, CallResult, ChatMessage, Connected, Ended, Reconnecting, RemoteScreen
from .contacts import Contact, Contacts, ContactsFileError
from .errors import CallError, KeyChanged, KeyFileError, NodeError, UnknownNumber, VerifiedKeyChanged
from .keyfile import load_or_create_identity
from .media import MediaOptions
from .peer import Peer, RelayPolicy, RelayUnavailable

__all__ = [
    "Call",
    "CallError",
    "CallResult",
    "ChatMessage",
    "Connected",
    "Contact",
    "Contacts",
    "ContactsFileError",
    "Ended",
    "KeyChanged",
    "KeyFileError",
    "MediaOptions",
    "NodeError",
    "Peer",
    "Reconnecting",
    "RelayPolicy",
    "RelayUnavailable",
    "RemoteScreen",
    "UnknownNumber",
    "VerifiedKeyChanged",
    "load_or_create_identity",
]
