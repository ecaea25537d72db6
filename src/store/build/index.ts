/**
 * The build engine: realise derivations with CppNix's guarantees.
 *
 * - A goal per derivation that needs building (some wanted output is not
 *   valid); inputs first. Goals run as soon as their inputs are done, up to
 *   `maxJobs` at a time, across the whole graph.
 * - Per goal: the outputs' locks (held across processes, released by the
 *   kernel if the holder dies; "waiting for lock on …"), a re-check of
 *   validity under the lock (another process may have built it), leftovers
 *   of earlier failed attempts removed, the outputs made temporary GC roots,
 *   the builder run, the outputs checked, canonicalised, scanned for
 *   references and registered in one transaction. A failure registers
 *   nothing and removes what the builder left; nothing is cached about it.
 * - Without keepGoing the first failure stops the run (running builders are
 *   killed); with it, everything that does not depend on a failure is built.
 */
import { existsSync, lstatSync } from 'node:fs';
import { renderContentAddress } from '../content-address.js';
import type { PathRegistration } from '../database.js';
import { isFixedOutput, parseOutputHashAlgo, type Derivation } from '../derivation.js';
import { Hash, parseHash } from '../hash.js';
import { FileLock } from '../lock.js';
import { removeTree, type LocalStore } from '../local-store.js';
import { compareBytes } from '../store-path.js';
import { TempRoots } from '../temp-roots.js';
import { BuildError, buildLogPath, type BuildOptions, type BuildResults, type BuildTarget, type Substituter } from './api.js';
import { runBuilder } from './builder.js';
import { OutputError, analyseOutput, canonicalisePath, fixedOutputHash } from './outputs.js';

export * from './api.js';

function fsPath(p: string): Buffer {
  return Buffer.from(p, 'latin1');
}

/** The system of this machine as Nix names it (`x86_64-linux`, `aarch64-linux`, …). */
export function defaultSystem(): string {
  const arch =
    process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch === 'ia32' ? 'i686' : process.arch;
  return `${arch}-${process.platform}`;
}

export function defaultSystemFeatures(): string[] {
  const f = ['benchmark', 'big-parallel', 'nixos-test'];
  if (existsSync('/dev/kvm')) f.push('kvm');
  return f.sort();
}


/** The lock file of an output path. */
export function outputLockPath(stateDir: string, outPath: string): string {
  return `${stateDir}/locks/${outPath.slice(outPath.lastIndexOf('/') + 1)}.lock`;
}

type GoalState = 'valid' | 'waiting' | 'running' | 'built' | 'failed';

interface Goal {
  drvPath: string;
  drv: Derivation;
  wanted: Set<string>;
  state: GoalState;
  /** Goals this one needs, not finished yet. */
  pending: Set<Goal>;
  dependents: Set<Goal>;
  /** Depth-first post-order index: inputs before their dependents. */
  order: number;
  /** Inputs that failed (with keepGoing). */
  failedInputs: number;
  /** Where the outputs can be fetched from instead of building (then no inputs are needed). */
  substituter?: Substituter;
  /** The paths that fetching brings (the outputs' closure not yet valid). */
  fetched?: string[];
  error?: string;
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(2);
}

/** A substituter's answer; a cache that cannot be read counts as not having the paths. */
function safeQuery(sub: Substituter, paths: readonly string[]): ReturnType<Substituter['query']> {
  try {
    return sub.query(paths);
  } catch {
    return undefined;
  }
}

function quoteList(paths: readonly string[]): string {
  return paths.map((p) => `'${p}'`).join(', ');
}

/**
 * Build the given derivations (their wanted outputs and everything those
 * need). Resolves with every target's output paths; rejects with a
 * BuildError after reporting each failure through `events.message`.
 */
