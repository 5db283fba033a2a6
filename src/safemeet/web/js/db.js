/**
 * The browser's one IndexedDB database, "safemeet": store `identity` (record "self") and store
 * `contacts` (keyed by number). Version 2 added `contacts`; upgrades only create missing stores,
 * so an identity saved by version 1 survives. Browser only (Node has no IndexedDB).
 * @module db
 */

/** Database name. */
export const DB_NAME = 'safemeet';
/** Schema version: 1 had only `identity`; 2 adds `contacts`. */
export const DB_VERSION = 2;
/** Every store of the current version. */
export const STORES = Object.freeze(['identity', 'contacts']);

/**
 * Resolve with a request's result, reject with its error.
 * @param {IDBRequest} req
 * @returns {Promise<any>}
 */
export function requestDone(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDb() {
  const req = globalThis.indexedDB.open(DB_NAME, DB_VERSION);
  req.onupgradeneeded = () => {
    const db = req.result;
    for (const name of STORES) if (!db.objectStoreNames.contains(name)) db.createObjectStore(name);
  };
  return requestDone(req);
}

/**
 * Run `fn(store)` in one transaction on `store` and resolve with its request's result once the
 * transaction committed.
 * @param {string} store one of STORES
 * @param {IDBTransactionMode} mode
 * @param {(s: IDBObjectStore) => IDBRequest} fn
 * @returns {Promise<any>}
 */
export async function withStore(store, mode, fn) {
  const db = await openDb();
  try {
    const tx = db.transaction(store, mode);
    const done = new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
    });
    const [result] = await Promise.all([requestDone(fn(tx.objectStore(store))), done]);
    return result;
  } finally {
    db.close();
  }
}

/**
 * Empty every store in one transaction (identity and contacts go together).
 * @returns {Promise<void>}
 */
export async function clearAll() {
  const db = await openDb();
  try {
    const tx = db.transaction(STORES, 'readwrite');
    for (const name of STORES) tx.objectStore(name).clear();
    await new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}
