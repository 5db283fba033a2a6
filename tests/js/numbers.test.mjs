import test from 'node:test';
import assert from 'node:assert/strict';
import { NumberError, checkDigit, formatNumber, isValid, normalize } from '../../src/safemeet/web/js/numbers.js';
import { loadJson } from './_helpers.mjs';

const V = loadJson('damm.json');

test('vector table is a quasigroup with zero diagonal (weakly totally anti-symmetric)', () => {
  const t = V.table;
  for (let i = 0; i < 10; i++) {
    assert.equal(t[i][i], 0);
    assert.equal(new Set(t[i]).size, 10);
    assert.equal(new Set(t.map((row) => row[i])).size, 10);
  }
  for (let c = 0; c < 10; c++)
    for (let x = 0; x < 10; x++)
      for (let y = 0; y < 10; y++)
        if (x !== y) assert.notEqual(t[t[c][x]][y], t[t[c][y]][x]);
});

test('the implementation uses the vector table', () => {
  for (let a = 0; a < 10; a++) for (let b = 0; b < 10; b++) assert.equal(checkDigit(`${a}${b}`), String(V.table[V.table[0][a]][b]));
});

test('worked example: 572 has check digit 4', () => {
  for (const e of V.examples) assert.equal(checkDigit(e.digits), e.check);
  assert.equal(checkDigit('572'), '4');
});

test('check digits of the vector payloads', () => {
  for (const c of V.check_digits) assert.equal(checkDigit(c.payload), c.check, c.payload);
  assert.throws(() => checkDigit('12a'), TypeError);
});

test('valid numbers', () => {
  for (const n of V.valid) {
    assert.ok(isValid(n), n);
    assert.equal(normalize(n), n);
  }
});

test('normalize strips spaces, dashes, no-break spaces and surrounding whitespace', () => {
  for (const c of V.normalize) assert.equal(normalize(c.input), c.output, JSON.stringify(c.input));
});

test('invalid inputs fail with the vector reason', () => {
  for (const c of V.invalid) {
    assert.equal(isValid(c.input), false, JSON.stringify(c.input));
    assert.throws(
      () => normalize(c.input),
      (e) => e instanceof NumberError && e.reason === c.reason,
      `${JSON.stringify(c.input)} should fail with ${c.reason}`,
    );
  }
});

test('error messages name the problem', () => {
  assert.throws(() => normalize('123456780'), /check digit/);
  assert.throws(() => normalize('12345'), /nine digits/);
  assert.throws(() => normalize('012345671'), /starts with 0/);
  assert.throws(() => normalize('12345678x'), /only digits/);
  assert.throws(() => normalize(123456786), NumberError);
});

test('isValid refuses non-strings and near misses', () => {
  for (const x of [123456786, null, undefined, {}, '123 456 786', '0'.repeat(9)]) assert.equal(isValid(x), false);
});

test('every single-digit error and adjacent transposition is caught', () => {
  for (const n of V.valid) {
    for (let i = 0; i < 9; i++) {
      for (let d = 0; d < 10; d++) {
        if (String(d) === n[i]) continue;
        assert.equal(isValid(n.slice(0, i) + d + n.slice(i + 1)), false);
      }
      if (i < 8 && n[i] !== n[i + 1]) assert.equal(isValid(n.slice(0, i) + n[i + 1] + n[i] + n.slice(i + 2)), false);
    }
  }
});

test('formatNumber', () => {
  assert.equal(formatNumber('123456786'), '123 456 786');
  assert.equal(formatNumber('123-456-786'), '123 456 786');
  assert.throws(() => formatNumber('123456780'), /check digit/);
});
