import test from 'node:test';
import assert from 'node:assert/strict';
import { KeyChangeError, pinStatus } from '../../src/safemeet/web/js/contacts.js';

const pinned = { sig: 'S1', seal: 'X1', bind: 'B1' };

test('the pinning table of docs/security.md', () => {
  assert.equal(pinStatus(null, pinned), 'new');
  assert.equal(pinStatus({ keys: pinned, verified: false }, { ...pinned }), 'same');
  assert.equal(pinStatus({ keys: pinned, verified: true }, { ...pinned }), 'same');
  assert.equal(pinStatus({ keys: pinned, verified: false }, { ...pinned, sig: 'S2' }), 'changed');
  assert.equal(pinStatus({ keys: pinned, verified: true }, { ...pinned, sig: 'S2' }), 'verified_changed');
});

test('a new sealing key under the pinned identity key is no key change', () => {
  assert.equal(pinStatus({ keys: pinned, verified: true }, { sig: 'S1', seal: 'X2', bind: 'B2' }), 'same');
});

test('a key change error carries the number, the verified flag and the new keys', () => {
  const e = new KeyChangeError('123456786', true, pinned);
  assert.equal(e.code, 'key_changed');
  assert.deepEqual([e.number, e.verified, e.keys], ['123456786', true, pinned]);
});
