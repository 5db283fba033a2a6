/**
 * Safety numbers: 60 digits both parties compute from both numbers and identity keys, mirroring
 * `safemeet.core.safety` (spec: docs/security.md; vectors: tests/vectors/safety.json).
 * Each party's half is 30 digits from its number and Ed25519 key by 5,200 rounds of SHA-512
 * (WebCrypto); the halves are sorted and joined, so both sides see the same 60 digits.
 * @module safety
 */

import { concatBytes, utf8Encode } from './b64.js';

/** Domain label hashed in front of the first round. */
export const LABEL = utf8Encode('safemeet/v1/safety\0');
/** SHA-512 rounds per half. */
export const ITERATIONS = 5200;
/** Digits of a whole safety number. */
export const DIGITS = 60;
/** Prefix of the QR code's text; the 60 digits follow it. */
export const QR_PREFIX = 'safemeet-safety:1:';

const sha512 = async (data) => new Uint8Array(await globalThis.crypto.subtle.digest('SHA-512', data));

/**
 * The 30-digit half of one party.
 * @param {string} number nine ASCII digits
 * @param {Uint8Array} sigKey the 32-byte Ed25519 public key
 * @returns {Promise<string>}
 */
export async function half(number, sigKey) {
  if (!(sigKey instanceof Uint8Array) || sigKey.length !== 32) {
    throw new TypeError('an Ed25519 public key is 32 bytes');
  }
  let d = await sha512(concatBytes(LABEL, utf8Encode(number), sigKey));
  for (let i = 1; i < ITERATIONS; i++) d = await sha512(concatBytes(d, sigKey));
  let digits = '';
  for (let i = 0; i < 30; i += 5) {
    let v = 0;
    for (let j = 0; j < 5; j++) v = v * 256 + d[i + j]; // 40 bits: exact in a double
    digits += String(v % 100000).padStart(5, '0');
  }
  return digits;
}

/**
 * The 60-digit safety number of two parties (the same whichever side computes it).
 * @param {string} numberA
 * @param {Uint8Array} keyA
 * @param {string} numberB
 * @param {Uint8Array} keyB
 * @returns {Promise<string>}
 */
export async function safetyNumber(numberA, keyA, numberB, keyB) {
  const halves = await Promise.all([half(numberA, keyA), half(numberB, keyB)]);
  return halves.sort().join('');
}

/**
 * Groups of five for display: twelve groups for a safety number.
 * @param {string} digits
 * @returns {string[]}
 */
export function groups(digits) {
  const out = [];
  for (let i = 0; i < digits.length; i += 5) out.push(digits.slice(i, i + 5));
  return out;
}

/**
 * Whether what a user typed (spaces and line breaks allowed) is this safety number.
 * @param {string} expected 60 digits
 * @param {string} typed
 * @returns {boolean}
 */
export function matches(expected, typed) {
  return typed.replace(/\s/gu, '') === expected;
}

/**
 * The QR code's text for a safety number.
 * @param {string} digits 60 digits
 * @returns {string}
 */
export function qrText(digits) {
  return QR_PREFIX + digits;
}

/**
 * The digits in a scanned QR text, or null when it is not a safety number code.
 * @param {string} text
 * @returns {string|null}
 */
export function parseQrText(text) {
  const m = /^safemeet-safety:1:(\d{60})$/u.exec(text);
  return m ? m[1] : null;
}
