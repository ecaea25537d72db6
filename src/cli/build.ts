// `tsnix build`: nix-build's flags and output. Evaluates the expression (a
// file, default.nix, -E text or a .drv path), writes the derivations, builds
// them, prints the selected output paths on stdout and makes `result` links.

import { toBytes } from '../../grammar/errors.js';
import { getDerivations } from '../eval/get-derivations.js';
import type { Settings } from '../eval/settings.js';
import type { BuildResults, BuildTarget } from '../store/build/api.js';
import { buildOptionsFromSettings, parseMaxJobs } from '../store/build/options.js';
import type { LocalStore } from '../store/local-store.js';
import { autoCall, evalInput, inputsOf, makeSettings, makeState, newCommonOptions, parseCommonFlag, reportError, selectAttrPath } from './common.js';
import { makeProgress, type Progress } from './progress.js';
import { UsageError, needValue, writeErr, writeOut } from './util.js';

export interface BuildFlags {
  maxJobs?: number;
  /** --stats: print how the builder slots were used. */
  stats?: boolean;
  keepGoing?: boolean;
  quiet: boolean;
}

/** Parses -j/--max-jobs, -k/--keep-going, -Q; returns the arguments used (0 if none). */
export function parseBuildFlag(args: string[], i: number, f: BuildFlags): number {
  const a = args[i]!;
  switch (a) {
    case '-j':
    case '--max-jobs': {
      const v = needValue(args, i, a);
      f.maxJobs = parseJobs(v, a);
      return 2;
    }
    case '-k':
    case '--keep-going':
      f.keepGoing = true;
      return 1;
    case '-Q':
    case '--no-build-output':
      f.quiet = true;
      return 1;
    case '--stats':
      f.stats = true;
      return 1;
  }
  if (/^-j\d+$/.test(a)) {
    f.maxJobs = parseJobs(a.slice(2), '-j');
    return 1;
  }
  return 0;
}

function parseJobs(v: string, flag: string): number {
  const n = parseMaxJobs(v);
  if (n === null) throw new UsageError(`flag '${flag}' requires a number or 'auto', not '${v}'`);
  return n;
}

/** Build options from the settings (max-jobs, cores, keep-going, system, substituters), the flags on top. */
export async function buildOptions(f: BuildFlags, settings: Settings, store: LocalStore) {
  const o = await buildOptionsFromSettings(settings, store, (m) => writeErr(`warning: ${m}\n`));
  return { ...o, maxJobs: f.maxJobs ?? o.maxJobs, keepGoing: f.keepGoing ?? o.keepGoing };
}

/**
 * Builds the targets with the flags' and settings' options, showing progress;
 * Ctrl-C aborts (builders are killed). The results, or the exit status after
 * a failed build (its error printed).
 */
export async function runBuild(
  store: LocalStore,
  targets: BuildTarget[],
  f: BuildFlags,
  settings: Settings,
  dryRun: boolean,
  progress: Progress,
): Promise<BuildResults | number> {
  const { buildDerivations, BuildError } = await import('../store/build/index.js');
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    return await buildDerivations(store, targets, {
      ...(await buildOptions(f, settings, store)),
      events: progress.events,
      signal: controller.signal,
      dryRun,
    });
  } catch (e) {
    if (e instanceof BuildError) {
      progress.finish();
      writeErr(`error: ${e.message}\n`);
      return e.status;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    progress.finish();
  }
}

const BUILD_USAGE = `usage: tsnix build [FILE | DRV... | -E EXPR] [options]

Builds the derivations an expression evaluates to (default.nix when no file
is given), or .drv paths, as nix-build does; prints the output paths and
links result (result-2, result-dev, ...) to them.

options:
  -A, --attr PATH          select an attribute (may be repeated)
  --arg NAME EXPR          argument of a function at the top
  --argstr NAME STRING     string argument of a function at the top
  -o, --out-link LINK      name of the result link (default: result)
  --no-out-link            make no link
  -j, --max-jobs N|auto    builds in parallel (default 1)
  --cores N                NIX_BUILD_CORES of each builder
  -k, --keep-going         build what can be built after a failure
  -Q, --no-build-output    do not show the builders' output
  --dry-run                show what would be built
  --stats                  show how busy the build slots were
  -I PATH, --option NAME VALUE, --show-trace   as for tsnix instantiate
`;

