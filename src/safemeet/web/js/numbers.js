/**
 * Nine-digit numbers: eight payload digits (first never 0) and a Damm check digit.
 * @module numbers
 */

// The standard order-10 totally anti-symmetric quasigroup (Damm 2004).
const DAMM = [
  [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
  [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
  [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
  [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
  [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
  [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
  [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
  [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
  [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
  [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

const ASCII_DIGITS = /^[0-9]+$/;

/** Why a typed number was refused; `.reason` is one of
 * `not_digits`, `length`, `leading_zero`, `check_digit`. */
export class NumberError extends Error {
  /**
   * @param {string} reason
   * @param {string} message
   */
  constructor(reason, message) {
    super(message);
    this.name = 'NumberError';
    this.reason = reason;
  }
}

function damm(digits) {
  let interim = 0;
  for (let i = 0; i < digits.length; i++) interim = DAMM[interim][digits.charCodeAt(i) - 48];
  return interim;
}

/**
 * The Damm check digit of a string of ASCII digits (normally the eight payload digits).
 * @param {string} payload
 * @returns {string} one digit
 */
export function checkDigit(payload) {
  if (typeof payload !== 'string' || !ASCII_DIGITS.test(payload)) {
    throw new TypeError('checkDigit needs a string of ASCII digits');
  }
  return String(damm(payload));
}

/**
 * Whether `number` is a well-formed number: nine ASCII digits, first not 0, Damm over all nine is 0.
 * @param {unknown} number
 * @returns {boolean}
 */
export function isValid(number) {
  return (
    typeof number === 'string' &&
    number.length === 9 &&
    ASCII_DIGITS.test(number) &&
    number[0] !== '0' &&
    damm(number) === 0
  );
}

/**
 * Turn user input such as "123 456-789" into a nine-digit number. Leading/trailing whitespace
 * is trimmed; spaces, dashes and no-break spaces inside are removed.
 * @param {string} input
 * @returns {string}
 * @throws {NumberError}
 */
export function normalize(input) {
  if (typeof input !== 'string') throw new NumberError('not_digits', 'a number is nine digits');
  const digits = input.trim().replace(/[ \-\u00a0]/g, '');
  if (!ASCII_DIGITS.test(digits)) {
    throw new NumberError('not_digits', 'a number has only digits (spaces and dashes are ignored)');
  }
  if (digits.length !== 9) {
    throw new NumberError('length', `a number has nine digits, this has ${digits.length}`);
  }
  if (digits[0] === '0') throw new NumberError('leading_zero', 'a number never starts with 0');
  if (damm(digits) !== 0) {
    throw new NumberError('check_digit', 'wrong check digit: the number is mistyped');
  }
  return digits;
}

/**
 * Display form: "123456789" → "123 456 789". Accepts anything `normalize` accepts.
 * @param {string} n
 * @returns {string}
 * @throws {NumberError}
 */
export function formatNumber(n) {
  const d = normalize(n);
  return `${d.slice(0, 3)} ${d.slice(3, 6)} ${d.slice(6, 9)}`;
}
