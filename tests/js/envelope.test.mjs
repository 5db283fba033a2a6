import test from 'node:test';
import assert from 'node:assert/strict';
import { b64uDecode, b64uEncode, concatBytes, utf8Encode } from '../../src/safemeet/web/js/b64.js';
import { sealBase } from '../../src/safemeet/web/js/hpke.js';
import { KeysError, exportKeys, makeIdentity } from '../../src/safemeet/web/js/identity.js';
import {
  ENVELOPE_INFO, EnvelopeError, MAX_ENV_CHARS, ReplayGuard, checkBody, makeInner, newCallId, openEnvelope, sealEnvelope, sealPayload,
  verifyEnvelope,
} from '../../src/safemeet/web/js/envelope.js';

const ALICE = '123456786';
const BOB = '987654329';
const CAROL = '555123456';
const SDP = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 AB:CD\r\n';

async function people() {
  const [alice, bob, carol] = await Promise.all([makeIdentity(), makeIdentity(), makeIdentity()]);
  alice.number = ALICE;
  bob.number = BOB;
  carol.number = CAROL;
  return { alice, bob, carol };
}
const P = await people();

const isCode = (code) => (e) => {
  assert.ok(e instanceof EnvelopeError, String(e));
  assert.equal(e.code, code, e.message);
  return true;
};

/** Alice → Bob: seal, open, verify; returns the verified inner. */
async function roundTrip(inner, { now = inner.ts, guard = new ReplayGuard() } = {}) {
  const env = await sealEnvelope(P.alice, exportKeys(P.bob), inner);
  return verifyEnvelope(await openEnvelope(P.bob, env), exportKeys(P.alice), now, guard);
}

/** Seal exact payload text (any content) from `from` identity to Bob. */
function sealRaw(text, from = P.alice) {
  return sealPayload(from, exportKeys(P.bob), utf8Encode(text));
}

function innerText(overrides = {}, drop = []) {
  const inner = { ...makeInner('hangup', newCallId(), ALICE, BOB, {}), ...overrides };
  for (const k of drop) delete inner[k];
  return JSON.stringify(inner);
}

const VALID_BODIES = {
  ring: [{ media: { audio: true, video: false }, sdp: SDP }],
  accept: [{ sdp: SDP }, { sdp: 'x'.repeat(32000) }],
  decline: [{}],
  busy: [{}],
  cancel: [{ reason: 'cancelled' }, { reason: 'timeout' }],
  ice: [
    { candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 },
    { candidate: null, sdpMid: null, sdpMLineIndex: null },
    { candidate: '', sdpMid: '0', sdpMLineIndex: null },
  ],
  offer: [{ sdp: `${SDP}a=é👩‍👩‍👧\r\n` }],
  answer: [{ sdp: SDP }],
  hangup: [{}],
};

test('every message type round-trips', async () => {
  const call = newCallId();
  for (const [type, bodies] of Object.entries(VALID_BODIES)) {
    for (const body of bodies) {
      const inner = makeInner(type, call, ALICE, BOB, body);
      assert.deepEqual(await roundTrip(inner), inner, type);
    }
  }
});

test('makeInner and newCallId', () => {
  const before = Date.now();
  const inner = makeInner('hangup', newCallId(), ALICE, BOB, {});
  assert.deepEqual(Object.keys(inner), ['v', 'type', 'call', 'from', 'to', 'ts', 'nonce', 'body']);
  assert.equal(inner.v, 1);
  assert.ok(inner.ts >= before && inner.ts <= Date.now());
  assert.equal(b64uDecode(inner.call).length, 16);
  assert.equal(b64uDecode(inner.nonce).length, 16);
  assert.notEqual(newCallId(), newCallId());
  assert.notEqual(makeInner('hangup', inner.call, ALICE, BOB, {}).nonce, inner.nonce);
});

test('env layout: b64u(enc || ct), ct = HPKE(S || P)', async () => {
  const inner = makeInner('hangup', newCallId(), ALICE, BOB, {});
  const env = await sealEnvelope(P.alice, exportKeys(P.bob), inner);
  const payload = utf8Encode(JSON.stringify(inner));
  assert.equal(b64uDecode(env).length, 32 + 64 + payload.length + 16);
  const opened = await openEnvelope(P.bob, env);
  assert.deepEqual(opened.payloadBytes, payload);
  const pub = await crypto.subtle.importKey('raw', P.alice.sigPublic, { name: 'Ed25519' }, false, ['verify']);
  assert.ok(await crypto.subtle.verify({ name: 'Ed25519' }, pub, opened.signature, concatBytes(utf8Encode('safemeet/v1/envelope\0'), payload)));
});

