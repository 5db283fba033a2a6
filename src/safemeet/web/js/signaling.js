/**
 * WebSocket client for the node (`/ws`): challenge → register → number, then request/response
 * matched by `id` (lookup, send, ping) and incoming `msg` events. The `registered` reply may carry
 * TURN relays (`ice_servers`), kept as `iceServers`, and the deployment's node list (`nodes`).
 * `NodeLink` keeps one registered connection up across node restarts and fails over between the
 * deployment's nodes.
 * @module signaling
 */

import { Backoff } from './backoff.js';
import { concatBytes, b64uDecode, b64uEncode, utf8Encode } from './b64.js';
import { authProof, exportKeys, signWithIdentity } from './identity.js';
import { attemptOrder, parseNodeList, rememberNodes, rememberedNodes, wsUrl } from './nodes.js';
import { parseIceServers } from './privacy.js';
import * as wire from './wire.js';

/** How long a request may wait for its reply, in ms. */
export const REQUEST_TIMEOUT_MS = 10000;
/** Keep-alive ping period while registered, in ms; a ping left unanswered closes the connection. */
export const PING_INTERVAL_MS = 25000;
/** A connection that lasted this long starts the next loss's backoff afresh, in ms. */
export const STABLE_MS = 10000;
/** After losing the node, "Reconnecting…" turns into "Offline" once this long has passed, in ms. */
export const OFFLINE_AFTER_MS = 15000;
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
    /** @type {string[]|null} the deployment's node origins, when the node has a list (checked) */
    this.nodes = null;
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
      sig.nodes = parseNodeList(reply.nodes);
      if (reply.nodes !== undefined && !sig.nodes) console.warn('node list dropped: malformed');
    } catch (e) {
      sig.close();
      throw e;
    }
    // A node that stopped answering (frozen, or its machine gone without a FIN) is left, so the
    // page can move on; a closed socket already reported itself.
    sig.pingTimer = setInterval(() => sig.ping().catch((e) => {
      if (e.code === 'timeout') sig.close();
    }), PING_INTERVAL_MS);
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One identity's presence at the deployment: registers at a node and, whenever the connection
 * goes, registers again, trying the node it was on first and then the others of the list, with
 * full-jitter exponential backoff between rounds. It never touches a call: media and chat are peer
 * to peer and go on while no node is reachable.
 *
 * Events: `state` {state, node} with state `connecting` (first attempt), `online`,
 * `reconnecting` (lost, retrying, for `offlineAfterMs`), `offline` (still retrying) or `stopped`
 * (halted); `registered` {signaling} for each new registered connection.
 */
export class NodeLink extends EventTarget {
  /**
   * @param {import('./identity.js').Identity} identity
   * @param {{home: string, storage?: Storage|null, backoff?: Backoff, offlineAfterMs?: number,
   *   connect?: typeof Signaling.connect}} options `home`: the origin the page came from
   */
  constructor(identity, { home, storage = null, backoff = new Backoff(), offlineAfterMs = OFFLINE_AFTER_MS,
    connect = (url, id) => Signaling.connect(url, id) }) {
    super();
    this.identity = identity;
    this.storage = storage;
    this.backoff = backoff;
    this.offlineAfterMs = offlineAfterMs;
    this.connectTo = connect;
    /** The node registered at last (tried first in each round). */
    this.preferred = home;
    /** @type {string[]} the deployment: the page's own node, then the remembered list */
    this.nodes = [...new Set([home, ...(rememberedNodes(storage) ?? [])])];
    /** @type {Signaling|null} */
    this.current = null;
    this.state = 'connecting';
    this.halted = false;
    this.running = false;
    this.offlineTimer = 0;
  }

  /** Keep connected until `halt()`; resolves once halted. Calling it while running does nothing. */
  async run() {
    if (this.running) return;
    this.running = true;
    this.halted = false;
    this.#setState('connecting');
    try {
      await this.#loop();
    } finally {
      this.running = false;
      clearTimeout(this.offlineTimer);
      this.#setState('stopped');
    }
  }

  /** Stop reconnecting; the current connection stays until it closes (e.g. delete closes it). */
  halt() {
    this.halted = true;
  }

  async #loop() {
    while (!this.halted) {
      const signaling = await this.#round();
      if (signaling) {
        const since = Date.now();
        await new Promise((resolve) => signaling.addEventListener('close', resolve, { once: true }));
        this.current = null;
        if (this.halted) return;
        console.warn('node connection closed; reconnecting');
        if (Date.now() - since >= STABLE_MS) this.backoff.reset();
        this.#lost();
      } else if (this.state === 'connecting') {
        this.#setState('offline'); // never registered: nothing to reconnect to yet
      }
      if (this.halted) return;
      await sleep(this.backoff.next());
    }
  }

  /** Try each node once; the first that registers us is the current connection. */
  async #round() {
    for (const origin of attemptOrder(this.nodes, this.preferred)) {
      if (this.halted) return null;
      let signaling;
      try {
        signaling = await this.connectTo(wsUrl(origin), this.identity);
      } catch (e) {
        console.warn('cannot register at the node:', e?.code ?? e?.name);
        continue;
      }
      if (this.halted) {
        signaling.close();
        return null;
      }
      this.#registered(origin, signaling);
      return signaling;
    }
    return null;
  }

  #registered(origin, signaling) {
    this.preferred = origin;
    this.current = signaling;
    if (signaling.nodes) this.nodes = signaling.nodes; // the deployment as it is now
    else this.nodes = [origin];
    rememberNodes(this.storage, signaling.nodes);
    clearTimeout(this.offlineTimer);
    this.dispatchEvent(new CustomEvent('registered', { detail: { signaling } }));
    this.#setState('online');
  }

  #lost() {
    this.#setState('reconnecting');
    clearTimeout(this.offlineTimer);
    this.offlineTimer = setTimeout(() => {
      if (this.state === 'reconnecting') this.#setState('offline');
    }, this.offlineAfterMs);
  }

  #setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, node: this.preferred } }));
  }
}