export async function buildDerivations(
  store: LocalStore,
  targets: readonly BuildTarget[],
  opts: BuildOptions = {},
): Promise<BuildResults> {
  const ev = opts.events ?? {};
  const say = (s: string): void => ev.message?.(s);
  const maxJobs = Math.max(1, opts.maxJobs ?? 1);
  const cores = opts.cores ?? 1;
  const system = opts.system ?? defaultSystem();
  const features = new Set(opts.systemFeatures ?? defaultSystemFeatures());
  const stateDir = store.location.stateDir;
  const temp = TempRoots.of(store.location.stateDir);
  store.commit();
  temp.add(targets.map((t) => t.drvPath));

  // ---- the graph
  const goals = new Map<string, Goal>();
  const fetchSizes = { download: 0, unpacked: 0 };
  let nextOrder = 0;
  const outputPathOf = (g: Goal, name: string): string => {
    const o = g.drv.outputs.get(name);
    if (!o) throw new BuildError(`derivation '${g.drvPath}' does not have wanted outputs '${name}'`);
    if (o.path === '') throw new BuildError(`derivation '${g.drvPath}' has an output '${name}' whose path is not known (content-addressed derivations are not supported)`);
    return o.path;
  };
  const needsBuild = (g: Goal): boolean => {
    for (const name of g.wanted) if (!store.isValidPath(outputPathOf(g, name))) return true;
    return false;
  };
  const visit = (drvPath: string, outputs: readonly string[] | undefined): Goal => {
    let g = goals.get(drvPath);
    if (!g) {
      if (!store.isValidPath(drvPath)) throw new BuildError(`path '${drvPath}' is not valid`);
      const drv = store.readDerivation(drvPath);
      g = { drvPath, drv, wanted: new Set(), state: 'valid', pending: new Set(), dependents: new Set(), order: -1, failedInputs: 0 };
      goals.set(drvPath, g);
    }
    const before = g.wanted.size;
    for (const o of outputs ?? [...g.drv.outputs.keys()]) g.wanted.add(o);
    if (g.state === 'valid' && (g.order < 0 || g.wanted.size !== before) && needsBuild(g)) {
      g.state = 'waiting';
      // outputs a binary cache has are fetched: nothing of the inputs is needed then
      const missing = [...g.wanted].map((o) => outputPathOf(g!, o)).filter((p) => !store.isValidPath(p));
      for (const sub of opts.substituters ?? []) {
        const q = safeQuery(sub, missing);
        if (q) {
          g.substituter = sub;
          g.fetched = q.paths;
          fetchSizes.download += q.download;
          fetchSizes.unpacked += q.unpacked;
          break;
        }
      }
      if (g.substituter) {
        if (g.order < 0) g.order = nextOrder++;
        return g;
      }
      for (const [inDrv, outs] of [...g.drv.inputDrvs].sort((a, b) => compareBytes(a[0], b[0]))) {
        const dep = visit(inDrv, [...outs]);
        if (dep.state !== 'valid') {
          g.pending.add(dep);
          dep.dependents.add(g);
        }
      }
      for (const src of g.drv.inputSrcs) {
        if (!store.isValidPath(src)) {
          throw new BuildError(`path '${src}' is required, but there is no substituter that can build it`);
        }
      }
    }
    if (g.order < 0) g.order = nextOrder++;
    return g;
  };
  const top = targets.map((t) => visit(t.drvPath, t.outputs));
  const toDo = [...goals.values()].filter((g) => g.state === 'waiting').sort((a, b) => a.order - b.order);
  const toBuild = toDo.filter((g) => !g.substituter);
  const toFetch = [...new Set(toDo.flatMap((g) => g.fetched ?? []))].sort(compareBytes);
  const fetchMessage = (): string =>
    toFetch.length === 0
      ? ''
      : (toFetch.length === 1
          ? `this path will be fetched (${mib(fetchSizes.download)} MiB download, ${mib(fetchSizes.unpacked)} MiB unpacked):\n`
          : `these ${toFetch.length} paths will be fetched (${mib(fetchSizes.download)} MiB download, ${mib(fetchSizes.unpacked)} MiB unpacked):\n`) +
        toFetch.map((p) => `  ${p}\n`).join('');
  if (opts.dryRun) {
    // as nix-build --dry-run: the plan in path order, nothing built
    const paths = toBuild.map((g) => g.drvPath).sort(compareBytes);
    if (paths.length) {
      say(
        (paths.length === 1 ? 'this derivation will be built:\n' : `these ${paths.length} derivations will be built:\n`) +
          paths.map((p) => `  ${p}\n`).join(''),
      );
    }
    if (toFetch.length) say(fetchMessage());
    return new Map();
  }
  if (toDo.length) {
    ev.plan?.(toDo.map((g) => g.drvPath));
    if (toBuild.length) {
      say(
        (toBuild.length === 1 ? 'this derivation will be built:\n' : `these ${toBuild.length} derivations will be built:\n`) +
          toBuild.map((g) => `  ${g.drvPath}\n`).join(''),
      );
    }
    if (toFetch.length) say(fetchMessage());
  }

  // ---- running
  const stop = new AbortController();
  const onOuterAbort = (): void => stop.abort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let builderFailed = false;
  let hashMismatch = false;
  let running = 0;
  const ready: Goal[] = toDo.filter((g) => g.pending.size === 0);
  // slot accounting: integrate (free slots) over time, split by whether a goal was ready
  const t0 = performance.now();
  let lastT = t0;
  let busyMs = 0;
  let schedulerIdleMs = 0;
  let graphIdleMs = 0;
  let builtCount = 0;
  const tick = (): void => {
    const now = performance.now();
    const dt = now - lastT;
    lastT = now;
    busyMs += running * dt;
    const free = maxJobs - running;
    if (free > 0) {
      const readyNow = ready.filter((g) => g.state === 'waiting').length;
      const waiting = Math.min(free, readyNow);
      schedulerIdleMs += waiting * dt;
      if (running > 0 || readyNow > 0) graphIdleMs += (free - waiting) * dt;
    }
  };

  const fail = (g: Goal, message: string | undefined): void => {
    g.state = 'failed';
    g.error = message;
    if (message !== undefined) {
      ev.finished?.(g.drvPath, message);
      if (!top.includes(g)) say(`error: ${message}\n`);
    }
    // Its dependents learn of it at once (without keepGoing they fail
    // now, as CppNix's do; with it, once their other inputs are done).
    if (message !== undefined) for (const d of g.dependents) settle(d, g, true);
    if (!opts.keepGoing) stop.abort();
  };

  const succeed = (g: Goal): void => {
    g.state = 'built';
    ev.finished?.(g.drvPath);
    for (const d of g.dependents) settle(d, g, false);
    ready.sort((a, b) => a.order - b.order);
  };

  /** An input of `d` finished: `d` becomes ready, fails (an input failed), or waits on. */
  const settle = (d: Goal, input: Goal, failed: boolean): void => {
    if (d.state !== 'waiting' || !d.pending.delete(input)) return;
    if (failed) d.failedInputs++;
    if (d.pending.size > 0 && (opts.keepGoing || !failed)) return;
    if (d.failedInputs > 0) fail(d, `${d.failedInputs} dependencies of derivation '${d.drvPath}' failed to build`);
    else ready.push(d);
  };

  const buildGoal = async (g: Goal): Promise<void> => {
    const drv = g.drv;
    const platformOk = drv.platform === system || (drv.platform === 'builtin' && drv.builder.startsWith('builtin:'));
    if (!platformOk || !requiredFeatures(drv).every((f) => features.has(f))) {
      const req = requiredFeatures(drv);
      throw new GoalError(
        `a '${drv.platform}' with features {${req.join(', ')}} is required to build '${g.drvPath}', ` +
          `but I am a '${system}' with features {${[...features].sort().join(', ')}}`,
      );
    }
    const outPaths = [...drv.outputs.values()].map((o) => o.path).sort(compareBytes);
    const locks = await lockAll(outPaths.map((p) => outputLockPath(stateDir, p)), () => {
      ev.waiting?.(g.drvPath, outPaths);
      say(`waiting for lock on ${quoteList(outPaths)}\n`);
    }, stop.signal);
    try {
      if (!needsBuild(g)) return; // built by someone else meanwhile
      for (const p of outPaths) {
        if (!store.isValidPath(p)) removeTree(fsPath(store.toPhysical(p)));
      }
      if (g.substituter) {
        const sub = g.substituter;
        temp.add(g.fetched ?? []);
        ev.started?.(g.drvPath);
        try {
          sub.substitute(
            [...g.wanted].map((o) => outputPathOf(g, o)),
            (line) => say(line + '\n'),
          );
        } catch (e) {
          throw new GoalError(e instanceof Error ? e.message : String(e));
        }
        return;
      }
      // the inputs' closure stays alive while the builder uses it, and is what references are scanned for
      const inputs = inputClosure(store, drv);
      temp.add([...outPaths, ...inputs]);
      say(`building '${g.drvPath}'...\n`);
      ev.started?.(g.drvPath);
      const res = await runBuilder({
        drvPath: g.drvPath,
        drv,
        location: store.location,
        cores,
        logFile: buildLogPath(stateDir, g.drvPath),
        onLine: ev.log ? (line) => ev.log?.(g.drvPath, line) : undefined,
        signal: stop.signal,
      });
      if (!res.ok) {
        removeOutputs(store, outPaths);
        if (res.kind === 'aborted') throw new GoalError(undefined);
        builderFailed = true;
        throw new GoalError(res.message);
      }
      try {
        registerOutputs(store, g.drvPath, drv, inputs);
      } catch (e) {
        removeOutputs(store, outPaths);
        if (e instanceof HashMismatch) hashMismatch = true;
        if (e instanceof GoalError) throw e;
        if (e instanceof OutputError) throw new GoalError(e.message);
        throw e;
      }
    } finally {
      for (const l of locks) l.release();
    }
  };

  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      try {
        while (!stop.signal.aborted && running < maxJobs && ready.length) {
          const g = ready.shift() as Goal;
          if (g.state !== 'waiting') continue;
          tick();
          g.state = 'running';
          running++;
          buildGoal(g).then(
            () => {
              tick();
              running--;
              builtCount++;
              succeed(g);
              pump();
            },
            (e: unknown) => {
              tick();
              running--;
              if (e instanceof GoalError) fail(g, e.message === '' ? undefined : e.message);
              else if (e instanceof BuildError) fail(g, e.message);
              else {
                stop.abort();
                reject(e);
                return;
              }
              pump();
            },
          );
        }
        if (running === 0) resolve();
      } catch (e) {
        reject(e);
      }
    };
    pump();
  }).finally(() => opts.signal?.removeEventListener('abort', onOuterAbort));
  if (toDo.length) {
    tick();
    ev.stats?.({ built: builtCount, maxJobs, wallMs: lastT - t0, busyMs, schedulerIdleMs, graphIdleMs });
  }

  // ---- the outcome
  const failedTop = top.filter((g) => g.state !== 'valid' && g.state !== 'built');
  if (failedTop.length) {
    const status = builderFailed || hashMismatch ? 100 | (hashMismatch ? 2 : 0) : 1;
    const unique = [...new Set(failedTop)];
    if (opts.signal?.aborted) throw new BuildError('interrupted by the user', status);
    if (unique.length === 1 && unique[0]?.error !== undefined) throw new BuildError(unique[0].error, status);
    for (const g of unique) if (g.error !== undefined) say(`error: ${g.error}\n`);
    throw new BuildError(`build of ${quoteList(unique.map((g) => g.drvPath))} failed`, status);
  }
  const results: BuildResults = new Map();
  for (const t of targets) {
    const g = goals.get(t.drvPath) as Goal;
    const m = new Map<string, string>();
    for (const name of t.outputs ?? [...g.drv.outputs.keys()]) m.set(name, outputPathOf(g, name));
    results.set(t.drvPath, m);
  }
  return results;
}

