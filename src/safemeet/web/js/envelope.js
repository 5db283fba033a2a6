/**
 * Envelopes: call messages signed with the sender's Ed25519 key and sealed to the recipient's
 * X25519 key with HPKE (protocol.md, "Envelopes").
 *
 *   S = Ed25519-Sign(sig_priv, "safemeet/v1/envelope\0" || P); pt = S || P
 *   enc, ct = HPKE-SealBase(seal_pub_R, info = "safemeet/v1/envelope", aad = "", pt)
 *   env = b64u(enc || ct)
 *
 * @module envelope
 */

import { B64Error, b64uDecode, b64uEncode, concatBytes, utf8Decode, utf8Encode } from './b64.js';
import { isValid } from './numbers.js';
import { N_ENC, N_TAG, openBase, sealBase } from './hpke.js';
import { signWithIdentity, verifyKeys } from './identity.js';

const subtle = () => globalThis.crypto.subtle;

/** HPKE info for envelopes. */
export const ENVELOPE_INFO = utf8Encode('safemeet/v1/envelope');
const SIG_LABEL = utf8Encode('safemeet/v1/envelope\0');
const EMPTY = new Uint8Array(0);
const SIG_LEN = 64;

/** Largest `env` the node routes, in characters. */
export const MAX_ENV_CHARS = 60000;
/** Largest SDP string in a body, in characters (Unicode code points). */
export const MAX_SDP_CHARS = 32000;
/** Largest |now - ts| accepted, in ms. */
export const MAX_SKEW_MS = 60000;
/** How long (from, nonce) pairs are remembered, in ms. */
export const REPLAY_WINDOW_MS = 120000;

/** The message types of protocol version 1. */
export const MESSAGE_TYPES = Object.freeze([
  'ring', 'accept', 'decline', 'busy', 'cancel', 'ice', 'offer', 'answer', 'hangup',
]);

const INNER_FIELDS = ['body', 'call', 'from', 'nonce', 'to', 'ts', 'type', 'v'];

/**
 * A rejected envelope. `code` is one of the spec's: undecryptable, malformed,
 * unsupported_version, misaddressed, bad_signature, stale, replayed
 * (and too_large when sealing something the node would refuse). A non-string env, or one
 * longer than MAX_ENV_CHARS, is malformed (as in the Python mirror).
 */
export class EnvelopeError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = 'EnvelopeError';
    this.code = code;
  }
}

const fail = (code, message) => {
  throw new EnvelopeError(code, message);
};

const isPlainObject = (x) => typeof x === 'object' && x !== null && !Array.isArray(x);

function hasExactly(obj, sortedNames) {
  const names = Object.keys(obj).sort();
  return names.length === sortedNames.length && names.every((n, i) => n === sortedNames[i]);
}

function isB64u(x, len) {
  if (typeof x !== 'string') return false;
  try {
    b64uDecode(x, len);
    return true;
  } catch (e) {
    if (e instanceof B64Error) return false;
    throw e;
  }
}

function codePoints(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate followed by a low one is a single code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

const isSdp = (x) =>
  typeof x === 'string' && x.length > 0 && (x.length <= MAX_SDP_CHARS || codePoints(x) <= MAX_SDP_CHARS);
const isIntOrNull = (x) => x === null || Number.isInteger(x);
const isStrOrNull = (x) => x === null || typeof x === 'string';

/**
 * Whether JSON text contains a number token with a fraction or exponent. No field of an inner
 * message is a float, and JSON.parse would turn `1.0` into the integer 1; rejecting such tokens
 * keeps this parser exactly as strict as one that keeps floats and ints apart.
 */
function hasFloatToken(text) {
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === '.' || c === 'e' || c === 'E') {
      // Outside strings, 'e' also occurs in true/false: only count it right after a digit.
      if (c === '.' || (i > 0 && text[i - 1] >= '0' && text[i - 1] <= '9')) return true;
    }
  }
  return false;
}

/** Longest ICE candidate attribute accepted (docs/protocol.md). */
const MAX_CANDIDATE = 2000;

const BODY_SCHEMAS = {
  ring: (b) =>
    hasExactly(b, ['media', 'sdp']) &&
    isPlainObject(b.media) &&
    hasExactly(b.media, ['audio', 'video']) &&
    typeof b.media.audio === 'boolean' &&
    typeof b.media.video === 'boolean' &&
    isSdp(b.sdp),
  accept: (b) => hasExactly(b, ['sdp']) && isSdp(b.sdp),
  decline: (b) => hasExactly(b, []),
  busy: (b) => hasExactly(b, []),
  cancel: (b) => hasExactly(b, ['reason']) && (b.reason === 'cancelled' || b.reason === 'timeout'),
  ice: (b) =>
    hasExactly(b, ['candidate', 'sdpMLineIndex', 'sdpMid']) &&
    isStrOrNull(b.candidate) &&
    (b.candidate === null || b.candidate.length <= MAX_CANDIDATE) &&
    isStrOrNull(b.sdpMid) &&
    isIntOrNull(b.sdpMLineIndex),
  offer: (b) => hasExactly(b, ['sdp']) && isSdp(b.sdp),
  answer: (b) => hasExactly(b, ['sdp']) && isSdp(b.sdp),
  hangup: (b) => hasExactly(b, []),
};

