/**
 * Contacts and key pinning (trust on first use; docs/security.md, "Contacts and key pinning").
 * IndexedDB store `contacts`: number → {number, keys: {sig, seal, bind}, name, verified}.
 * `pinStatus` is the pure table; the rest reads and writes the store and announces changes on
 * `contactEvents` (`change` {number}). A key change means a different identity key (`sig`); a new
 * sealing key bound by the pinned identity key replaces the pinned `seal`/`bind` and keeps
 * `verified` (the safety number, made from `sig`, does not change).
 * @module contacts
 */

import { withStore } from './db.js';
import { verifyKeys } from './identity.js';

const STORE = 'contacts';

/** Fires `change` (detail: {number}) after any contact was written or deleted. */
export const contactEvents = new EventTarget();

/** The keys the node gave differ from the pinned ones (`verified`: the contact was verified). */
export class KeyChangeError extends Error {
  /**
   * @param {string} number
   * @param {boolean} verified
   * @param {{sig: string, seal: string, bind: string}} keys the new keys from the node
   */
  constructor(number, verified, keys) {
    super(verified ? 'the verified safety number changed' : 'the safety number changed');
    this.name = 'KeyChangeError';
    this.code = 'key_changed';
    this.number = number;
    this.verified = verified;
    this.keys = keys;
  }
}

/**
 * The pinning table: what keys from the node mean for a (possibly absent) contact.
 * @param {{keys: {sig: string}, verified: boolean}|null} contact
 * @param {{sig: string}} keys
 * @returns {"new"|"same"|"changed"|"verified_changed"}
 */
export function pinStatus(contact, keys) {
  if (!contact) return 'new';
  if (contact.keys.sig === keys.sig) return 'same';
  return contact.verified ? 'verified_changed' : 'changed';
}

const changed = (number) => contactEvents.dispatchEvent(new CustomEvent('change', { detail: { number } }));
const copyKeys = ({ sig, seal, bind }) => ({ sig, seal, bind });

/**
 * One contact, or null.
 * @param {string} number
 * @returns {Promise<{number: string, keys: object, name: string, verified: boolean}|null>}
 */
export async function getContact(number) {
  return (await withStore(STORE, 'readonly', (s) => s.get(number))) ?? null;
}

/**
 * Every contact, ordered by number.
 * @returns {Promise<Array<{number: string, keys: object, name: string, verified: boolean}>>}
 */
export async function listContacts() {
  return withStore(STORE, 'readonly', (s) => s.getAll());
}

async function put(contact) {
  await withStore(STORE, 'readwrite', (s) => s.put(contact, contact.number));
  changed(contact.number);
  return contact;
}

/**
 * The node's keys for `number`, checked against the pinned ones.
 * @param {string} number
 * @param {{sig: string, seal: string, bind: string}} keys
 * @returns {Promise<{sig: string, seal: string, bind: string}>} `keys` when they may be used
 * @throws {KeyChangeError} when they differ from the pinned keys
 */
export async function checkPinned(number, keys) {
  const contact = await getContact(number);
  const status = pinStatus(contact, keys);
  if (status === 'same' && (contact.keys.seal !== keys.seal || contact.keys.bind !== keys.bind)) {
    await verifyKeys(keys); // the new sealing key must be bound by the pinned identity key
    await put({ ...contact, keys: copyKeys(keys) });
  }
  if (status === 'new' || status === 'same') return keys;
  throw new KeyChangeError(number, status === 'verified_changed', copyKeys(keys));
}

/**
 * Pin `keys` for `number` unless a contact exists already (first connected call).
 * @param {string} number
 * @param {{sig: string, seal: string, bind: string}} keys
 * @returns {Promise<object>} the contact
 */
export async function pinContact(number, keys) {
  const contact = await getContact(number);
  if (contact) return contact;
  return put({ number, keys: copyKeys(keys), name: '', verified: false });
}

/**
 * The user accepts a changed key: re-pin it and clear the verified flag. A verified contact
 * cannot be re-pinned this way (it has to be deleted first).
 * @param {string} number
 * @param {{sig: string, seal: string, bind: string}} keys
 * @returns {Promise<object>} the contact
 */
export async function acceptNewKeys(number, keys) {
  const contact = await getContact(number);
  if (contact?.verified) throw new KeyChangeError(number, true, copyKeys(keys));
  return put({ number, keys: copyKeys(keys), name: contact?.name ?? '', verified: false });
}

/**
 * Mark a contact verified (pinning `keys` first when it is not a contact yet).
 * @param {string} number
 * @param {{sig: string, seal: string, bind: string}} keys the keys the safety number was made from
 * @returns {Promise<object>} the contact
 * @throws {KeyChangeError} when `keys` are not the pinned ones
 */
export async function markVerified(number, keys) {
  const contact = await getContact(number);
  if (pinStatus(contact, keys) === 'changed' || pinStatus(contact, keys) === 'verified_changed') {
    throw new KeyChangeError(number, !!contact.verified, copyKeys(keys));
  }
  return put({ number, keys: copyKeys(keys), name: contact?.name ?? '', verified: true });
}

/** Longest local name kept, in characters. */
export const MAX_NAME = 64;

/**
 * Give a contact a local name (kept on this device only; empty clears it).
 * @param {string} number
 * @param {string} name
 * @returns {Promise<object|null>} the contact, or null when there is none
 */
export async function renameContact(number, name) {
  const contact = await getContact(number);
  if (!contact) return null;
  return put({ ...contact, name: [...name.trim()].slice(0, MAX_NAME).join('') });
}

/**
 * Forget a contact (its pinned keys and verified flag).
 * @param {string} number
 * @returns {Promise<void>}
 */
export async function deleteContact(number) {
  await withStore(STORE, 'readwrite', (s) => s.delete(number));
  changed(number);
}
