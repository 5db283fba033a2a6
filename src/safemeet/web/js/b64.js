/**
 * Byte encodings used on the wire: base64url without padding (strict), UTF-8 and hex.
 * Bottom of the module stack: imports nothing.
 * @module b64
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

/** Thrown when text is not strict unpadded base64url (or not the expected length). */
export class B64Error extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'B64Error';
  }
}

/**
 * Encode bytes as base64url without padding.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function b64uEncode(bytes) {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('b64uEncode needs a Uint8Array');
  let out = '';
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63];
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63];
  }
  return out;
}

/**
 * Decode strict base64url without padding. Rejects padding, characters outside the
 * url-safe alphabet, impossible lengths and non-canonical trailing bits.
 * @param {string} text
 * @param {number} [length] if given, the decoded bytes must be exactly this long
 * @returns {Uint8Array}
 * @throws {B64Error}
 */
export function b64uDecode(text, length) {
  if (typeof text !== 'string') throw new B64Error('not base64url: not a string');
  if (text.length % 4 === 1) throw new B64Error('not base64url: impossible length');
  const vals = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? LOOKUP[c] : -1;
    if (v < 0) throw new B64Error('not base64url: bad character');
    vals[i] = v;
  }
  const full = Math.floor(text.length / 4);
  const rest = text.length % 4; // 0, 2 or 3
  const out = new Uint8Array(full * 3 + (rest ? rest - 1 : 0));
  let o = 0;
  let i = 0;
  for (; i < full * 4; i += 4) {
    const n = (vals[i] << 18) | (vals[i + 1] << 12) | (vals[i + 2] << 6) | vals[i + 3];
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 255;
    out[o++] = n & 255;
  }
  if (rest === 2) {
    if (vals[i + 1] & 15) throw new B64Error('not base64url: non-canonical');
    out[o++] = (vals[i] << 2) | (vals[i + 1] >> 4);
  } else if (rest === 3) {
    if (vals[i + 2] & 3) throw new B64Error('not base64url: non-canonical');
    const n = (vals[i] << 10) | (vals[i + 1] << 4) | (vals[i + 2] >> 2);
    out[o++] = n >> 8;
    out[o++] = n & 255;
  }
  if (length !== undefined && out.length !== length) {
    throw new B64Error(`expected ${length} bytes, got ${out.length}`);
  }
  return out;
}

const ENCODER = new TextEncoder();

/**
 * UTF-8 encode a string.
 * @param {string} text
 * @returns {Uint8Array}
 */
export function utf8Encode(text) {
  return ENCODER.encode(text);
}

/**
 * Strict UTF-8 decode (throws TypeError on invalid UTF-8; a leading BOM is kept, not stripped).
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function utf8Decode(bytes) {
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
}

/**
 * Concatenate byte arrays.
 * @param {...Uint8Array} parts
 * @returns {Uint8Array}
 */
export function concatBytes(...parts) {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Lowercase hex of bytes (for logs and test vectors).
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function toHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/**
 * Bytes from hex (whitespace ignored).
 * @param {string} hex
 * @returns {Uint8Array}
 */
export function fromHex(hex) {
  const h = hex.replace(/\s+/g, '');
  if (h.length % 2 || /[^0-9a-fA-F]/.test(h)) throw new TypeError('not hex');
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}