export async function buildCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(BUILD_USAGE);
    return 0;
  }
  const o = newCommonOptions();
  const f: BuildFlags = { quiet: false };
  let readFromExpr = false;
  const attrPaths: string[] = [];
  let outLink: string | undefined = 'result';
  let dryRun = false;
  const files: string[] = [];
  for (let i = 0; i < args.length; ) {
    const a = args[i]!;
    let n = parseBuildFlag(args, i, f);
    if (!n) n = parseCommonFlag(args, i, o);
    if (n) {
      i += n;
      continue;
    }
    switch (a) {
      case '-E':
      case '--expr':
        readFromExpr = true;
        break;
      case '-A':
      case '--attr':
        attrPaths.push(needValue(args, i, a));
        i++;
        break;
      case '-o':
      case '--out-link':
        outLink = needValue(args, i, a);
        i++;
        break;
      case '--no-out-link':
        outLink = undefined;
        break;
      case '--dry-run':
        dryRun = true;
        break;
      default:
        if (a.startsWith('-') && a !== '-') throw new UsageError(`unrecognised flag '${a}'`);
        files.push(a);
    }
    i++;
  }
  const settings = makeSettings(o);
  const { LocalStore } = await import('../store/local-store.js');
  const { namespaceProblem } = await import('../store/build/builder.js');
  const store = new LocalStore({ autoCommit: false });
  const state = makeState(o, settings, store);
  const progress = makeProgress({ quiet: f.quiet, stats: f.stats });
  try {
    // what to build: derivations found in the values, or .drv paths given directly
    const wanted: { drvPath: string; output: string }[] = [];
    const direct = !readFromExpr && files.length > 0 && files.every((x) => x.endsWith('.drv'));
    if (direct) {
      for (const x of files) wanted.push({ drvPath: store.followLinksToStorePath(toBytes(x)), output: 'out' });
    } else {
      for (const inp of inputsOf(readFromExpr, files)) {
        const root = evalInput(state, inp);
        for (const ap of attrPaths.length ? attrPaths : ['']) {
          const v = autoCall(state, selectAttrPath(state, root, ap, o), o);
          for (const d of getDerivations(v)) wanted.push({ drvPath: d.drvPath, output: d.outputName });
        }
      }
    }
    store.commit();
    const problem = namespaceProblem(store.location);
    if (problem && !dryRun) throw new Error(problem);
    const targets: BuildTarget[] = [];
    const seen = new Set<string>();
    for (const w of wanted) {
      if (!seen.has(w.drvPath)) targets.push({ drvPath: w.drvPath });
      seen.add(w.drvPath);
    }
    const results = await runBuild(store, targets, f, settings, dryRun, progress);
    if (typeof results === 'number') return results;
    if (dryRun) return 0;
    const { addIndirectRoot } = await import('../store/gc-roots.js');
    let drvIndex = 0;
    const linkIndex = new Map<string, number>();
    for (const w of wanted) {
      const out = results.get(w.drvPath)?.get(w.output);
      if (out === undefined) throw new Error(`derivation '${w.drvPath}' has no output '${w.output}'`);
      if (outLink !== undefined) {
        let idx = linkIndex.get(w.drvPath);
        if (idx === undefined) linkIndex.set(w.drvPath, (idx = drvIndex++));
        const link = outLink + (idx > 0 ? `-${idx + 1}` : '') + (w.output === 'out' ? '' : `-${w.output}`);
        addIndirectRoot(store, out, link);
      }
      writeOut(out + '\n');
    }
    return 0;
  } catch (e) {
    progress.finish();
    store.commit();
    return reportError(e, settings.showTrace, 'nix-build');
  } finally {
    store.close();
  }
}