test('tampered ciphertext, wrong recipient, garbage: undecryptable', async () => {
  const inner = makeInner('hangup', newCallId(), ALICE, BOB, {});
  const env = await sealEnvelope(P.alice, exportKeys(P.bob), inner);
  const raw = b64uDecode(env);
  for (const i of [0, 31, 32, 60, raw.length - 1]) {
    const t = Uint8Array.from(raw);
    t[i] ^= 0x80;
    await assert.rejects(openEnvelope(P.bob, b64uEncode(t)), isCode('undecryptable'), `byte ${i}`);
  }
  await assert.rejects(openEnvelope(P.carol, env), isCode('undecryptable'));
  for (const bad of ['', '!!!', `${env}=`, env.slice(0, 40), env.slice(0, -1), env.replace(/[-_]/, '+')]) {
    if (bad === env) continue;
    await assert.rejects(openEnvelope(P.bob, bad), isCode('undecryptable'), JSON.stringify(bad.slice(0, 20)));
  }
});

test('non-string or oversized env: malformed', async () => {
  await assert.rejects(openEnvelope(P.bob, null), isCode('malformed'));
  await assert.rejects(openEnvelope(P.bob, 'A'.repeat(MAX_ENV_CHARS + 4)), isCode('malformed'));
});

test('misaddressed: sealed to Bob but "to" is Carol', async () => {
  const inner = makeInner('hangup', newCallId(), ALICE, CAROL, {});
  const env = await sealEnvelope(P.alice, exportKeys(P.bob), inner);
  await assert.rejects(openEnvelope(P.bob, env), isCode('misaddressed'));
  const nobody = { ...P.bob, number: null };
  await assert.rejects(openEnvelope(nobody, await sealEnvelope(P.alice, exportKeys(P.bob), makeInner('hangup', newCallId(), ALICE, BOB, {}))), isCode('misaddressed'));
});

test('bad_signature: signed by Carol claiming to be Alice, or checked against wrong/broken keys', async () => {
  const inner = makeInner('hangup', newCallId(), ALICE, BOB, {});
  const forged = await sealEnvelope(P.carol, exportKeys(P.bob), inner);
  const opened = await openEnvelope(P.bob, forged);
  await assert.rejects(verifyEnvelope(opened, exportKeys(P.alice), inner.ts, new ReplayGuard()), isCode('bad_signature'));
  const good = await openEnvelope(P.bob, await sealEnvelope(P.alice, exportKeys(P.bob), inner));
  await assert.rejects(verifyEnvelope(good, exportKeys(P.carol), inner.ts, new ReplayGuard()), isCode('bad_signature'));
  const brokenKeys = { ...exportKeys(P.alice), seal: P.carol.keys.seal };
  await assert.rejects(verifyEnvelope(good, brokenKeys, inner.ts, new ReplayGuard()), isCode('bad_signature'));
  const flipped = { ...good, signature: Uint8Array.from(good.signature, (b, i) => (i === 5 ? b ^ 1 : b)) };
  await assert.rejects(verifyEnvelope(flipped, exportKeys(P.alice), inner.ts, new ReplayGuard()), isCode('bad_signature'));
  await verifyEnvelope(good, exportKeys(P.alice), inner.ts, new ReplayGuard());
});

test('stale: more than 60 s off either way; exactly 60 s is fine', async () => {
  const inner = makeInner('hangup', newCallId(), ALICE, BOB, {});
  const opened = await openEnvelope(P.bob, await sealEnvelope(P.alice, exportKeys(P.bob), inner));
  const keys = exportKeys(P.alice);
  await assert.rejects(verifyEnvelope(opened, keys, inner.ts + 61000, new ReplayGuard()), isCode('stale'));
  await assert.rejects(verifyEnvelope(opened, keys, inner.ts - 61000, new ReplayGuard()), isCode('stale'));
  await verifyEnvelope(opened, keys, inner.ts + 60000, new ReplayGuard());
  await verifyEnvelope(opened, keys, inner.ts - 60000, new ReplayGuard());
});

test('replayed: same (from, nonce) twice within 120 s', async () => {
  const inner = makeInner('ice', newCallId(), ALICE, BOB, { candidate: null, sdpMid: null, sdpMLineIndex: null });
  const env = await sealEnvelope(P.alice, exportKeys(P.bob), inner);
  const guard = new ReplayGuard();
  await verifyEnvelope(await openEnvelope(P.bob, env), exportKeys(P.alice), inner.ts, guard);
  await assert.rejects(verifyEnvelope(await openEnvelope(P.bob, env), exportKeys(P.alice), inner.ts + 30000, guard), isCode('replayed'));
  // A different nonce from the same sender is fine.
  await roundTrip({ ...inner, nonce: makeInner('hangup', '', '', '', {}).nonce }, { guard });
});

