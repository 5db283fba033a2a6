// The browser's node client against tests/vectors/wire.json, which the Python parser and a live
// node are tested against too: same limits, same error codes, every node reply parses, and the
// frames the browser builds are the ones the node accepts.
import test from 'node:test';
import assert from 'node:assert/strict';
import { JS, loadJson } from './_helpers.mjs';

const wire = await import(JS('wire.js'));
const V = loadJson('wire.json');

test('limits and error codes match the node', () => {
  assert.equal(wire.MAX_FRAME_BYTES, V.limits.max_frame);
  assert.equal(wire.MAX_ENV_CHARS, V.limits.max_env);
  assert.deepEqual([...wire.ERROR_CODES].sort(), [...V.error_codes].sort());
});

test('every reply the node sends parses', () => {
  for (const { frame } of V.replies) {
    const parsed = wire.parse(frame);
    assert.deepEqual(parsed, JSON.parse(frame));
  }
});

test('frames the browser builds equal the accepted request vectors', () => {
  const byName = Object.fromEntries(V.requests.filter((r) => r.ok).map((r) => [r.name, r.ok]));
  assert.deepEqual(wire.ping(undefined), byName.ping);
  assert.deepEqual(wire.ping(2147483647), byName['ping with largest id']);
  assert.deepEqual(wire.lookup(2, '123456786'), byName.lookup);
  const s = byName.send;
  assert.deepEqual(wire.send(3, s.to, s.env), s);
  const valid = JSON.parse(V.register.cases.find((c) => c.name === 'valid').frame);
  assert.deepEqual(wire.register(valid.keys, valid.proof), valid);
});

test('the browser refuses to build what the node would refuse', () => {
  assert.throws(() => wire.send(1, '123456786', 'x'.repeat(V.limits.max_env + 1)), RangeError);
  assert.throws(() => wire.ping(2 ** 31));
});
