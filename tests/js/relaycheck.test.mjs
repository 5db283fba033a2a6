import test from 'node:test';
import assert from 'node:assert/strict';
import { relayFailureText, watchRelayGathering } from '../../src/safemeet/web/js/relaycheck.js';

/** Enough of an RTCPeerConnection to replay a gathering. */
class FakePc extends EventTarget {
  iceGatheringState = 'new';
  candidate(text) {
    const type = / typ (\w+)/.exec(text)?.[1] ?? null;
    this.dispatchEvent(Object.assign(new Event('icecandidate'), { candidate: text ? { candidate: text, type } : null }));
  }
  error(errorCode, errorText) {
    this.dispatchEvent(Object.assign(new Event('icecandidateerror'), { errorCode, errorText }));
  }
  complete() {
    this.iceGatheringState = 'complete';
    this.dispatchEvent(new Event('icegatheringstatechange'));
  }
}

const RELAY = 'candidate:1 1 udp 41885439 198.51.100.1 40000 typ relay raddr 0.0.0.0 rport 0 generation 0';

test('refused credentials (401) are named as such', () => {
  assert.equal(relayFailureText({ errorCode: 401, errorText: 'Unauthorized' }), 'the relay refused the credentials');
  assert.equal(relayFailureText({ errorCode: 403, errorText: 'Forbidden IP' }), 'the relay refused the allocation (403 Forbidden IP)');
  assert.equal(relayFailureText({ errorCode: 701, errorText: '' }), 'the relay could not be reached');
  assert.equal(relayFailureText(null), 'the relay gave no relay address');
});

test('a gathering without a relay candidate fails once, with the 401 kept over other errors', () => {
  const pc = new FakePc();
  const seen = [];
  watchRelayGathering(pc, (why) => seen.push(why));
  pc.error(401, 'Unauthorized');
  pc.error(701, 'timeout');
  pc.candidate(null);
  pc.complete();
  pc.complete();
  assert.deepEqual(seen, ['the relay refused the credentials']);
});

test('a gathering with a relay candidate does not fail', () => {
  const pc = new FakePc();
  const seen = [];
  watchRelayGathering(pc, (why) => seen.push(why));
  pc.error(701, 'one of two servers did not answer');
  pc.candidate(RELAY);
  pc.candidate(null);
  pc.complete();
  assert.deepEqual(seen, []);
});