test('ReplayGuard forgets after the window and stays bounded', () => {
  const g = new ReplayGuard({ windowMs: 100, maxEntries: 3 });
  assert.ok(g.checkAndRemember('a', 'n1', 0));
  assert.ok(!g.checkAndRemember('a', 'n1', 50));
  assert.ok(!g.checkAndRemember('a', 'n1', 100));
  assert.ok(g.checkAndRemember('b', 'n1', 50));
  assert.ok(g.checkAndRemember('a', 'n2', 50));
  assert.ok(g.checkAndRemember('a', 'n1', 101));
  for (let i = 0; i < 10; i++) g.checkAndRemember('c', `x${i}`, 120);
  assert.ok(g.size <= 3);
  assert.ok(!g.checkAndRemember('c', 'x9', 121));
  const d = new ReplayGuard();
  assert.equal(d.windowMs, 120000);
  assert.ok(d.checkAndRemember('123456786', 'n', 0));
  assert.ok(!d.checkAndRemember('123456786', 'n', 120000));
  assert.ok(d.checkAndRemember('123456786', 'n', 120001));
});

test('unknown type: malformed', async () => {
  const env = await sealRaw(innerText({ type: 'dance' }));
  await assert.rejects(openEnvelope(P.bob, env), isCode('malformed'));
  assert.throws(() => checkBody('dance', {}), isCode('malformed'));
  assert.throws(() => checkBody('__proto__', {}), isCode('malformed'));
  await assert.rejects(sealEnvelope(P.alice, exportKeys(P.bob), makeInner('dance', newCallId(), ALICE, BOB, {})), isCode('malformed'));
});

const BAD_BODIES = [
  ['ring', { media: { audio: true }, sdp: SDP }],
  ['ring', { media: { audio: 1, video: true }, sdp: SDP }],
  ['ring', { media: { audio: true, video: true, screen: true }, sdp: SDP }],
  ['ring', { media: null, sdp: SDP }],
  ['ring', { sdp: SDP }],
  ['ring', { media: { audio: true, video: true }, sdp: SDP, extra: 1 }],
  ['accept', { sdp: 'x'.repeat(32001) }],
  ['accept', { sdp: '' }],
  ['accept', { sdp: 5 }],
  ['accept', {}],
  ['offer', { sdp: null }],
  ['answer', { sdp: SDP, type: 'answer' }],
  ['decline', { reason: 'no' }],
  ['busy', { x: null }],
  ['hangup', { x: 1 }],
  ['cancel', { reason: 'bored' }],
  ['cancel', {}],
  ['ice', { candidate: 5, sdpMid: null, sdpMLineIndex: null }],
  ['ice', { candidate: null, sdpMid: 0, sdpMLineIndex: null }],
  ['ice', { candidate: null, sdpMid: null, sdpMLineIndex: '0' }],
  ['ice', { candidate: null, sdpMid: null, sdpMLineIndex: true }],
  ['ice', { candidate: null, sdpMid: null, sdpMLineIndex: 0.5 }],
  ['ice', { candidate: null, sdpMid: null }],
  ['ice', { candidate: null, sdpMid: null, sdpMLineIndex: null, usernameFragment: 'x' }],
  ['hangup', []],
  ['hangup', null],
];

test('wrong body shapes: malformed (checkBody, receive path, and refused by sealEnvelope)', async () => {
  for (const [type, body] of BAD_BODIES) {
    const label = `${type} ${JSON.stringify(body).slice(0, 60)}`;
    assert.throws(() => checkBody(type, body), isCode('malformed'), label);
    const inner = makeInner(type, newCallId(), ALICE, BOB, body);
    await assert.rejects(sealEnvelope(P.alice, exportKeys(P.bob), inner), isCode('malformed'), label);
    const env = await sealRaw(JSON.stringify(inner));
    await assert.rejects(
      (async () => verifyEnvelope(await openEnvelope(P.bob, env), exportKeys(P.alice), inner.ts, new ReplayGuard()))(),
      isCode('malformed'),
      label,
    );
  }
});

test('sdp length counts characters (code points), not UTF-16 units', () => {
  checkBody('accept', { sdp: '😀'.repeat(32000) });
  assert.throws(() => checkBody('accept', { sdp: '😀'.repeat(32001) }), isCode('malformed'));
});

test('a malformed body is not remembered by the replay guard', async () => {
  const inner = makeInner('hangup', newCallId(), ALICE, BOB, { x: 1 });
  const env = await sealRaw(JSON.stringify(inner));
  const guard = new ReplayGuard();
  for (let i = 0; i < 2; i++) {
    await assert.rejects(verifyEnvelope(await openEnvelope(P.bob, env), exportKeys(P.alice), inner.ts, guard), isCode('malformed'));
  }
  assert.equal(guard.size, 0);
});