class GoalError extends Error {
  constructor(message: string | undefined) {
    super(message ?? '');
  }
}

class HashMismatch extends GoalError {}

function requiredFeatures(drv: Derivation): string[] {
  const s = drv.env.get('requiredSystemFeatures') ?? '';
  return s.split(/[ \t\n\r]+/).filter((x) => x !== '').sort();
}

/** Lock every file, in the order given (sorted: no deadlocks between processes). */
async function lockAll(files: string[], onWait: () => void, signal: AbortSignal): Promise<FileLock[]> {
  const held: FileLock[] = [];
  let warned = false;
  try {
    for (const f of files) {
      let l = FileLock.tryAcquire(f);
      if (!l) {
        l = await FileLock.acquire(f, () => {
          if (!warned) {
            warned = true;
            onWait();
          }
        }, signal);
      }
      held.push(l);
    }
    return held;
  } catch (e) {
    for (const l of held) l.release();
    throw new GoalError(signal.aborted ? undefined : (e as Error).message);
  }
}

function removeOutputs(store: LocalStore, outPaths: readonly string[]): void {
  for (const p of outPaths) {
    if (store.isValidPath(p)) continue;
    try {
      removeTree(fsPath(store.toPhysical(p)));
    } catch {
      // the GC will find it
    }
  }
}

