/**
 * Relay-only calls with strangers (docs/security.md): the node's TURN relays (checked), the
 * user's two switches (kept in memory only, so nothing about them is stored), and the per-call
 * decision. A relay-only call offers only relay candidates, so the other side never sees our
 * address.
 * @module privacy
 */

/** Most ICE servers taken from the node. */
const MAX_SERVERS = 8;
const URL_SCHEMES = ['turn:', 'turns:', 'stun:'];

/**
 * Check a `registered` reply's `ice_servers`. Anything malformed gives no relay at all (the same
 * as a node without one), never a half-checked list.
 * @param {unknown} value
 * @returns {RTCIceServer[]} a fresh list of `{urls, username, credential}`
 */
export function parseIceServers(value) {
  if (value === undefined) return [];
  try {
    if (!Array.isArray(value) || value.length > MAX_SERVERS) throw new Error('not a short list');
    return value.map((server) => {
      if (typeof server !== 'object' || server === null || Array.isArray(server)) throw new Error('not an object');
      const { urls, username = '', credential = '', ...rest } = server;
      if (Object.keys(rest).length) throw new Error('unknown field');
      const okUrl = (u) => typeof u === 'string' && URL_SCHEMES.some((s) => u.startsWith(s));
      if (!Array.isArray(urls) || !urls.length || !urls.every(okUrl)) throw new Error('bad urls');
      if (typeof username !== 'string' || typeof credential !== 'string') throw new Error('bad credentials');
      return { urls: [...urls], username, credential };
    });
  } catch (e) {
    console.warn('ice_servers ignored:', e.message);
    return [];
  }
}

/**
 * Whether any server of `servers` is a TURN relay (STUN alone cannot hide an address).
 * @param {RTCIceServer[]} servers
 * @returns {boolean}
 */
export const hasRelay = (servers) => servers.some((s) => s.urls.some((u) => /^turns?:/.test(u)));

/**
 * The user's switches, in memory with their defaults; `change` fires when one changes.
 * `hideIncoming`: "Hide my IP address from unknown callers" (on);
 * `hideOutgoing`: "Also when I call unknown numbers" (off; applies only with `hideIncoming`).
 */
export class PrivacySettings extends EventTarget {
  constructor() {
    super();
    this.hideIncoming = true;
    this.hideOutgoing = false;
  }

  /**
   * Change one or both switches.
   * @param {{hideIncoming?: boolean, hideOutgoing?: boolean}} change
   */
  set(change) {
    for (const key of ['hideIncoming', 'hideOutgoing']) {
      if (typeof change[key] === 'boolean') this[key] = change[key];
    }
    this.dispatchEvent(new CustomEvent('change'));
  }
}

/**
 * Whether one call must be relay-only: a call with a stranger (no pinned keys), when the
 * matching switch is on and the node offers a relay. Without a relay the call goes direct.
 * @param {{role: "caller"|"callee", pinned: boolean, relay: boolean,
 *          settings: {hideIncoming: boolean, hideOutgoing: boolean}}} facts
 * @returns {boolean}
 */
export function relayOnly({ role, pinned, relay, settings }) {
  if (pinned || !relay || !settings.hideIncoming) return false;
  return role === 'callee' || settings.hideOutgoing;
}

/**
 * Wire the two checkboxes of the privacy card to `settings`.
 * @param {Document} doc
 * @param {PrivacySettings} settings
 */
export function mountPrivacy(doc, settings) {
  const incoming = doc.getElementById('hide-incoming');
  const outgoing = doc.getElementById('hide-outgoing');
  const render = () => {
    incoming.checked = settings.hideIncoming;
    outgoing.checked = settings.hideOutgoing;
    outgoing.disabled = !settings.hideIncoming;
  };
  incoming.addEventListener('change', () => settings.set({ hideIncoming: incoming.checked }));
  outgoing.addEventListener('change', () => settings.set({ hideOutgoing: outgoing.checked }));
  settings.addEventListener('change', render);
  render();
}
