/**
 * One 1:1 call: drives the call state machine and performs its actions (envelopes, media, the
 * peer connection, the chat). Everything the call held is dropped when it ends.
 *
 * Events: `state` {phase, role, reason, text}, `local-media` {stream}, `remote-media` {stream},
 * `chat` {from: "me"|"them", text}, `chat-ready` {ready}, `switches` {muted, cameraOn}, `wiped`.
 * @module call
 */

import { callState, transition } from './callstate.js';
import { callText } from './calltext.js';
import { Chat, ChatError } from './chat.js';
import { acquireMedia, applySwitches, mediaKinds, stopMedia } from './media.js';
import { IceQueue, Rtc } from './rtc.js';

/** Default caller ring timeout, in ms. */
export const RING_TIMEOUT_MS = 30000;
/** The callee waits this much longer than the caller before giving up on a ring. */
export const CALLEE_GRACE_MS = 5000;
/** A call still not connected this long after accept/answer fails (e.g. no ICE got through). */
export const CONNECT_TIMEOUT_MS = 30000;

/**
 * @typedef {{
 *   role: "caller"|"callee", callId: string, peer: string,
 *   send: (type: string, body: object) => Promise<void>,
 *   lookupPeer: () => Promise<unknown>,
 *   ringTimeoutMs?: number, connectTimeoutMs?: number, getMedia?: () => Promise<MediaStream|null>,
 *   rtcConfig?: () => Promise<{iceServers?: RTCIceServer[], relayOnly?: boolean}>,
 * }} CallOptions
 * `rtcConfig` is asked once, just before the peer connection is made (after the lookup or accept).
 */

/** One call with one peer number. */
export class Call extends EventTarget {
  /** @param {CallOptions} opts */
  constructor({
    role, callId, peer, send, lookupPeer, ringTimeoutMs = RING_TIMEOUT_MS, connectTimeoutMs = CONNECT_TIMEOUT_MS,
    getMedia = acquireMedia, rtcConfig = async () => ({}),
  }) {
    super();
    this.id = callId;
    this.peer = peer;
    this.state = callState({ role });
    this.io = { send, lookupPeer, getMedia, rtcConfig };
    this.ringTimeoutMs = ringTimeoutMs;
    this.connectTimeoutMs = connectTimeoutMs;
    this.timer = 0;
    this.connectTimer = 0;
    this.outbox = Promise.resolve();
    this.ice = new IceQueue((ice) => this.#quietSend('ice', ice));
    this.offerSdp = null;
    this.answerSdp = null;
    /** @type {Rtc|null} */
    this.rtc = null;
    /** @type {MediaStream|null} */
    this.local = null;
    /** @type {Chat|null} */
    this.chat = null;
    this.ringSent = false;
    this.switches = { muted: false, cameraOn: true };
    this.detail = '';
    /** Whether this call uses only relay candidates (set when its peer connection is made). */
    this.relayOnly = false;
  }

  /** @returns {boolean} whether the call has ended */
  get ended() { return this.state.phase === 'ended'; }

  /** @returns {string} the status words for the current state */
  get text() {
    return callText(this.state, this);
  }

  /** Caller: start the call (offer made, then ring sent). */
  dial() { this.fire('dial'); }

  /**
   * Callee: a verified ring arrived for this call. Nothing of it is applied before `accept`.
   * @param {{sdp: string}} body
   */
  ringReceived(body) {
    this.offerSdp = body.sdp;
    this.fire('ring_received');
  }

  /** Callee: the user accepts. */
  accept() { this.fire('accept'); }

  /** Callee: the user declines. */
  decline() { this.fire('decline'); }

  /** Either side: the user hangs up (the caller's hang-up while ringing cancels). */
  hangup() { this.fire(this.state.phase === 'outgoing' ? 'cancel' : 'hangup'); }

  /**
   * A verified envelope of this call from the peer.
   * @param {{type: string, body: object}} inner
   */
  receive({ type, body }) {
    const caller = this.state.role === 'caller';
    if (type === 'ice') this.ice.remote(body, this.rtc, this.state.phase === 'incoming' || this.state.phase === 'connecting');
    else if (type === 'accept' && caller) {
      this.answerSdp ??= body.sdp;
      this.fire('accept_received');
    } else if (type === 'decline' && caller) this.fire('decline_received');
    else if (type === 'busy' && caller) this.fire('busy_received');
    else if (type === 'cancel' && !caller) this.fire('cancel_received');
    else if (type === 'hangup') this.fire('hangup_received');
    else console.warn('call message ignored:', type);
  }

  /**
   * Feed an event to the state machine and perform its actions.
   * @param {string} event
   */
  fire(event) {
    const step = transition(this.state, event);
    if (step.state === this.state) return;
    const entering = step.state.phase === 'connecting' && this.state.phase !== 'connecting';
    this.state = step.state;
    if (entering) {
      // Nothing else ends a call whose media never connects (e.g. every ICE candidate was lost).
      this.connectTimer = setTimeout(() => {
        if (this.state.phase !== 'connecting') return;
        this.detail = 'could not connect';
        this.fire('media_failed');
      }, this.connectTimeoutMs);
    }
    for (const action of step.actions) this.#perform(action);
    this.#emitState();
  }

  #emitState() {
    const { phase, role, reason } = this.state;
    this.#emit('state', { phase, role, reason, text: this.text });
  }

