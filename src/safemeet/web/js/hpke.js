/**
 * HPKE (RFC 9180) base mode, single shot, for one suite:
 * DHKEM(X25519, HKDF-SHA256) 0x0020, HKDF-SHA256 0x0001, AES-128-GCM 0x0001.
 * Composed only from WebCrypto: X25519 deriveBits, HMAC-SHA256 (HKDF extract and expand
 * separately, which WebCrypto's HKDF cannot do), AES-GCM.
 * @module hpke
 */

import { concatBytes, utf8Encode } from './b64.js';

const subtle = () => globalThis.crypto.subtle;

const KEM_ID = 0x0020;
const KDF_ID = 0x0001;
const AEAD_ID = 0x0001;
const N_SECRET = 32;
const N_K = 16;
const N_N = 12;
const N_H = 32;
/** Length of `enc` (the ephemeral X25519 public key). */
export const N_ENC = 32;
/** Length of the AES-GCM tag appended to every ciphertext. */
export const N_TAG = 16;

const i2osp2 = (n) => new Uint8Array([(n >> 8) & 255, n & 255]);
const KEM_SUITE = concatBytes(utf8Encode('KEM'), i2osp2(KEM_ID));
const HPKE_SUITE = concatBytes(utf8Encode('HPKE'), i2osp2(KEM_ID), i2osp2(KDF_ID), i2osp2(AEAD_ID));
const HPKE_V1 = utf8Encode('HPKE-v1');
const MODE_BASE = new Uint8Array([0]);
const EMPTY = new Uint8Array(0);
/** DER prefix that turns a raw 32-byte X25519 private key into PKCS#8. */
const X25519_PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);
/** The X25519 base point u = 9: DH(sk, base) is the public key of sk. */
const X25519_BASE = new Uint8Array(32);
X25519_BASE[0] = 9;

/** Any HPKE failure: bad key, tampered ciphertext, wrong info/aad, small-order point. */
export class HpkeError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'HpkeError';
  }
}

async function hmac(key, data) {
  const k = await subtle().importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle().sign('HMAC', k, data));
}

/** HKDF-Extract (RFC 5869); an empty salt means Nh zero bytes. */
async function extract(salt, ikm) {
  return hmac(salt.length ? salt : new Uint8Array(N_H), ikm);
}

/** HKDF-Expand (RFC 5869). */
async function expand(prk, info, length) {
  if (length > 255 * N_H) throw new HpkeError('expand length too large');
  const out = new Uint8Array(length);
  let block = EMPTY;
  for (let off = 0, counter = 1; off < length; counter++) {
    block = await hmac(prk, concatBytes(block, info, new Uint8Array([counter])));
    out.set(block.subarray(0, Math.min(block.length, length - off)), off);
    off += block.length;
  }
  return out;
}

/**
 * LabeledExtract(salt, label, ikm) of RFC 9180 §4.
 * @param {Uint8Array} suiteId
 * @param {Uint8Array} salt
 * @param {string} label
 * @param {Uint8Array} ikm
 * @returns {Promise<Uint8Array>}
 */
export async function labeledExtract(suiteId, salt, label, ikm) {
  return extract(salt, concatBytes(HPKE_V1, suiteId, utf8Encode(label), ikm));
}

/**
 * LabeledExpand(prk, label, info, L) of RFC 9180 §4.
 * @param {Uint8Array} suiteId
 * @param {Uint8Array} prk
 * @param {string} label
 * @param {Uint8Array} info
 * @param {number} length
 * @returns {Promise<Uint8Array>}
 */
export async function labeledExpand(suiteId, prk, label, info, length) {
  return expand(prk, concatBytes(i2osp2(length), HPKE_V1, suiteId, utf8Encode(label), info), length);
}

