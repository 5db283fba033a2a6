"""Peer: one identity connected to a node, placing and receiving 1:1 calls."""

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Sequence

from ..core import envelope, safety
from ..core.envelope import EnvelopeError, ReplayGuard
from ..core.identity import Identity, PublicKeys
from ..core.numbers import normalize
from aiortc import RTCIceServer

from .call import Call
from .contacts import CHANGED, NEW, SAME, VERIFIED_CHANGED, Contacts, contacts_path
from .errors import CallError, KeyChanged, NodeError, VerifiedKeyChanged
from .failover import node_urls
from .keyfile import default_identity_path, load_or_create_identity
from .media import MediaOptions
from .signaling import NodeClient

log = logging.getLogger(__name__)

RING_TIMEOUT_S = 30.0
RELAY_MODES = ("never", "if-available", "always")


@dataclass(frozen=True)
class RelayPolicy:
    """When calls with strangers (numbers that are not pinned contacts) use only the node's TURN
    relay, so the stranger never learns our IP address.

    ``never``: direct paths allowed; ``if-available``: relay-only when the node offers a relay,
    direct otherwise; ``always``: relay-only, and no call at all when there is no relay.
    """

    incoming: str = "if-available"
    outgoing: str = "never"

    def __post_init__(self) -> None:
        if self.incoming not in RELAY_MODES or self.outgoing not in RELAY_MODES:
            raise ValueError(f"relay modes are {', '.join(RELAY_MODES)}")


class RelayUnavailable(CallError):
    """Relay-only was required for this call, but the node offers no TURN relay."""

    def __init__(self) -> None:
        super().__init__("failed", "relay-only was required, but the node offers no TURN relay")


def _now_ms() -> int:
    return int(time.time() * 1000)


