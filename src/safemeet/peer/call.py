"""One 1:1 call: drives the core call state machine and performs its actions with aiortc."""

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

from aiortc import (MediaStreamTrack, RTCConfiguration, RTCDataChannel, RTCIceServer, RTCPeerConnection,
                    RTCSessionDescription)
from aiortc.contrib.media import MediaRelay
from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy
from aiortc.sdp import candidate_from_sdp

from ..core.callstate import END_TEXT, CallState, transition
from ..core.control import encode_control, parse_control
from ..core.envelope import Message
from .errors import CallError, MediaError, NodeError
from .media import FrameCounts, MediaOptions, PatternTrack, SlotTrack
from .relaycheck import check_gathered

log = logging.getLogger(__name__)

MAX_CHAT_BYTES = 64_000
CONNECT_TIMEOUT_S = 30.0  # a call still not connected this long after accept/answer fails
CHAT_LABEL = "chat"
CONTROL_LABEL = "control"  # call control between the peers: keepalive, hangup, screen share state
KEEPALIVE_S = 1.0  # a control ping this often while connected
SILENCE_S = 5.0  # nothing heard on the control channel this long: the path is lost, recover
RESTART_RETRY_S = 8.0  # the caller offers a fresh connection again if the last one did not connect
RECONNECT_TIMEOUT_S = 60.0  # a call still reconnecting this long fails

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


@dataclass(frozen=True)
class Reconnecting:
    """The direct path broke; the call is being moved to a fresh connection (media paused)."""


@dataclass(frozen=True)
class RemoteScreen:
    """The other side started (``sharing`` True) or stopped sharing its screen."""

    sharing: bool


CallEvent = Connected | ChatMessage | Ended | Reconnecting | RemoteScreen


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
    screen_frames_received: int = 0
    reconnects: int = 0

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        if out["error"] is None:
            del out["error"]
        return out


