#!/usr/bin/env node
// Side-by-side wall time of tsnix and CppNix on the package set of the shared
// benchmarks, evaluation only: no .drv file is written.  The shared bench's
// pkgset-top and pkgset-all include writing the .drv files, which takes
// CppNix most of its time; these show how fast derivations are evaluated
// and hashed.
//
//   node bench/eval-only.mjs [--runs N] [NAME...]
//
// Workloads:
//   drvpath-top   instantiate --eval -A top.drvPath (410 derivations hashed;
//                 CppNix with --readonly-mode)
//   drvpath-warm  the same closure for 8 seeds in one process (warm code)
//   names-all     the name of every package (the whole fixpoint, no derivation hashed)
// Both get the same store directory (nothing is written to it), so their
// outputs must be byte-identical.  Without nix-instantiate on PATH only
// tsnix is measured.  Runs alternate (tsnix, CppNix, ...); medians shown.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pkgsetEvaluations } from './workloads.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkgset = path.resolve(root, '../shared/bench/workloads/pkgset.nix');
const argv = process.argv.slice(2);
let runs = 5;
const names = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--runs') runs = Number(argv[++i]);
  else names.push(argv[i]);
}

const workloads = Object.fromEntries(pkgsetEvaluations(pkgset, 'eval-only'));
const chosen = names.length ? names : Object.keys(workloads);
for (const n of chosen) {
  if (!workloads[n]) {
    console.error(`unknown workload ${n} (known: ${Object.keys(workloads).join(', ')})`);
    process.exit(2);
  }
}

if (!fs.existsSync(pkgset)) {
  console.error(`eval-only: ${pkgset} is missing (../shared/bench beside the project)`);
  process.exit(2);
}
const haveNix = spawnSync('nix-instantiate', ['--version'], { encoding: 'utf8' }).status === 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-eval-only-'));
const store = path.join(tmp, 'store');
const env = {
  ...process.env,
  TSNIX_STORE_DIR: store,
  TSNIX_STATE_DIR: path.join(tmp, 'tsnix-state'),
  NIX_STORE_DIR: store,
  NIX_STATE_DIR: path.join(tmp, 'nix-state'),
  NIX_LOG_DIR: path.join(tmp, 'nix-log'),
};

function run(cmd, args) {
  const t0 = process.hrtime.bigint();
  const p = spawnSync(cmd, args, { env, encoding: 'latin1', maxBuffer: 1 << 30 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (p.status !== 0) throw new Error(`${cmd} failed:\n${p.stderr}`);
  return { ms, out: p.stdout };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${'workload'.padEnd(14)} ${'tsnix'.padStart(9)} ${'CppNix'.padStart(9)}  ratio  check`);
try {
  for (const n of chosen) {
    const args = workloads[n];
    const ts = [];
    const nx = [];
    let check = haveNix ? 'ok' : '-';
    for (let r = 0; r <= runs; r++) {
      const a = run(path.join(root, 'bin/tsnix'), ['instantiate', ...args]);
      const b = haveNix ? run('nix-instantiate', ['--readonly-mode', ...args]) : null;
      if (b && a.out !== b.out) check = 'MISMATCH';
      if (r === 0) continue; // warm-up pair
      ts.push(a.ms);
      if (b) nx.push(b.ms);
    }
    const t = median(ts);
    const c = haveNix ? median(nx) : NaN;
    const ratio = haveNix ? `${(t / c).toFixed(2)}x` : '-';
    console.log(`${n.padEnd(14)} ${`${t.toFixed(0)} ms`.padStart(9)} ${haveNix ? `${c.toFixed(0)} ms`.padStart(9) : '-'.padStart(9)}  ${ratio.padStart(5)}  ${check}`);
  }
} catch (e) {
  console.error(e.message);
  process.exitCode = 1;
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
