"""One 1:1 call: drives the core call state machine and performs its actions with aiortc."""

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

from aiortc import RTCConfiguration, RTCDataChannel, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.sdp import candidate_from_sdp

from ..core.callstate import END_TEXT, CallState, transition
from ..core.envelope import Message
from .errors import CallError, MediaError, NodeError
from .media import FrameCounts, MediaOptions

log = logging.getLogger(__name__)

MAX_CHAT_BYTES = 64_000
CONNECT_TIMEOUT_S = 30.0  # a call still not connected this long after accept/answer fails
CHAT_LABEL = "chat"

SendFn = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Connected:
    """Media and chat now flow directly between the two peers."""


@dataclass(frozen=True)
class ChatMessage:
    text: str


@dataclass(frozen=True)
class Ended:
    ended_by: str
    reason: str


CallEvent = Connected | ChatMessage | Ended


@dataclass
class CallResult:
    """What is left of a call once it has ended: figures and the chat the application asked for."""

    peer: str
    connected: bool
    setup_ms: float | None
    audio_frames_received: int
    video_frames_received: int
    chat_received: list[str]
    ended_by: str
    reason: str
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        if out["error"] is None:
            del out["error"]
        return out


@dataclass
class _Live:
    """Everything about a call in progress; dropped as a whole when the call ends."""

    pc: RTCPeerConnection | None = None
    channel: RTCDataChannel | None = None
    remote_sdp: str | None = None
    pending_ice: list[dict[str, Any]] = field(default_factory=list)
    chat: list[str] = field(default_factory=list)
    counts: FrameCounts = field(default_factory=FrameCounts)
    tracks: list[Any] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    connect_timer: asyncio.TimerHandle | None = None


