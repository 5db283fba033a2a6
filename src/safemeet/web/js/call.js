/**
 * One 1:1 call: drives the call state machine and performs its actions (envelopes, media, the
 * peer connection, the chat). Everything the call held is dropped when it ends.
 *
 * Once connected, the call needs the node for nothing: hangup, keepalive and screen-share state
 * travel on the peers' own "control" data channel (control.js). When the path breaks (silence on
 * that channel, or the connection fails) the call goes to "reconnecting": the caller offers a
 * fresh peer connection through the node (`offer`/`answer` envelopes, signed and sealed like the
 * rest), the callee answers, and the call, its chat and its identity binding carry on.
 *
 * Events: `state` {phase, role, reason, text}, `local-media` {stream}, `remote-media` {stream},
 * `remote-screen` {stream|null}, `screen` {sharing}, `chat` {from: "me"|"them", text},
 * `chat-ready` {ready}, `switches` {muted, cameraOn}, `wiped`.
 * @module call
 */

import { callState, transition } from './callstate.js';
import { callText } from './calltext.js';
import { Chat, ChatError } from './chat.js';
import { Control, KEEPALIVE_MS, RECONNECT_TIMEOUT_MS, RESTART_RETRY_MS, SILENCE_MS } from './control.js';
import { acquireMedia, acquireScreen, applySwitches, mediaKinds, stopMedia } from './media.js';
import { CHAT_LABEL, IceQueue, Rtc } from './rtc.js';

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
 *   getScreen?: () => Promise<MediaStream>,
 *   rtcConfig?: () => Promise<{iceServers?: RTCIceServer[], relayOnly?: boolean}>,
 * }} CallOptions
 * `rtcConfig` is asked once, just before the peer connection is made (after the lookup or accept).
 */

/** One call with one peer number. */
export class Call extends EventTarget {
  /** @param {CallOptions} opts */
  constructor({
    role, callId, peer, send, lookupPeer, ringTimeoutMs = RING_TIMEOUT_MS, connectTimeoutMs = CONNECT_TIMEOUT_MS,
    getMedia = acquireMedia, getScreen = acquireScreen, rtcConfig = async () => ({}),
  }) {
    super();
    this.id = callId;
    this.peer = peer;
    this.state = callState({ role });
    this.io = { send, lookupPeer, getMedia, getScreen, rtcConfig };
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
    /** @type {Control|null} */
    this.control = null;
    this.keepalive = 0;
    this.heard = 0; // Date.now() of the last control message from the peer
    /** @type {Rtc[]} connections replaced by a reconnection, closed once the new one connects */
    this.oldRtcs = [];
    this.pendingRtc = false; // a new connection is being made: the peer's candidates wait for it
    this.recovery = Promise.resolve();
    this.reconnectTimer = 0;
    this.restartedAt = 0;
    this.reconnects = 0;
    /** @type {MediaStreamTrack|null} our screen share while it runs */
    this.screen = null;
    /** @type {MediaStreamTrack|null} the track of the peer's screen slot */
    this.remoteScreenTrack = null;
    this.remoteSharing = false;
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
    const { phase } = this.state;
    const live = phase === 'connected' || phase === 'reconnecting';
    if (type === 'ice') {
      this.ice.remote(body, this.pendingRtc ? null : this.rtc, phase === 'incoming' || phase === 'connecting' || this.pendingRtc);
    } else if (type === 'offer' && !caller && live) {
      this.offerSdp = body.sdp;
      this.fire('restart_received');
    } else if (type === 'answer' && caller && phase === 'reconnecting') {
      this.#recover(() => this.#applyRestartAnswer(body.sdp));
    } else if (type === 'accept' && caller) {
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
      case 'send_hangup': return this.#sendHangup();
      case 'start_media': return this.#startKeepalive();
      case 'start_reconnect_timer': return this.#startReconnectTimer();
      case 'stop_reconnect_timer': return clearTimeout(this.reconnectTimer);
      case 'restart_media': return this.#recover(() => this.#restart());
      case 'answer_restart': return this.#answerRestart();
      case 'resume_media': return this.#resume();
      case 'close_media': return this.#closeMedia();
      case 'wipe': return this.#wipe();
      default: return undefined; // notify_incoming: the `state` event covers it
    }
  }

