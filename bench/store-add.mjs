#!/usr/bin/env node
// `tsnix store add DIR` against `nix-store --add DIR`, side by side.
//
//   node bench/store-add.mjs [--runs N] [--tmpdir DIR] [--cmd "bin/tsnix"] [--no-ref] [--keep]
//
// Generates (deterministically) a ~100 MB tree like the shared runner's
// store-add workload: 5 000 small files (0-4 KiB, every tenth executable) in
// 50 directories nested up to 5 levels, symlinks, an empty directory and
// 3 x 30 MiB blobs. Then:
// - a check run: both implementations add the tree to a fresh store at the
//   *same* store directory, one after the other; their outputs (store paths,
//   hashes included) must be identical;
// - N timed pairs (which implementation goes first alternates), each run in a
//   fresh empty store (TSNIX_STORE_DIR + TSNIX_STATE_DIR, resp. NIX_STORE_DIR +
//   NIX_STATE_DIR + NIX_LOG_DIR), with a `sync` (untimed) before each run and a
//   new SEED file in the tree so that every pair adds a new path;
// - then N "re-add" pairs: the tree is added (untimed) to each store again and
//   then added once more, timed, while its path is valid already. They come
//   after all adds because a re-add may delete a temporary copy, and creating
//   files right after mass deletions is slow on ext4 without a journal.
// Reports medians of wall time, CPU time (user+sys, from GNU time when
// available) and peak RSS, and the ratio tsnix/CppNix as the median of the
// per-pair ratios (this machine is shared and noisy; see shared/bench/README.md).
// Nothing is deleted until the end (ext4 without a journal creates files
// slowly right after mass deletions).

import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
};
const runs = Number(opt('--runs', '5'));
const tmpBase = path.resolve(opt('--tmpdir', process.env.TMPDIR || os.tmpdir()));
const cand = opt('--cmd', path.join(here, '..', 'bin', 'tsnix')).split(' ').filter(Boolean);
const withRef = !args.includes('--no-ref');
const keep = args.includes('--keep');

const work = fs.mkdtempSync(path.join(tmpBase, 'tsnix-bench-store-add-'));
const tree = path.join(work, 'tree', 'bench-tree');
const gnuTime = ['/usr/bin/time', '/bin/time'].find((t) => {
  try {
    return spawnSync(t, ['-f', '%e', 'true']).status === 0;
  } catch {
    return false;
  }
});
const haveNix = withRef && spawnSync('nix-store', ['--version']).status === 0;

function prng(seed) {
  const key = crypto.createHash('sha256').update(seed).digest();
  const c = crypto.createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return (n) => c.update(Buffer.alloc(n));
}

function generate() {
  const rnd = prng('tsnix store-add bench');
  const sizes = rnd(5000 * 2);
  let n = 0;
  fs.mkdirSync(tree, { recursive: true });
  for (let d = 0; d < 50; d++) {
    const parts = [`dir${String(d).padStart(2, '0')}`];
    for (let k = 0; k < d % 5; k++) parts.push(`level${k}`);
    const dir = path.join(tree, ...parts);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++, n++) {
      const p = path.join(dir, `file${String(f).padStart(3, '0')}${f % 10 === 0 ? '.sh' : '.txt'}`);
      fs.writeFileSync(p, rnd(sizes.readUInt16LE(n * 2) % 4097));
      fs.chmodSync(p, f % 10 === 0 ? 0o755 : 0o644);
    }
    fs.symlinkSync('file001.txt', path.join(dir, 'link-to-file001'));
    fs.symlinkSync(`../${parts[0]}`, path.join(dir, 'link-up'));
  }
  fs.mkdirSync(path.join(tree, 'empty-dir'));
  fs.mkdirSync(path.join(tree, 'blobs'));
  for (let i = 0; i < 3; i++) {
    const fd = fs.openSync(path.join(tree, 'blobs', `blob${i}.bin`), 'w');
    for (let k = 0; k < 30; k++) fs.writeSync(fd, rnd(1024 * 1024));
    fs.closeSync(fd);
  }
}

/** Run a command; returns wall seconds, CPU seconds, peak RSS (KB) and stdout. */
function measure(cmd, env) {
  const timeFile = path.join(work, 'time.out');
  const argv = gnuTime ? [gnuTime, '-o', timeFile, '-f', '%e %U %S %M', ...cmd] : cmd;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env: { ...process.env, ...env }, encoding: 'latin1' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) {
    throw new Error(`${cmd.join(' ')} failed (${r.status}):\n${r.stderr}`);
  }
  let cpu = NaN;
  let rss = NaN;
  if (gnuTime) {
    const [, u, s, m] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    cpu = u + s;
    rss = m;
  }
  return { wall, cpu, rss, stdout: r.stdout };
}

