/**
 * The 1:1 call state machine: pure transitions that return actions for an adapter to perform.
 * An exact mirror of `safemeet/core/callstate.py`; `tests/vectors/callstate.json` holds every
 * (phase, role, event) → result case and both test suites check it.
 * @module callstate
 */

/** The phases of a call. */
export const PHASES = Object.freeze(['idle', 'outgoing', 'incoming', 'connecting', 'connected', 'reconnecting', 'ended']);
/** Which side of the call we are. */
export const ROLES = Object.freeze(['caller', 'callee']);
/** Every event the machine knows (anything else throws). */
export const EVENTS = Object.freeze([
  'dial', // caller: user dials (ring sent)
  'ring_received', // callee: a ring arrived
  'accept', // callee: user accepts
  'decline', // callee: user declines
  'accept_received', // caller: callee accepted (answer arrived)
  'decline_received', // caller
  'busy_received', // caller
  'timeout', // caller: nobody answered in time; callee: ring went unanswered
  'cancel', // caller: user gives up before an answer
  'cancel_received', // callee: caller gave up
  'media_connected', // the peer connection reached "connected"
  'media_failed', // the peer connection failed or the far side vanished
  'hangup', // user hangs up
  'hangup_received', // far side hung up
  'unknown_number', // caller: the number is not registered
  'media_lost', // a connected call stopped hearing from the peer (path broke); again: retry
  'restart_received', // callee: the caller offered a fresh peer connection for this call
]);

/** The words the UI shows for each end reason (the status region's text). */
export const END_TEXT = Object.freeze({
  hangup: 'Call ended',
  declined: 'Declined',
  busy: 'Busy',
  no_answer: 'No answer',
  cancelled: 'Call ended',
  missed: 'Missed call',
  failed: 'Call failed',
  unknown_number: 'Unknown number',
});

/**
 * @typedef {{phase: string, role: string, ended_by: (string|null), reason: (string|null)}} CallState
 * @typedef {{state: CallState, actions: string[]}} Step
 */

/**
 * A call state; defaults to a fresh idle caller.
 * @param {Partial<CallState>} [fields]
 * @returns {CallState}
 */
export function callState({ phase = 'idle', role = 'caller', ended_by = null, reason = null } = {}) {
  return Object.freeze({ phase, role, ended_by, reason });
}

const end = (state, by, reason, ...actions) => ({
  state: callState({ ...state, phase: 'ended', ended_by: by, reason }),
  actions: [...actions, 'close_media', 'wipe'],
});

const go = (state, phase, ...actions) => ({ state: callState({ ...state, phase }), actions });

/**
 * Apply `event`; an event that does not fit the phase changes nothing and does nothing.
 * @param {CallState} state
 * @param {string} event one of EVENTS
 * @returns {Step}
 * @throws {Error} on an unknown event
 */
export function transition(state, event) {
  if (!EVENTS.includes(event)) throw new Error(`unknown call event ${JSON.stringify(event)}`);
  const { phase, role } = state;
  if (phase === 'idle') {
    if (event === 'dial') return go(callState({ phase: 'outgoing', role: 'caller' }), 'outgoing', 'send_ring', 'start_timer');
    if (event === 'ring_received') {
      return go(callState({ phase: 'incoming', role: 'callee' }), 'incoming', 'notify_incoming', 'start_timer');
    }
  } else if (phase === 'outgoing') {
    if (event === 'accept_received') return go(state, 'connecting', 'stop_timer', 'apply_answer');
    if (event === 'decline_received') return end(state, 'remote', 'declined', 'stop_timer');
    if (event === 'busy_received') return end(state, 'remote', 'busy', 'stop_timer');
    if (event === 'timeout') return end(state, 'local', 'no_answer', 'send_cancel_timeout');
    if (event === 'cancel' || event === 'hangup') return end(state, 'local', 'cancelled', 'stop_timer', 'send_cancel');
    if (event === 'unknown_number') return end(state, 'error', 'unknown_number', 'stop_timer');
    if (event === 'media_failed') return end(state, 'error', 'failed', 'stop_timer', 'send_cancel');
    // The callee accepted but could not set up its side.
    if (event === 'hangup_received') return end(state, 'remote', 'failed', 'stop_timer');
  } else if (phase === 'incoming') {
    if (event === 'accept') return go(state, 'connecting', 'stop_timer', 'send_accept');
    if (event === 'decline' || event === 'hangup') return end(state, 'local', 'declined', 'stop_timer', 'send_decline');
    if (event === 'cancel_received') return end(state, 'remote', 'missed', 'stop_timer');
    if (event === 'timeout') return end(state, 'local', 'missed', 'send_decline');
  } else if (phase === 'reconnecting') {
    // The caller drives recovery, so the two sides never offer at once (see callstate.py).
    if (event === 'media_connected') return go(state, 'connected', 'stop_reconnect_timer', 'resume_media');
    if (event === 'media_lost' && role === 'caller') return go(state, 'reconnecting', 'restart_media');
    if (event === 'restart_received' && role === 'callee') return go(state, 'reconnecting', 'answer_restart');
    if (event === 'timeout') return end(state, 'error', 'failed', 'send_hangup');
    if (event === 'hangup') return end(state, 'local', 'hangup', 'send_hangup');
    if (event === 'hangup_received') return end(state, 'remote', 'hangup');
    if (event === 'media_failed') return end(state, 'error', 'failed', 'send_hangup');
  } else if (phase === 'connecting' || phase === 'connected') {
    if (phase === 'connected' && event === 'media_lost') {
      return role === 'caller'
        ? go(state, 'reconnecting', 'start_reconnect_timer', 'restart_media')
        : go(state, 'reconnecting', 'start_reconnect_timer');
    }
    if (phase === 'connected' && event === 'restart_received' && role === 'callee') {
      return go(state, 'reconnecting', 'start_reconnect_timer', 'answer_restart');
    }
    if (event === 'media_connected' && phase === 'connecting') return go(state, 'connected', 'start_media');
    if (event === 'hangup') return end(state, 'local', 'hangup', 'send_hangup');
    if (event === 'hangup_received') return end(state, 'remote', 'hangup');
    if (event === 'media_failed') return end(state, 'error', 'failed', 'send_hangup');
    if (event === 'cancel_received' && role === 'callee' && phase === 'connecting') return end(state, 'remote', 'hangup');
  }
  return { state, actions: [] };
}