  /** Hang up on the peers' own channel (works with no node), and through the node too. */
  #sendHangup() {
    const direct = !!this.control?.send({ t: 'hangup' });
    this.#send('hangup', {}).catch((e) => {
      if (!direct) console.warn('hangup not sent:', e?.code ?? e?.name);
    });
  }

  #startKeepalive() {
    this.heard = Date.now();
    this.keepalive = setInterval(() => this.#tick(), KEEPALIVE_MS);
  }

  /** Ping the peer; notice when it goes silent; as the caller, retry a recovery that stalls. */
  #tick() {
    this.control?.send({ t: 'ping' });
    const now = Date.now();
    const { phase, role } = this.state;
    // Silence counts from the moment the call connected (a path may break before the channel opens).
    if (phase === 'connected' && now - this.heard > SILENCE_MS) this.fire('media_lost');
    else if (phase === 'reconnecting' && role === 'caller' && now - this.restartedAt > RESTART_RETRY_MS) this.fire('media_lost');
  }

  #startReconnectTimer() {
    console.warn('the call lost its direct path: reconnecting');
    this.reconnectTimer = setTimeout(() => {
      this.detail = 'could not reconnect';
      this.fire('timeout');
    }, RECONNECT_TIMEOUT_MS);
  }

  /**
   * Run one recovery step after the ones before it. A failed step (the node is down as well,
   * say) leaves the call reconnecting, to be tried again, instead of ending it.
   * @param {() => Promise<void>} step
   */
  #recover(step) {
    this.recovery = this.recovery.then(step).catch((e) => console.warn('reconnection attempt failed:', e?.code ?? e?.name));
  }

  /** Make the call's next connection; the current one is kept until the new one connects. */
  async #replaceRtc() {
    this.pendingRtc = true;
    this.ice.closeGate();
    const old = this.rtc;
    try {
      if (!(await this.#newRtc())) return false;
    } finally {
      this.pendingRtc = false;
    }
    if (old) this.oldRtcs.push(old);
    this.ice.drainEarly(this.rtc);
    return true;
  }

  /** Caller: offer the callee a fresh connection for this call, through the node. */
  async #restart() {
    if (this.state.phase !== 'reconnecting') return;
    this.restartedAt = Date.now();
    if (!(await this.#replaceRtc())) return;
    const { sdp, channels } = await this.rtc.makeOffer(this.local, this.screen);
    for (const channel of channels) this.#useChannel(channel);
    const offer = this.#send('offer', { sdp });
    this.ice.openGate();
    await offer;
  }

  async #applyRestartAnswer(sdp) {
    if (this.state.phase !== 'reconnecting' || this.rtc?.pc?.signalingState !== 'have-local-offer') return;
    await this.rtc.applyAnswer(sdp);
  }

  /** Callee: answer the caller's fresh connection (queued, so a repeated offer waits its turn). */
  #answerRestart() {
    const offer = this.offerSdp;
    this.offerSdp = null;
    this.pendingRtc = true; // candidates for the new connection may arrive before it exists
    this.#recover(async () => {
      if (this.ended || !(await this.#replaceRtc())) return;
      const sdp = await this.rtc.answerOffer(offer);
      await this.rtc.attachLocalMedia(this.local);
      if (this.screen) await this.rtc.setScreen(this.screen);
      const answer = this.#send('answer', { sdp });
      this.ice.openGate();
      await answer;
    });
  }

  #resume() {
    this.reconnects += 1;
    this.heard = Date.now();
    for (const old of this.oldRtcs) old.close();
    this.oldRtcs = [];
    console.info('the call reconnected');
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
      if (code === 'closed' || code === 'timeout') this.detail = 'the node cannot be reached';
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
    // Events of a connection this call has since replaced are ignored.
    const rtc = new Rtc({
      onIce: (ice) => rtc === this.rtc && this.ice.local(ice),
      onTrack: (stream) => rtc === this.rtc && this.#emit('remote-media', { stream }),
      onScreenTrack: (track) => rtc === this.rtc && this.#remoteScreenTrack(track),
      onState: (s, why) => {
        if (rtc !== this.rtc) return;
        if (s === 'connected') this.fire('media_connected');
        else if (s === 'failed' && this.state.phase === 'connecting') {
          if (why) this.detail = why;
          this.fire('media_failed');
        } else if (s === 'failed') this.fire('media_lost'); // a connected call recovers
      },
      onChannel: (channel) => rtc === this.rtc && this.#useChannel(channel),
    }, config);
    this.rtc = rtc;
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
    const { sdp, channels } = await this.rtc.makeOffer(this.local);
    if (this.ended) return;
    for (const channel of channels) this.#useChannel(channel);
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

  /** Use one of the connection's data channels: "chat" or "control". */
  #useChannel(channel) {
    if (channel.label !== CHAT_LABEL) return this.#useControl(channel);
    const chat = new Chat(channel);
    this.chat = chat;
    // A replaced connection's chat still delivers what was already on its way.
    chat.addEventListener('ready', (e) => chat === this.chat && this.#emit('chat-ready', e.detail));
    chat.addEventListener('message', (e) => this.#emit('chat', { from: 'them', text: e.detail.text }));
    if (chat.ready) this.#emit('chat-ready', { ready: true });
    return undefined;
  }

  #useControl(channel) {
    const control = new Control(channel);
    this.control = control;
    const opened = () => {
      this.heard = Date.now();
      control.send({ t: 'screen', on: !!this.screen }); // a fresh connection: say it again
    };
    if (channel.readyState === 'open') opened(); // the peer's channel may arrive open
    control.addEventListener('open', () => control === this.control && opened());
    control.addEventListener('message', (e) => {
      if (control !== this.control || this.ended) return;
      this.heard = Date.now();
      const { t, on } = e.detail;
      if (t === 'hangup') this.fire('hangup_received');
      else if (t === 'screen' && on !== this.remoteSharing) {
        this.remoteSharing = on;
        this.#showRemoteScreen();
      }
    });
  }

  #remoteScreenTrack(track) {
    this.remoteScreenTrack = track;
    if (this.remoteSharing) this.#showRemoteScreen();
  }

  #showRemoteScreen() {
    const track = this.remoteSharing ? this.remoteScreenTrack : null;
    this.#emit('remote-screen', { stream: track ? new MediaStream([track]) : null });
  }

  /** @returns {boolean} whether we are sharing our screen */
  get sharingScreen() {
    return !!this.screen;
  }

  /**
   * Share a screen, window or tab the user picks (must run from a user gesture). A share that is
   * running is replaced. The screen has its own slot in the call: nothing is renegotiated.
   * @returns {Promise<void>}
   * @throws {Error} when the call is not connected, the peer cannot receive a screen, or the user
   *   cancels the picker (`NotAllowedError`)
   */
  async shareScreen() {
    const { phase } = this.state;
    if (phase !== 'connected' && phase !== 'reconnecting') throw new Error('Share a screen once the call is connected.');
    const track = (await this.io.getScreen()).getVideoTracks()[0];
    if (!track) throw new Error('Nothing to share was picked.');
    if (this.ended || !this.rtc || !(await this.rtc.setScreen(track))) {
      track.stop();
      if (this.ended) return;
      throw new Error('They cannot receive a screen share.');
    }
    const previous = this.screen;
    this.screen = track;
    previous?.stop();
    // The browser's own "Stop sharing" ends the track: stop the share with it.
    track.addEventListener('ended', () => this.screen === track && this.stopScreen());
    this.control?.send({ t: 'screen', on: true });
    this.#emit('screen', { sharing: true });
  }

  /** Stop sharing our screen (nothing happens when we are not sharing). */
  async stopScreen() {
    const track = this.screen;
    if (!track) return;
    this.screen = null;
    track.stop();
    this.control?.send({ t: 'screen', on: false });
    this.#emit('screen', { sharing: false });
    await this.rtc?.setScreen(null);
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
    clearTimeout(this.reconnectTimer);
    clearInterval(this.keepalive);
    this.chat?.close();
    this.control?.close();
    for (const rtc of [...this.oldRtcs, this.rtc]) rtc?.close();
    stopMedia(this.local);
    this.screen?.stop();
  }

  #wipe() {
    this.chat = this.control = this.rtc = this.local = this.screen = this.remoteScreenTrack = null;
    this.oldRtcs = [];
    this.offerSdp = this.answerSdp = null;
    this.ice.clear();
    this.#emit('wiped');
  }
}
