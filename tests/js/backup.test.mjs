import test from 'node:test';
import assert from 'node:assert/strict';
import { scryptAsync } from '@noble/hashes/scrypt.js';
import { b64uDecode, toHex } from '../../src/safemeet/web/js/b64.js';
import {
  BackupError, FORMAT, WRONG, makeExportableIdentity, openBackup, sealBackup, unwrapSecrets,
} from '../../src/safemeet/web/js/backup.js';
import { exportKeys } from '../../src/safemeet/web/js/identity.js';
import { loadJson } from './_helpers.mjs';

const V = loadJson('backup.json');
const opts = { scrypt: scryptAsync };
const secretsOf = (c) => ({ ed25519: b64uDecode(c.secrets.ed25519, 32), x25519: b64uDecode(c.secrets.x25519, 32) });

test('every vector opens to its keys, also with the other forms of its passphrase', async () => {
  assert.equal(V.format, FORMAT);
  for (const c of V.cases) {
    for (const pw of [c.passphrase, ...(c.also_opens_with ?? [])]) {
      const s = await openBackup(c.backup, pw, opts);
      assert.deepEqual(s, secretsOf(c), c.name);
    }
    const id = await makeExportableIdentity(secretsOf(c));
    assert.deepEqual(exportKeys(id), c.public, c.name);
  }
});

test('the wrong passphrase fails with the one message', async () => {
  for (const c of V.cases) {
    await assert.rejects(openBackup(c.backup, c.wrong_passphrase, opts), (e) => e instanceof BackupError && e.message === WRONG);
  }
});

test('sealing with the vector salt and nonce gives the vector file', async () => {
  for (const c of V.cases) {
    const { salt, N } = c.backup.kdf;
    const sealed = await sealBackup(secretsOf(c), c.passphrase, {
      ...opts, N, salt: b64uDecode(salt, 16), nonce: b64uDecode(c.backup.nonce, 12),
    });
    // Any JSON serialisation of the plaintext is valid; ours happens to be Python's compact form.
    assert.deepEqual(sealed, c.backup);
  }
});

test('seal and open round trip through an exportable identity', async () => {
  const id = await makeExportableIdentity();
  const s = await unwrapSecrets(id);
  const file = JSON.parse(JSON.stringify(await sealBackup(s, 'pässword 🔑', { ...opts, N: 1024 })));
  assert.equal(file.kdf.N, 1024);
  const back = await openBackup(file, 'pa\u0308ssword 🔑', opts); // NFD form of the same passphrase
  assert.equal(toHex(back.ed25519), toHex(s.ed25519));
  assert.deepEqual(exportKeys(await makeExportableIdentity(back)), exportKeys(id));
});

test('damaged or foreign files are refused before any key derivation', async () => {
  const good = V.cases[0].backup;
  const never = async () => assert.fail('scrypt must not run');
  const bad = [
    null, [], {}, { ...good, format: 'other' },
    { ...good, kdf: { ...good.kdf, name: 'argon2' } },
    { ...good, kdf: { ...good.kdf, N: 1000 } },
    { ...good, kdf: { ...good.kdf, N: 2 ** 21 } },
    { ...good, kdf: { ...good.kdf, r: 0 } },
    { ...good, kdf: { ...good.kdf, p: '1' } },
    { ...good, kdf: { ...good.kdf, salt: 'short' } },
    { ...good, nonce: '' },
  ];
  for (const obj of bad) await assert.rejects(openBackup(obj, 'x', { scrypt: never }), BackupError);
  const flipped = { ...good, ct: `${good.ct[0] === 'A' ? 'B' : 'A'}${good.ct.slice(1)}` };
  await assert.rejects(openBackup(flipped, V.cases[0].passphrase, opts), (e) => e.message === WRONG);
});

test('an empty passphrase is refused', async () => {
  await assert.rejects(sealBackup(await unwrapSecrets(await makeExportableIdentity()), '', opts), RangeError);
});
