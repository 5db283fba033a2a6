/**
 * Call control between the two peers, on the "control" data channel of the call's own
 * (DTLS-authenticated) connection, so a connected call needs the node for nothing: a keepalive
 * ping every second, hangup, and whether the sender is sharing its screen. Each message is one
 * small JSON object: `{"t":"ping"}`, `{"t":"hangup"}`, `{"t":"screen","on":true|false}`.
 *
 * Events: `message` {t, on?} for each well-formed message from the peer.
 * @module control
 */

/** A ping this often while the call is connected, in ms. */
export const KEEPALIVE_MS = 1000;
/** Nothing heard from the peer this long: the path is lost and the call reconnects, in ms. */
export const SILENCE_MS = 5000;
/** The caller offers a fresh connection again if the last attempt has not connected, in ms. */
export const RESTART_RETRY_MS = 8000;
/** A call still reconnecting this long ends, in ms. */
export const RECONNECT_TIMEOUT_MS = 60000;
/** Longest control message accepted, in characters (real ones are a few dozen). */
const MAX_CONTROL_CHARS = 256;

/**
 * Parse one control message; null when it is not one we know.
 * @param {unknown} data
 * @returns {{t: string, on?: boolean}|null}
 */
export function parseControl(data) {
  if (typeof data !== 'string' || data.length > MAX_CONTROL_CHARS) return null;
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    return null;
  }
  if (!msg || typeof msg !== 'object') return null;
  if (msg.t === 'ping' || msg.t === 'hangup') return { t: msg.t };
  if (msg.t === 'screen' && typeof msg.on === 'boolean') return { t: 'screen', on: msg.on };
  return null;
}

/** Wraps one "control" RTCDataChannel. */
export class Control extends EventTarget {
  /** @param {RTCDataChannel} channel */
  constructor(channel) {
    super();
    this.channel = channel;
    channel.onopen = () => this.dispatchEvent(new CustomEvent('open'));
    channel.onmessage = (e) => {
      const msg = parseControl(e.data);
      if (msg) this.dispatchEvent(new CustomEvent('message', { detail: msg }));
      else console.warn('control message dropped: not one we know');
    };
  }

  /**
   * Send one message if the channel is open.
   * @param {{t: string, on?: boolean}} msg
   * @returns {boolean} whether it was sent
   */
  send(msg) {
    if (this.channel?.readyState !== 'open') return false;
    this.channel.send(JSON.stringify(msg));
    return true;
  }

  /** Stop listening and close the channel. */
  close() {
    const ch = this.channel;
    if (!ch) return;
    ch.onopen = ch.onmessage = null;
    ch.close();
    this.channel = null;
  }
}