/** Check, canonicalise, scan and register all outputs of a finished build, in one transaction. */
/** The closure of a derivation's input sources and of the input derivations' outputs it uses. */
function inputClosure(store: LocalStore, drv: Derivation): Set<string> {
  const inputs = new Set<string>(drv.inputSrcs);
  for (const [inDrv, outs] of drv.inputDrvs) {
    const known = store.queryDerivationOutputs(inDrv);
    for (const out of outs) {
      const p = known.get(out);
      if (p !== undefined) inputs.add(p);
    }
  }
  return store.computeClosure(inputs);
}

function registerOutputs(store: LocalStore, drvPath: string, drv: Derivation, inputs: Set<string>): void {
  const outputs = [...drv.outputs].sort((a, b) => compareBytes(a[0], b[0]));
  for (const [name, o] of outputs) {
    const phys = store.toPhysical(o.path);
    if (!lstatSync(fsPath(phys), { throwIfNoEntry: false })) {
      throw new GoalError(`builder for '${drvPath}' failed to produce output path for output '${name}' at '${o.path}'`);
    }
  }
  // the candidates for references: the closure of the inputs, and the outputs
  const candidates = new Set(inputs);
  for (const [, o] of outputs) candidates.add(o.path);

  const fixed = isFixedOutput(drv);
  const regs: PathRegistration[] = [];
  for (const [, o] of outputs) {
    const phys = store.toPhysical(o.path);
    canonicalisePath(phys);
    let ca: string | undefined;
    if (fixed && o.hashAlgo !== undefined && o.hash !== undefined) {
      const { method, algo } = parseOutputHashAlgo(o.hashAlgo);
      const want = parseHash(o.hash, algo);
      let got: Hash;
      try {
        got = fixedOutputHash(phys, method, algo);
      } catch (e) {
        if (e instanceof OutputError) throw new GoalError(e.message.replace(phys, o.path));
        throw e;
      }
      if (!got.equals(want)) {
        throw new HashMismatch(
          `hash mismatch in fixed-output derivation '${drvPath}':\n` +
            `         specified: ${want.format('sri', true)}\n` +
            `            got:    ${got.format('sri', true)}`,
        );
      }
      ca = renderContentAddress({ method: 'fixed', ingestion: method, hash: got });
    }
    const info = analyseOutput(phys, candidates);
    if (fixed && info.references.length) {
      throw new GoalError(`illegal path references in fixed-output derivation '${drvPath}'`);
    }
    const reg: PathRegistration = {
      path: o.path,
      narHash: info.narHash,
      narSize: info.narSize,
      references: info.references.sort(compareBytes),
      deriver: drvPath,
    };
    if (ca !== undefined) reg.ca = ca;
    regs.push(reg);
  }
  store.registerNow(regs);
}
