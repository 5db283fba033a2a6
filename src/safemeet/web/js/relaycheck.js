/**
 * A relay-only call whose TURN relay gives no relay candidate fails at once, saying why, instead
 * of waiting for the connect timeout with nothing to connect. The usual cause is credentials the
 * relay refuses (401: expired, or the node and the relay do not share the same secret).
 * @module relaycheck
 */

/**
 * The words for a relay that gave no relay candidate.
 * @param {{errorCode: number, errorText: string}|null} error the first `icecandidateerror` seen
 * @returns {string}
 */
export function relayFailureText(error) {
  if (!error) return 'the relay gave no relay address';
  if (error.errorCode === 401) return 'the relay refused the credentials';
  if (error.errorCode >= 300 && error.errorCode < 700) {
    return `the relay refused the allocation (${error.errorCode}${error.errorText ? ` ${error.errorText}` : ''})`;
  }
  return 'the relay could not be reached';
}

/**
 * Watch a relay-only peer connection's gathering: once it completes without a relay candidate,
 * `onFailed(text)` is called (once).
 * @param {RTCPeerConnection} pc
 * @param {(text: string) => void} onFailed
 */
export function watchRelayGathering(pc, onFailed) {
  let relays = 0;
  let error = null;
  let done = false;
  pc.addEventListener('icecandidate', (e) => {
    if (e.candidate && (e.candidate.type === 'relay' || / typ relay /.test(e.candidate.candidate))) relays += 1;
  });
  pc.addEventListener('icecandidateerror', (e) => {
    // A 401 says most: keep it over any other error of the same gathering.
    if (!error || e.errorCode === 401) error = { errorCode: e.errorCode, errorText: e.errorText ?? '' };
  });
  pc.addEventListener('icegatheringstatechange', () => {
    if (done || pc.iceGatheringState !== 'complete' || relays > 0) return;
    done = true;
    onFailed(relayFailureText(error));
  });
}
