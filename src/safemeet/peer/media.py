"""Media sources (synthetic tone and test pattern, a media file, or none) and counting sinks."""

import asyncio
import fractions
import functools
import math
from dataclasses import dataclass, field

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from av import AudioFrame, VideoFrame

from .errors import MediaError

AUDIO_RATE = 48_000
AUDIO_PTIME = 0.020


@dataclass(frozen=True)
class MediaOptions:
    """What a peer sends. ``source``: "synthetic" (tone + test pattern), a media file path, or None."""

    audio: bool = True
    video: bool = True
    source: str | None = "synthetic"
    width: int = 320
    height: int = 240

    def tracks(self) -> list[MediaStreamTrack]:
        """Fresh tracks for one call (each call gets its own, stopped when the call ends)."""
        if self.source is None:
            return []
        if self.source == "synthetic":
            out: list[MediaStreamTrack] = []
            if self.audio:
                out.append(ToneTrack())
            if self.video:
                out.append(PatternTrack(self.width, self.height))
            return out
        try:
            player = MediaPlayer(self.source)
        except Exception as exc:  # av raises its own error types for every kind of bad file
            raise MediaError(f"cannot play media file {self.source}: {exc}") from exc
        tracks = [t for t in (player.audio if self.audio else None, player.video if self.video else None) if t]
        if not tracks:
            raise MediaError(f"media file {self.source} has no {'audio or video' if self.video else 'audio'}")
        return tracks

    def receive_kinds(self) -> list[str]:
        """Media kinds to receive: audio always, video unless this is an audio-only call."""
        return ["audio", "video"] if self.video else ["audio"]

    def check(self) -> None:
        """Raise MediaError now if a media file cannot be used (before anything is sent)."""
        if self.source not in (None, "synthetic"):  # synthetic sources cannot fail
            for track in self.tracks():
                track.stop()


@functools.lru_cache(maxsize=8)
def _one_second_of(frequency: float) -> np.ndarray:
    """One second of a sine tone (computed once: every call starts with a fresh track)."""
    t = np.arange(AUDIO_RATE) / AUDIO_RATE
    wave = (np.sin(2 * math.pi * frequency * t) * 8000).astype(np.int16)
    wave.flags.writeable = False
    return wave


class ToneTrack(AudioStreamTrack):
    """A 440 Hz sine tone, 48 kHz mono, 20 ms frames."""

    def __init__(self, frequency: float = 440.0) -> None:
        super().__init__()
        self._samples = int(AUDIO_RATE * AUDIO_PTIME)
        self._wave = _one_second_of(frequency)
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            await asyncio.sleep(max(0.0, self._start + self._pts / AUDIO_RATE - loop.time()))
        offset = self._pts % AUDIO_RATE
        chunk = np.roll(self._wave, -offset)[: self._samples]
        frame = AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._pts += self._samples
        return frame


class PatternTrack(VideoStreamTrack):
    """Moving colour bars, so a receiver can tell frames apart."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        bars = np.array([[192, 192, 192], [192, 192, 0], [0, 192, 192], [0, 192, 0],
                         [192, 0, 192], [192, 0, 0], [0, 0, 192], [16, 16, 16]], dtype=np.uint8)
        row = np.repeat(bars, math.ceil(width / len(bars)), axis=0)[:width]
        self._image = np.ascontiguousarray(np.broadcast_to(row, (height, width, 3)))
        self._n = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self._n += 1
        frame = VideoFrame.from_ndarray(np.roll(self._image, self._n * 4, axis=1), format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class SlotTrack(MediaStreamTrack):
    """What a sender sends on a slot whose source comes and goes (the screen share).

    Frames of the current source, re-stamped on one clock, so a new source continues the stream
    the receiver knows instead of starting its timestamps over; with no source, nothing is sent.
    """

    kind = "video"
    CLOCK = 90_000

    def __init__(self) -> None:
        super().__init__()
        self._source: MediaStreamTrack | None = None
        self._changed = asyncio.Event()
        self._started: float | None = None

    def use(self, source: MediaStreamTrack | None) -> None:
        """Send ``source`` from now on (None: send nothing); the previous source is stopped."""
        previous, self._source = self._source, source
        if previous is not None and previous is not source:
            previous.stop()
        self._changed.set()

    def stop(self) -> None:
        super().stop()
        self.use(None)

    async def recv(self) -> VideoFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            self._changed.clear()
            source = self._source
            if source is None:
                await self._changed.wait()
                continue
            # A source that was replaced may never deliver again: wait for its frame or a change.
            frame_wait = asyncio.ensure_future(source.recv())
            change_wait = asyncio.ensure_future(self._changed.wait())
            await asyncio.wait((frame_wait, change_wait), return_when=asyncio.FIRST_COMPLETED)
            change_wait.cancel()
            if not frame_wait.done() or self._source is not source:
                frame_wait.cancel()
                continue
            try:
                frame = frame_wait.result()
            except MediaStreamError:
                if self._source is source:
                    self._source = None
                continue
            loop_time = asyncio.get_running_loop().time()
            if self._started is None:
                self._started = loop_time
            frame.pts = int((loop_time - self._started) * self.CLOCK)
            frame.time_base = fractions.Fraction(1, self.CLOCK)
            return frame


@dataclass
class FrameCounts:
    """Frames received per kind; ``screen`` counts the screen-share slot's video apart from the camera."""

    audio: int = 0
    video: int = 0
    screen: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def consume(self, track: MediaStreamTrack, screen: bool = False) -> None:
        """Count every frame the remote track delivers until it ends."""
        self.tasks.append(asyncio.create_task(self._drain(track, "screen" if screen else track.kind)))

    async def _drain(self, track: MediaStreamTrack, slot: str) -> None:
        try:
            while True:
                await track.recv()
                setattr(self, slot, getattr(self, slot) + 1)
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
