// `tsnix store realise` (nix-store --realise) and `tsnix store log`
// (nix-store --read-log): the build side of `tsnix store`.

import { existsSync, readFileSync } from 'node:fs';
import { toBytes } from '../../grammar/errors.js';
import type { LocalStore } from '../store/local-store.js';
import { isStorePath } from '../store/store-path.js';
import { parseBuildFlag, runBuild, type BuildFlags } from './build.js';
import { makeSettings, newCommonOptions, parseCommonFlag } from './common.js';
import { makeProgress } from './progress.js';
import { UsageError, needValue, writeAll, writeErr, writeOut } from './util.js';

const bytes = toBytes;

/** `tsnix store realise [-j N] [--keep-going] [--add-root LINK] PATH[!OUTPUTS]…` */
export async function realise(store: LocalStore, args: string[]): Promise<number> {
  const o = newCommonOptions();
  const f: BuildFlags = { quiet: false };
  let addRoot: string | undefined;
  let dryRun = false;
  const operands: string[] = [];
  for (let i = 0; i < args.length; ) {
    let n = parseBuildFlag(args, i, f);
    if (!n) n = parseCommonFlag(args, i, o);
    if (n) {
      i += n;
      continue;
    }
    const a = args[i]!;
    if (a === '--add-root') {
      addRoot = needValue(args, i, a);
      i += 2;
      continue;
    }
    if (a === '--dry-run') dryRun = true;
    else if (a === '--indirect') {
      // roots are always indirect
    } else if (a.startsWith('-')) throw new UsageError(`unrecognised flag '${a}'`);
    else operands.push(a);
    i++;
  }
  const built = await realiseOperands(store, operands, f, makeSettings(o), dryRun);
  if (typeof built === 'number') return built;
  const { addIndirectRoot } = await import('../store/gc-roots.js');
  built.forEach((p, i) => {
    writeOut((addRoot !== undefined ? addIndirectRoot(store, p, i === 0 ? addRoot : `${addRoot}-${i + 1}`) : p) + '\n');
  });
  return 0;
}

/** Builds the derivations among store paths as `realise` does, printing nothing on stdout (nix-store -q -f). */
export async function realiseQuietly(store: LocalStore, paths: string[]): Promise<number> {
  const built = await realiseOperands(store, paths, { quiet: false }, makeSettings(newCommonOptions()), false);
  return typeof built === 'number' ? built : 0;
}

/** Builds the operands (DRV[!OUTPUTS] or valid paths): their output paths in order, or an exit code. */
async function realiseOperands(
  store: LocalStore,
  operands: string[],
  f: BuildFlags,
  settings: ReturnType<typeof makeSettings>,
  dryRun: boolean,
): Promise<string[] | number> {
  const { namespaceProblem } = await import('../store/build/builder.js');
  // each operand: a .drv (optionally with !outputs) or any valid store path
  const targets: { drvPath: string; outputs?: string[] }[] = [];
  const plain: string[] = [];
  for (const op of operands) {
    const bang = op.lastIndexOf('!');
    const p = store.followLinksToStorePath(bytes(bang >= 0 ? op.slice(0, bang) : op));
    if (p.endsWith('.drv')) {
      const outs = bang >= 0 ? op.slice(bang + 1).split(',') : undefined;
      targets.push(outs && !outs.includes('*') ? { drvPath: p, outputs: outs } : { drvPath: p });
    } else {
      if (!store.isValidPath(p)) {
        writeErr(`error: path '${p}' is required, but there is no substituter that can build it\n`);
        return 1;
      }
      plain.push(p);
    }
  }
  const problem = namespaceProblem(store.location);
  if (problem && targets.length) {
    writeErr(`error: ${problem}\n`);
    return 1;
  }
  const results = await runBuild(store, targets, f, settings, dryRun, makeProgress({ quiet: f.quiet, stats: f.stats }));
  if (typeof results === 'number') return results;
  if (dryRun) return [];
  const out: string[] = [];
  for (const t of targets) for (const p of results.get(t.drvPath)?.values() ?? []) out.push(p);
  out.push(...plain);
  return out;
}

/** `tsnix store log PATH…`: the build log of a derivation or of the derivation that built a path. */
export async function readLog(store: LocalStore, args: string[]): Promise<number> {
  const { buildLogPath } = await import('../store/build/index.js');
  if (args.length === 0) throw new UsageError('store log: expected a store path');
  for (const a of args) {
    const p = store.followLinksToStorePath(bytes(a));
    let drvs: string[] = [];
    if (p.endsWith('.drv')) drvs = [p];
    else {
      const d = store.queryDeriver(p);
      if (d !== undefined) drvs = [d];
    }
    const file = drvs.map((d) => buildLogPath(store.location.stateDir, d)).find((f) => existsSync(Buffer.from(f, 'latin1').toString('utf8')));
    if (file === undefined || !isStorePath(p, store.storeDir)) {
      writeErr(`error: build log of '${p}' is not available\n`);
      return 1;
    }
    writeAll(1, readFileSync(Buffer.from(file, 'latin1').toString('utf8')));
  }
  return 0;
}
