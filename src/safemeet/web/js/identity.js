/**
 * Device identity: an Ed25519 signing key pair and an X25519 sealing key pair, with the public
 * `keys` object {sig, seal, bind} of the protocol. Private keys are non-extractable CryptoKeys.
 * @module identity
 */

import { B64Error, b64uDecode, b64uEncode, concatBytes, utf8Encode } from './b64.js';
import { importX25519Private, x25519PublicOf } from './hpke.js';

const subtle = () => globalThis.crypto.subtle;

const BIND_LABEL = utf8Encode('safemeet/v1/seal-key\0');
const AUTH_LABEL = utf8Encode('safemeet/v1/auth\0');
/** DER prefix that turns a raw 32-byte Ed25519 seed into PKCS#8. */
const ED25519_PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const KEY_FIELDS = ['bind', 'seal', 'sig'];

/**
 * @typedef {{sig: string, seal: string, bind: string}} PublicKeys  the protocol's `keys` object
 * @typedef {{
 *   sigPrivate: CryptoKey, sealPrivate: CryptoKey,
 *   sigPublic: Uint8Array, sealPublic: Uint8Array,
 *   keys: PublicKeys, number: string|null
 * }} Identity  structured-cloneable, so it can live in IndexedDB as is
 * @typedef {{sig: Uint8Array, seal: Uint8Array, sigKey: CryptoKey}} VerifiedKeys
 */

/** `keys` failed a check: wrong shape, bad base64url, wrong lengths or a bad `bind`. */
export class KeysError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'KeysError';
  }
}

async function sign(sigPrivate, data) {
  return new Uint8Array(await subtle().sign({ name: 'Ed25519' }, sigPrivate, data));
}

async function finish(sigPrivate, sealPrivate, sigPublic, sealPublic, number) {
  const bind = await sign(sigPrivate, concatBytes(BIND_LABEL, sealPublic));
  return {
    sigPrivate,
    sealPrivate,
    sigPublic,
    sealPublic,
    keys: { sig: b64uEncode(sigPublic), seal: b64uEncode(sealPublic), bind: b64uEncode(bind) },
    number: number ?? null,
  };
}

/**
 * Make a fresh identity with non-extractable private keys.
 * @returns {Promise<Identity>}
 */
export async function makeIdentity() {
  const ed = await subtle().generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  const x = await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits']);
  const sigPublic = new Uint8Array(await subtle().exportKey('raw', ed.publicKey));
  const sealPublic = new Uint8Array(await subtle().exportKey('raw', x.publicKey));
  return finish(ed.privateKey, x.privateKey, sigPublic, sealPublic, null);
}

/**
 * Rebuild an identity from raw private key bytes (test vectors). The resulting private keys are
 * non-extractable; the public halves are derived through a short-lived extractable import.
 * @param {Uint8Array} edSeed32 Ed25519 private seed
 * @param {Uint8Array} xPriv32 X25519 private key
 * @param {string|null} [number]
 * @returns {Promise<Identity>}
 */
export async function importIdentityFromSeeds(edSeed32, xPriv32, number = null) {
  if (!(edSeed32 instanceof Uint8Array) || edSeed32.length !== 32) {
    throw new TypeError('Ed25519 seed must be 32 bytes');
  }
  const pkcs8 = concatBytes(ED25519_PKCS8_PREFIX, edSeed32);
  const tmp = await subtle().importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign']);
  const jwk = await subtle().exportKey('jwk', tmp);
  const sigPublic = b64uDecode(jwk.x, 32);
  const sigPrivate = await subtle().importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
  const sealPrivate = await importX25519Private(xPriv32, false);
  const sealPublic = await x25519PublicOf(sealPrivate);
  return finish(sigPrivate, sealPrivate, sigPublic, sealPublic, number);
}

/**
 * A copy of the public `keys` object {sig, seal, bind} to send to the node or a peer.
 * @param {Identity} identity
 * @returns {PublicKeys}
 */
export function exportKeys(identity) {
  const { sig, seal, bind } = identity.keys;
  return { sig, seal, bind };
}

/**
 * Check a `keys` object: exactly the fields sig, seal, bind; b64u of 32, 32 and 64 bytes; and
 * `bind` a valid Ed25519 signature by `sig` over "safemeet/v1/seal-key\0" || seal.
 * @param {unknown} keys
 * @returns {Promise<VerifiedKeys>}
 * @throws {KeysError}
 */
export async function verifyKeys(keys) {
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) {
    throw new KeysError('keys must be an object');
  }
  const names = Object.keys(keys).sort();
  if (names.length !== 3 || names.some((n, i) => n !== KEY_FIELDS[i])) {
    throw new KeysError('keys must have exactly sig, seal and bind');
  }
  let sig;
  let seal;
  let bind;
  try {
    sig = b64uDecode(keys.sig, 32);
    seal = b64uDecode(keys.seal, 32);
    bind = b64uDecode(keys.bind, 64);
  } catch (e) {
    if (e instanceof B64Error) throw new KeysError(`keys: ${e.message}`);
    throw e;
  }
  let sigKey;
  let ok = false;
  try {
    sigKey = await subtle().importKey('raw', sig, { name: 'Ed25519' }, true, ['verify']);
    ok = await subtle().verify({ name: 'Ed25519' }, sigKey, bind, concatBytes(BIND_LABEL, seal));
  } catch {
    ok = false;
  }
  if (!ok) throw new KeysError('keys: bind signature is wrong');
  return { sig, seal, sigKey };
}

function nonceBytes(nonce) {
  const bytes = typeof nonce === 'string' ? b64uDecode(nonce) : nonce;
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) {
    throw new TypeError('challenge nonce must be 32 bytes');
  }
  return bytes;
}

/**
 * The register proof: b64u(Ed25519-Sign(sig_priv, "safemeet/v1/auth\0" || nonce || sig_pub || seal_pub)).
 * @param {Identity} identity
 * @param {Uint8Array|string} nonce the node's 32-byte challenge (bytes or its b64u text)
 * @returns {Promise<string>}
 */
export async function authProof(identity, nonce) {
  const msg = concatBytes(AUTH_LABEL, nonceBytes(nonce), identity.sigPublic, identity.sealPublic);
  return b64uEncode(await sign(identity.sigPrivate, msg));
}

/**
 * Check a register proof against `keys` (what the node does; useful in tests).
 * @param {PublicKeys} keys
 * @param {Uint8Array|string} nonce
 * @param {string} proof b64u, 64 bytes
 * @returns {Promise<boolean>}
 */
export async function verifyAuthProof(keys, nonce, proof) {
  const { sig, seal, sigKey } = await verifyKeys(keys);
  let s;
  try {
    s = b64uDecode(proof, 64);
  } catch {
    return false;
  }
  return subtle().verify({ name: 'Ed25519' }, sigKey, s, concatBytes(AUTH_LABEL, nonceBytes(nonce), sig, seal));
}

/**
 * Sign bytes with the identity key (used by envelopes).
 * @param {Identity} identity
 * @param {Uint8Array} data
 * @returns {Promise<Uint8Array>} 64-byte signature
 */
export async function signWithIdentity(identity, data) {
  return sign(identity.sigPrivate, data);
}
