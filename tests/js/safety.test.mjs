import test from 'node:test';
import assert from 'node:assert/strict';
import { fromHex } from '../../src/safemeet/web/js/b64.js';
import {
  ITERATIONS, groups, half, matches, parseQrText, qrText, safetyNumber,
} from '../../src/safemeet/web/js/safety.js';
import { loadJson } from './_helpers.mjs';

const V = loadJson('safety.json');

test('iteration count matches the vectors', () => {
  assert.equal(ITERATIONS, V.iterations);
});

test('halves match the vectors', async () => {
  for (const h of V.halves) assert.equal(await half(h.number, fromHex(h.sig)), h.half);
});

test('pairs match the vectors in either order, with their groups', async () => {
  for (const p of V.pairs) {
    const a = [p.a.number, fromHex(p.a.sig)];
    const b = [p.b.number, fromHex(p.b.sig)];
    assert.equal(await safetyNumber(...a, ...b), p.safety_number);
    assert.equal(await safetyNumber(...b, ...a), p.safety_number);
    assert.deepEqual(groups(p.safety_number), p.groups);
  }
});

test('a half needs a 32-byte key', async () => {
  await assert.rejects(half('123456786', new Uint8Array(31)), TypeError);
});

test('typed values may carry spaces and line breaks, nothing else', () => {
  const n = V.pairs[0].safety_number;
  assert.ok(matches(n, groups(n).join(' ')));
  assert.ok(matches(n, `${groups(n).slice(0, 6).join(' ')}\n${groups(n).slice(6).join('  ')}\n`));
  assert.ok(!matches(n, n.slice(0, 59)));
  assert.ok(!matches(n, `${n.slice(0, 59)}0`.replace(/^./u, n[0] === '0' ? '1' : '0')));
  assert.ok(!matches(n, groups(n).join('-')));
});

test('QR text round trip; anything else is not a safety number code', () => {
  const n = V.pairs[0].safety_number;
  assert.equal(qrText(n), `safemeet-safety:1:${n}`);
  assert.equal(parseQrText(qrText(n)), n);
  for (const bad of ['', n, `safemeet-safety:2:${n}`, `safemeet-safety:1:${n}0`, `safemeet-safety:1:${n.slice(1)}x`]) {
    assert.equal(parseQrText(bad), null);
  }
});
