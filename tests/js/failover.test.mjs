import test from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, BACKOFF_BASE_MS, BACKOFF_CAP_MS } from '../../src/safemeet/web/js/backoff.js';
import {
  STORAGE_KEY, attemptOrder, nodeOrigin, parseNodeList, rememberNodes, rememberedNodes, wsUrl,
} from '../../src/safemeet/web/js/nodes.js';
import { NodeLink, SignalingError } from '../../src/safemeet/web/js/signaling.js';

test('backoff: full jitter under a ceiling that doubles from 250 ms up to 10 s', () => {
  assert.equal(BACKOFF_BASE_MS, 250);
  assert.equal(BACKOFF_CAP_MS, 10000);
  const top = new Backoff({ random: () => 0.999999 });
  const ceilings = Array.from({ length: 9 }, () => Math.round(top.next()));
  assert.deepEqual(ceilings, [250, 500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  const bottom = new Backoff({ random: () => 0 });
  assert.deepEqual([bottom.next(), bottom.next()], [0, 0]);
  const half = new Backoff({ random: () => 0.5 });
  half.next();
  half.next();
  assert.equal(half.next(), 500);
  half.reset();
  assert.equal(half.next(), 125);
});

test('backoff: the real random source stays inside the window', () => {
  const b = new Backoff();
  for (let round = 0; round < 200; round += 1) {
    const ceiling = b.ceiling();
    const d = b.next();
    assert.ok(d >= 0 && d < ceiling, `${d} not in [0, ${ceiling})`);
  }
  assert.throws(() => new Backoff({ baseMs: 0 }), RangeError);
  assert.throws(() => new Backoff({ baseMs: 20, capMs: 10 }), RangeError);
});

test('node origins: base URLs only', () => {
  assert.equal(nodeOrigin('http://127.0.0.1:8765'), 'http://127.0.0.1:8765');
  assert.equal(nodeOrigin('https://Meet.Example.org:443/'), 'https://meet.example.org');
  for (const bad of ['', 'ws://a', 'ftp://a', 'http://a/x', 'http://a?', 'http://a#b', 'http://u:p@a', 'a:80',
    'javascript:alert(1)', 42, null, undefined]) {
    assert.equal(nodeOrigin(bad), null, String(bad));
  }
  assert.equal(wsUrl('http://127.0.0.1:8765'), 'ws://127.0.0.1:8765/ws');
  assert.equal(wsUrl('https://meet.example.org'), 'wss://meet.example.org/ws');
});

test('node lists are taken whole or not at all', () => {
  assert.deepEqual(parseNodeList(['http://a:1', 'http://b:2/', 'http://a:1']), ['http://a:1', 'http://b:2']);
  assert.equal(parseNodeList(undefined), null);
  assert.equal(parseNodeList([]), null);
  assert.equal(parseNodeList('http://a:1'), null);
  assert.equal(parseNodeList(['http://a:1', 'http://evil/path']), null);
  assert.equal(parseNodeList(Array.from({ length: 33 }, (_, i) => `http://n${i}`)), null);
  assert.deepEqual(attemptOrder(['http://a', 'http://b', 'http://c'], 'http://b'), ['http://b', 'http://a', 'http://c']);
  assert.deepEqual(attemptOrder(['http://a'], 'http://z'), ['http://z', 'http://a']);
});

class MemoryStorage {
  constructor() { this.items = new Map(); }
  getItem(k) { return this.items.has(k) ? this.items.get(k) : null; }
  setItem(k, v) { this.items.set(k, String(v)); }
  removeItem(k) { this.items.delete(k); }
}

test('the list is remembered under one key, and forgotten when the deployment has none', (t) => {
  const storage = new MemoryStorage();
  rememberNodes(storage, ['http://a:1', 'http://b:2']);
  assert.deepEqual([...storage.items.keys()], [STORAGE_KEY]);
  assert.deepEqual(rememberedNodes(storage), ['http://a:1', 'http://b:2']);
  storage.setItem(STORAGE_KEY, '{not json');
  assert.equal(rememberedNodes(storage), null);
  storage.setItem(STORAGE_KEY, '["http://a:1","gopher://x"]');
  assert.equal(rememberedNodes(storage), null);
  rememberNodes(storage, null);
  assert.equal(storage.items.size, 0);
  assert.equal(rememberedNodes(null), null);
  t.mock.method(console, 'warn', () => {});
  const full = { setItem() { throw new DOMException('full', 'QuotaExceededError'); } };
  rememberNodes(full, ['http://a:1']); // does not throw
});

/** A registered connection as NodeLink sees it: closes on demand, like a node going away. */
class FakeSignaling extends EventTarget {
  constructor(url, number, nodes) {
    super();
    Object.assign(this, { url, number, nodes, closed: false });
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.dispatchEvent(new CustomEvent('close', { detail: { code: 1006, reason: '' } }));
  }
}

function fakeDeployment(up) {
  const attempts = [];
  const open = [];
  const connect = async (url) => {
    attempts.push(url);
    if (!up.has(url)) throw new SignalingError('closed', 'cannot reach the node');
    const sig = new FakeSignaling(url, url.includes(':1/') ? '100000007' : '200000006', ['http://a:1', 'http://b:2']);
    open.push(sig);
    return sig;
  };
  return { attempts, open, connect };
}

const until = async (check) => {
  const deadline = Date.now() + 10000; // generous: shared CI machines are slow
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  assert.ok(check());
};

test('NodeLink: loses its node, tries it again, then the next one; says so all along', async (t) => {
  t.mock.method(console, 'warn', () => {});
  const up = new Set(['ws://a:1/ws']);
  const net = fakeDeployment(up);
  const storage = new MemoryStorage();
  const link = new NodeLink({}, {
    home: 'http://a:1', storage, connect: net.connect, offlineAfterMs: 60, backoff: new Backoff({ baseMs: 1, capMs: 4 }),
  });
  const states = [];
  const registered = [];
  link.addEventListener('state', (e) => states.push(e.detail.state));
  link.addEventListener('registered', (e) => registered.push(e.detail.signaling));
  const running = link.run();
  await until(() => link.state === 'online');
  assert.deepEqual(rememberedNodes(storage), ['http://a:1', 'http://b:2']); // learned from the node
  assert.equal(registered[0].url, 'ws://a:1/ws');

  up.clear(); // both down: reconnecting, then offline after offlineAfterMs, retrying in rounds
  net.open[0].close();
  await until(() => link.state === 'offline');
  assert.deepEqual(states, ['online', 'reconnecting', 'offline']);
  const afterLoss = net.attempts.slice(1);
  assert.ok(afterLoss.length >= 4, afterLoss);
  for (let i = 0; i + 1 < afterLoss.length; i += 2) {
    assert.deepEqual(afterLoss.slice(i, i + 2), ['ws://a:1/ws', 'ws://b:2/ws']); // its own node first
  }

  up.add('ws://b:2/ws'); // B comes up: the page moves there and prefers it from now on
  await until(() => link.state === 'online');
  assert.equal(link.current.url, 'ws://b:2/ws');
  assert.equal(registered.at(-1).number, '200000006');
  up.add('ws://a:1/ws');
  const before = net.attempts.length;
  link.current.close();
  await until(() => link.state === 'online' && net.attempts.length > before);
  assert.equal(net.attempts[before], 'ws://b:2/ws');

  link.halt();
  link.current.close();
  await running;
  assert.equal(link.state, 'stopped');
  assert.equal(link.current, null);
});

test('NodeLink: never registered yet is offline, not reconnecting', async (t) => {
  t.mock.method(console, 'warn', () => {});
  const net = fakeDeployment(new Set());
  const link = new NodeLink({}, { home: 'http://a:1', connect: net.connect, backoff: new Backoff({ baseMs: 1, capMs: 2 }) });
  const states = [];
  link.addEventListener('state', (e) => states.push(e.detail.state));
  const running = link.run();
  await until(() => net.attempts.length >= 3);
  link.halt();
  await running;
  assert.deepEqual(states, ['offline', 'stopped']);
  assert.deepEqual(new Set(net.attempts), new Set(['ws://a:1/ws'])); // no list learned: only its own node
});
