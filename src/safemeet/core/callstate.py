"""The 1:1 call state machine: pure transitions that return actions for an adapter to perform.

The table is mirrored in ``web/js/callstate.js``; ``tests/vectors/callstate.json`` holds every
(phase, role, event) → result case and both test suites check it.
"""

from dataclasses import dataclass, replace

PHASES = ("idle", "outgoing", "incoming", "connecting", "connected", "reconnecting", "ended")
ROLES = ("caller", "callee")
EVENTS = (
    "dial",              # caller: user dials (ring sent)
    "ring_received",     # callee: a ring arrived
    "accept",            # callee: user accepts
    "decline",           # callee: user declines
    "accept_received",   # caller: callee accepted (answer arrived)
    "decline_received",  # caller
    "busy_received",     # caller
    "timeout",           # caller: nobody answered in time; callee: ring went unanswered
    "cancel",            # caller: user gives up before an answer
    "cancel_received",   # callee: caller gave up
    "media_connected",   # the peer connection reached "connected"
    "media_failed",      # the peer connection failed or the far side vanished
    "hangup",            # user hangs up
    "hangup_received",   # far side hung up
    "unknown_number",    # caller: the number is not registered
    "media_lost",        # a connected call stopped hearing from the peer (path broke); again: retry
    "restart_received",  # callee: the caller offered a fresh peer connection for this call
)

# The words the UI shows for each end reason (the status region's text).
END_TEXT = {
    "hangup": "Call ended",
    "declined": "Declined",
    "busy": "Busy",
    "no_answer": "No answer",
    "cancelled": "Call ended",
    "missed": "Missed call",
    "failed": "Call failed",
    "unknown_number": "Unknown number",
}


@dataclass(frozen=True)
class CallState:
    phase: str = "idle"
    role: str = "caller"
    ended_by: str | None = None  # "local" | "remote" | "error"
    reason: str | None = None    # a key of END_TEXT


@dataclass(frozen=True)
class Step:
    state: CallState
    actions: tuple[str, ...]


def _end(state: CallState, by: str, reason: str, *actions: str) -> Step:
    return Step(replace(state, phase="ended", ended_by=by, reason=reason), (*actions, "close_media", "wipe"))


def _go(state: CallState, phase: str, *actions: str) -> Step:
    return Step(replace(state, phase=phase), tuple(actions))


def transition(state: CallState, event: str) -> Step:
    """Apply ``event``; an event that does not fit the phase changes nothing and does nothing."""
    if event not in EVENTS:
        raise ValueError(f"unknown call event {event!r}")
    phase, role = state.phase, state.role
    if phase == "idle":
        if event == "dial":
            return _go(CallState("outgoing", "caller"), "outgoing", "send_ring", "start_timer")
        if event == "ring_received":
            return _go(CallState("incoming", "callee"), "incoming", "notify_incoming", "start_timer")
    elif phase == "outgoing":
        if event == "accept_received":
            return _go(state, "connecting", "stop_timer", "apply_answer")
        if event == "decline_received":
            return _end(state, "remote", "declined", "stop_timer")
        if event == "busy_received":
            return _end(state, "remote", "busy", "stop_timer")
        if event == "timeout":
            return _end(state, "local", "no_answer", "send_cancel_timeout")
        if event in ("cancel", "hangup"):
            return _end(state, "local", "cancelled", "stop_timer", "send_cancel")
        if event == "unknown_number":
            return _end(state, "error", "unknown_number", "stop_timer")
        if event == "media_failed":
            return _end(state, "error", "failed", "stop_timer", "send_cancel")
        if event == "hangup_received":  # the callee accepted but could not set up its side
            return _end(state, "remote", "failed", "stop_timer")
    elif phase == "incoming":
        if event == "accept":
            return _go(state, "connecting", "stop_timer", "send_accept")
        if event in ("decline", "hangup"):
            return _end(state, "local", "declined", "stop_timer", "send_decline")
        if event == "cancel_received":
            return _end(state, "remote", "missed", "stop_timer")
        if event == "timeout":
            return _end(state, "local", "missed", "send_decline")
    elif phase == "reconnecting":
        # The caller drives recovery (a fresh peer connection offered through the node), so the
        # two sides never offer at once; the callee answers each offer. The adapter's reconnect
        # timer fires ``timeout`` when recovery takes too long.
        if event == "media_connected":
            return _go(state, "connected", "stop_reconnect_timer", "resume_media")
        if event == "media_lost" and role == "caller":
            return _go(state, "reconnecting", "restart_media")
        if event == "restart_received" and role == "callee":
            return _go(state, "reconnecting", "answer_restart")
        if event == "timeout":
            return _end(state, "error", "failed", "send_hangup")
        if event == "hangup":
            return _end(state, "local", "hangup", "send_hangup")
        if event == "hangup_received":
            return _end(state, "remote", "hangup")
        if event == "media_failed":
            return _end(state, "error", "failed", "send_hangup")
    elif phase in ("connecting", "connected"):
        if phase == "connected" and event == "media_lost":
            actions = ("start_reconnect_timer", "restart_media") if role == "caller" else ("start_reconnect_timer",)
            return _go(state, "reconnecting", *actions)
        if phase == "connected" and event == "restart_received" and role == "callee":
            return _go(state, "reconnecting", "start_reconnect_timer", "answer_restart")
        if event == "media_connected" and phase == "connecting":
            return _go(state, "connected", "start_media")
        if event == "hangup":
            return _end(state, "local", "hangup", "send_hangup")
        if event == "hangup_received":
            return _end(state, "remote", "hangup")
        if event == "media_failed":
            return _end(state, "error", "failed", "send_hangup")
        if event == "cancel_received" and role == "callee" and phase == "connecting":
            return _end(state, "remote", "hangup")
    return Step(state, ())
