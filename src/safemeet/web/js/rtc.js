/**
 * A thin RTCPeerConnection wrapper for one call: the node's ICE servers, relay candidates only
 * when the call must hide our address, trickle ICE in the envelope's `ice` body shape, remote
 * candidates buffered until the remote description is set, and the caller's data channels.
 *
 * Every connection of a call has the same fixed slots, in this order: audio, camera video,
 * screen video, then the "chat" and "control" data channels. The screen slot is negotiated with
 * the call and filled or emptied with replaceTrack, so sharing never renegotiates.
 * @module rtc
 */

import { watchRelayGathering } from './relaycheck.js';

/** Label of the one chat data channel. */
export const CHAT_LABEL = 'chat';
/** Label of the call-control data channel (keepalive, hangup, screen share state). */
export const CONTROL_LABEL = 'control';

/**
 * @typedef {{candidate: (string|null), sdpMid: (string|null), sdpMLineIndex: (number|null)}} IceBody
 * @typedef {{
 *   onIce: (body: IceBody) => void,
 *   onTrack: (stream: MediaStream) => void,
 *   onScreenTrack: (track: MediaStreamTrack) => void,
 *   onState: (state: string, why?: string) => void,
 *   onChannel: (channel: RTCDataChannel) => void,
 * }} RtcHandlers
 * `onChannel` gets the peer's "chat" and "control" channels (see `channel.label`).
 */

/** End-of-candidates in the `ice` body shape. */
export const END_OF_CANDIDATES = Object.freeze({ candidate: null, sdpMid: null, sdpMLineIndex: null });

/** The kind a transceiver carries (its receiver's track kind is fixed at creation). */
const kindOf = (t) => t.receiver.track.kind;