  #emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #perform(action) {
    switch (action) {
      case 'send_ring': return void this.#guard(this.#sendRing());
      case 'start_timer': return this.#startTimer();
      case 'stop_timer': return this.#stopTimer();
      case 'send_accept': return void this.#guard(this.#sendAccept());
      case 'apply_answer': return void this.#guard(this.rtc.applyAnswer(this.answerSdp));
      case 'send_cancel': return this.ringSent ? this.#quietSend('cancel', { reason: 'cancelled' }) : undefined;
      case 'send_cancel_timeout': return this.#quietSend('cancel', { reason: 'timeout' });
      case 'send_decline': return this.#quietSend('decline', {});
      case 'send_hangup': return this.#quietSend('hangup', {});
      case 'close_media': return this.#closeMedia();
      case 'wipe': return this.#wipe();
      default: return undefined; // notify_incoming, start_media: the `state` event covers them
    }
  }

  #startTimer() {
    const ms = this.state.role === 'caller' ? this.ringTimeoutMs : this.ringTimeoutMs + CALLEE_GRACE_MS;
    this.timer = setTimeout(() => this.fire('timeout'), ms);
  }

  #stopTimer() {
    clearTimeout(this.timer);
    this.timer = 0;
  }

  /** Run an async action; a failure ends the call unless it already ended. */
  async #guard(promise) {
    try {
      await promise;
    } catch (e) {
      if (this.ended) return;
      const code = e?.code ?? e?.name ?? String(e);
      console.warn('call failed:', code);
      if (code === 'unknown_number' || code === 'invalid_number') return this.fire('unknown_number');
      if (code === 'offline') this.detail = 'not online';
      if (code === 'key_changed') this.detail = 'safety number changed';
      this.fire('media_failed');
    }
  }

  /** Queue an envelope behind the ones before it, so they leave in order. */
  #send(type, body) {
    const p = this.outbox.then(() => this.io.send(type, body));
    this.outbox = p.catch(() => {});
    return p;
  }

  #quietSend(type, body) {
    this.#send(type, body).catch((e) => console.warn(`${type} not sent:`, e?.code ?? e?.name));
  }

  async #newRtc() {
    const config = await this.io.rtcConfig();
    if (this.ended) return false;
    this.relayOnly = !!config.relayOnly;
    this.rtc = new Rtc({
      onIce: (ice) => this.ice.local(ice),
      onTrack: (stream) => this.#emit('remote-media', { stream }),
      onState: (s, why) => {
        if (s === 'connected') this.fire('media_connected');
        else if (s === 'failed') {
          if (why) this.detail = why;
          this.fire('media_failed');
        }
      },
      onChannel: (channel) => this.#useChannel(channel),
    }, config);
    return true;
  }

  async #startLocalMedia() {
    const stream = await this.io.getMedia();
    if (this.ended) {
      stopMedia(stream);
      return false;
    }
    this.local = stream;
    this.#applySwitches();
    if (stream) this.#emit('local-media', { stream });
    return true;
  }

  async #sendRing() {
    // Resolve the number first, so an unknown one fails before the camera turns on.
    await this.io.lookupPeer();
    if (this.ended || !(await this.#startLocalMedia()) || !(await this.#newRtc())) return;
    const { sdp, channel } = await this.rtc.makeOffer(this.local);
    if (this.ended) return;
    this.#useChannel(channel);
    const ring = this.#send('ring', { media: mediaKinds(this.local), sdp });
    this.ice.openGate();
    await ring;
    if (this.ended) return;
    this.ringSent = true;
    this.#emitState();
  }

  async #sendAccept() {
    const media = this.#startLocalMedia(); // overlaps the answer and the connection
    if (!(await this.#newRtc())) return;
    this.ice.drainEarly(this.rtc);
    const sdp = await this.rtc.answerOffer(this.offerSdp);
    if (this.ended) return;
    this.offerSdp = null;
    const accept = this.#send('accept', { sdp });
    this.ice.openGate();
    if ((await media) && !this.ended) await this.rtc.attachLocalMedia(this.local);
    await accept;
  }

  #useChannel(channel) {
    const chat = new Chat(channel);
    this.chat = chat;
    chat.addEventListener('ready', (e) => this.#emit('chat-ready', e.detail));
    chat.addEventListener('message', (e) => this.#emit('chat', { from: 'them', text: e.detail.text }));
    if (chat.ready) this.#emit('chat-ready', { ready: true });
  }

  /**
   * Send one chat message exactly as typed.
   * @param {string} text
   * @throws {import('./chat.js').ChatError} when the chat is not open or the text is too long
   */
  sendChat(text) {
    if (!this.chat) throw new ChatError('The chat is not connected yet.');
    this.chat.send(text);
    this.#emit('chat', { from: 'me', text });
  }

  /** Mute or unmute the microphone. @param {boolean} muted */
  setMuted(muted) { this.#applySwitches({ muted }); }

  /** Turn the camera on or off. @param {boolean} on */
  setCamera(on) { this.#applySwitches({ cameraOn: on }); }

  #applySwitches(change = {}) {
    Object.assign(this.switches, change);
    applySwitches(this.local, this.switches);
    this.#emit('switches', { ...this.switches });
  }

  #closeMedia() {
    this.#stopTimer();
    clearTimeout(this.connectTimer);
    this.chat?.close();
    this.rtc?.close();
    stopMedia(this.local);
  }

  #wipe() {
    this.chat = this.rtc = this.local = null;
    this.offerSdp = this.answerSdp = null;
    this.ice.clear();
    this.#emit('wiped');
  }
}