function asBytes(x, name, len) {
  if (!(x instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (len !== undefined && x.length !== len) throw new HpkeError(`${name} must be ${len} bytes`);
  return x;
}

/**
 * Import a raw 32-byte X25519 private key (for test vectors and seeded identities).
 * @param {Uint8Array} raw
 * @param {boolean} [extractable=false]
 * @returns {Promise<CryptoKey>}
 */
export async function importX25519Private(raw, extractable = false) {
  asBytes(raw, 'X25519 private key', 32);
  return subtle().importKey('pkcs8', concatBytes(X25519_PKCS8_PREFIX, raw), { name: 'X25519' }, extractable, [
    'deriveBits',
  ]);
}

/**
 * X25519(sk, pk) as raw bytes; rejects the all-zero output (small-order pk), per RFC 9180 §7.1.4.
 * @param {CryptoKey} sk X25519 private key
 * @param {Uint8Array} pkRaw 32 bytes
 * @returns {Promise<Uint8Array>}
 */
export async function dh(sk, pkRaw) {
  asBytes(pkRaw, 'X25519 public key', 32);
  let bits;
  try {
    const pk = await subtle().importKey('raw', pkRaw, { name: 'X25519' }, true, []);
    bits = new Uint8Array(await subtle().deriveBits({ name: 'X25519', public: pk }, sk, 256));
  } catch (e) {
    throw new HpkeError(`X25519 failed: ${e && e.message}`);
  }
  if (bits.every((b) => b === 0)) throw new HpkeError('X25519 gave the all-zero value');
  return bits;
}

/**
 * The raw public key of an X25519 private key (works for non-extractable keys).
 * @param {CryptoKey} sk
 * @returns {Promise<Uint8Array>}
 */
export async function x25519PublicOf(sk) {
  return dh(sk, X25519_BASE);
}

async function sharedSecret(dhBytes, enc, pkRm) {
  const eaePrk = await labeledExtract(KEM_SUITE, EMPTY, 'eae_prk', dhBytes);
  return labeledExpand(KEM_SUITE, eaePrk, 'shared_secret', concatBytes(enc, pkRm), N_SECRET);
}

/**
 * DHKEM Encap. `ephemeralPrivateRaw` fixes the ephemeral key (test vectors only).
 * @param {Uint8Array} pkRRaw
 * @param {Uint8Array} [ephemeralPrivateRaw]
 * @returns {Promise<{sharedSecret: Uint8Array, enc: Uint8Array}>}
 */
export async function encap(pkRRaw, ephemeralPrivateRaw) {
  asBytes(pkRRaw, 'recipient public key', 32);
  let skE;
  let enc;
  if (ephemeralPrivateRaw !== undefined) {
    skE = await importX25519Private(ephemeralPrivateRaw);
    enc = await x25519PublicOf(skE);
  } else {
    const pair = await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits']);
    skE = pair.privateKey;
    enc = new Uint8Array(await subtle().exportKey('raw', pair.publicKey));
  }
  const dhBytes = await dh(skE, pkRRaw);
  return { sharedSecret: await sharedSecret(dhBytes, enc, pkRRaw), enc };
}

/**
 * DHKEM Decap. The recipient's raw public key is passed in because browser private keys are
 * non-extractable (KEM context = enc || pkRm).
 * @param {Uint8Array} enc
 * @param {CryptoKey} skR
 * @param {Uint8Array} pkRRaw
 * @returns {Promise<Uint8Array>} shared secret
 */
export async function decap(enc, skR, pkRRaw) {
  asBytes(enc, 'enc', N_ENC);
  asBytes(pkRRaw, 'recipient public key', 32);
  const dhBytes = await dh(skR, enc);
  return sharedSecret(dhBytes, enc, pkRRaw);
}

/**
 * Base-mode KeySchedule (RFC 9180 §5.1).
 * @param {Uint8Array} sharedSecretBytes
 * @param {Uint8Array} info
 * @returns {Promise<{key: Uint8Array, baseNonce: Uint8Array, exporterSecret: Uint8Array}>}
 */
export async function keySchedule(sharedSecretBytes, info) {
  const pskIdHash = await labeledExtract(HPKE_SUITE, EMPTY, 'psk_id_hash', EMPTY);
  const infoHash = await labeledExtract(HPKE_SUITE, EMPTY, 'info_hash', info);
  const context = concatBytes(MODE_BASE, pskIdHash, infoHash);
  const secret = await labeledExtract(HPKE_SUITE, sharedSecretBytes, 'secret', EMPTY);
  return {
    key: await labeledExpand(HPKE_SUITE, secret, 'key', context, N_K),
    baseNonce: await labeledExpand(HPKE_SUITE, secret, 'base_nonce', context, N_N),
    exporterSecret: await labeledExpand(HPKE_SUITE, secret, 'exp', context, N_H),
  };
}

/**
 * The nonce for sequence number `seq`: base_nonce XOR I2OSP(seq, Nn).
 * @param {Uint8Array} baseNonce
 * @param {number} seq non-negative safe integer
 * @returns {Uint8Array}
 */
export function computeNonce(baseNonce, seq) {
  const nonce = Uint8Array.from(baseNonce);
  let s = seq;
  for (let i = nonce.length - 1; i >= 0 && s > 0; i--) {
    nonce[i] ^= s % 256;
    s = Math.floor(s / 256);
  }
  return nonce;
}

/**
 * AES-128-GCM encrypt with a raw key.
 * @param {Uint8Array} key
 * @param {Uint8Array} nonce
 * @param {Uint8Array} aad
 * @param {Uint8Array} pt
 * @returns {Promise<Uint8Array>} ciphertext || tag
 */
export async function aeadSeal(key, nonce, aad, pt) {
  const k = await subtle().importKey('raw', key, { name: 'AES-GCM' }, false, ['encrypt']);
  return new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }, k, pt));
}

