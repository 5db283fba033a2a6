/**
 * Node wire protocol (protocol.md, "Node wire protocol"): builders for the frames a peer sends
 * and a strict parser for the frames the node sends. Pure functions, no I/O.
 * @module wire
 */

import { isValid } from './numbers.js';

/** Protocol version spoken here. */
export const VERSION = 1;
/** Largest frame the node parses, in bytes. */
export const MAX_FRAME_BYTES = 65536;
/** Largest `env` the node routes, in characters. */
export const MAX_ENV_CHARS = 60000;
/** Largest request id. */
export const MAX_ID = 2 ** 31 - 1;

/** The stable error codes of the node. */
export const ERROR_CODES = Object.freeze([
  'bad_message', 'unknown_type', 'too_large', 'unauthorized', 'unknown_number', 'invalid_number',
  'offline', 'rate_limited', 'unsupported_version', 'internal', 'unavailable',
]);

/** A frame from the node that does not fit the protocol. */
export class WireError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'WireError';
  }
}

const isObj = (x) => typeof x === 'object' && x !== null && !Array.isArray(x);
const isId = (x) => Number.isInteger(x) && x >= 0 && x <= MAX_ID;
const isStr = (x) => typeof x === 'string';

function checkId(id) {
  if (id !== undefined && !isId(id)) throw new RangeError(`request id out of range: ${id}`);
}

const withId = (id, frame) => (id === undefined ? frame : { ...frame, id });

/**
 * `register` frame answering a challenge.
 * @param {{sig: string, seal: string, bind: string}} keys
 * @param {string} proof b64u signature over the challenge
 * @returns {object}
 */
export function register(keys, proof) {
  return { t: 'register', v: VERSION, keys: { sig: keys.sig, seal: keys.seal, bind: keys.bind }, proof };
}

/**
 * `lookup` frame: ask for the keys registered for `number`.
 * @param {number} id
 * @param {string} number nine digits
 * @returns {object}
 */
export function lookup(id, number) {
  checkId(id);
  return withId(id, { t: 'lookup', number });
}

/**
 * `send` frame: route a sealed envelope to every connection of `to`.
 * @param {number} id
 * @param {string} to nine digits
 * @param {string} env sealed envelope (b64u)
 * @returns {object}
 * @throws {RangeError} if env is longer than MAX_ENV_CHARS
 */
export function send(id, to, env) {
  checkId(id);
  if (!isStr(env) || env.length > MAX_ENV_CHARS) throw new RangeError('envelope too large for the node');
  return withId(id, { t: 'send', to, env });
}

/**
 * `ping` frame.
 * @param {number} id
 * @returns {object}
 */
export function ping(id) {
  checkId(id);
  return withId(id, { t: 'ping' });
}

/**
 * Serialise a frame to JSON text.
 * @param {object} frame
 * @returns {string}
 */
export function encode(frame) {
  return JSON.stringify(frame);
}

const SCHEMAS = {
  challenge: (f) => f.v === VERSION && isStr(f.nonce),
  registered: (f) => isValid(f.number),
  keys: (f) => isValid(f.number) && isObj(f.keys),
  sent: () => true,
  pong: () => true,
  msg: (f) => isStr(f.env),
  error: (f) => isStr(f.code) && (f.message === undefined || isStr(f.message)),
};

/**
 * Parse one frame from the node. Unknown error codes are kept (the node may grow new ones).
 * @param {string} text
 * @returns {{t: string, id?: number} & Record<string, unknown>}
 * @throws {WireError} if it is not JSON, not an object or does not fit its type
 */
export function parse(text) {
  if (!isStr(text)) throw new WireError('binary frame');
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    throw new WireError('frame is not JSON');
  }
  if (!isObj(frame) || !isStr(frame.t)) throw new WireError('frame is not an object with a type');
  const schema = Object.hasOwn(SCHEMAS, frame.t) ? SCHEMAS[frame.t] : null;
  if (!schema) throw new WireError(`unknown frame type ${frame.t}`);
  if (frame.id !== undefined && !isId(frame.id)) throw new WireError('bad id');
  if (!schema(frame)) throw new WireError(`${frame.t} frame does not fit its schema`);
  return frame;
}