/**
 * Step 2 checks on a parsed inner message. A present `v` other than 1 is unsupported_version
 * before anything else (another version may have other fields). Then: exactly the fields v,
 * type, call, from, to, ts, nonce, body; type one of MESSAGE_TYPES; call and nonce b64u of
 * 16 bytes; from and to valid numbers; ts an integer; body an object. Else malformed.
 * @param {unknown} inner
 * @param {boolean} [hadFloat] the JSON text had a number with fraction/exponent (none is allowed)
 * @throws {EnvelopeError} malformed | unsupported_version
 */
export function checkInner(inner, hadFloat = false) {
  if (!isPlainObject(inner)) fail('malformed', 'inner message is not a JSON object');
  if (Object.hasOwn(inner, 'v') && inner.v !== 1) {
    fail('unsupported_version', `inner message version ${JSON.stringify(inner.v)}`);
  }
  if (!hasExactly(inner, INNER_FIELDS)) fail('malformed', 'inner message has wrong fields');
  if (hadFloat) fail('malformed', 'inner message has a non-integer number');
  const ok =
    typeof inner.type === 'string' &&
    Object.hasOwn(BODY_SCHEMAS, inner.type) &&
    isB64u(inner.call, 16) &&
    isValid(inner.from) &&
    isValid(inner.to) &&
    Number.isInteger(inner.ts) &&
    isB64u(inner.nonce, 16) &&
    isPlainObject(inner.body);
  if (!ok) fail('malformed', 'inner message has a field of the wrong type or value');
}

/**
 * Step 7: the type is known and the body matches its schema exactly.
 * @param {string} type
 * @param {unknown} body
 * @throws {EnvelopeError} malformed
 */
export function checkBody(type, body) {
  const schema = Object.hasOwn(BODY_SCHEMAS, type) ? BODY_SCHEMAS[type] : null;
  if (!schema) fail('malformed', 'unknown message type');
  if (!isPlainObject(body) || !schema(body)) fail('malformed', `body does not fit type ${type}`);
}

function randomB64u(n) {
  return b64uEncode(globalThis.crypto.getRandomValues(new Uint8Array(n)));
}

/**
 * A fresh call id: b64u of 16 random bytes.
 * @returns {string}
 */
export function newCallId() {
  return randomB64u(16);
}

/**
 * Build an inner message with ts = Date.now() and a random 16-byte nonce.
 * @param {string} type
 * @param {string} callId
 * @param {string} from sender's number
 * @param {string} to recipient's number
 * @param {object} body
 * @returns {{v: number, type: string, call: string, from: string, to: string, ts: number, nonce: string, body: object}}
 */
export function makeInner(type, callId, from, to, body) {
  return { v: 1, type, call: callId, from, to, ts: Date.now(), nonce: randomB64u(16), body };
}

/**
 * Sign and seal exact payload bytes P (no schema check; `sealEnvelope` is the normal entry).
 * @param {import('./identity.js').Identity} senderIdentity
 * @param {import('./identity.js').PublicKeys} recipientKeys checked (bind) before use
 * @param {Uint8Array} payloadBytes
 * @param {{ephemeralPrivateRaw?: Uint8Array}} [opts] fixed HPKE ephemeral key: test vectors only
 * @returns {Promise<string>} env
 * @throws {import('./identity.js').KeysError} if recipientKeys fail their check
 */
export async function sealPayload(senderIdentity, recipientKeys, payloadBytes, opts = {}) {
  const { seal } = await verifyKeys(recipientKeys);
  const signature = await signWithIdentity(senderIdentity, concatBytes(SIG_LABEL, payloadBytes));
  const { enc, ct } = await sealBase(seal, ENVELOPE_INFO, EMPTY, concatBytes(signature, payloadBytes), opts);
  return b64uEncode(concatBytes(enc, ct));
}

/**
 * Serialise `inner` to JSON, sign it and seal it to the recipient.
 * @param {import('./identity.js').Identity} senderIdentity
 * @param {import('./identity.js').PublicKeys} recipientKeys
 * @param {object} inner as made by `makeInner`
 * @param {{ephemeralPrivateRaw?: Uint8Array}} [opts] fixed HPKE ephemeral key: test vectors only
 * @returns {Promise<string>} env
 * @throws {EnvelopeError} malformed / unsupported_version if `inner` breaks the schema,
 *   too_large if env would exceed MAX_ENV_CHARS; KeysError if recipientKeys are bad
 */
export async function sealEnvelope(senderIdentity, recipientKeys, inner, opts = {}) {
  checkInner(inner);
  checkBody(inner.type, inner.body);
  const env = await sealPayload(senderIdentity, recipientKeys, utf8Encode(JSON.stringify(inner)), opts);
  if (env.length > MAX_ENV_CHARS) fail('too_large', `envelope is ${env.length} characters`);
  return env;
}

