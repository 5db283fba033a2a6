import test from 'node:test';
import assert from 'node:assert/strict';
import { PrivacySettings, hasRelay, parseIceServers, relayOnly } from '../../src/safemeet/web/js/privacy.js';
import { callText } from '../../src/safemeet/web/js/calltext.js';

const TURN = { urls: ['turn:127.0.0.1:3478?transport=udp'], username: '1700000000:abc', credential: 'c2VjcmV0' };

test('ice_servers: well-formed lists are kept, copied', () => {
  assert.deepEqual(parseIceServers(undefined), []);
  assert.deepEqual(parseIceServers([]), []);
  const got = parseIceServers([TURN, { urls: ['stun:stun.example.org'] }]);
  assert.deepEqual(got, [TURN, { urls: ['stun:stun.example.org'], username: '', credential: '' }]);
  assert.notEqual(got[0].urls, TURN.urls);
  assert.ok(hasRelay(got));
  assert.ok(!hasRelay(parseIceServers([{ urls: ['stun:x'] }])));
  assert.ok(hasRelay(parseIceServers([{ ...TURN, urls: ['turns:relay.example.org:5349'] }])));
});

test('ice_servers: anything malformed gives no relay at all', (t) => {
  t.mock.method(console, 'warn', () => {});
  const bad = [
    null, 'turn:x', {}, [null], [[]], [{ urls: 'turn:x' }], [{ urls: [] }], [{ urls: ['http://x'] }],
    [{ urls: ['turn:x', 5] }], [{ ...TURN, username: 5 }], [{ ...TURN, credential: null }],
    [{ ...TURN, extra: 1 }], [TURN, { urls: ['javascript:x'] }], Array(9).fill(TURN),
  ];
  for (const value of bad) assert.deepEqual(parseIceServers(value), [], JSON.stringify(value));
});

test('relay-only: strangers only, per switch, only with a relay', () => {
  const s = new PrivacySettings();
  assert.deepEqual([s.hideIncoming, s.hideOutgoing], [true, false]);
  const decide = (role, pinned, relay = true) => relayOnly({ role, pinned, relay, settings: s });
  assert.equal(decide('callee', false), true);
  assert.equal(decide('callee', true), false);
  assert.equal(decide('callee', false, false), false);
  assert.equal(decide('caller', false), false);
  s.set({ hideOutgoing: true });
  assert.equal(decide('caller', false), true);
  assert.equal(decide('caller', true), false);
  s.set({ hideIncoming: false });
  assert.equal(decide('callee', false), false);
  assert.equal(decide('caller', false), false);
});

test('call text: one wording per state, a missed call says from whom', () => {
  const call = { peer: '123456786', ringSent: false, detail: '' };
  assert.equal(callText({ phase: 'outgoing', reason: null }, call), 'Calling…');
  assert.equal(callText({ phase: 'outgoing', reason: null }, { ...call, ringSent: true }), 'Ringing');
  assert.equal(callText({ phase: 'incoming', reason: null }, call), 'Incoming call from 123 456 786');
  assert.equal(callText({ phase: 'ended', reason: 'missed' }, call), 'Missed call from 123 456 786');
  assert.equal(callText({ phase: 'ended', reason: 'failed' }, { ...call, detail: 'not online' }), 'Call failed: not online');
});
