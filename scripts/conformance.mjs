#!/usr/bin/env node
// Runs CppNix's language test suite (../shared/nix-lang-tests, through
// ../shared/tools/lang-conformance) against bin/tsnix and compares the result
// with test/lang/known-failing.txt (the ratchet).
//
//   node scripts/conformance.mjs            check: exit 1 on any unlisted failure or listed pass
//   node scripts/conformance.mjs --update   rewrite known-failing.txt from this run
//   node scripts/conformance.mjs --filter R only tests matching R (no ratchet check)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tool = path.resolve(root, '../shared/tools/lang-conformance');
const listFile = path.join(root, 'test/lang/known-failing.txt');
const args = process.argv.slice(2);
const update = args.includes('--update');
const fi = args.indexOf('--filter');
const filter = fi >= 0 ? args[fi + 1] : null;

if (!fs.existsSync(tool)) {
  console.log(`conformance: ${tool} not found; skipped`);
  process.exit(0);
}
const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-conf-')), 'r.json');
const r = spawnSync(
  process.execPath,
  [tool, '--cmd', `${path.join(root, 'bin/tsnix')} instantiate`, '--json', json, '--jobs', String(Math.max(2, os.availableParallelism())), ...(filter ? ['--filter', filter] : [])],
  { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' },
);
const summary = (r.stdout || '').split('\n').filter((l) => /^(category|parse-|eval-|total|lang-conformance:)/.test(l));
console.log(summary.join('\n'));
if (r.status !== 0) {
  console.error(`conformance: the runner failed (exit ${r.status})`);
  process.exit(1);
}
const report = JSON.parse(fs.readFileSync(json, 'utf8'));
// lang.sh's verdict: exact for *-fail tests, stdout and stderr (strict) for *-okay tests
const passes = (t) => (t.category.endsWith('-fail') ? t.exact : t.strict);
const failing = report.tests.filter((t) => t.status !== 'skipped' && !passes(t)).map((t) => t.name).sort();
if (update) {
  fs.writeFileSync(
    listFile,
    `# Language tests (../shared/nix-lang-tests) that tsnix does not pass yet (lang.sh's strict verdict).\n# Regenerate with: node scripts/conformance.mjs --update\n${failing.join('\n')}\n`,
  );
  console.log(`conformance: wrote ${failing.length} known failures to ${path.relative(root, listFile)}`);
  process.exit(0);
}
if (filter) process.exit(0);
const known = new Set(
  fs.existsSync(listFile)
    ? fs.readFileSync(listFile, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    : [],
);
const failSet = new Set(failing);
const newFailures = failing.filter((n) => !known.has(n));
const fixed = [...known].filter((n) => !failSet.has(n) && report.tests.some((t) => t.name === n));
for (const n of newFailures) {
  const t = report.tests.find((x) => x.name === n);
  console.error(`NEW FAILURE: ${n} (${t.status}${t.note ? ': ' + t.note.split('\n')[0] : ''})`);
}
for (const n of fixed) console.error(`NOW PASSING (remove it from known-failing.txt): ${n}`);
if (newFailures.length || fixed.length) process.exit(1);
console.log(`conformance: ${report.tests.length - failing.length} pass, ${failing.length} known failures, ratchet holds`);