test('malformed inner messages (step 2)', async () => {
  const cases = {
    'not JSON': 'not json',
    'invalid UTF-8': null,
    'BOM before JSON': `\ufeff${innerText()}`,
    'JSON array': '[1,2]',
    'JSON string': '"x"',
    'JSON null': 'null',
    'extra field': innerText({ extra: 1 }),
    'missing nonce': innerText({}, ['nonce']),
    'missing v': innerText({}, ['v']),
    'call 15 bytes': innerText({ call: b64uEncode(new Uint8Array(15)) }),
    'call padded': innerText({ call: `${newCallId()}==` }),
    'nonce not a string': innerText({ nonce: 7 }),
    'from bad check digit': innerText({ from: '123456780' }),
    'from with spaces': innerText({ from: '123 456 786' }),
    'to as integer': innerText({ to: 987654329 }),
    'ts as string': innerText({ ts: String(Date.now()) }),
    'ts fractional': innerText().replace(/"ts":(\d+)/, '"ts":$1.5'),
    'ts written as float': innerText().replace(/"ts":(\d+)/, '"ts":$1.0'),
    'ts with exponent': innerText().replace(/"ts":(\d+)/, '"ts":1.7e12'),
    'v written as 1.0': innerText().replace('"v":1', '"v":1.0'),
    'type not a string': innerText({ type: 3 }),
    'body an array': innerText({ body: [] }),
    'body null': innerText({ body: null }),
    '__proto__ field': innerText().replace('"v":1', '"__proto__":{},"v":1'),
  };
  for (const [name, text] of Object.entries(cases)) {
    const env = text === null
      ? await sealPayload(P.alice, exportKeys(P.bob), new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]))
      : await sealRaw(text);
    await assert.rejects(openEnvelope(P.bob, env), isCode('malformed'), name);
  }
});

test('numbers-looking text inside strings does not trip the float check', async () => {
  const inner = makeInner('offer', newCallId(), ALICE, BOB, { sdp: `${SDP}a=x:1.5 2e3 1E9\r\n` });
  assert.deepEqual(await roundTrip(inner), inner);
});

test('unsupported_version: v other than 1, whatever the other fields', async () => {
  for (const text of [innerText({ v: 2 }), JSON.stringify({ v: 2 }), innerText({ v: '1' }), innerText({ v: 0 }), innerText({ v: true })]) {
    await assert.rejects(openEnvelope(P.bob, await sealRaw(text)), isCode('unsupported_version'), text.slice(0, 30));
  }
  await assert.rejects(sealEnvelope(P.alice, exportKeys(P.bob), { ...makeInner('hangup', newCallId(), ALICE, BOB, {}), v: 2 }), isCode('unsupported_version'));
});

test('plaintext without a payload after the signature: malformed', async () => {
  const { enc, ct } = await sealBase(P.bob.sealPublic, ENVELOPE_INFO, new Uint8Array(0), new Uint8Array(64));
  await assert.rejects(openEnvelope(P.bob, b64uEncode(concatBytes(enc, ct))), isCode('malformed'));
});

test('sealing checks the recipient keys and the size limit', async () => {
  const inner = makeInner('hangup', newCallId(), ALICE, BOB, {});
  await assert.rejects(sealEnvelope(P.alice, { ...exportKeys(P.bob), seal: P.carol.keys.seal }, inner), KeysError);
  // Within every schema limit (32,000 characters of SDP) yet too big once UTF-8 encoded and sealed.
  const huge = makeInner('ring', newCallId(), ALICE, BOB, { media: { audio: true, video: true }, sdp: '€'.repeat(32000) });
  await assert.rejects(sealEnvelope(P.alice, exportKeys(P.bob), huge), isCode('too_large'));
  const longCandidate = makeInner('ice', newCallId(), ALICE, BOB, { candidate: 'c'.repeat(2001), sdpMid: '0', sdpMLineIndex: 0 });
  await assert.rejects(sealEnvelope(P.alice, exportKeys(P.bob), longCandidate), isCode('malformed'));
  const big = makeInner('ring', newCallId(), ALICE, BOB, { media: { audio: true, video: true }, sdp: 's'.repeat(32000) });
  const env = await sealEnvelope(P.alice, exportKeys(P.bob), big);
  assert.ok(env.length <= MAX_ENV_CHARS);
  assert.deepEqual(await verifyEnvelope(await openEnvelope(P.bob, env), exportKeys(P.alice), big.ts, new ReplayGuard()), big);
});
