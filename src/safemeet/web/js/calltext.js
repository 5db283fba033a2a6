/**
 * The words a call's status shows, the one source for the status line and the video overlay.
 * @module calltext
 */

import { END_TEXT } from './callstate.js';
import { formatNumber } from './numbers.js';

/** Status words for phases that are not an end. */
const PHASE_TEXT = { idle: '', outgoing: 'Calling…', incoming: 'Incoming call', connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…' };

/**
 * The status words for a call state; a missed call says from whom.
 * @param {{phase: string, reason: (string|null)}} state
 * @param {{peer: string, ringSent: boolean, detail: string}} call
 * @returns {string}
 */
export function callText({ phase, reason }, { peer, ringSent, detail }) {
  if (phase === 'ended') {
    const who = reason === 'missed' ? ` from ${formatNumber(peer)}` : '';
    return END_TEXT[reason] + who + (detail ? `: ${detail}` : '');
  }
  if (phase === 'incoming') return `Incoming call from ${formatNumber(peer)}`;
  if (phase === 'outgoing' && ringSent) return 'Ringing';
  return PHASE_TEXT[phase];
}
