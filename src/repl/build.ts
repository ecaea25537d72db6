// `:b`, `:bl` and `:log`: from a value to its derivation, the derivation's
// closure written into the real store (it was only recorded while
// evaluating), the build, and build logs.

import fs from 'node:fs';
import { fromBytes } from '../../grammar/errors.js';
import { NixError } from '../eval/errors.js';
import { coerceToString, forceStringNoCtx } from '../eval/ops.js';
import { Attrs, type Value } from '../eval/value.js';
import { buildLogPath, type BuildEvents, type BuildOptions, type BuildResults, type BuildTarget } from '../store/build/api.js';
import { buildOptionsFromSettings, type BuildSettings } from '../store/build/options.js';
import type { LocalStore } from '../store/local-store.js';
import type { RecordingStore } from '../store/recording-store.js';
import { storeLocation } from '../store/store-location.js';
import { isStorePath } from '../store/store-path.js';
import { isDerivationValue } from './print.js';

/** Progress of a build, for the live view (byte strings). */
export type BuildProgress =
  | { type: 'plan'; drvs: string[] }
  | { type: 'started'; drv: string }
  | { type: 'log'; drv: string; line: string }
  | { type: 'finished'; drv: string; error?: string }
  | { type: 'waiting'; drv: string }
  | { type: 'end' };

export type BuildDerivations = (store: LocalStore, targets: BuildTarget[], opts: BuildOptions) => Promise<BuildResults>;

/** The build engine (src/store/build/index.ts), loaded when first needed. */
let engine: BuildDerivations | null = null;

/** For tests: use another engine. */
export function setBuildEngine(fn: BuildDerivations | null): void {
  engine = fn;
}

/** Loaded on the first `:b` (it brings SQLite and the builder with it). */
async function loadEngine(): Promise<BuildDerivations> {
  engine ??= (await import('../store/build/index.js')).buildDerivations;
  return engine;
}

/**
 * The .drv path of a derivation value, checked as `nix repl` checks it: a
 * derivation with a name and a `drvPath` that is a valid store path.
 */
export function derivationPathOf(v: Value, store: RecordingStore): string {
  if (!isDerivationValue(v)) throw new NixError("expression does not evaluate to a derivation, so I can't build it");
  const a = v as Attrs;
  const name = a.get('name');
  if (name === undefined) throw new NixError('derivation name missing');
  forceStringNoCtx(name, a.posOf('name') ?? null, "while evaluating the 'name' attribute of a derivation");
  const dp = a.get('drvPath');
  if (dp === undefined) throw new NixError("expression did not evaluate to a valid derivation (no 'drvPath' attribute)");
  const pos = a.posOf('drvPath') ?? null;
  const s = coerceToString(dp, pos, { errCtx: "while evaluating the 'drvPath' attribute of a derivation" }).s;
  if (!isStorePath(s, store.storeDir)) throw new NixError(`path '${s}' is not in the Nix store`, pos);
  if (!store.isValidPath(s)) throw new NixError(`expression evaluated to invalid derivation '${s}'`);
  return s;
}

export interface BuildValueOptions {
  session: { openLocalStore(): LocalStore };
  /** Where max-jobs, cores, keep-going, system and substituters come from (as for `tsnix build`). */
  settings?: BuildSettings;
  /** Warnings (a substituter that cannot be used). */
  warn?: (text: string) => void;
  store: RecordingStore;
  signal?: AbortSignal;
  progress?: (ev: BuildProgress) => void;
  /** Messages of the builder (CppNix's stderr lines: "building '…'..."). */
  message?: (text: string) => void;
}

/** Builds the derivation a value denotes; returns its outputs (name -> path), sorted by name. */
export async function buildValue(v: Value, o: BuildValueOptions): Promise<[string, string][]> {
  const drvPath = derivationPathOf(v, o.store);
  const local = o.session.openLocalStore();
  o.store.materialize(local, [drvPath]);
  local.commit();
  const build = await loadEngine();
  const events: BuildEvents = {
    plan: (drvs) => o.progress?.({ type: 'plan', drvs: [...drvs] }),
    started: (drv) => o.progress?.({ type: 'started', drv }),
    log: (drv, line) => o.progress?.({ type: 'log', drv, line }),
    finished: (drv, error) => o.progress?.(error === undefined ? { type: 'finished', drv } : { type: 'finished', drv, error }),
    waiting: (drv) => o.progress?.({ type: 'waiting', drv }),
    message: (text) => o.message?.(text.replace(/\n$/, '')),
  };
  let results: BuildResults;
  try {
    const fromSettings = o.settings ? await buildOptionsFromSettings(o.settings, local, (m) => o.warn?.(`warning: ${m}`)) : {};
    results = await build(local, [{ drvPath }], { ...fromSettings, events, signal: o.signal });
  } finally {
    o.progress?.({ type: 'end' });
  }
  if (o.signal?.aborted) throw new NixError('interrupted by the user');
  const outs = results.get(drvPath) ?? local.queryDerivationOutputs(drvPath);
  return [...outs.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}

/** The build log of a derivation (a byte string). */
export function readBuildLog(env: NodeJS.ProcessEnv, drvPath: string): string {
  try {
    return fs.readFileSync(fromBytes(buildLogPath(storeLocation(env).stateDir, drvPath))).toString('latin1');
  } catch {
    throw new NixError(`build log of '${drvPath}' is not available`);
  }
}
