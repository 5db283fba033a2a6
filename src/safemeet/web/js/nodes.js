/**
 * The nodes of this deployment: the list a node hands out at registration (`nodes` in
 * `registered`, docs/protocol.md), remembered in localStorage under `safemeet.nodes` (node base
 * URLs only: no call data, nothing that identifies anyone), and the order to try them in.
 * @module nodes
 */

/** localStorage key of the remembered list. */
export const STORAGE_KEY = 'safemeet.nodes';
/** A longer list is refused whole (a deployment has a handful of nodes). */
export const MAX_NODES = 32;

/**
 * The origin of a node base URL (`http(s)://host[:port]`, no path, query or credentials), or
 * null for anything else.
 * @param {unknown} value
 * @returns {string|null}
 */
export function nodeOrigin(value) {
  if (typeof value !== 'string') return null;
  let url;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  const plain = (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== ''
    && url.username === '' && url.password === '' && url.pathname === '/' && url.search === ''
    && url.hash === '' && !/[?#]$/.test(value);
  return plain ? url.origin : null;
}

/**
 * A node list from the wire or from storage: origins in order, duplicates dropped. Null when it is
 * absent or anything in it is malformed (a list is taken whole or not at all).
 * @param {unknown} value
 * @returns {string[]|null}
 */
export function parseNodeList(value) {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_NODES) return null;
  const origins = value.map(nodeOrigin);
  if (origins.includes(null)) return null;
  return [...new Set(origins)];
}

/**
 * The WebSocket endpoint of a node origin.
 * @param {string} origin e.g. `https://a.example.org`
 * @returns {string} e.g. `wss://a.example.org/ws`
 */
export function wsUrl(origin) {
  return `${origin.startsWith('https:') ? 'wss:' : 'ws:'}${origin.slice(origin.indexOf('//'))}/ws`;
}

/**
 * One round of attempts: `preferred` (the node we last registered at, or the page's own) first,
 * then the others in the deployment's order.
 * @param {string[]} nodes
 * @param {string} preferred
 * @returns {string[]}
 */
export function attemptOrder(nodes, preferred) {
  return [preferred, ...nodes.filter((n) => n !== preferred)];
}

/**
 * The remembered list, or null (none, unreadable, or storage unavailable).
 * @param {Storage|null} storage usually `localStorage`
 * @returns {string[]|null}
 */
export function rememberedNodes(storage) {
  try {
    const text = storage?.getItem(STORAGE_KEY);
    return text ? parseNodeList(JSON.parse(text)) : null;
  } catch {
    return null;
  }
}

/**
 * Remember `nodes` (a parsed list), or forget the list when the deployment has none (null).
 * Storage that refuses (private mode, quota) only costs the memory across reloads.
 * @param {Storage|null} storage
 * @param {string[]|null} nodes
 */
export function rememberNodes(storage, nodes) {
  try {
    if (nodes) storage?.setItem(STORAGE_KEY, JSON.stringify(nodes));
    else storage?.removeItem(STORAGE_KEY);
  } catch (e) {
    console.warn('node list not remembered:', e?.name);
  }
}