const tsEnv = (dir) => ({ TSNIX_STORE_DIR: path.join(dir, 'store'), TSNIX_STATE_DIR: path.join(dir, 'var') });
const nixEnv = (dir) => ({
  NIX_STORE_DIR: path.join(dir, 'store'),
  NIX_STATE_DIR: path.join(dir, 'var'),
  NIX_LOG_DIR: path.join(dir, 'log'),
});
const tsCmd = [...cand, 'store', 'add', tree];
const nixCmd = ['nix-store', '--add', tree];

function rmTree(p) {
  spawnSync('chmod', ['-R', 'u+w', p]);
  fs.rmSync(p, { recursive: true, force: true });
}

const median = (xs) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

try {
  process.stderr.write(`generating the tree in ${tree} ...\n`);
  generate();
  const du = execFileSync('du', ['-sm', tree], { encoding: 'utf8' }).split('\t')[0];
  process.stderr.write(`${du} MB; candidate: ${tsCmd.join(' ')}\n`);

  // Check run: same store directory for both.
  let check = 'skipped (no nix-store)';
  if (haveNix) {
    const same = path.join(work, 'check');
    const a = measure(tsCmd, tsEnv(same)).stdout;
    fs.renameSync(same, `${same}-tsnix`); // moved away, not deleted (see above)
    const b = measure(nixCmd, nixEnv(same)).stdout;
    check = a === b ? `ok (${a.trim()})` : `MISMATCH: tsnix printed ${JSON.stringify(a)}, nix-store ${JSON.stringify(b)}`;
  }

  const rows = { ts: [], nix: [], tsRe: [], nixRe: [] };
  const impls = haveNix ? ['ts', 'nix'] : ['ts'];
  const order = (i) => (i % 2 === 0 ? impls : [...impls].reverse());
  const runDir = (i, impl) => path.join(work, 'runs', `${i}-${impl}`);
  const envFor = (i, impl) => (impl === 'ts' ? tsEnv(runDir(i, impl)) : nixEnv(runDir(i, impl)));
  const cmdFor = (impl) => (impl === 'ts' ? tsCmd : nixCmd);
  const last = (k) => (rows[k].length ? `${rows[k][rows[k].length - 1].wall.toFixed(3)} s` : '-');
  // All adds first, then all re-adds: a re-add may delete a temporary copy, and
  // creating files right after mass deletions is slow on this file system.
  for (let i = 0; i < runs; i++) {
    fs.writeFileSync(path.join(tree, 'SEED'), `${i} ${crypto.randomBytes(16).toString('hex')}`);
    for (const impl of order(i)) {
      spawnSync('sync');
      rows[impl].push(measure(cmdFor(impl), envFor(i, impl)));
    }
    process.stderr.write(`add ${i + 1}/${runs}: tsnix ${last('ts')}, CppNix ${last('nix')}\n`);
  }
  for (let i = 0; i < runs; i++) {
    for (const impl of order(i)) {
      // first an untimed add of the current tree to the store of run i, then the timed re-add
      measure(cmdFor(impl), envFor(i, impl));
      spawnSync('sync');
      rows[impl === 'ts' ? 'tsRe' : 'nixRe'].push(measure(cmdFor(impl), envFor(i, impl)));
    }
    process.stderr.write(`re-add ${i + 1}/${runs}: tsnix ${last('tsRe')}, CppNix ${last('nixRe')}\n`);
  }

  const fmt = (x, d = 2) => (Number.isNaN(x) ? '-' : x.toFixed(d));
  const line = (label, xs) =>
    `${label.padEnd(20)} ${fmt(median(xs.map((r) => r.wall))).padStart(7)} s ${fmt(median(xs.map((r) => r.cpu))).padStart(7)} s ${fmt(median(xs.map((r) => r.rss)) / 1024, 0).padStart(6)} MB`;
  const ratio = (a, b) => median(a.map((r, i) => (b[i] ? r.wall / b[i].wall : NaN)));
  const out = [
    `store-add: ${du} MB, 5 000 small files + 3 x 30 MiB, ${runs} runs per implementation, tmp ${tmpBase}`,
    `${''.padEnd(20)} ${'wall'.padStart(9)} ${'cpu'.padStart(9)} ${'rss'.padStart(9)}`,
    line('tsnix store add', rows.ts),
  ];
  if (haveNix) out.push(line('nix-store --add', rows.nix));
  out.push(line('tsnix re-add', rows.tsRe));
  if (haveNix) {
    out.push(line('nix-store re-add', rows.nixRe));
    out.push(`ratio tsnix/CppNix (median of per-pair wall ratios): add ${fmt(ratio(rows.ts, rows.nix))}x, re-add ${fmt(ratio(rows.tsRe, rows.nixRe))}x`);
  }
  out.push(`output check: ${check}`);
  process.stdout.write(out.join('\n') + '\n');
} finally {
  if (keep) process.stderr.write(`kept ${work}\n`);
  else rmTree(work);
}
