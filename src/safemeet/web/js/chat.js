/**
 * The chat of one call: raw text messages on the caller's ordered, reliable "chat" data channel,
 * each the UTF-8 text exactly as typed, at most 64,000 bytes. Nothing else travels on it.
 *
 * Events: `message` {text} for each message from the peer, `ready` {ready} when it opens/closes.
 * @module chat
 */

/** Largest chat message, in UTF-8 bytes. */
export const MAX_CHAT_BYTES = 64000;

/**
 * Length of `text` in UTF-8 bytes.
 * @param {string} text
 * @returns {number}
 */
export const utf8Length = (text) => new TextEncoder().encode(text).length;

/** A chat message that cannot be sent; `message` is fit to show. */
export class ChatError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'ChatError';
  }
}

/** Wraps one "chat" RTCDataChannel. */
export class Chat extends EventTarget {
  /** @param {RTCDataChannel} channel */
  constructor(channel) {
    super();
    this.channel = channel;
    channel.onopen = () => this.#emit('ready', { ready: true });
    channel.onclose = () => this.#emit('ready', { ready: false });
    channel.onmessage = (e) => {
      if (typeof e.data !== 'string' || utf8Length(e.data) > MAX_CHAT_BYTES) {
        console.warn('chat message dropped: not text or too long');
        return;
      }
      this.#emit('message', { text: e.data });
    };
  }

  /** @returns {boolean} whether messages can be sent now */
  get ready() {
    return this.channel?.readyState === 'open';
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /**
   * Send one message exactly as typed.
   * @param {string} text
   * @throws {ChatError} if the channel is not open or the text is longer than MAX_CHAT_BYTES
   */
  send(text) {
    if (!this.ready) throw new ChatError('The chat is not connected right now.');
    if (utf8Length(text) > MAX_CHAT_BYTES) {
      throw new ChatError(`A message can be at most ${MAX_CHAT_BYTES.toLocaleString('en')} bytes.`);
    }
    this.channel.send(text);
  }

  /** Close the channel and drop it. */
  close() {
    const ch = this.channel;
    if (!ch) return;
    ch.onopen = ch.onclose = ch.onmessage = null;
    ch.close();
    this.channel = null;
  }
}