@dataclass
class _Live:
    """Everything about a call in progress; dropped as a whole when the call ends."""

    pc: RTCPeerConnection | None = None
    old_pcs: list[RTCPeerConnection] = field(default_factory=list)  # replaced, closed once the new one connects
    channel: RTCDataChannel | None = None
    control: RTCDataChannel | None = None
    remote_sdp: str | None = None
    pending_ice: list[dict[str, Any]] = field(default_factory=list)
    chat: list[str] = field(default_factory=list)
    counts: FrameCounts = field(default_factory=FrameCounts)
    tracks: list[Any] = field(default_factory=list)  # our sources; each connection sends relayed copies
    relay: MediaRelay = field(default_factory=MediaRelay)
    screen: Any = None  # our screen-share track while sharing
    screen_slot: Any = None  # the transceiver that carries screen video (None: the peer has no such slot)
    screen_feed: SlotTrack | None = None  # what the current connection's screen slot sends
    remote_screen: bool = False
    heard: float = 0.0  # loop time of the last control message from the peer
    restarted_at: float = 0.0
    reconnects: int = 0
    keepalive: asyncio.Task[None] | None = None
    timer: asyncio.TimerHandle | None = None
    connect_timer: asyncio.TimerHandle | None = None
    reconnect_timer: asyncio.TimerHandle | None = None


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

    @property
    def screen_frames_received(self) -> int:
        """Frames of the other side's screen share received so far."""
        return self._live.counts.screen

    @property
    def sharing_screen(self) -> bool:
        return self._live.screen is not None

    @property
    def remote_sharing_screen(self) -> bool:
        return self._live.remote_screen

    async def share_screen(self, track: MediaStreamTrack | None = None) -> None:
        """Share ``track`` (any video track; default a synthetic test pattern) as our screen.

        The screen has its own video slot, negotiated with the call, so starting, stopping and
        restarting a share never renegotiates and never touches the audio and camera.
        """
        if self.phase not in ("connected", "reconnecting"):
            raise CallError("invalid", f"cannot share a screen in a call that is {self.phase}")
        live = self._live
        if live.screen_slot is None:
            raise CallError("invalid", "the other side cannot receive a screen share")
        if track is not None and (not isinstance(track, MediaStreamTrack) or track.kind != "video"):
            raise ValueError("a screen share needs a video track")
        if track is not None and track.readyState != "live":
            raise ValueError("that track has ended")
        previous = live.screen
        live.screen = shared = track or PatternTrack(640, 360)

        @shared.on("ended")
        def on_ended() -> None:  # e.g. a media file that reached its end: the share stops with it
            if self._live.screen is shared:
                asyncio.ensure_future(self.stop_screen())

        self._feed_screen()
        if previous is not None and previous is not live.screen:
            previous.stop()
        self._control("screen", True)

    async def stop_screen(self) -> None:
        """Stop sharing our screen (nothing happens when we are not sharing)."""
        live = self._live
        if live.screen is None:
            return
        stopped, live.screen = live.screen, None
        stopped.stop()
        self._feed_screen()
        self._control("screen", False)

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
        if channel is None or self.phase not in ("connected", "reconnecting"):
            raise CallError("hangup", "the call has ended")
        if channel.readyState != "open":
            raise CallError("invalid", "the call is reconnecting: chat is not connected right now")
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
        self._live.tracks.extend(self._media.tracks())
        pc = self._offer_pc()
        await pc.setLocalDescription(await pc.createOffer())
        await check_gathered(pc, self.relay_only, self._ice_servers)  # a refused relay fails now, not in 30 s
        self._ring_media = keys_media
        await self._apply("dial")

    async def on_message(self, message: Message) -> None:
        handlers = {
            "ring": self._on_ring, "accept": self._on_accept, "decline": self._event("decline_received"),
            "busy": self._event("busy_received"), "cancel": self._event("cancel_received"),
            "hangup": self._event("hangup_received"), "ice": self._on_ice,
            "offer": self._on_offer, "answer": self._on_answer,
        }
        handler = handlers.get(message.type)
        if handler is None:
            log.info("ignored %s message in a 1:1 call", message.type)
            return
        await handler(message.body)

    async def fail(self, reason: str) -> None:
        """End the call on a local error (e.g. an unknown number)."""
        if self.phase == "idle":  # failed before it rang (e.g. a refused relay): nobody to tell, just close
            self._state = CallState("ended", self.role, "error", "failed")
            await self._close_media()
            self._finish()
            return
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
                elif isinstance(exc, NodeError) and exc.code in ("disconnected", "closed", "unreachable"):
                    self.detail = "the node cannot be reached"
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
        loop = asyncio.get_running_loop()
        if action == "send_ring":
            assert live.pc is not None and live.pc.localDescription is not None
            await self._send("ring", {"media": self._ring_media, "sdp": live.pc.localDescription.sdp})
        elif action == "start_timer":
            timeout = self._ring_timeout if self.role == "caller" else self._ring_timeout + 5
            live.timer = loop.call_later(timeout, lambda: asyncio.ensure_future(self._apply("timeout")))
        elif action == "stop_timer":
            if live.timer:
                live.timer.cancel()
        elif action == "send_accept":
            await self._answer("accept")
        elif action == "apply_answer":
            assert live.pc is not None and live.remote_sdp is not None
            await live.pc.setRemoteDescription(RTCSessionDescription(live.remote_sdp, "answer"))
            await self._flush_ice()
        elif action == "send_decline":
            await self._send("decline", {})
        elif action == "send_hangup":
            await self._send_hangup()
        elif action in ("send_cancel", "send_cancel_timeout"):
            await self._send("cancel", {"reason": "timeout" if action.endswith("timeout") else "cancelled"})
        elif action == "start_media":
            self._setup_ms = (time.perf_counter() - self._dial_started) * 1000 if self._dial_started else None
            if self._on_connected is not None:
                self._on_connected(self)
            self._connected.set_result(None)
            self._events.put_nowait(Connected())
            live.heard = loop.time()
            live.keepalive = asyncio.create_task(self._keepalive())
        elif action == "start_reconnect_timer":
            log.warning("the call's direct path was lost: reconnecting")
            self._events.put_nowait(Reconnecting())
            live.reconnect_timer = loop.call_later(RECONNECT_TIMEOUT_S, self._reconnect_timed_out)
        elif action == "stop_reconnect_timer":
            if live.reconnect_timer:
                live.reconnect_timer.cancel()
        elif action == "restart_media":
            await self._recover(self._restart())
        elif action == "answer_restart":
            await self._recover(self._answer("answer"))
        elif action == "resume_media":
            live.reconnects += 1
            live.heard = loop.time()
            await self._close_old_pcs()
            log.info("the call reconnected")
            self._events.put_nowait(Connected())
        elif action == "close_media":
            await self._close_media()
        elif action == "wipe":
            self._finish()

    def _reconnect_timed_out(self) -> None:
        self.detail = "could not reconnect"
        asyncio.ensure_future(self._apply("timeout"))

    async def _recover(self, step: Awaitable[None]) -> None:
        """Run a recovery step; its failure (e.g. the node is down too) leaves the call
        reconnecting, to be retried, instead of ending it."""
        try:
            await step
        except Exception as exc:
            log.warning("reconnection attempt failed: %s", type(exc).__name__)

    async def _send_hangup(self) -> None:
        """Hang up over the peers' own channel first (works with no node), then through the node."""
        direct = self._control("hangup")
        try:
            await asyncio.wait_for(self._send("hangup", {}), 3.0 if direct else None)
        except Exception:
            if not direct:
                raise
            log.info("hangup went over the data channel only")

    def _control(self, kind: str, on: bool | None = None) -> bool:
        """Send one control message to the peer; False when the control channel is not open."""
        channel = self._live.control
        if channel is None or channel.readyState != "open":
            return False
        channel.send(encode_control(kind, on))
        return True

    async def _keepalive(self) -> None:
        """Ping the peer, notice when it goes silent, and (caller) retry a recovery that stalls."""
        loop = asyncio.get_running_loop()
        while self.phase in ("connected", "reconnecting"):
            await asyncio.sleep(KEEPALIVE_S)
            live = self._live
            self._control("ping")
            now = loop.time()
            # Silence counts from the moment the call connected, so a path that breaks before the
            # control channel even opens is noticed as soon as one that breaks later.
            if self.phase == "connected" and now - live.heard > SILENCE_S:
                await self._apply("media_lost")
            elif (self.phase == "reconnecting" and self.role == "caller"
                  and now - live.restarted_at > RESTART_RETRY_S):
                await self._apply("media_lost")

    async def _answer(self, reply: str) -> None:
        """Answer the remote offer on a fresh peer connection; ``reply``: "accept" or "answer"."""
        live = self._live
        assert live.remote_sdp is not None
        old = live.pc
        pc = self._new_pc()
        if old is not None:
            self._retire(old)
        live.pending_ice.clear()
        await pc.setRemoteDescription(RTCSessionDescription(live.remote_sdp, "offer"))
        live.remote_sdp = None
        offered = {t.kind for t in pc.getTransceivers()}
        if not live.tracks:
            live.tracks.extend(self._media.tracks())
        for track in list(live.tracks):
            if track.kind in offered:
                pc.addTrack(self._copy(track))  # the first slot of its kind: the camera's, not the screen's
            else:
                track.stop()
                live.tracks.remove(track)
        videos = [t for t in pc.getTransceivers() if t.kind == "video"]
        live.screen_slot = live.screen_feed = None
        if len(videos) > 1:
            videos[1].direction = "sendrecv"
            self._use_screen_slot(videos[1])
        await pc.setLocalDescription(await pc.createAnswer())
        await check_gathered(pc, self.relay_only, self._ice_servers)
        await self._flush_ice()
        await self._send(reply, {"sdp": pc.localDescription.sdp})

    async def _restart(self) -> None:
        """Caller: offer the callee a fresh peer connection for this call, through the node."""
        live = self._live
        live.restarted_at = asyncio.get_running_loop().time()
        old = live.pc
        pc = self._offer_pc()
        if old is not None:
            self._retire(old)
        live.pending_ice.clear()
        await pc.setLocalDescription(await pc.createOffer())
        await self._send("offer", {"sdp": pc.localDescription.sdp})

    def _retire(self, pc: RTCPeerConnection) -> None:
        """Keep a replaced connection until its successor connects, no longer sending."""
        for transceiver in pc.getTransceivers():
            sent = transceiver.sender.track
            transceiver.sender.replaceTrack(None)
            if sent is not None:
                sent.stop()
        self._live.old_pcs.append(pc)

    def _copy(self, source: MediaStreamTrack) -> MediaStreamTrack:
        """A copy of one of our sources for one sender. A sender stops the track it sends when its
        connection dies or closes; a copy keeps that from stopping the source, which the call's
        next connection sends again."""
        return self._live.relay.subscribe(source, buffered=False)

    def _use_screen_slot(self, transceiver: Any) -> None:
        """Make ``transceiver`` the current connection's screen slot; it sends our share, if any."""
        live = self._live
        live.screen_slot = transceiver
        live.screen_feed = SlotTrack()
        transceiver.sender.replaceTrack(live.screen_feed)
        self._feed_screen()

    def _feed_screen(self) -> None:
        """Point the screen slot at our screen share, or at nothing (no renegotiation)."""
        live = self._live
        if live.screen_feed is not None:
            live.screen_feed.use(None if live.screen is None else self._copy(live.screen))

    async def _close_old_pcs(self) -> None:
        old, self._live.old_pcs = self._live.old_pcs, []
        for pc in old:
            await pc.close()

    # --- incoming messages ------------------------------------------------------------------

    async def _on_ring(self, body: dict[str, Any]) -> None:
        if self.phase == "idle":
            self._live.remote_sdp = body["sdp"]
            await self._apply("ring_received")

    async def _on_accept(self, body: dict[str, Any]) -> None:
        if self.phase == "outgoing":
            self._live.remote_sdp = body["sdp"]
            await self._apply("accept_received")

    async def _on_offer(self, body: dict[str, Any]) -> None:
        """The caller offers a fresh connection (it lost the path, or noticed before we did)."""
        if self.role == "callee" and self.phase in ("connected", "reconnecting"):
            self._live.remote_sdp = body["sdp"]
            await self._apply("restart_received")
        else:
            log.info("ignored an offer while %s", self.phase)

    async def _on_answer(self, body: dict[str, Any]) -> None:
        pc = self._live.pc
        if self.role != "caller" or self.phase != "reconnecting" or pc is None or pc.signalingState != "have-local-offer":
            log.info("ignored an answer while %s", self.phase)
            return
        try:
            await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "answer"))
            await self._flush_ice()
        except Exception as exc:  # a bad answer is a failed attempt: the next restart retries
            log.warning("could not apply the answer to a restart: %s", type(exc).__name__)

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

    def _on_control(self, data: str | bytes) -> None:
        live = self._live
        message = parse_control(data)
        if message is None:
            log.info("ignored a control message that is not one we know")
            return
        kind = message["t"]
        live.heard = asyncio.get_running_loop().time()
        if kind == "hangup":
            asyncio.ensure_future(self._apply("hangup_received"))
        elif kind == "screen":
            if message["on"] != live.remote_screen:
                live.remote_screen = message["on"]
                self._events.put_nowait(RemoteScreen(message["on"]))

    # --- media ------------------------------------------------------------------------------

    def _offer_pc(self) -> RTCPeerConnection:
        """A peer connection ready to offer: audio, camera and screen slots in that order, then
        the chat and control channels. The order is fixed so the answerer can tell the slots apart."""
        live = self._live
        pc = self._new_pc()
        receive = self._media.receive_kinds()
        for kind in ("audio", "video"):
            track = next((t for t in live.tracks if t.kind == kind), None)
            if track is not None:
                pc.addTrack(self._copy(track))
            else:
                pc.addTransceiver(kind, direction="recvonly" if kind in receive else "inactive")
        self._use_screen_slot(pc.addTransceiver("video", direction="sendrecv"))
        self._attach_channel(pc.createDataChannel(CHAT_LABEL))
        self._attach_control(pc.createDataChannel(CONTROL_LABEL))
        return pc

    def _new_pc(self) -> RTCPeerConnection:
        policy = RTCIceTransportPolicy.RELAY if self.relay_only else RTCIceTransportPolicy.ALL
        # max-bundle: aiortc's default (balanced) leaves a second video slot on a transport it
        # discards while bundling, so the screen slot would never send or receive.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self._ice_servers, iceTransportPolicy=policy,
                                                bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self._live.pc = pc

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc is not self._live.pc:
                return
            if pc.connectionState == "connected":
                await self._apply("media_connected")
            elif pc.connectionState in ("failed", "closed"):
                # Before the call first connects this ends it; afterwards the call recovers.
                # "closed" is not our own close (that comes after the call has ended): aiortc
                # reports the DTLS session ending under us alike for a peer's close and for a dead
                # path (ICE consent lost), and a peer that hangs up says so first, on the control
                # channel or through the node.
                await self._apply("media_failed" if self.phase == "connecting" else "media_lost")

        @pc.on("track")
        def on_track(track: Any) -> None:
            videos = [t for t in pc.getTransceivers() if t.kind == "video"]
            screen = len(videos) > 1 and videos[1].receiver.track is track
            self._live.counts.consume(track, screen=screen)

        @pc.on("datachannel")
        def on_channel(channel: RTCDataChannel) -> None:
            if pc is not self._live.pc:
                return
            if channel.label == CHAT_LABEL:
                self._attach_channel(channel)
            elif channel.label == CONTROL_LABEL:
                self._attach_control(channel)

        return pc

    def _attach_channel(self, channel: RTCDataChannel) -> None:
        self._live.channel = channel
        if channel.readyState == "open":
            self._channel_open.set()
        else:
            self._channel_open.clear()

        @channel.on("open")
        def on_open() -> None:
            if channel is self._live.channel:
                self._channel_open.set()

        @channel.on("message")
        def on_message(data: str | bytes) -> None:
            if isinstance(data, str) and self.phase in ("connected", "reconnecting"):
                self._live.chat.append(data)
                self._events.put_nowait(ChatMessage(data))

    def _attach_control(self, channel: RTCDataChannel) -> None:
        self._live.control = channel

        def opened() -> None:
            live = self._live
            live.heard = asyncio.get_running_loop().time()
            self._control("screen", live.screen is not None)  # a fresh connection: say it again

        if channel.readyState == "open":  # the peer's channel arrives open
            opened()

        @channel.on("open")
        def on_open() -> None:
            if channel is self._live.control:
                opened()

        @channel.on("message")
        def on_message(data: str | bytes) -> None:
            if channel is self._live.control and self.phase != "ended":
                self._on_control(data)

    async def _close_media(self) -> None:
        live = self._live
        for timer in (live.timer, live.connect_timer, live.reconnect_timer):
            if timer:
                timer.cancel()
        if live.keepalive is not None and live.keepalive is not asyncio.current_task():
            live.keepalive.cancel()
        for track in live.tracks:
            track.stop()
        if live.screen is not None:
            live.screen.stop()
        await live.counts.stop()
        await self._close_old_pcs()
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
            screen_frames_received=live.counts.screen, reconnects=live.reconnects,
        )
        if not self._connected.done():
            self._connected.set_exception(CallError(reason, text))
            self._connected.exception()  # mark retrieved: nobody may be waiting
        self._live = _Live()  # drop the peer connection, channel, SDP, candidates and chat
        self._ended.set()
        self._events.put_nowait(Ended(self.result.ended_by, reason))
        self._on_end(self)