/**
 * AES-128-GCM decrypt with a raw key.
 * @param {Uint8Array} key
 * @param {Uint8Array} nonce
 * @param {Uint8Array} aad
 * @param {Uint8Array} ct
 * @returns {Promise<Uint8Array>}
 * @throws {HpkeError}
 */
export async function aeadOpen(key, nonce, aad, ct) {
  if (ct.length < N_TAG) throw new HpkeError('ciphertext too short');
  const k = await subtle().importKey('raw', key, { name: 'AES-GCM' }, false, ['decrypt']);
  try {
    return new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }, k, ct));
  } catch {
    throw new HpkeError('decryption failed');
  }
}

/**
 * Single-shot SealBase (sequence number 0).
 * @param {Uint8Array} pkRRaw recipient X25519 public key, 32 bytes
 * @param {Uint8Array} info
 * @param {Uint8Array} aad
 * @param {Uint8Array} pt
 * @param {{ephemeralPrivateRaw?: Uint8Array}} [opts] fixed ephemeral key: test vectors only
 * @returns {Promise<{enc: Uint8Array, ct: Uint8Array}>}
 */
export async function sealBase(pkRRaw, info, aad, pt, opts = {}) {
  asBytes(info, 'info');
  asBytes(aad, 'aad');
  asBytes(pt, 'pt');
  const { sharedSecret: ss, enc } = await encap(pkRRaw, opts.ephemeralPrivateRaw);
  const { key, baseNonce } = await keySchedule(ss, info);
  return { enc, ct: await aeadSeal(key, baseNonce, aad, pt) };
}

/**
 * Single-shot OpenBase (sequence number 0).
 * @param {CryptoKey} skR recipient X25519 private key (may be non-extractable)
 * @param {Uint8Array} pkRRaw recipient X25519 public key, 32 bytes
 * @param {Uint8Array} enc 32 bytes
 * @param {Uint8Array} info
 * @param {Uint8Array} aad
 * @param {Uint8Array} ct
 * @returns {Promise<Uint8Array>} plaintext
 * @throws {HpkeError} on any failure
 */
export async function openBase(skR, pkRRaw, enc, info, aad, ct) {
  asBytes(info, 'info');
  asBytes(aad, 'aad');
  asBytes(ct, 'ct');
  const ss = await decap(enc, skR, pkRRaw);
  const { key, baseNonce } = await keySchedule(ss, info);
  return aeadOpen(key, baseNonce, aad, ct);
}
