#!/usr/bin/env node
// CPU time (user and user+sys, min of N runs) of `bin/tsnix instantiate` on the
// shared bench workloads: a quieter measure than wall time for comparing two
// builds of tsnix on this noisy machine.
//
//   node bench/cpu.mjs [--runs N] [--parse-tree DIR/default.nix] [--vs OTHER_ROOT] NAME...
//
// With --vs, runs alternate between this checkout and OTHER_ROOT (a built copy
// of tsnix, e.g. before a change) and the ratio this/other is shown.
// NAME is a workload of ../shared/bench/workloads (#@bench lines) or
// `parse-import` (needs --parse-tree: keep one with
// `shared/tools/bench --no-ref --runs 1 --only parse-import --keep`).
// Seeded workloads get a fixed seed and a fresh store per run.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedWorkloads } from './workloads.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const wdir = path.resolve(root, '../shared/bench/workloads');
const argv = process.argv.slice(2);
let runs = 5;
let parseTree = null;
let other = null;
const names = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--runs') runs = Number(argv[++i]);
  else if (argv[i] === '--parse-tree') parseTree = argv[++i];
  else if (argv[i] === '--vs') other = path.resolve(argv[++i]);
  else names.push(argv[i]);
}

const workloads = sharedWorkloads(wdir, 'cpu-bench');
if (parseTree) workloads.set('parse-import', ['--eval', '--strict', '--json', parseTree]);

for (const name of names) {
  const w = workloads.get(name);
  if (!w) {
    console.error(`unknown workload ${name}`);
    process.exit(2);
  }
  const roots = other ? [root, other] : [root];
  const bestU = roots.map(() => Infinity);
  const bestT = roots.map(() => Infinity);
  for (let r = 0; r < runs; r++) {
    roots.forEach((dir, j) => {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-cpu-'));
      const env = { ...process.env, TSNIX_STORE_DIR: path.join(tmp, 'store'), TSNIX_STATE_DIR: path.join(tmp, 'state') };
      const p = spawnSync('/usr/bin/time', ['-f', '%U %S', path.join(dir, 'bin/tsnix'), 'instantiate', ...w], { env, encoding: 'utf8', maxBuffer: 1 << 30 });
      fs.rmSync(tmp, { recursive: true, force: true });
      if (p.status !== 0) {
        console.error(p.stderr);
        process.exit(1);
      }
      const [u, s] = p.stderr.trim().split('\n').at(-1).split(' ').map(Number);
      bestU[j] = Math.min(bestU[j], u);
      bestT[j] = Math.min(bestT[j], u + s);
    });
  }
  let line = `${name.padEnd(16)} user ${bestU[0].toFixed(2)}  user+sys ${bestT[0].toFixed(2)}`;
  if (other) line += `   other: user ${bestU[1].toFixed(2)}  user+sys ${bestT[1].toFixed(2)}   ratio ${(bestU[0] / bestU[1]).toFixed(3)}`;
  console.log(line);
}
