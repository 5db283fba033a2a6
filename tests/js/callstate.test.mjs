import test from 'node:test';
import assert from 'node:assert/strict';
import { END_TEXT, EVENTS, PHASES, ROLES, callState, transition } from '../../src/safemeet/web/js/callstate.js';
import { loadJson } from './_helpers.mjs';

const V = loadJson('callstate.json');

test('every vector case matches the Python machine', () => {
  assert.equal(V.cases.length, PHASES.length * ROLES.length * EVENTS.length);
  for (const c of V.cases) {
    const start = callState({ phase: c.phase, role: c.role, ended_by: c.ended_by, reason: c.reason });
    const step = transition(start, c.event);
    const got = { ...step.state, actions: step.actions };
    assert.deepEqual(got, c.expect, `${c.phase}/${c.role} + ${c.event}`);
  }
});

test('unknown events throw', () => {
  assert.throws(() => transition(callState(), 'explode'));
});

test('every end reason the machine produces has words', () => {
  for (const c of V.cases) if (c.expect.reason) assert.equal(typeof END_TEXT[c.expect.reason], 'string');
});

test('states are frozen', () => {
  const s = transition(callState(), 'dial').state;
  assert.ok(Object.isFrozen(s));
});
