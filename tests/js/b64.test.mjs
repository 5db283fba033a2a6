import test from 'node:test';
import assert from 'node:assert/strict';
import { B64Error, b64uDecode, b64uEncode, concatBytes, fromHex, toHex, utf8Decode, utf8Encode } from '../../src/safemeet/web/js/b64.js';

const ascii = (s) => utf8Encode(s);

test('RFC 4648 test vectors, url alphabet, no padding', () => {
  const cases = [['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'], ['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy']];
  for (const [plain, enc] of cases) {
    assert.equal(b64uEncode(ascii(plain)), enc);
    assert.deepEqual(b64uDecode(enc), ascii(plain));
  }
  assert.equal(b64uEncode(new Uint8Array([0xfb, 0xff])), '-_8');
  assert.deepEqual(b64uDecode('-_8'), new Uint8Array([0xfb, 0xff]));
});

test('round trip against Node Buffer base64url for every length 0..80', () => {
  for (let n = 0; n <= 80; n++) {
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    const enc = b64uEncode(bytes);
    assert.equal(enc, Buffer.from(bytes).toString('base64url'));
    assert.deepEqual(b64uDecode(enc), bytes);
  }
});

test('strict decode rejects padding, foreign characters, bad lengths, non-canonical tails', () => {
  const bad = ['Zg==', 'Zm8=', 'Zm9v+', 'Zm9v/A', 'Z', 'Zm9vY', ' Zg', 'Zg ', 'Zg\n', 'Zh', 'Zm9', 'Zm9vYmF=', 'Zé', '\u0000A'];
  for (const s of bad) assert.throws(() => b64uDecode(s), B64Error, JSON.stringify(s));
  assert.throws(() => b64uDecode(null), B64Error);
  assert.throws(() => b64uDecode(123), B64Error);
});

test('decode with an expected length', () => {
  assert.equal(b64uDecode(b64uEncode(new Uint8Array(16)), 16).length, 16);
  assert.throws(() => b64uDecode(b64uEncode(new Uint8Array(15)), 16), /expected 16 bytes, got 15/);
});

test('utf8 helpers are strict', () => {
  assert.equal(utf8Decode(utf8Encode('héllo ✓ 😀')), 'héllo ✓ 😀');
  assert.throws(() => utf8Decode(new Uint8Array([0xff])), TypeError);
  assert.throws(() => utf8Decode(new Uint8Array([0xc3])), TypeError);
  assert.equal(utf8Decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])), '\ufeffA', 'BOM is kept, not swallowed');
});

test('hex and concat helpers', () => {
  assert.equal(toHex(fromHex('00ff10Ab')), '00ff10ab');
  assert.throws(() => fromHex('abc'));
  assert.throws(() => fromHex('zz'));
  assert.deepEqual(concatBytes(new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2, 3])), new Uint8Array([1, 2, 3]));
});