class Peer:
    """An identity on a node. Use as ``async with Peer(node_url, identity_path) as peer``.

    Keys of the numbers it talks to are pinned in ``contacts`` (next to the identity file; in
    memory for an ``Identity`` object) and checked before every call and every incoming ring.
    ``accept_key_change``: re-pin a changed key of a non-verified contact and go ahead instead
    of raising :class:`KeyChanged`; a verified contact's changed key always fails.

    ``node_url`` is one node URL, several separated by commas, or a sequence of them: the peer
    registers at the first it can reach, and when the connection is lost it reconnects (jittered
    exponential backoff, up to 10 s between rounds), trying the next node when one is down, for
    as long as it is open. Calls in progress are not disturbed (their media is peer to peer).
    ``signaling_state`` tells where it stands; node requests fail with ``NodeError("disconnected")``
    while it is not online (docs/operations.md, "Client failover").
    """

    def __init__(self, node_url: str | Sequence[str], identity: Identity | Path | str | None = None, *,
                 media: MediaOptions | None = None, ring_timeout: float = RING_TIMEOUT_S,
                 accept_key_change: bool = False, contacts: Contacts | None = None,
                 relay: RelayPolicy | None = None) -> None:
        nodes = node_urls(node_url)  # a bad URL fails here, before any key file is made
        if isinstance(identity, Identity):
            self.identity, self.identity_path = identity, None
        else:
            self.identity_path = Path(identity).expanduser() if identity else default_identity_path()
            self.identity = load_or_create_identity(self.identity_path)
        if contacts is None:
            contacts = Contacts(contacts_path(self.identity_path) if self.identity_path else None)
        self.contacts = contacts
        self.accept_key_change = accept_key_change
        self.relay = relay or RelayPolicy()
        self.media = media or MediaOptions()
        self.ring_timeout = ring_timeout
        self._node = NodeClient(nodes, self.identity, self._on_envelope, self._on_node_state)
        self._calls: dict[str, Call] = {}
        self._incoming: asyncio.Queue[Call | KeyChanged | NodeError] = asyncio.Queue()
        self._inbox: asyncio.Queue[str] = asyncio.Queue(maxsize=1000)
        self._worker: asyncio.Task[None] | None = None
        self._guard = ReplayGuard()
        self.number: str = ""

    async def __aenter__(self) -> "Peer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> str:
        """Connect and register; returns our number."""
        self.number = await self._node.connect()
        self._worker = asyncio.create_task(self._work())
        return self.number

    async def close(self) -> None:
        """Hang up every call, then leave the node."""
        for call in list(self._calls.values()):
            await call.hangup()
        if self._worker:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        await self._node.close()
        self._guard.clear()
        self._incoming.put_nowait(NodeError("closed", "the peer is closed"))

    @property
    def signaling_state(self) -> str:
        """``connecting``, ``online``, ``reconnecting`` (lost the node, trying again) or ``offline``
        (not started, closed, or the identity was deleted)."""
        return self._node.state

    async def wait_signaling_state(self, *states: str, timeout: float | None = None) -> str:
        """Wait until ``signaling_state`` is one of ``states`` (e.g. ``"online"``); returns it."""
        return await self._node.wait_state(*states, timeout=timeout)

    def signaling_states(self) -> AsyncIterator[str]:
        """Every change of ``signaling_state`` from now on, as it happens."""
        return self._node.states()

    async def lookup(self, number: str) -> PublicKeys:
        return await self._node.lookup(normalize(number))

    async def call(self, number: str, *, media: MediaOptions | None = None) -> Call:
        """Ring ``number``; returns once the ring is sent. Raises NumberError or UnknownNumber first."""
        number = normalize(number)
        if number == self.number:
            raise CallError("failed", "that is your own number")
        keys = await self._node.lookup(number)
        self._check_keys(number, keys)  # before anything is sent: raises KeyChanged
        relay_only = self._relay_only(number, self.relay.outgoing)  # raises RelayUnavailable
        media = media or self.media
        media.check()  # a bad media file fails here, before anything is sent
        call = self._new_call(envelope.new_call_id(), number, "caller", keys, media, relay_only)
        try:
            await call.dial({"audio": media.audio and media.source is not None,
                             "video": media.video and media.source is not None})
        except BaseException:
            await call.fail("media_failed")  # ends it, and Peer forgets it
            raise
        return call

    async def incoming(self) -> AsyncIterator[Call]:
        """Incoming calls, ringing, as they arrive; raises KeyChanged for a ring from a changed key."""
        while True:
            yield await self.next_incoming()

    async def next_incoming(self, timeout: float | None = None) -> Call:
        """The next ringing call. A ring whose sender's key changed was dropped: raises KeyChanged.
        Keeps waiting while the peer reconnects to its node(s); raises NodeError once the peer
        is closed ("closed") or its identity was deleted ("deleted")."""
        item = await asyncio.wait_for(self._incoming.get(), timeout)
        if isinstance(item, NodeError):
            self._incoming.put_nowait(item)  # every later wait fails the same way
            raise item
        if isinstance(item, KeyChanged):
            raise item
        return item

    async def safety_number(self, number: str) -> str:
        """The 60-digit safety number with ``number``: from its pinned key, else the node's."""
        number = normalize(number)
        contact = self.contacts.get(number)
        keys = contact.keys if contact and contact.keys else await self._node.lookup(number)
        return safety.safety_number(self.number, self.identity.public.sig, number, keys.sig)

    async def delete_identity(self) -> None:
        """Delete this identity: the node forgets the number (signed request), then the key file
        and the contacts file are removed. The peer is closed afterwards."""
        for call in list(self._calls.values()):
            await call.hangup()
        await self._node.delete()
        await self.close()
        self.contacts.remove_file()
        if self.identity_path is not None:
            self.identity_path.unlink(missing_ok=True)

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    # --- internals ---------------------------------------------------------------------------

    def _check_keys(self, number: str, keys: PublicKeys) -> None:
        """Compare the node's keys for ``number`` with the pin (docs/security.md table)."""
        state = self.contacts.check(number, keys)
        if state == SAME:
            contact = self.contacts.get(number)
            if contact is not None and contact.keys != keys:  # new sealing key, same identity key
                self.contacts.pin(number, keys)
            return
        if state == VERIFIED_CHANGED:
            raise VerifiedKeyChanged(number)
        if state == CHANGED:
            if not self.accept_key_change:
                raise KeyChanged(number)
            self.contacts.pin(number, keys)  # re-pinned, verified flag cleared
            log.warning("accepted a changed key")

    def _pin(self, number: str, keys: PublicKeys) -> None:
        """First connected call: pin the keys it used (never changes an existing pin)."""
        try:
            if self.contacts.check(number, keys) == NEW:
                self.contacts.pin(number, keys)
        except Exception as exc:  # a contacts file problem must not end the call
            log.warning("could not pin keys: %s", type(exc).__name__)

    def _relay_only(self, number: str, mode: str) -> bool:
        """Whether a call with ``number`` must use only relay candidates (see RelayPolicy)."""
        contact = self.contacts.get(number)
        if mode == "never" or (contact is not None and contact.keys is not None):
            return False
        if self._node.ice_servers:
            return True
        if mode == "always":
            raise RelayUnavailable()
        return False

    def _new_call(self, call_id: str, remote: str, role: str, keys: PublicKeys, media: MediaOptions,
                  relay_only: bool) -> Call:
        async def send(type_: str, body: dict) -> None:
            await self._send(remote, keys, call_id, type_, body)

        call = Call(call_id=call_id, remote=remote, role=role, send=send, media=media,
                    ring_timeout=self.ring_timeout, on_end=self._forget,
                    on_connected=lambda c: self._pin(remote, keys), relay_only=relay_only,
                    ice_servers=[RTCIceServer(**server) for server in self._node.ice_servers])
        self._calls[call_id] = call
        return call

    async def _send(self, to: str, keys: PublicKeys, call_id: str, type_: str, body: dict) -> None:
        """Sign, seal to ``keys`` and send one call message to ``to``."""
        inner = envelope.make_inner(type_, call_id, self.number, to, body, _now_ms())
        await self._node.send(to, envelope.seal(self.identity, keys, inner))

    def _on_node_state(self, state: str) -> None:
        """The node connection changed. Calls in progress go on whatever happens (media is peer
        to peer); waiting for calls goes on across reconnects and ends only if the node deleted us."""
        if state == "online" and self.number:
            if self._node.number != self.number:  # an independent node: numbers are per node
                log.warning("registered again under another number (another node)")
            self.number = self._node.number or self.number
        elif state == "offline" and self._node.failure is not None:
            self._incoming.put_nowait(self._node.failure)

    def _forget(self, call: Call) -> None:
        self._calls.pop(call.id, None)

    async def _on_envelope(self, env: str) -> None:
        try:
            self._inbox.put_nowait(env)
        except asyncio.QueueFull:
            log.warning("dropped an envelope: inbox full")

    async def _work(self) -> None:
        """Handle envelopes one at a time, in arrival order."""
        while True:
            env = await self._inbox.get()
            try:
                await self._handle(env)
            except EnvelopeError as exc:
                log.warning("dropped an envelope: %s", exc.code)
            except Exception:
                log.exception("failed to handle an envelope")

    async def _handle(self, env: str) -> None:
        opened = envelope.open_envelope(self.identity, self.number, env)
        try:
            keys = await self._node.lookup(opened.sender)
        except NodeError as exc:
            raise EnvelopeError("bad_signature", "sender's keys are unavailable") from exc
        message = envelope.verify(opened, keys, _now_ms(), self._guard)
        call = self._calls.get(message.call)
        if call is not None:
            if call.remote != message.sender:
                raise EnvelopeError("misaddressed", "message for a call with another number")
            await call.on_message(message)
            return
        if message.type != "ring":
            log.info("dropped a %s for no current call", message.type)
            return
        try:
            self._check_keys(message.sender, keys)
        except KeyChanged as exc:  # dropped unseen: no answer, nothing applied, no media
            log.warning("dropped a ring: the sender's key changed")
            self._incoming.put_nowait(exc)
            return
        if any(c.phase != "ended" for c in self._calls.values()):
            await self._send(message.sender, keys, message.call, "busy", {})
            return
        try:
            relay_only = self._relay_only(message.sender, self.relay.incoming)
        except RelayUnavailable:
            log.warning("declined a ring from a stranger: relay-only is required and no relay is offered")
            await self._send(message.sender, keys, message.call, "decline", {})
            return
        call = self._new_call(message.call, message.sender, "callee", keys, self.media, relay_only)
        await call.on_message(message)
        if call.phase == "incoming":
            self._incoming.put_nowait(call)
