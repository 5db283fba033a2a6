// Cross-implementation vectors written by tests/vectors/make_envelope_vectors.py (Python side).
// SAFEMEET_ENVELOPE_VECTORS=/path/to/file.json overrides the location (local experiments only).
import test from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex, utf8Decode, utf8Encode } from '../../src/safemeet/web/js/b64.js';
import { exportKeys, importIdentityFromSeeds } from '../../src/safemeet/web/js/identity.js';
import { ENVELOPE_INFO, EnvelopeError, ReplayGuard, openEnvelope, sealPayload, verifyEnvelope } from '../../src/safemeet/web/js/envelope.js';
import { existsSync, loadJson, vectorPath } from './_helpers.mjs';

const FILE = process.env.SAFEMEET_ENVELOPE_VECTORS || vectorPath('envelope.json');
const skip = existsSync(FILE) ? false : `${FILE} not generated yet`;
const V = skip ? null : loadJson(FILE);

const party = (p) => importIdentityFromSeeds(fromHex(p.ed25519_seed), fromHex(p.x25519_private), p.number);
const keysOf = (p, c, which) => p.keys ?? c[`${which}_keys`];

test('envelope vectors: keys, byte-exact seal, open, verify', { skip }, async () => {
  if (V.hpke_info !== undefined) assert.equal(V.hpke_info, utf8Decode(ENVELOPE_INFO));
  assert.ok(V.cases.length > 0);
  for (const c of V.cases) {
    const sender = await party(c.sender);
    const recipient = await party(c.recipient);
    assert.deepEqual(exportKeys(sender), keysOf(c.sender, c, 'sender'), `${c.name}: sender keys`);
    assert.deepEqual(exportKeys(recipient), keysOf(c.recipient, c, 'recipient'), `${c.name}: recipient keys`);
    const env = await sealPayload(sender, exportKeys(recipient), utf8Encode(c.payload_utf8), {
      ephemeralPrivateRaw: fromHex(c.ephemeral_private),
    });
    assert.equal(env, c.env, `${c.name}: env`);
    const opened = await openEnvelope(recipient, c.env);
    assert.equal(utf8Decode(opened.payloadBytes), c.payload_utf8, `${c.name}: payload`);
    assert.equal(toHex(opened.signature), c.signature_hex, `${c.name}: signature`);
    const now = c.now_ms ?? opened.inner.ts;
    const inner = await verifyEnvelope(opened, keysOf(c.sender, c, 'sender'), now, new ReplayGuard());
    assert.deepEqual(inner, JSON.parse(c.payload_utf8));
    assert.equal(inner.from, c.sender.number);
  }
});

test('envelope vectors: rejects carry the expected code', { skip }, async () => {
  assert.ok(V.rejects.length > 0);
  for (const r of V.rejects) {
    const me = await party(r.recipient);
    await assert.rejects(
      (async () => {
        const opened = await openEnvelope(me, r.env);
        await verifyEnvelope(opened, r.sender_keys, r.now_ms, new ReplayGuard());
      })(),
      (e) => {
        assert.ok(e instanceof EnvelopeError, `${r.name}: ${e}`);
        assert.equal(e.code, r.expect_code, `${r.name}: ${e.message}`);
        return true;
      },
      r.name,
    );
  }
});

test('envelope vectors: the same envelope twice is replayed', { skip: skip || (!V.replay && 'no replay case') }, async () => {
  const c = V.cases.find((x) => x.name === V.replay.case);
  const me = await party(c.recipient);
  const guard = new ReplayGuard();
  const senderKeys = keysOf(c.sender, c, 'sender');
  await verifyEnvelope(await openEnvelope(me, c.env), senderKeys, c.now_ms, guard);
  await assert.rejects(verifyEnvelope(await openEnvelope(me, c.env), senderKeys, c.now_ms + 5, guard), (e) => e.code === V.replay.expect_code);
});
