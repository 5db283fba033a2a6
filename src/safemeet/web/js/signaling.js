/**
 * WebSocket client for the node (`/ws` on the page's own origin): challenge → register → number,
 * then request/response matched by `id` (lookup, send, ping) and incoming `msg` events. The
 * `registered` reply may carry TURN relays (`ice_servers`), kept as `iceServers`.
 * @module signaling
 */

import { concatBytes, b64uDecode, b64uEncode, utf8Encode } from './b64.js';
import { authProof, exportKeys, signWithIdentity } from './identity.js';
import { parseIceServers } from './privacy.js';
import * as wire from './wire.js';

/** How long a request may wait for its reply, in ms. */
export const REQUEST_TIMEOUT_MS = 10000;
/** Keep-alive ping period while registered, in ms. */
export const PING_INTERVAL_MS = 25000;
const DELETE_LABEL = utf8Encode('safemeet/v1/delete\0');

/** A failed request or connection; `code` is a node error code, or `timeout` / `closed` / `protocol`. */
export class SignalingError extends Error {
  /**
   * @param {string} code
   * @param {string} [message]
   */
  constructor(code, message = code) {
    super(message);
    this.name = 'SignalingError';
    this.code = code;
  }
}

/**
 * The node's WebSocket URL for a page location: same host, ws: or wss: per the page's protocol.
 * @param {{protocol: string, host: string}} loc usually `window.location`
 * @returns {string}
 */