/**
 * Steps 1-3 of the receiver: decrypt, parse, check the inner fields and that `to` is us.
 * @param {import('./identity.js').Identity} myIdentity needs sealPrivate, sealPublic and number
 * @param {string} env
 * @returns {Promise<{inner: object, payloadBytes: Uint8Array, signature: Uint8Array}>}
 * @throws {EnvelopeError} undecryptable | malformed | unsupported_version | misaddressed
 */
export async function openEnvelope(myIdentity, env) {
  if (typeof env !== 'string' || env.length > MAX_ENV_CHARS) {
    fail('malformed', 'envelope is not a string of allowed size');
  }
  let raw;
  try {
    raw = b64uDecode(env);
  } catch {
    fail('undecryptable', 'envelope is not base64url');
  }
  if (raw.length < N_ENC + N_TAG + SIG_LEN) fail('undecryptable', 'envelope too short');
  let pt;
  try {
    pt = await openBase(
      myIdentity.sealPrivate,
      myIdentity.sealPublic,
      raw.subarray(0, N_ENC),
      ENVELOPE_INFO,
      EMPTY,
      raw.subarray(N_ENC),
    );
  } catch {
    fail('undecryptable', 'envelope does not decrypt');
  }
  if (pt.length <= SIG_LEN) fail('malformed', 'envelope has no payload');
  const signature = pt.slice(0, SIG_LEN);
  const payloadBytes = pt.slice(SIG_LEN);
  let inner;
  let text;
  try {
    text = utf8Decode(payloadBytes);
    inner = JSON.parse(text);
  } catch {
    fail('malformed', 'inner message is not UTF-8 JSON');
  }
  checkInner(inner, hasFloatToken(text));
  if (inner.to !== myIdentity.number) fail('misaddressed', 'envelope is for another number');
  return { inner, payloadBytes, signature };
}

/**
 * Steps 4-7 of the receiver: signature by the sender's registered keys, freshness, body schema,
 * replay. The body is checked before the replay guard so that only messages that are accepted
 * are remembered (a repeat of a rejected message is rejected again for the same reason).
 * @param {{inner: object, payloadBytes: Uint8Array, signature: Uint8Array}} opened from openEnvelope
 * @param {import('./identity.js').PublicKeys} senderKeys the keys registered for inner.from
 * @param {number} nowMs receiver's clock, ms since the epoch
 * @param {ReplayGuard} replayGuard
 * @returns {Promise<object>} the verified inner message
 * @throws {EnvelopeError} bad_signature | stale | replayed | malformed
 */
export async function verifyEnvelope(opened, senderKeys, nowMs, replayGuard) {
  const { inner, payloadBytes, signature } = opened;
  let ok = false;
  try {
    const { sigKey } = await verifyKeys(senderKeys);
    ok = await subtle().verify({ name: 'Ed25519' }, sigKey, signature, concatBytes(SIG_LABEL, payloadBytes));
  } catch {
    ok = false;
  }
  if (!ok) fail('bad_signature', 'envelope signature is wrong');
  if (Math.abs(nowMs - inner.ts) > MAX_SKEW_MS) fail('stale', 'envelope timestamp is too far from now');
  checkBody(inner.type, inner.body);
  if (!replayGuard.checkAndRemember(inner.from, inner.nonce, nowMs)) fail('replayed', 'envelope seen before');
  return inner;
}

/**
 * Remembers (from, nonce) pairs for REPLAY_WINDOW_MS, holding at most `maxEntries`
 * (the oldest are forgotten first when full).
 */
export class ReplayGuard {
  /** @type {Map<string, number>} */
  #seen;

  /**
   * @param {{windowMs?: number, maxEntries?: number}} [opts]
   */
  constructor({ windowMs = REPLAY_WINDOW_MS, maxEntries = 10000 } = {}) {
    this.windowMs = windowMs;
    this.maxEntries = maxEntries;
    /** key → time first seen (insertion order = age order) */
    this.#seen = new Map();
  }

  /** Number of pairs currently remembered. */
  get size() {
    return this.#seen.size;
  }

  /**
   * True if (from, nonce) was not seen within the window (nowMs - seenAt <= windowMs), and
   * remember it; false if it was.
   * @param {string} from
   * @param {string} nonce
   * @param {number} nowMs
   * @returns {boolean}
   */
  checkAndRemember(from, nonce, nowMs) {
    this.#prune(nowMs);
    const key = `${from}\u0000${nonce}`;
    const at = this.#seen.get(key);
    if (at !== undefined && nowMs - at <= this.windowMs) return false;
    this.#seen.delete(key);
    while (this.#seen.size >= this.maxEntries) this.#seen.delete(this.#seen.keys().next().value);
    this.#seen.set(key, nowMs);
    return true;
  }

  #prune(nowMs) {
    for (const [key, at] of this.#seen) {
      if (nowMs - at <= this.windowMs) break;
      this.#seen.delete(key);
    }
  }
}