/** One peer connection. */
export class Rtc {
  /**
   * @param {RtcHandlers} handlers
   * @param {{iceServers?: RTCIceServer[], relayOnly?: boolean}} [config] `relayOnly`: gather and
   *   use only relay candidates (no host or server-reflexive address leaves this device)
   */
  constructor(handlers, { iceServers = [], relayOnly = false } = {}) {
    this.handlers = handlers;
    this.relayOnly = relayOnly;
    this.pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: relayOnly ? 'relay' : 'all' });
    // A relay that gives no relay address (refused credentials) fails the call now, saying why.
    if (relayOnly) watchRelayGathering(this.pc, (why) => this.closed || handlers.onState('failed', why));
    /** @type {IceBody[]} remote candidates that arrived before the remote description */
    this.pendingIce = [];
    this.remoteStream = null;
    this.closed = false;
    const pc = this.pc;
    pc.onicecandidate = (e) => {
      if (this.closed) return;
      const c = e.candidate;
      if (!c || !c.candidate) handlers.onIce({ ...END_OF_CANDIDATES });
      else handlers.onIce({ candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null });
    };
    pc.ontrack = (e) => {
      if (this.closed) return;
      if (e.transceiver === this.screenSlot) {
        handlers.onScreenTrack(e.track);
        return;
      }
      // Our own stream of audio and camera: the peer may put its screen in the same stream.
      const stream = (this.remoteStream ??= new MediaStream());
      if (!stream.getTracks().includes(e.track)) stream.addTrack(e.track);
      handlers.onTrack(stream);
    };
    pc.onconnectionstatechange = () => {
      if (!this.closed) handlers.onState(pc.connectionState);
    };
    pc.ondatachannel = (e) => {
      if (!this.closed && (e.channel.label === CHAT_LABEL || e.channel.label === CONTROL_LABEL)) handlers.onChannel(e.channel);
    };
  }

  /** @returns {RTCRtpTransceiver|undefined} the slot of screen video: the second video slot */
  get screenSlot() {
    return this.pc?.getTransceivers().filter((t) => kindOf(t) === 'video')[1];
  }

  /**
   * Send `track` as our screen (null: stop sending it). No renegotiation.
   * @param {MediaStreamTrack|null} track
   * @returns {Promise<boolean>} false when the peer has no screen slot
   */
  async setScreen(track) {
    const slot = this.screenSlot;
    if (!slot || this.closed) return false;
    await slot.sender.replaceTrack(track);
    return true;
  }

  /**
   * Caller: the audio and camera slots (sending what `stream` has, receiving the rest), the
   * screen slot (sending `screen` if given), the chat and control channels, then the offer, set
   * locally (gathering starts).
   * @param {MediaStream|null} stream local media to send
   * @param {MediaStreamTrack|null} [screen] our screen share, if one is running
   * @returns {Promise<{sdp: string, channels: RTCDataChannel[]}>}
   */
  async makeOffer(stream, screen = null) {
    for (const kind of ['audio', 'video']) {
      const track = stream?.getTracks().find((t) => t.kind === kind);
      if (track) this.pc.addTrack(track, stream);
      else this.pc.addTransceiver(kind, { direction: 'recvonly' });
    }
    this.pc.addTransceiver(screen ?? 'video', { direction: 'sendrecv' });
    const channels = [CHAT_LABEL, CONTROL_LABEL].map((label) => this.pc.createDataChannel(label, { ordered: true }));
    await this.pc.setLocalDescription(await this.pc.createOffer());
    return { sdp: this.pc.localDescription.sdp, channels };
  }

  /**
   * Callee: apply the ring's offer, offer to send on every media slot, answer and set it
   * locally. Local media is attached afterwards with `attachLocalMedia`, so the camera starting
   * up overlaps the connection being made instead of delaying it.
   * @param {string} offerSdp
   * @returns {Promise<string>} the answer SDP
   */
  async answerOffer(offerSdp) {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    await this.#flushIce();
    for (const t of this.pc.getTransceivers()) {
      if (kindOf(t) === 'audio' || kindOf(t) === 'video') t.direction = 'sendrecv';
    }
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    return this.pc.localDescription.sdp;
  }

  /**
   * Callee: send `stream`'s tracks on the audio and camera slots negotiated by `answerOffer`
   * (the first slot of each kind; no renegotiation).
   * @param {MediaStream|null} stream
   */
  async attachLocalMedia(stream) {
    if (this.closed) return;
    const slots = this.pc.getTransceivers();
    for (const track of stream?.getTracks() ?? []) {
      const slot = slots.find((t) => kindOf(t) === track.kind);
      if (!slot || slot.stopped || slot.sender.track) continue;
      slot.sender.setStreams(stream);
      await slot.sender.replaceTrack(track);
    }
  }

  /**
   * Caller: apply the callee's answer.
   * @param {string} answerSdp
   */
  async applyAnswer(answerSdp) {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answerSdp });
    await this.#flushIce();
  }

  /**
   * A remote `ice` body; buffered until the remote description is set.
   * @param {IceBody} body
   */
  async addRemoteIce(body) {
    if (this.closed) return;
    if (!this.pc.remoteDescription) {
      this.pendingIce.push(body);
      return;
    }
    await this.#apply(body);
  }

  async #flushIce() {
    const queued = this.pendingIce;
    this.pendingIce = [];
    for (const body of queued) await this.#apply(body);
  }

  async #apply(body) {
    try {
      if (!body.candidate) await this.pc.addIceCandidate();
      else await this.pc.addIceCandidate({ candidate: body.candidate, sdpMid: body.sdpMid, sdpMLineIndex: body.sdpMLineIndex });
    } catch (e) {
      console.warn('ice candidate refused:', e.name);
    }
  }

  /** Close the connection and forget everything it held. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.pendingIce = [];
    this.remoteStream = null;
    const pc = this.pc;
    pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = pc.ondatachannel = null;
    pc.close();
    this.pc = null;
    this.handlers = null;
  }
}

/** Most remote candidates kept before the peer connection exists. */
const MAX_EARLY_ICE = 64;

/**
 * The trickle ICE of one call: our candidates leave only after the ring or accept they belong
 * to; the peer's wait (a bounded number) until the peer connection exists.
 */
export class IceQueue {
  /** @param {(ice: IceBody) => void} send sends one of our candidates to the peer */
  constructor(send) {
    this.send = send;
    this.open = false;
    this.out = [];
    this.early = [];
  }

  /** One of our candidates. @param {IceBody} ice */
  local(ice) {
    if (this.open) this.send(ice);
    else this.out.push(ice);
  }

  /** The ring or accept is on its way: send what waited and everything after it. */
  openGate() {
    this.open = true;
    for (const ice of this.out) this.send(ice);
    this.out = [];
  }

  /**
   * One of the peer's candidates: applied to `rtc`, else kept while `keep` says it may be used.
   * @param {IceBody} body
   * @param {Rtc|null} rtc
   * @param {boolean} keep
   */
  remote(body, rtc, keep) {
    if (rtc) rtc.addRemoteIce(body);
    else if (keep && this.early.length < MAX_EARLY_ICE) this.early.push(body);
  }

  /** Apply the candidates that arrived before `rtc` existed. @param {Rtc} rtc */
  drainEarly(rtc) {
    for (const ice of this.early) rtc.addRemoteIce(ice);
    this.early = [];
  }

  /** A new connection is being negotiated: hold our candidates until its offer or answer is sent. */
  closeGate() {
    this.open = false;
    this.out = [];
  }

  /** Drop every queued candidate. */
  clear() {
    this.out = [];
    this.early = [];
  }
}