export function nodeUrl(loc) {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws`;
}

/**
 * One registered connection to the node. Dispatches `msg` (detail: {env}) for every routed
 * envelope and `close` (detail: {code, reason}) once, when the socket goes away.
 */
export class Signaling extends EventTarget {
  /** @param {WebSocket} ws an open socket (use `Signaling.connect`) */
  constructor(ws) {
    super();
    this.ws = ws;
    /** @type {string|null} our number once registered */
    this.number = null;
    /** @type {string|null} the node's challenge nonce (b64u) for this connection; signs `delete` */
    this.nonce = null;
    /** @type {RTCIceServer[]} TURN relays the node offers this connection (checked; may be empty) */
    this.iceServers = [];
    this.nextId = 1;
    /** @type {Map<number, {resolve: Function, reject: Function, timer: number}>} */
    this.pending = new Map();
    this.pingTimer = 0;
    this.closed = false;
    ws.addEventListener('message', (e) => this.#onFrame(e.data));
    ws.addEventListener('close', (e) => this.#onClose(e.code, e.reason));
  }

  /**
   * Open the socket, answer the challenge with `identity` and wait for our number.
   * @param {string} url e.g. `nodeUrl(location)`
   * @param {import('./identity.js').Identity} identity
   * @returns {Promise<Signaling>} registered; `.number` is set
   * @throws {SignalingError}
   */
  static async connect(url, identity) {
    const ws = new WebSocket(url);
    const first = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new SignalingError('timeout', 'node did not answer')), REQUEST_TIMEOUT_MS);
      const fail = (err) => {
        clearTimeout(timer);
        ws.close();
        reject(err);
      };
      const unreachable = () => fail(new SignalingError('closed', 'cannot reach the node'));
      ws.addEventListener('error', unreachable, { once: true });
      ws.addEventListener('close', unreachable, { once: true });
      ws.addEventListener('message', (e) => {
        ws.removeEventListener('error', unreachable);
        ws.removeEventListener('close', unreachable);
        clearTimeout(timer);
        resolve(e.data);
      }, { once: true });
    });
    const challenge = Signaling.#parseOrThrow(first, 'challenge', ws);
    const sig = new Signaling(ws);
    sig.nonce = challenge.nonce;
    try {
      const proof = await authProof(identity, challenge.nonce);
      const reply = await sig.#await('registered', wire.register(exportKeys(identity), proof));
      sig.number = reply.number;
      sig.iceServers = parseIceServers(reply.ice_servers);
    } catch (e) {
      sig.close();
      throw e;
    }
    sig.pingTimer = setInterval(() => sig.ping().catch(() => {}), PING_INTERVAL_MS);
    return sig;
  }

  static #parseOrThrow(text, type, ws) {
    let frame;
    try {
      frame = wire.parse(text);
    } catch (e) {
      ws.close();
      throw new SignalingError('protocol', e.message);
    }
    if (frame.t !== type) {
      ws.close();
      throw frame.t === 'error'
        ? new SignalingError(frame.code, frame.message)
        : new SignalingError('protocol', `expected ${type}, got ${frame.t}`);
    }
    return frame;
  }

  /**
   * Keys registered for `number`.
   * @param {string} number
   * @returns {Promise<{sig: string, seal: string, bind: string}>}
   * @throws {SignalingError} e.g. code `unknown_number`
   */
  async lookup(number) {
    const reply = await this.request((id) => wire.lookup(id, number));
    return reply.keys;
  }

  /**
   * Route an envelope to `to`; resolves once the node handed it on.
   * @param {string} to
   * @param {string} env
   * @returns {Promise<void>}
   * @throws {SignalingError} e.g. `offline`, `unknown_number`
   */
  async send(to, env) {
    await this.request((id) => wire.send(id, to, env));
  }

  /**
   * Delete our identity at the node: `{"t":"delete","id":n,"proof":...}` with the proof over
   * "safemeet/v1/delete\0" || this connection's challenge nonce || sig_pub. Resolves once the node
   * closed the connection (it closes every connection of the number).
   * @param {import('./identity.js').Identity} identity the registered one
   * @returns {Promise<void>}
   * @throws {SignalingError} the node refused (e.g. `unauthorized`) or did not answer
   */
  async deleteIdentity(identity) {
    const msg = concatBytes(DELETE_LABEL, b64uDecode(this.nonce, 32), identity.sigPublic);
    const proof = b64uEncode(await signWithIdentity(identity, msg));
    let timer = 0;
    const closed = new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new SignalingError('timeout', 'the node did not close the connection')), REQUEST_TIMEOUT_MS);
      this.addEventListener('close', resolve, { once: true });
    });
    const refused = this.request((id) => ({ t: 'delete', id, proof })).then(
      () => closed, // a reply of its own (if the node sends one) still waits for the close
      (e) => (e.code === 'closed' ? closed : Promise.reject(e)),
    );
    try {
      await Promise.race([closed, refused]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** @returns {Promise<void>} resolves on the node's pong */
  async ping() {
    await this.request((id) => wire.ping(id));
  }

  /**
   * Send a request frame built with a fresh id and wait for the reply carrying that id.
   * @param {(id: number) => object} build
   * @returns {Promise<object>} the reply frame
   * @throws {SignalingError}
   */
  request(build) {
    const id = this.nextId;
    this.nextId = this.nextId >= wire.MAX_ID ? 1 : this.nextId + 1;
    return this.#await(null, build(id), id);
  }

  #await(type, frame, id = 0) {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new SignalingError('closed', 'not connected to the node'));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SignalingError('timeout', 'the node did not answer'));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer, type });
      this.ws.send(wire.encode(frame));
    });
  }

  #onFrame(text) {
    let frame;
    try {
      frame = wire.parse(text);
    } catch (e) {
      console.warn('node frame dropped:', e.message);
      return;
    }
    if (frame.t === 'msg') {
      this.dispatchEvent(new CustomEvent('msg', { detail: { env: frame.env } }));
      return;
    }
    // Replies to `register` carry no id; they use slot 0.
    const id = frame.id ?? 0;
    const waiter = this.pending.get(id);
    if (!waiter) {
      if (frame.t === 'error') console.warn('node error:', frame.code);
      return;
    }
    this.pending.delete(id);
    clearTimeout(waiter.timer);
    if (frame.t === 'error') waiter.reject(new SignalingError(frame.code, frame.message));
    else if (waiter.type && frame.t !== waiter.type) waiter.reject(new SignalingError('protocol', `unexpected ${frame.t}`));
    else waiter.resolve(frame);
  }

  #onClose(code, reason) {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new SignalingError('closed', 'connection to the node closed'));
    }
    this.pending.clear();
    this.dispatchEvent(new CustomEvent('close', { detail: { code, reason } }));
  }

  /** Close the connection (pending requests fail with `closed`). */
  close() {
    this.ws.close();
    this.#onClose(1000, 'closed by client');
  }
}
