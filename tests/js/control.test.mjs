import test from 'node:test';
import assert from 'node:assert/strict';
import { parseControl } from '../../src/safemeet/web/js/control.js';
import { loadJson } from './_helpers.mjs';

const V = loadJson('control.json');

test('control messages parse as the shared vectors say', () => {
  for (const [text, parsed] of V.valid) assert.deepEqual(parseControl(text), parsed, text);
  for (const text of V.invalid) assert.equal(parseControl(text), null, text);
});

test('binary data is not a control message', () => {
  assert.equal(parseControl(new Uint8Array([123, 125])), null);
});
