import test from 'node:test';
import assert from 'node:assert/strict';
import * as wire from '../../src/safemeet/web/js/wire.js';

const KEYS = { sig: 'a', seal: 'b', bind: 'c', extra: 'x' };

test('builders make the frames of protocol.md', () => {
  assert.deepEqual(wire.register(KEYS, 'p'), { t: 'register', v: 1, keys: { sig: 'a', seal: 'b', bind: 'c' }, proof: 'p' });
  assert.deepEqual(wire.lookup(1, '123456786'), { t: 'lookup', id: 1, number: '123456786' });
  assert.deepEqual(wire.send(2, '123456786', 'env'), { t: 'send', id: 2, to: '123456786', env: 'env' });
  assert.deepEqual(wire.ping(3), { t: 'ping', id: 3 });
  assert.equal(wire.encode(wire.ping(3)), '{"t":"ping","id":3}');
});

test('builders refuse bad ids and oversized envelopes', () => {
  assert.throws(() => wire.ping(-1), RangeError);
  assert.throws(() => wire.ping(2 ** 31), RangeError);
  assert.throws(() => wire.send(1, '123456786', 'x'.repeat(wire.MAX_ENV_CHARS + 1)), RangeError);
  assert.doesNotThrow(() => wire.send(1, '123456786', 'x'.repeat(wire.MAX_ENV_CHARS)));
});

test('parse accepts every node frame', () => {
  assert.equal(wire.parse('{"t":"challenge","v":1,"nonce":"AA"}').nonce, 'AA');
  assert.equal(wire.parse('{"t":"registered","number":"123456786"}').number, '123456786');
  assert.equal(wire.parse('{"t":"keys","id":4,"number":"123456786","keys":{}}').id, 4);
  assert.equal(wire.parse('{"t":"sent","id":2}').t, 'sent');
  assert.equal(wire.parse('{"t":"pong","id":3}').t, 'pong');
  assert.equal(wire.parse('{"t":"msg","env":"e"}').env, 'e');
  const err = wire.parse('{"t":"error","id":2,"code":"offline","message":"m"}');
  assert.equal(err.code, 'offline');
});

test('parse rejects malformed frames', () => {
  for (const bad of [
    'nope', '[]', '{}', '{"t":5}', '{"t":"what"}', '{"t":"challenge","v":2,"nonce":"A"}',
    '{"t":"registered","number":"123456789"}', '{"t":"msg"}', '{"t":"error"}',
    '{"t":"pong","id":-1}', '{"t":"pong","id":1.5}', '{"t":"toString"}',
  ]) {
    assert.throws(() => wire.parse(bad), wire.WireError, bad);
  }
  assert.throws(() => wire.parse(new ArrayBuffer(2)), wire.WireError);
});
