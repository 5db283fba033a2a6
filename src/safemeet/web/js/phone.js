/**
 * The phone: owns the one current call, seals outgoing envelopes and opens, verifies and routes
 * incoming ones by call id. A ring while a call is in progress is answered `busy`.
 * Rejected envelopes are dropped with a console warning carrying only the reason code.
 *
 * Keys from the node are checked against the pinned contacts (contacts.js) before they are used,
 * cached ones included: a caller's dial stops before anything rings and a ring from a changed key
 * is dropped before the user sees it. The first call that connects pins the peer's keys.
 * A call with a stranger (no pinned keys) is relay-only as `privacy` says (privacy.js).
 *
 * Events: `call` {call} whenever a new call (outgoing or incoming) starts; `key-change`
 * {number, verified, keys, role} when the node's keys for a number differ from the pinned ones
 * (`role`: "caller" when our dial stopped, "callee" when a ring was dropped).
 * @module phone
 */

import { ReplayGuard, makeInner, newCallId, openEnvelope, sealEnvelope, verifyEnvelope } from './envelope.js';
import { Call } from './call.js';
import { KeyChangeError, acceptNewKeys, checkPinned, getContact, pinContact } from './contacts.js';
import { PrivacySettings, hasRelay, relayOnly } from './privacy.js';

/**
 * @typedef {{ringTimeoutMs?: number, getMedia?: () => Promise<MediaStream|null>}} PhoneConfig
 */

/** One identity's calls over one (replaceable) node connection. */
export class Phone extends EventTarget {
  /**
   * @param {import('./identity.js').Identity} identity with `number` set
   * @param {PhoneConfig} [config]
   */
  constructor(identity, config = {}) {
    super();
    this.identity = identity;
    this.config = config;
    /** The user's relay switches (in memory only). */
    this.privacy = new PrivacySettings();
    /** @type {import('./signaling.js').Signaling|null} */
    this.signaling = null;
    /** @type {Call|null} */
    this.call = null;
    /** @type {Map<string, Promise<object>>} number → pin-checked keys, dropped when a call with it ends */
    this.keys = new Map();
    this.replay = new ReplayGuard();
    this.inbox = Promise.resolve();
    this.onMsg = (e) => {
      this.inbox = this.inbox.then(() => this.#receive(e.detail.env));
    };
  }

  /**
   * Use a (new) registered node connection.
   * @param {import('./signaling.js').Signaling} signaling
   */
  attach(signaling) {
    this.signaling?.removeEventListener('msg', this.onMsg);
    this.signaling = signaling;
    signaling.addEventListener('msg', this.onMsg);
  }

  /** @returns {boolean} whether a call is in progress */
  get busy() {
    return !!this.call && !this.call.ended;
  }

  /**
   * The keys registered for `number`, checked against its pinned keys. Cached until a call with
   * `number` ends; a key change stays cached (so a flood of envelopes is not looked up again).
   * @param {string} number
   * @returns {Promise<object>}
   * @throws {KeyChangeError} when the node's keys are not the pinned ones
   */
  keysFor(number) {
    let p = this.keys.get(number);
    if (!p) {
      p = this.#signaling().lookup(number).then((keys) => checkPinned(number, keys));
      this.keys.set(number, p);
      p.catch((e) => {
        if (!(e instanceof KeyChangeError) && this.keys.get(number) === p) this.keys.delete(number);
      });
    }
    return p;
  }

  /**
   * The user accepts the changed key of `number`: re-pin it (verified flag cleared).
   * @param {string} number
   * @param {{sig: string, seal: string, bind: string}} keys from the `key-change` event
   * @returns {Promise<void>}
   */
  async acceptNewKeys(number, keys) {
    await acceptNewKeys(number, keys);
    this.keys.delete(number);
  }

  /**
   * Drop cached keys of `number` (after its contact was deleted or changed).
   * @param {string} number
   */
  forgetKeys(number) {
    this.keys.delete(number);
  }

  #keyChanged(e, role) {
    const { number, verified, keys } = e;
    this.dispatchEvent(new CustomEvent('key-change', { detail: { number, verified, keys, role } }));
  }

