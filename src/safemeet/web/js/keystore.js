/**
 * Browser persistence of the identity in IndexedDB (database "safemeet", store "identity").
 * CryptoKey objects are structured-cloneable, so the non-extractable private keys are stored
 * as keys, never as bytes. Browser only (Node has no IndexedDB).
 * @module keystore
 */

const DB_NAME = 'safemeet';
const DB_VERSION = 1;
const STORE = 'identity';
const RECORD = 'self';

function requestDone(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDb() {
  const req = globalThis.indexedDB.open(DB_NAME, DB_VERSION);
  req.onupgradeneeded = () => {
    const db = req.result;
    if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE);
  };
  return requestDone(req);
}

async function withStore(mode, fn) {
  const db = await openDb();
  try {
    const tx = db.transaction(STORE, mode);
    const done = new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
    });
    const [result] = await Promise.all([requestDone(fn(tx.objectStore(STORE))), done]);
    return result;
  } finally {
    db.close();
  }
}

/**
 * Save (or replace) the identity: {sigPrivate, sealPrivate, sigPublic, sealPublic, keys, number}.
 * @param {import('./identity.js').Identity} identity
 * @returns {Promise<void>}
 */
export async function saveIdentity(identity) {
  const record = {
    sigPrivate: identity.sigPrivate,
    sealPrivate: identity.sealPrivate,
    sigPublic: identity.sigPublic,
    sealPublic: identity.sealPublic,
    keys: { sig: identity.keys.sig, seal: identity.keys.seal, bind: identity.keys.bind },
    number: identity.number ?? null,
  };
  await withStore('readwrite', (store) => store.put(record, RECORD));
}

/**
 * Load the saved identity, or null if there is none.
 * @returns {Promise<import('./identity.js').Identity|null>}
 */
export async function loadIdentity() {
  const record = await withStore('readonly', (store) => store.get(RECORD));
  return record ?? null;
}

/**
 * Delete the saved identity (the private keys are gone for good).
 * @returns {Promise<void>}
 */
export async function deleteIdentity() {
  await withStore('readwrite', (store) => store.delete(RECORD));
}
