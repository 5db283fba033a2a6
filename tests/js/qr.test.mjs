import test from 'node:test';
import assert from 'node:assert/strict';
import { encode, renderSVG } from 'uqr';
import jsQR from 'jsqr';
import { decodeFrame, qrImageSrc } from '../../src/safemeet/web/js/qr.js';
import { parseQrText, qrText } from '../../src/safemeet/web/js/safety.js';
import { loadJson } from './_helpers.mjs';

const DIGITS = loadJson('safety.json').pairs[0].safety_number;

/** Draw a QR matrix as an RGBA image, `scale` pixels a module. */
function rgba(matrix, scale = 4) {
  const n = matrix.length * scale;
  const data = new Uint8ClampedArray(n * n * 4).fill(255);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      if (matrix[Math.floor(y / scale)][Math.floor(x / scale)]) data.fill(0, (y * n + x) * 4, (y * n + x) * 4 + 3);
    }
  }
  return { data, width: n, height: n };
}

test('the image is an SVG data URL of the QR code', async () => {
  const src = await qrImageSrc(qrText(DIGITS), { renderSVG });
  assert.match(src, /^data:image\/svg\+xml,/u);
  assert.match(decodeURIComponent(src), /^data:image\/svg\+xml,<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/u);
});

test('a safety number QR code decodes back to its text', () => {
  const { data } = encode(qrText(DIGITS), { ecc: 'M', border: 4 });
  const text = decodeFrame(rgba(data), jsQR);
  assert.equal(text, `safemeet-safety:1:${DIGITS}`);
  assert.equal(parseQrText(text), DIGITS);
});

test('a blank frame has no code', () => {
  assert.equal(decodeFrame({ data: new Uint8ClampedArray(64 * 64 * 4).fill(255), width: 64, height: 64 }, jsQR), null);
});
