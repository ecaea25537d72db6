#!/usr/bin/env node
// Instructions executed by one `tsnix instantiate` of a benchmark workload,
// counted by valgrind's callgrind: unlike times on this shared, noisy machine
// they repeat to within about 0.1%, so an A/B of a small change is clear in
// one run.  Needs valgrind (Debian: `apt-get install valgrind`); each run
// takes about 50 times as long as without it.
//
//   node bench/instr.mjs [--vs OTHER_ROOT] [--v8 "FLAGS"] [--vs-v8 "FLAGS"] NAME...
//
// The count is split into what V8's optimising compiler (TurboFan) took,
// young- and old-generation garbage collection, and the rest (the
// interpreter and compiled code running tsnix, start-up, V8's runtime).
// Node runs with --single-threaded, so compiling and collecting happen on the
// main thread and are all counted; without a snapshot (dist/src/cli/entry.js,
// since the snapshot only loads with the flags it was built with), so module
// loading adds a constant part to "rest".
//
// NAME: a workload of ../shared/bench/workloads (#@bench lines, instantiate
// only; seeded ones get a fixed seed and write to a fresh temporary store),
// or one of these evaluations of the package set (no store writes):
//   names-all     the name of each of the 3 000 packages
//   drvpath-top   top.drvPath (410 derivations hashed)
//   drvpath-warm  the same closure for 8 seeds in one process
// (see bench/workloads.mjs)
// --vs runs the same in another checkout (built) and prints the ratio;
// --v8/--vs-v8 add V8 flags to this checkout's / the other's runs (with no
// --vs, --vs-v8 compares this checkout with and without flags).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pkgsetEvaluations, sharedWorkloads } from './workloads.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const wdir = path.resolve(root, '../shared/bench/workloads');
const pkgset = path.join(wdir, 'pkgset.nix');

const argv = process.argv.slice(2);
let other = null;
let flags = '';
let otherFlags = null;
const names = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--vs') other = path.resolve(argv[++i]);
  else if (argv[i] === '--v8') flags = argv[++i];
  else if (argv[i] === '--vs-v8') otherFlags = argv[++i];
  else names.push(argv[i]);
}
if (names.length === 0) {
  console.error('usage: node bench/instr.mjs [--vs OTHER_ROOT] [--v8 FLAGS] [--vs-v8 FLAGS] NAME...');
  process.exit(2);
}
if (spawnSync('valgrind', ['--version']).status !== 0) {
  console.error('bench/instr.mjs needs valgrind (apt-get install valgrind)');
  process.exit(2);
}

const workloads = new Map([...pkgsetEvaluations(pkgset, 'instr'), ...sharedWorkloads(wdir, 'instr')]);

// The launcher's V8 flags (bin/tsnix's v8flags= line), so that the heap is sized as in real runs.
const launcherFlags = (dir) => {
  const m = /^v8flags="([^"]*)"$/m.exec(fs.readFileSync(path.join(dir, 'bin/tsnix'), 'utf8'));
  return m ? m[1].split(' ').filter(Boolean) : [];
};

/** Inclusive instruction counts of one run, in millions. */
function measure(dir, extra, args) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-instr-'));
  try {
    const out = path.join(tmp, 'callgrind.out');
    const env = { ...process.env, TSNIX_STORE_DIR: path.join(tmp, 'store'), TSNIX_STATE_DIR: path.join(tmp, 'state') };
    delete env.NODE_EXTRA_CA_CERTS;
    const node = [process.execPath, '--stack-size=200000', '--single-threaded', ...launcherFlags(dir), ...extra.split(' ').filter(Boolean)];
    const p = spawnSync('valgrind', ['--tool=callgrind', '--cache-sim=no', '--main-stacksize=268435456', `--callgrind-out-file=${out}`, ...node, path.join(dir, 'dist/src/cli/entry.js'), 'instantiate', ...args], {
      env,
      encoding: 'latin1',
      maxBuffer: 1 << 30,
    });
    if (p.status !== 0) throw new Error(`tsnix failed under valgrind:\n${p.stderr.split('\n').filter((l) => !l.startsWith('==')).join('\n')}`);
    const a = spawnSync('callgrind_annotate', ['--inclusive=yes', out], { encoding: 'latin1', maxBuffer: 1 << 30 });
    const count = (re) => {
      const line = a.stdout.split('\n').find((l) => re.test(l));
      return line ? Number(line.trim().split(' ')[0].replaceAll(',', '')) / 1e6 : 0;
    };
    const total = count(/PROGRAM TOTALS/);
    const turbofan = count(/PipelineCompilationJob::ExecuteJobImpl/);
    const scavenge = count(/ScavengerCollector::CollectGarbage\(\)/);
    const full = count(/MarkCompactCollector::CollectGarbage\(\)/);
    return { total, turbofan, scavenge, full, rest: total - turbofan - scavenge - full };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const fmt = (c) =>
  `total ${c.total.toFixed(0).padStart(6)}M  turbofan ${c.turbofan.toFixed(0).padStart(5)}M  ` +
  `scavenge ${c.scavenge.toFixed(0).padStart(4)}M  mark-compact ${c.full.toFixed(0).padStart(4)}M  rest ${c.rest.toFixed(0).padStart(6)}M`;

for (const name of names) {
  const w = workloads.get(name);
  if (!w) {
    console.error(`unknown workload ${name}`);
    process.exit(2);
  }
  try {
    const a = measure(root, flags, w);
    console.log(`${name.padEnd(15)} ${fmt(a)}`);
    if (other !== null || otherFlags !== null) {
      const b = measure(other ?? root, otherFlags ?? '', w);
      const r = (k) => (b[k] ? (a[k] / b[k]).toFixed(3) : '-');
      console.log(`${'  other'.padEnd(15)} ${fmt(b)}`);
      console.log(`${'  ratio'.padEnd(15)} total ${r('total')}  turbofan ${r('turbofan')}  scavenge ${r('scavenge')}  rest ${r('rest')}`);
    }
  } catch (e) {
    console.error(e.message);
    process.exitCode = 1;
  }
}
