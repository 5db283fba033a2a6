/**
 * Identity backup (docs/security.md, "Identity backup"): both private keys sealed under a
 * passphrase as a `safemeet-backup-v1` JSON file, mirroring `safemeet.core.backup`.
 * scrypt comes from @noble/hashes (served at /vendor/ in the browser; tests inject it),
 * AES-256-GCM from WebCrypto.
 *
 * Browser keys are non-extractable, so an identity made here also keeps its two private keys
 * sealed under a separate non-extractable AES-GCM key (`identity.backup`, stored with it in
 * IndexedDB); `Export identity` unseals them only to seal them again under the passphrase.
 * @module backup
 */

import { b64uDecode, b64uEncode, utf8Decode, utf8Encode } from './b64.js';
import { importIdentityFromSeeds } from './identity.js';

/** The file's `format`. */
export const FORMAT = 'safemeet-backup-v1';
/** Additional data of the AES-GCM seal. */
export const AAD = utf8Encode('safemeet/v1/backup');
/** scrypt N for new backups. */
export const DEFAULT_N = 2 ** 17;
/** Largest work factors an imported file may ask for (N = 2^20, r = 8 is 1 GiB). */
export const MAX_N = 2 ** 20;
const R = 8;
const P = 1;
const MAX_R = 16;
const MAX_P = 4;
/** What a failed open says. */
export const WRONG = 'wrong passphrase or damaged backup';
const SCRYPT_URL = '/vendor/noble-hashes/scrypt.js';

const subtle = () => globalThis.crypto.subtle;
const random = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n));

/** A backup that cannot be opened (wrong passphrase, damaged, or not a backup). */
export class BackupError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'BackupError';
  }
}

/**
 * @typedef {{ed25519: Uint8Array, x25519: Uint8Array}} Secrets  32-byte Ed25519 seed, X25519 key
 * @typedef {(pw: Uint8Array, salt: Uint8Array, o: {N: number, r: number, p: number, dkLen: number}) => Promise<Uint8Array>} Scrypt
 */

async function loadScrypt(opts) {
  if (opts.scrypt) return opts.scrypt;
  return (await import(SCRYPT_URL)).scryptAsync;
}

async function aesKey(scrypt, passphrase, salt, N, r, p) {
  const raw = await scrypt(utf8Encode(passphrase.normalize('NFC')), salt, { N, r, p, dkLen: 32 });
  return subtle().importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

const secretsJson = (s) => utf8Encode(JSON.stringify({ ed25519: b64uEncode(s.ed25519), x25519: b64uEncode(s.x25519) }));

function parseSecrets(bytes) {
  const obj = JSON.parse(utf8Decode(bytes));
  return { ed25519: b64uDecode(obj.ed25519, 32), x25519: b64uDecode(obj.x25519, 32) };
}

/**
 * The backup file's JSON object for `secrets`; fresh random salt and nonce unless given.
 * @param {Secrets} secrets
 * @param {string} passphrase
 * @param {{N?: number, salt?: Uint8Array, nonce?: Uint8Array, scrypt?: Scrypt}} [opts]
 * @returns {Promise<object>}
 */
export async function sealBackup(secrets, passphrase, opts = {}) {
  if (!passphrase) throw new RangeError('the passphrase must not be empty');
  const N = opts.N ?? DEFAULT_N;
  const salt = opts.salt ?? random(16);
  const nonce = opts.nonce ?? random(12);
  const key = await aesKey(await loadScrypt(opts), passphrase, salt, N, R, P);
  const ct = await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData: AAD }, key, secretsJson(secrets));
  return {
    format: FORMAT,
    kdf: { name: 'scrypt', N, r: R, p: P, salt: b64uEncode(salt) },
    nonce: b64uEncode(nonce),
    ct: b64uEncode(new Uint8Array(ct)),
  };
}

const isInt = (v) => Number.isSafeInteger(v);

function params(obj) {
  if (typeof obj !== 'object' || obj === null || obj.format !== FORMAT) throw new BackupError('not a safemeet backup file');
  const kdf = obj.kdf;
  if (typeof kdf !== 'object' || kdf === null || kdf.name !== 'scrypt') throw new BackupError('unsupported key derivation in the backup');
  const { N, r, p } = kdf;
  if (![N, r, p].every(isInt)) throw new BackupError('bad scrypt parameters in the backup');
  if (N < 2 || (N & (N - 1)) !== 0 || N > MAX_N || r < 1 || r > MAX_R || p < 1 || p > MAX_P) {
    throw new BackupError('scrypt parameters in the backup are out of range');
  }
  try {
    return { N, r, p, salt: b64uDecode(kdf.salt, 16), nonce: b64uDecode(obj.nonce, 12), ct: b64uDecode(obj.ct) };
  } catch {
    throw new BackupError(WRONG);
  }
}

/**
 * The private keys in a backup object.
 * @param {unknown} obj the parsed file
 * @param {string} passphrase
 * @param {{scrypt?: Scrypt}} [opts]
 * @returns {Promise<Secrets>}
 * @throws {BackupError} `WRONG` when the passphrase does not open it
 */
export async function openBackup(obj, passphrase, opts = {}) {
  const { N, r, p, salt, nonce, ct } = params(obj);
  const key = await aesKey(await loadScrypt(opts), passphrase, salt, N, r, p);
  let pt;
  try {
    pt = new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: nonce, additionalData: AAD }, key, ct));
  } catch {
    throw new BackupError(WRONG);
  }
  try {
    return parseSecrets(pt);
  } catch {
    throw new BackupError(WRONG);
  } finally {
    pt.fill(0);
  }
}

/**
 * Seal `secrets` on the device under a fresh non-extractable AES-GCM key (kept in IndexedDB).
 * @param {Secrets} secrets
 * @returns {Promise<{key: CryptoKey, iv: Uint8Array, ct: Uint8Array}>}
 */
export async function wrapSecrets(secrets) {
  const key = await subtle().generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const iv = random(12);
  const ct = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv }, key, secretsJson(secrets)));
  return { key, iv, ct };
}

/**
 * The private keys of an identity made on this device (for export), or null for an identity
 * made before backups existed.
 * @param {{backup?: {key: CryptoKey, iv: Uint8Array, ct: Uint8Array}|null}} identity
 * @returns {Promise<Secrets|null>}
 */
export async function unwrapSecrets(identity) {
  const w = identity.backup;
  if (!w) return null;
  return parseSecrets(new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: w.iv }, w.key, w.ct)));
}

/**
 * An identity from private keys (fresh random ones when none are given), with non-extractable
 * WebCrypto keys and its `backup` field set so it can be exported later.
 * @param {Secrets} [secrets]
 * @returns {Promise<import('./identity.js').Identity & {backup: object}>}
 */
export async function makeExportableIdentity(secrets = { ed25519: random(32), x25519: random(32) }) {
  const identity = await importIdentityFromSeeds(secrets.ed25519, secrets.x25519);
  identity.backup = await wrapSecrets(secrets);
  return identity;
}
