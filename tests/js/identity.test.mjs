import test from 'node:test';
import assert from 'node:assert/strict';
import { b64uDecode, b64uEncode, concatBytes, fromHex, toHex, utf8Encode } from '../../src/safemeet/web/js/b64.js';
import {
  KeysError, authProof, exportKeys, importIdentityFromSeeds, makeIdentity, signWithIdentity, verifyAuthProof, verifyKeys,
} from '../../src/safemeet/web/js/identity.js';

// RFC 8032 §7.1 TEST 1 and RFC 7748 §6.1 (Alice).
const ED_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const ED_PUB = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const ED_SIG_EMPTY = 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';
const X_PRIV = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
const X_PUB = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';

test('fresh identity: key sizes, bind verifies, private keys non-extractable', async () => {
  const id = await makeIdentity();
  const keys = exportKeys(id);
  assert.deepEqual(Object.keys(keys).sort(), ['bind', 'seal', 'sig']);
  assert.equal(b64uDecode(keys.sig).length, 32);
  assert.equal(b64uDecode(keys.seal).length, 32);
  assert.equal(b64uDecode(keys.bind).length, 64);
  const v = await verifyKeys(keys);
  assert.deepEqual(v.sig, id.sigPublic);
  assert.deepEqual(v.seal, id.sealPublic);
  for (const k of [id.sigPrivate, id.sealPrivate]) {
    assert.equal(k.extractable, false);
    await assert.rejects(crypto.subtle.exportKey('pkcs8', k));
  }
  assert.equal(id.number, null);
  keys.sig = 'changed';
  assert.notEqual(id.keys.sig, 'changed', 'exportKeys returns a copy');
});

test('identity is structured-cloneable (what IndexedDB stores)', async () => {
  const id = await makeIdentity();
  id.number = '123456786';
  const copy = structuredClone(id);
  assert.equal(copy.number, id.number);
  assert.equal(await authProof(copy, new Uint8Array(32)), await authProof(id, new Uint8Array(32)));
});

test('importIdentityFromSeeds reproduces RFC 8032 / RFC 7748 public keys', async () => {
  const id = await importIdentityFromSeeds(fromHex(ED_SEED), fromHex(X_PRIV), '123456786');
  assert.equal(toHex(id.sigPublic), ED_PUB);
  assert.equal(toHex(id.sealPublic), X_PUB);
  assert.equal(id.keys.sig, b64uEncode(fromHex(ED_PUB)));
  assert.equal(id.keys.seal, b64uEncode(fromHex(X_PUB)));
  assert.equal(id.number, '123456786');
  assert.equal(toHex(await signWithIdentity(id, new Uint8Array(0))), ED_SIG_EMPTY);
  assert.equal(id.sigPrivate.extractable, false);
  assert.equal(id.sealPrivate.extractable, false);
  // bind = Sign(sig_priv, "safemeet/v1/seal-key\0" || seal_pub); Ed25519 is deterministic.
  const expected = await signWithIdentity(id, concatBytes(utf8Encode('safemeet/v1/seal-key\0'), fromHex(X_PUB)));
  assert.equal(id.keys.bind, b64uEncode(expected));
  await verifyKeys(id.keys);
});

test('verifyKeys rejects tampered or malformed keys', async () => {
  const a = await makeIdentity();
  const b = await makeIdentity();
  const good = exportKeys(a);
  const flipB64 = (s, len) => {
    const bytes = b64uDecode(s);
    bytes[len - 1] ^= 1;
    return b64uEncode(bytes);
  };
  const bad = {
    'seal swapped for another identity\'s': { ...good, seal: b.keys.seal },
    'sig swapped for another identity\'s': { ...good, sig: b.keys.sig },
    'bind from another identity': { ...good, bind: b.keys.bind },
    'bind bit flipped': { ...good, bind: flipB64(good.bind, 64) },
    'seal bit flipped': { ...good, seal: flipB64(good.seal, 32) },
    'sig bit flipped': { ...good, sig: flipB64(good.sig, 1) },
    'extra field': { ...good, extra: 'x' },
    'missing bind': { sig: good.sig, seal: good.seal },
    'padded b64': { ...good, sig: `${good.sig}=` },
    'standard b64 alphabet': { ...good, bind: `+${good.bind.slice(1)}` },
    'short seal': { ...good, seal: b64uEncode(new Uint8Array(31)) },
    'not a string': { ...good, seal: 5 },
  };
  for (const [name, keys] of Object.entries(bad)) await assert.rejects(verifyKeys(keys), KeysError, name);
  for (const x of [null, 'keys', [good.sig, good.seal, good.bind]]) await assert.rejects(verifyKeys(x), KeysError);
  await verifyKeys(good);
});

test('authProof signs "safemeet/v1/auth\\0" || nonce || sig_pub || seal_pub', async () => {
  const id = await makeIdentity();
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  const proof = await authProof(id, b64uEncode(nonce));
  assert.equal(proof, await authProof(id, nonce), 'bytes or b64u nonce give the same proof');
  assert.equal(b64uDecode(proof).length, 64);
  const pub = await crypto.subtle.importKey('raw', id.sigPublic, { name: 'Ed25519' }, false, ['verify']);
  const msg = concatBytes(utf8Encode('safemeet/v1/auth\0'), nonce, id.sigPublic, id.sealPublic);
  assert.ok(await crypto.subtle.verify({ name: 'Ed25519' }, pub, b64uDecode(proof), msg));
  assert.ok(await verifyAuthProof(id.keys, nonce, proof));
  const other = Uint8Array.from(nonce);
  other[0] ^= 1;
  assert.equal(await verifyAuthProof(id.keys, other, proof), false);
  await assert.rejects(authProof(id, new Uint8Array(16)), TypeError);
});
