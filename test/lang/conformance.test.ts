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

// tsnix's max-call-depth defaults to 250 000 (deep but legal recursion), so
// these three tests, written for CppNix's 10 000, are known failures above;
// with CppNix's setting they must match to the byte.
it.skipIf(!fs.existsSync(suite))("the *-stack-overflow tests match exactly with CppNix's max-call-depth", () => {
  for (const t of ['deepseq', 'toJSON', 'derivation-structuredAttrs']) {
    const file = path.join(suite, `eval-fail-${t}-stack-overflow.nix`);
    const r = spawnSync(path.join(root, 'bin/tsnix'), ['instantiate', '--eval', '--strict', '--option', 'max-call-depth', '10000', file], {
      encoding: 'utf8',
      env: { ...process.env, NIX_CONFIG: 'show-trace = true', NIX_PATH: '' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr.split(path.dirname(suite)).join('/pwd')).toBe(fs.readFileSync(file.replace(/\.nix$/, '.err.exp'), 'utf8'));
  }
}, 120_000);
