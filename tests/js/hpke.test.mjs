import test from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex, utf8Encode } from '../../src/safemeet/web/js/b64.js';
import {
  HpkeError, aeadOpen, aeadSeal, computeNonce, decap, encap, importX25519Private, keySchedule, openBase, sealBase, x25519PublicOf,
} from '../../src/safemeet/web/js/hpke.js';
import { loadJson } from './_helpers.mjs';

const V = loadJson('hpke_rfc9180.json');
const h = fromHex;

test('vector file is the base-mode X25519/HKDF-SHA256/AES-128-GCM suite', () => {
  assert.deepEqual([V.mode, V.kem_id, V.kdf_id, V.aead_id], [0, 32, 1, 1]);
  assert.match(V.source, /RFC 9180/);
  assert.ok(V.encryptions.some((e) => e.sequence_number === 0));
});

test('raw private keys give the RFC public keys', async () => {
  assert.equal(toHex(await x25519PublicOf(await importX25519Private(h(V.skEm)))), V.pkEm);
  assert.equal(toHex(await x25519PublicOf(await importX25519Private(h(V.skRm)))), V.pkRm);
});

test('imported private keys are non-extractable by default', async () => {
  const sk = await importX25519Private(h(V.skRm));
  assert.equal(sk.extractable, false);
  await assert.rejects(crypto.subtle.exportKey('pkcs8', sk));
});

test('Encap/Decap and KeySchedule intermediate values', async () => {
  const { sharedSecret, enc } = await encap(h(V.pkRm), h(V.skEm));
  assert.equal(toHex(enc), V.enc);
  assert.equal(toHex(sharedSecret), V.shared_secret);
  const skR = await importX25519Private(h(V.skRm));
  assert.equal(toHex(await decap(h(V.enc), skR, h(V.pkRm))), V.shared_secret);
  const ks = await keySchedule(h(V.shared_secret), h(V.info));
  assert.equal(toHex(ks.key), V.key);
  assert.equal(toHex(ks.baseNonce), V.base_nonce);
  assert.equal(toHex(ks.exporterSecret), V.exporter_secret);
});

test('every RFC encryption (nonce per sequence number, ct, and back)', async () => {
  const key = h(V.key);
  for (const e of V.encryptions) {
    const nonce = computeNonce(h(V.base_nonce), e.sequence_number);
    assert.equal(toHex(nonce), e.nonce, `nonce ${e.sequence_number}`);
    assert.equal(toHex(await aeadSeal(key, nonce, h(e.aad), h(e.pt))), e.ct, `ct ${e.sequence_number}`);
    assert.equal(toHex(await aeadOpen(key, nonce, h(e.aad), h(e.ct))), e.pt);
  }
});

test('single-shot SealBase with the fixed ephemeral key equals sequence 0', async () => {
  const e0 = V.encryptions.find((e) => e.sequence_number === 0);
  const { enc, ct } = await sealBase(h(V.pkRm), h(V.info), h(e0.aad), h(e0.pt), { ephemeralPrivateRaw: h(V.skEm) });
  assert.equal(toHex(enc), V.enc);
  assert.equal(toHex(ct), e0.ct);
});

test('single-shot OpenBase of sequence 0 returns pt', async () => {
  const e0 = V.encryptions.find((e) => e.sequence_number === 0);
  const skR = await importX25519Private(h(V.skRm));
  assert.equal(toHex(await openBase(skR, h(V.pkRm), h(V.enc), h(V.info), h(e0.aad), h(e0.ct))), e0.pt);
});

test('OpenBase fails on any change', async () => {
  const e0 = V.encryptions.find((e) => e.sequence_number === 0);
  const skR = await importX25519Private(h(V.skRm));
  const args = [h(V.pkRm), h(V.enc), h(V.info), h(e0.aad), h(e0.ct)];
  const flip = (bytes, i) => {
    const c = Uint8Array.from(bytes);
    c[i] ^= 1;
    return c;
  };
  for (let which = 0; which < args.length; which++) {
    const changed = args.map((a, i) => (i === which ? flip(a, a.length ? a.length - 1 : 0) : a));
    await assert.rejects(openBase(skR, ...changed), HpkeError, `arg ${which}`);
  }
  await assert.rejects(openBase(skR, args[0], args[1], args[2], args[3], args[4].subarray(0, 10)), HpkeError);
  await assert.rejects(openBase(skR, args[0], args[1].subarray(1), args[2], args[3], args[4]), HpkeError);
  const other = (await crypto.subtle.generateKey({ name: 'X25519' }, false, ['deriveBits'])).privateKey;
  await assert.rejects(openBase(other, ...args), HpkeError);
});

test('small-order enc is refused (all-zero DH)', async () => {
  const skR = await importX25519Private(h(V.skRm));
  await assert.rejects(decap(new Uint8Array(32), skR, h(V.pkRm)), HpkeError);
  await assert.rejects(sealBase(new Uint8Array(32), h(V.info), new Uint8Array(0), new Uint8Array(1)), HpkeError);
});

test('random ephemeral keys: round trip, and two seals differ', async () => {
  const pair = await crypto.subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']);
  const pk = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  const info = utf8Encode('safemeet/v1/envelope');
  const pt = utf8Encode('hello');
  const a = await sealBase(pk, info, new Uint8Array(0), pt);
  const b = await sealBase(pk, info, new Uint8Array(0), pt);
  assert.notEqual(toHex(a.enc), toHex(b.enc));
  assert.equal(a.ct.length, pt.length + 16);
  assert.deepEqual(await openBase(pair.privateKey, pk, a.enc, info, new Uint8Array(0), a.ct), pt);
});