class Call:
    """A call with one remote number. Created by :class:`Peer`; not constructed directly."""

    def __init__(self, *, call_id: str, remote: str, role: str, send: SendFn, media: MediaOptions,
                 ring_timeout: float, on_end: Callable[["Call"], None],
                 on_connected: Callable[["Call"], None] | None = None,
                 ice_servers: list[RTCIceServer] | None = None, relay_only: bool = False) -> None:
        self.id = call_id
        self.remote = remote
        self._state = CallState("idle", role)
        self._send = send
        self._media = media
        self._ring_timeout = ring_timeout
        self._on_end = on_end
        self._on_connected = on_connected  # e.g. pin the remote keys (first connected call)
        self._ice_servers = ice_servers or []
        self.relay_only = relay_only  # only TURN relay candidates: our address stays hidden
        self._live = _Live()
        self._events: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._connected = asyncio.get_running_loop().create_future()
        self._dial_started: float | None = None
        self._setup_ms: float | None = None
        self._channel_open = asyncio.Event()
        self._ended = asyncio.Event()
        self.detail = ""  # why a failed call failed, when known (e.g. "not online")
        self.result: CallResult | None = None

    # --- public API -------------------------------------------------------------------------

    @property
    def phase(self) -> str:
        return self._state.phase

    @property
    def role(self) -> str:
        return self._state.role

    @property
    def frames_received(self) -> tuple[int, int]:
        """(audio, video) frames received so far."""
        return self._live.counts.audio, self._live.counts.video

    async def accept(self) -> None:
        """Answer an incoming call."""
        if self.phase != "incoming":
            raise CallError("invalid", f"cannot accept a call that is {self.phase}")
        await self._apply("accept")

    async def decline(self) -> None:
        await self._apply("decline")

    async def hangup(self) -> None:
        """Hang up (or cancel a call that is still ringing). Safe to call more than once."""
        await self._apply("cancel" if self.phase == "outgoing" else "hangup")

    async def send_chat(self, text: str) -> None:
        """Send one chat message over the direct data channel, byte-exact."""
        if not isinstance(text, str):
            raise TypeError("chat text must be a str")
        size = len(text.encode("utf-8"))
        if size > MAX_CHAT_BYTES:
            raise ValueError(f"chat message is {size} bytes; the limit is {MAX_CHAT_BYTES}")
        await self.wait_connected()
        await asyncio.wait_for(self._channel_open.wait(), 10)
        channel = self._live.channel
        if channel is None or self.phase != "connected":
            raise CallError("hangup", "the call has ended")
        channel.send(text)

    async def wait_connected(self) -> None:
        """Return once connected; raise CallError if the call ends first."""
        await asyncio.shield(self._connected)

    async def wait_ended(self) -> CallResult:
        await self._ended.wait()
        assert self.result is not None
        return self.result

    async def events(self) -> AsyncIterator[CallEvent]:
        """Typed events until (and including) :class:`Ended`."""
        while True:
            event = await self._events.get()
            yield event
            if isinstance(event, Ended):
                return

    # --- driven by Peer ---------------------------------------------------------------------

    async def dial(self, keys_media: dict[str, bool]) -> None:
        self._dial_started = time.perf_counter()
        pc = self._new_pc()
        for track in self._media.tracks():
            self._live.tracks.append(track)
            pc.addTrack(track)
        sending = {track.kind for track in self._live.tracks}
        for kind in self._media.receive_kinds():
            if kind not in sending:  # still receive what we do not send
                pc.addTransceiver(kind, direction="recvonly")
        self._attach_channel(pc.createDataChannel(CHAT_LABEL))
        await pc.setLocalDescription(await pc.createOffer())
        self._ring_media = keys_media
        await self._apply("dial")

    async def on_message(self, message: Message) -> None:
        handlers = {
            "ring": self._on_ring, "accept": self._on_accept, "decline": self._event("decline_received"),
            "busy": self._event("busy_received"), "cancel": self._event("cancel_received"),
            "hangup": self._event("hangup_received"), "ice": self._on_ice,
        }
        handler = handlers.get(message.type)
        if handler is None:
            log.info("ignored %s message in a 1:1 call", message.type)
            return
        await handler(message.body)

    async def fail(self, reason: str) -> None:
        """End the call on a local error (e.g. an unknown number)."""
        await self._apply(reason)

    # --- state machine ----------------------------------------------------------------------

    def _event(self, name: str) -> Callable[[dict[str, Any]], Awaitable[None]]:
        async def handle(_body: dict[str, Any]) -> None:
            await self._apply(name)
        return handle

    async def _apply(self, event: str) -> None:
        before = self._state.phase
        step = transition(self._state, event)
        self._state = step.state
        for action in step.actions:
            try:
                await self._perform(action)
            except Exception as exc:  # an action failing must never leave the call half-alive
                log.warning("call action %s failed: %s", action, type(exc).__name__)
                if isinstance(exc, NodeError) and exc.code == "offline":
                    self.detail = "not online"
                elif isinstance(exc, MediaError):
                    self.detail = str(exc)
                if self.phase != "ended":
                    await self._apply("media_failed")
                    return
        if before != "connecting" and self.phase == "connecting":
            # Nothing else ends a call whose media never connects (e.g. the accept or every
            # candidate was lost on the way): give up after CONNECT_TIMEOUT_S.
            self._live.connect_timer = asyncio.get_running_loop().call_later(
                CONNECT_TIMEOUT_S, lambda: asyncio.ensure_future(self._connect_timeout()))

    async def _connect_timeout(self) -> None:
        if self.phase == "connecting":
            log.warning("call did not connect in time")
            await self._apply("media_failed")

    async def _perform(self, action: str) -> None:
        live = self._live
        if action == "send_ring":
            assert live.pc is not None and live.pc.localDescription is not None
            await self._send("ring", {"media": self._ring_media, "sdp": live.pc.localDescription.sdp})
        elif action == "start_timer":
            timeout = self._ring_timeout if self.role == "caller" else self._ring_timeout + 5
            live.timer = asyncio.get_running_loop().call_later(
                timeout, lambda: asyncio.ensure_future(self._apply("timeout")))
        elif action == "stop_timer":
            if live.timer:
                live.timer.cancel()
        elif action == "send_accept":
            await self._answer()
        elif action == "apply_answer":
            assert live.pc is not None and live.remote_sdp is not None
            await live.pc.setRemoteDescription(RTCSessionDescription(live.remote_sdp, "answer"))
            await self._flush_ice()
        elif action in ("send_decline", "send_hangup"):
            await self._send(action[5:], {})
        elif action in ("send_cancel", "send_cancel_timeout"):
            await self._send("cancel", {"reason": "timeout" if action.endswith("timeout") else "cancelled"})
        elif action == "start_media":
            self._setup_ms = (time.perf_counter() - self._dial_started) * 1000 if self._dial_started else None
            if self._on_connected is not None:
                self._on_connected(self)
            self._connected.set_result(None)
            self._events.put_nowait(Connected())
        elif action == "close_media":
            await self._close_media()
        elif action == "wipe":
            self._finish()

    async def _answer(self) -> None:
        live = self._live
        assert live.remote_sdp is not None
        pc = self._new_pc()
        await pc.setRemoteDescription(RTCSessionDescription(live.remote_sdp, "offer"))
        offered = {t.kind for t in pc.getTransceivers()}
        for track in self._media.tracks():
            if track.kind in offered:
                self._live.tracks.append(track)
                pc.addTrack(track)
            else:
                track.stop()
        await pc.setLocalDescription(await pc.createAnswer())
        await self._flush_ice()
        await self._send("accept", {"sdp": pc.localDescription.sdp})

    # --- incoming messages ------------------------------------------------------------------

    async def _on_ring(self, body: dict[str, Any]) -> None:
        if self.phase == "idle":
            self._live.remote_sdp = body["sdp"]
            await self._apply("ring_received")

    async def _on_accept(self, body: dict[str, Any]) -> None:
        if self.phase == "outgoing":
            self._live.remote_sdp = body["sdp"]
            await self._apply("accept_received")

    async def _on_ice(self, body: dict[str, Any]) -> None:
        self._live.pending_ice.append(body)
        pc = self._live.pc
        if pc is not None and pc.remoteDescription is not None:
            await self._flush_ice()

    async def _flush_ice(self) -> None:
        pc, pending = self._live.pc, self._live.pending_ice
        while pc is not None and pending:
            body = pending.pop(0)
            text = body["candidate"]
            try:
                if not text:
                    await pc.addIceCandidate(None)
                    continue
                candidate = candidate_from_sdp(text.split(":", 1)[1] if text.startswith("candidate:") else text)
                candidate.sdpMid = body["sdpMid"]
                candidate.sdpMLineIndex = body["sdpMLineIndex"]
                await pc.addIceCandidate(candidate)
            except Exception as exc:  # a bad candidate is dropped, the call goes on
                log.info("dropped an unusable ICE candidate: %s", type(exc).__name__)

    # --- media ------------------------------------------------------------------------------

    def _new_pc(self) -> RTCPeerConnection:
        policy = RTCIceTransportPolicy.RELAY if self.relay_only else RTCIceTransportPolicy.ALL
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self._ice_servers, iceTransportPolicy=policy))
        self._live.pc = pc

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc is not self._live.pc:
                return
            if pc.connectionState == "connected":
                await self._apply("media_connected")
            elif pc.connectionState == "failed":
                await self._apply("media_failed")
            elif pc.connectionState == "closed":
                # The far end closed DTLS (our own close comes after the call has ended). That
                # close is authenticated by the DTLS session, so it is the peer hanging up; its
                # hangup envelope, relayed by the node, usually arrives just after.
                await self._apply("hangup_received")

        @pc.on("track")
        def on_track(track: Any) -> None:
            self._live.counts.consume(track)

        @pc.on("datachannel")
        def on_channel(channel: RTCDataChannel) -> None:
            if channel.label == CHAT_LABEL:
                self._attach_channel(channel)

        return pc

    def _attach_channel(self, channel: RTCDataChannel) -> None:
        self._live.channel = channel
        if channel.readyState == "open":
            self._channel_open.set()

        @channel.on("open")
        def on_open() -> None:
            self._channel_open.set()

        @channel.on("message")
        def on_message(data: str | bytes) -> None:
            if isinstance(data, str) and self.phase == "connected":
                self._live.chat.append(data)
                self._events.put_nowait(ChatMessage(data))

    async def _close_media(self) -> None:
        live = self._live
        for timer in (live.timer, live.connect_timer):
            if timer:
                timer.cancel()
        for track in live.tracks:
            track.stop()
        await live.counts.stop()
        if live.pc is not None:
            await live.pc.close()

    def _finish(self) -> None:
        live, state = self._live, self._state
        reason = state.reason or "failed"
        text = END_TEXT[reason] + (f": {self.detail}" if self.detail else "")
        self.result = CallResult(
            peer=self.remote, connected=self._connected.done() and not self._connected.cancelled()
            and self._connected.exception() is None,
            setup_ms=round(self._setup_ms, 1) if self._setup_ms is not None else None,
            audio_frames_received=live.counts.audio, video_frames_received=live.counts.video,
            chat_received=list(live.chat), ended_by=state.ended_by or "error", reason=reason,
            error=text if state.ended_by == "error" else None,
        )
        if not self._connected.done():
            self._connected.set_exception(CallError(reason, text))
            self._connected.exception()  # mark retrieved: nobody may be waiting
        self._live = _Live()  # drop the peer connection, channel, SDP, candidates and chat
        self._ended.set()
        self._events.put_nowait(Ended(self.result.ended_by, reason))
        self._on_end(self)