  #signaling() {
    if (!this.signaling || this.signaling.closed) {
      throw Object.assign(new Error('not connected to the node'), { code: 'closed' });
    }
    return this.signaling;
  }

  /**
   * Seal `type`/`body` for call `callId` and hand it to the node for `to`.
   * @returns {Promise<void>}
   */
  async sendEnvelope(callId, to, type, body) {
    const keys = await this.keysFor(to);
    const inner = makeInner(type, callId, this.identity.number, to, body);
    const env = await sealEnvelope(this.identity, keys, inner);
    await this.#signaling().send(to, env);
  }

  #newCall(role, callId, peer) {
    const call = new Call({
      role,
      callId,
      peer,
      send: (type, body) => this.sendEnvelope(callId, peer, type, body),
      lookupPeer: () => this.keysFor(peer).catch((e) => {
        if (e instanceof KeyChangeError) this.#keyChanged(e, 'caller');
        throw e;
      }),
      rtcConfig: () => this.#rtcConfig(role, peer),
      ...this.config,
    });
    this.call = call;
    call.addEventListener('state', (e) => {
      if (e.detail.phase !== 'connected') return;
      this.keysFor(peer)
        .then((keys) => pinContact(peer, keys))
        .catch((err) => console.warn('keys not pinned:', err?.code ?? err?.name));
    });
    call.addEventListener('wiped', () => {
      if (this.call === call) this.call = null;
      this.keys.delete(peer);
    });
    this.dispatchEvent(new CustomEvent('call', { detail: { call } }));
    return call;
  }

  /** The peer connection settings for a call with `peer`: the node's relays, relay-only or not. */
  async #rtcConfig(role, peer) {
    const iceServers = this.signaling?.iceServers ?? [];
    const contact = await getContact(peer).catch(() => null); // unreadable: treat as a stranger
    const relay = hasRelay(iceServers);
    return { iceServers, relayOnly: relayOnly({ role, pinned: !!contact?.keys, relay, settings: this.privacy }) };
  }

  /**
   * Call a (normalized, valid) number.
   * @param {string} number
   * @returns {Call}
   * @throws {Error} when a call is already in progress
   */
  dial(number) {
    if (this.busy) throw new Error('a call is already in progress');
    this.keys.delete(number); // look the number up afresh, so its keys are checked now
    const call = this.#newCall('caller', newCallId(), number);
    call.dial();
    return call;
  }

  async #receive(env) {
    let inner;
    let opened;
    try {
      opened = await openEnvelope(this.identity, env);
      // A message of no current call (e.g. the node's copy of a hangup the control channel
      // already delivered) is checked against keys looked up for it alone: caching them would
      // outlive the call they belong to.
      const { from, type, call } = opened.inner;
      const keys = await (type === 'ring' || call === this.call?.id
        ? this.keysFor(from)
        : this.#signaling().lookup(from).then((k) => checkPinned(from, k)));
      inner = await verifyEnvelope(opened, keys, Date.now(), this.replay);
    } catch (e) {
      console.warn('envelope dropped:', e?.code ?? e?.name ?? 'error');
      // A ring from a changed key never rings; the user is told instead.
      if (e instanceof KeyChangeError && opened?.inner.type === 'ring' && !this.busy) this.#keyChanged(e, 'callee');
      return;
    }
    this.#route(inner);
  }

  #route(inner) {
    const current = this.call;
    if (current && current.id === inner.call) {
      if (inner.from !== current.peer) console.warn('envelope dropped:', 'wrong_peer');
      else if (inner.type !== 'ring') current.receive(inner);
      return;
    }
    if (inner.type !== 'ring') return; // late messages of a call that is gone
    if (this.busy) {
      this.sendEnvelope(inner.call, inner.from, 'busy', {}).catch((e) => console.warn('busy not sent:', e?.code));
      return;
    }
    this.#newCall('callee', inner.call, inner.from).ringReceived(inner.body);
  }
}
