// Shared by the *.test.mjs files (not a test file itself).
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..');
export const JS = (name) => path.join(ROOT, 'src', 'safemeet', 'web', 'js', name);
export const VECTORS = path.join(ROOT, 'tests', 'vectors');

/** Parse tests/vectors/<name>, or an explicit path. */
export function loadJson(nameOrPath) {
  const p = path.isAbsolute(nameOrPath) ? nameOrPath : path.join(VECTORS, nameOrPath);
  return JSON.parse(readFileSync(p, 'utf8'));
}

export function vectorPath(name) {
  return path.join(VECTORS, name);
}

export { existsSync };
