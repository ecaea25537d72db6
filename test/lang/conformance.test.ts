// The ratchet over CppNix's language test suite: every test must behave as
// test/lang/known-failing.txt says (listed = fails, unlisted = passes).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');
const suite = path.resolve(root, '../shared/nix-lang-tests/lang');

it.skipIf(!fs.existsSync(suite))('language conformance ratchet', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/conformance.mjs')], { encoding: 'utf8' });
  if (r.status !== 0) console.error(r.stdout + r.stderr);
  expect(r.stderr).not.toMatch(/NEW FAILURE|NOW PASSING|runner failed/);
  expect(r.status).toBe(0);
}, 600_000);
