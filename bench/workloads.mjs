// Workloads shared by the bench scripts (cpu.mjs, instr.mjs, eval-only.mjs).

import fs from 'node:fs';
import path from 'node:path';

/**
 * The `instantiate` workloads of ../shared/bench/workloads (its #@bench lines):
 * name -> instantiate arguments; seeded ones get `--argstr seed SEED`.
 * Empty when the folder is missing.
 */
export function sharedWorkloads(wdir, seed) {
  const workloads = new Map();
  if (!fs.existsSync(wdir)) return workloads;
  for (const f of fs.readdirSync(wdir).filter((f) => f.endsWith('.nix'))) {
    for (const line of fs.readFileSync(path.join(wdir, f), 'utf8').split('\n')) {
      const m = /^#@bench\s+(\{.*\})\s*$/.exec(line);
      if (!m) continue;
      const spec = JSON.parse(m[1]);
      const [sub, ...args] = spec.args;
      if (sub !== 'instantiate') continue;
      workloads.set(spec.name, [...args, path.join(wdir, f), ...(spec.seed ? ['--argstr', 'seed', seed] : [])]);
    }
  }
  return workloads;
}

/**
 * Evaluations of the shared package set (pkgset.nix) that write nothing:
 * name -> instantiate arguments.
 *   drvpath-top   top.drvPath (410 derivations hashed)
 *   drvpath-warm  the same closure for 8 seeds in one process
 *   names-all     the name of each of the 3 000 packages (no derivation hashed)
 */
export function pkgsetEvaluations(pkgset, seed) {
  const warm = `let f = s: (import ${pkgset} { seed = s; }).top.drvPath; in map f [ "1" "2" "3" "4" "5" "6" "7" "8" ]`;
  const all = `let p = import ${pkgset} { }; in builtins.length (builtins.filter (x: x != "") (map (n: p.\${n}.name or "") (builtins.attrNames p)))`;
  return new Map([
    ['drvpath-top', ['--eval', '-A', 'top.drvPath', '--argstr', 'seed', seed, pkgset]],
    ['drvpath-warm', ['--eval', '--strict', '-E', warm]],
    ['names-all', ['--eval', '-E', all]],
  ]);
}
