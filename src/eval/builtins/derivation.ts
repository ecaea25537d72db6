// Derivations and the store as the evaluator sees it: derivationStrict, the
// `derivation` wrapper, placeholder, toFile, path, filterSource, storePath,
// outputOf, fetchurl and fetchTarball (file:// only), and the copying of path
// values into the store when they are interpolated (`"${./file}"`).
//
// The evaluator reaches the store only through `state.store` (a StoreApi):
// a ComputeStore computes every path without writing, a LocalStore writes.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Source, type EAttrs, type ELambda, type ELet, type Expr, type Pos } from '../../../grammar/ast.js';
import { fromBytes, showPos, toBytes } from '../../../grammar/errors.js';
import { canQueryReferences } from '../../store/compute-store.js';
import { toFsPath } from '../../store/fs-path.js';
import {
  derivationReferences,
  fillInOutputPaths,
  type Derivation,
  type DerivationOutput,
  type DrvHashContext,
  type DrvHashModulo,
} from '../../store/derivation.js';
import { MissingFeatureError, hashFileSync, parseHashAlgo, parseHashAllowEmpty, type Hash, type HashAlgo } from '../../store/hash.js';
import type { AddPathOptions, FileType, StoreApi } from '../../store/store-api.js';
import {
  BadStorePathNameError,
  checkStorePathName,
  compareBytes,
  downstreamPlaceholder,
  isInStore,
  makeFixedOutputPath,
  placeholder,
  splitStorePath,
} from '../../store/store-path.js';
import { NixError, renderError } from '../errors.js';
import {
  callN,
  coerceToString,
  forceAttrs,
  forceBool,
  forceFunction,
  forceList,
  forceStringNoCtx,
  forceStringValue,
  mergeContexts,
  setCopyPathToStore,
} from '../ops.js';
import type { EvalState } from '../state.js';
import { Compiler, updateAttrs } from '../compile.js';
import { Attrs, EMPTY_CTX, Lambda, Layout, NixStr, Thunk, UNMADE, filledArray, force, type Context, type Env, type PosTable, type Value, namesKey } from '../value.js';
import { valueToJSON } from './json.js';
import { lstatOrNull, realisePath } from './paths.js';
import { argCtx, type Registry } from './registry.js';

// ---------------------------------------------------------------- helpers

/** Runs `f`; a NixError leaving it gets the frame `msg` (at `pos`). */
function withTrace<T>(msg: string, pos: Pos | null, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof NixError) e.addTrace(msg, pos);
    throw e;
  }
}

/** Errors of the store layer (bad names, bad hashes, I/O) as evaluation errors. */
function storeCall<T>(pos: Pos | null, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof NixError) throw e;
    // Programming errors stay what they are.
    if (!(e instanceof Error) || e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError) {
      throw e;
    }
    // System errors (ENOENT, …) speak Unicode; the store's own errors are byte strings already.
    const sys = typeof (e as NodeJS.ErrnoException).code === 'string';
    throw new NixError(sys ? toBytes(e.message) : e.message, pos);
  }
}

function experimentalFeatureError(feature: string, pos: Pos | null): NixError {
  return new NixError(new MissingFeatureError(feature).message, pos);
}

function requireFeature(state: EvalState, feature: string, pos: Pos | null): void {
  if (!state.settings.experimentalFeatures.has(feature)) throw experimentalFeatureError(feature, pos);
}

/** A warning carrying trace frames, printed as CppNix prints them (`warning:` + frames). */
function warnWithTrace(state: EvalState, w: NixError): void {
  if (state.settings.bool('abort-on-warn')) {
    throw new NixError(`${w.msg}\n(aborting on warning because abort-on-warn is set)`, w.pos);
  }
  state.stderr(renderError(w, state.settings.showTrace, 'warning') + '\n');
}

function baseName(p: string): string {
  const s = p.endsWith('/') ? p.slice(0, -1) : p;
  return s.slice(s.lastIndexOf('/') + 1);
}

/** Per-state caches: path value -> store path, and hashDerivationModulo results. */
interface StoreCaches {
  srcToStore: Map<string, string>;
  drvHashes: Map<string, DrvHashModulo>;
  /** Derivations this evaluation wrote whose hashDerivationModulo has not been needed yet. */
  written: Map<string, Derivation>;
  /** `readDerivation` of drvHashContext: from `written` when there, else from the store. */
  read: (drvPath: string) => Derivation;
}
const caches = new WeakMap<EvalState, StoreCaches>();
/** How many written derivations are kept for their hashDerivationModulo (see StoreCaches.written). */
const MAX_WRITTEN = 4096;
function cachesOf(state: EvalState): StoreCaches {
  let c = caches.get(state);
  if (!c) {
    const written = new Map<string, Derivation>();
    const read = (p: string): Derivation => {
      const d = written.get(p);
      if (d === undefined) return state.store.readDerivation(p);
      // (its hash is memoised in drvHashes from now on)
      written.delete(p);
      return d;
    };
    caches.set(state, (c = { srcToStore: new Map(), drvHashes: new Map(), written, read }));
  }
  return c;
}

function drvHashContext(state: EvalState): DrvHashContext {
  const c = cachesOf(state);
  return { readDerivation: c.read, memo: c.drvHashes };
}

/**
 * Copies the file or tree at `p` into the store (the coercion of a path value
 * to a string, `"${./file}"`): a source path named after its base name.
 */
export function copyPathToStore(state: EvalState, p: string, pos: Pos | null): string {
  const cache = cachesOf(state).srcToStore;
  const hit = cache.get(p);
  if (hit !== undefined) return hit;
  if (p.endsWith('.drv')) throw new NixError(`file names are not allowed to end in '.drv'`, pos);
  if (lstatOrNull(p) === null) throw new NixError(`path '${p}' does not exist`, null);
  const name = baseName(p);
  const res = storeCall(pos, () => {
    checkStorePathName(name);
    return state.store.addPath(p, { name, method: 'recursive' });
  });
  cache.set(p, res.path);
  return res.path;
}

/** The store paths of the closure of `p` (p included), following references. */
function computeClosure(store: StoreApi, p: string, out: Set<string>): void {
  const todo = [p];
  while (todo.length) {
    const x = todo.pop()!;
    if (out.has(x)) continue;
    out.add(x);
    let refs: readonly string[] | undefined = canQueryReferences(store) ? store.queryReferences(x) : undefined;
    if (refs === undefined && x.endsWith('.drv')) refs = derivationReferences(store.readDerivation(x));
    if (refs) for (const r of refs) if (!out.has(r)) todo.push(r);
  }
}

// ---------------------------------------------------------------- derivationStrict

/** The names of `outputs`, checked as CppNix checks them (no duplicates, no `drvPath`, not none). */
function checkOutputNames(names: string[], pos: Pos | null): Set<string> {
  const outputs = new Set<string>();
  for (const o of names) {
    if (outputs.has(o)) throw new NixError(`duplicate derivation output '${o}'`, pos);
    if (o === 'drvPath') throw new NixError(`invalid derivation output name 'drvPath'`, pos);
    outputs.add(o);
  }
  if (outputs.size === 0) throw new NixError('derivation cannot have an empty set of outputs', pos);
  return outputs;
}

/** Whitespace-separated words (CppNix's tokenizeString with " \t\n\r"). */
function tokenize(s: string): string[] {
  return s.split(/[ \t\n\r]+/).filter((w) => w !== '');
}

type Ingestion = 'flat' | 'recursive' | 'text' | 'git';

function parseHashMode(state: EvalState, s: string, pos: Pos | null): Ingestion {
  let m: Ingestion;
  switch (s) {
    case 'recursive':
    case 'nar':
      m = 'recursive';
      break;
    case 'flat':
      m = 'flat';
      break;
    case 'text':
      m = 'text';
      requireFeature(state, 'dynamic-derivations', pos);
      break;
    case 'git':
      m = 'git';
      requireFeature(state, 'git-hashing', pos);
      break;
    default:
      throw new NixError(`invalid value '${s}' for 'outputHashMode' attribute`, pos);
  }
  return m;
}

/** How derivationStrict coerces attribute values (and `args` elements) to strings. */
const DRV_COERCE = { coerceMore: true, copyToStore: true } as const;

/** The attributes that `__structuredAttrs` replaces by `outputChecks`. */
const LEGACY_CHECKS = new Set([
  'allowedReferences',
  'allowedRequisites',
  'disallowedReferences',
  'disallowedRequisites',
  'maxSize',
  'maxClosureSize',
]);

function derivationStrict(state: EvalState, arg: Value, callPos: Pos | null): Value {
  const attrs = forceAttrs(arg, callPos, 'while evaluating the argument passed to builtins.derivationStrict');
  const nameV = attrs.get('name');
  if (nameV === undefined) {
    throw new NixError(`attribute 'name' missing`, null).addTrace(
      'in the attrset passed as argument to builtins.derivationStrict',
      callPos,
    );
  }
  const namePos = attrs.posOf('name') ?? null;
  const drvName = withTrace(`while evaluating the derivation attribute 'name'`, namePos, () =>
    forceStringNoCtx(nameV, null, 'while evaluating the `name` attribute passed to builtins.derivationStrict'),
  );
  try {
    return derivationStrictInternal(state, attrs, drvName, callPos);
  } catch (e) {
    if (e instanceof NixError) {
      e.addTrace(
        `while evaluating derivation '${drvName}'\nwhose name attribute is located at ${namePos ? showPos(namePos) : toBytes('«none»')}`,
        null,
        true, // shown without --show-trace too: it tells which package failed
      );
    }
    throw e;
  }
}

function derivationStrictInternal(state: EvalState, attrs: Attrs, drvName: string, callPos: Pos | null): Value {
  const optBool = (key: string): boolean => {
    const v = attrs.get(key);
    return v === undefined
      ? false
      : forceBool(v, callPos, `while evaluating the \`${key}\` attribute passed to builtins.derivationStrict`);
  };
  const structuredAttrs = optBool('__structuredAttrs');
  const ignoreNulls = optBool('__ignoreNulls');

  const env = new Map<string, string>();
  const json = structuredAttrs ? new Map<string, string>() : null;
  let builder = '';
  let platform = '';
  const args: string[] = [];
  let ctx: Context = EMPTY_CTX;
  let contentAddressed = false;
  let impure = false;
  let outputHash: string | undefined;
  let outputHashAlgo: string | undefined;
  let ingestion: Ingestion | undefined;
  let outputs = new Set(['out']);

  // Errors below have no position of their own: the frame of the attribute shows it.
  const coerce = (v: Value): string => {
    const r = coerceToString(v, null, DRV_COERCE);
    if (r.ctx.size) ctx = mergeContexts(ctx, r.ctx);
    return r.s;
  };
  const str = (v: Value): string => {
    const s = forceStringValue(v, null);
    if (typeof s === 'string') return s;
    if (s.ctx.size) ctx = mergeContexts(ctx, s.ctx);
    return s.s;
  };

  // (one attribute; its position and the frame's text are made only when needed)
  const attribute = (key: string): void => {
    const v = force(attrs.get(key)!);
    if (ignoreNulls && v === null) return;
    if (key === '__contentAddressed') {
      contentAddressed = forceBool(v, null);
      if (contentAddressed) requireFeature(state, 'ca-derivations', null);
    } else if (key === '__impure') {
      impure = forceBool(v, null);
      if (impure) requireFeature(state, 'impure-derivations', null);
    } else if (key === 'args') {
      for (const el of forceList(v, null)) {
        try {
          args.push(coerce(el));
        } catch (e) {
          if (e instanceof NixError) e.addTrace('while evaluating an element of the argument list', null);
          throw e;
        }
      }
    } else if (json) {
      if (key === '__structuredAttrs') return;
      const acc = { ctx: EMPTY_CTX as Context };
      json.set(key, valueToJSON(v, attrs.posOf(key) ?? null, true, acc));
      if (acc.ctx.size) ctx = mergeContexts(ctx, acc.ctx);
      switch (key) {
        case 'builder':
          builder = str(v);
          break;
        case 'system':
          platform = forceStringNoCtx(v, null);
          break;
        case 'outputHash':
          outputHash = forceStringNoCtx(v, null);
          break;
        case 'outputHashAlgo':
          outputHashAlgo = forceStringNoCtx(v, null);
          break;
        case 'outputHashMode':
          ingestion = parseHashMode(state, forceStringNoCtx(v, null), null);
          break;
        case 'outputs':
          outputs = checkOutputNames(
            forceList(v, null).map((o) => forceStringNoCtx(o, null)),
            null,
          );
          break;
        default:
          if (LEGACY_CHECKS.has(key)) {
            const w = new NixError(
              `'structuredAttrs' disables the effect of the derivation attribute '${key}'; use 'outputChecks.<output>.${key}' instead`,
              attrs.posOf(key) ?? null,
            );
            w.addTrace(`while evaluating derivation '${drvName}'`);
            warnWithTrace(state, w);
          }
      }
    } else {
      const s = coerce(v);
      env.set(key, s);
      switch (key) {
        case 'builder':
          builder = s;
          break;
        case 'system':
          platform = s;
          break;
        case 'outputHash':
          outputHash = s;
          break;
        case 'outputHashAlgo':
          outputHashAlgo = s;
          break;
        case 'outputHashMode':
          ingestion = parseHashMode(state, s, null);
          break;
        case 'outputs':
          outputs = checkOutputNames(tokenize(s), null);
          break;
      }
    }
  };
  for (const key of attrs.keys()) {
    if (key === '__ignoreNulls') continue;
    try {
      attribute(key);
    } catch (e) {
      if (e instanceof NixError) e.addTrace(`while evaluating attribute '${key}' of derivation '${drvName}'`, attrs.posOf(key) ?? null);
      throw e;
    }
  }

  if (json) {
    let text = '{';
    let first = true;
    for (const k of [...json.keys()].sort(compareBytes)) {
      if (!first) text += ',';
      first = false;
      text += `${jsonKey(k)}:${json.get(k)!}`;
    }
    env.set('__json', text + '}');
  }

  // The string contexts become the inputs.
  const inputSrcs = new Set<string>();
  const inputDrvs = new Map<string, Set<string>>();
  const addInputDrv = (drvPath: string, out: string): void => {
    let s = inputDrvs.get(drvPath);
    if (!s) inputDrvs.set(drvPath, (s = new Set()));
    s.add(out);
  };
  for (const c of ctx) {
    if (c.startsWith('=')) {
      // All outputs of a derivation and, as CppNix does, everything the .drv refers to.
      const closure = new Set<string>();
      storeCall(null, () => computeClosure(state.store, c.slice(1), closure));
      for (const p of closure) {
        inputSrcs.add(p);
        if (p.endsWith('.drv')) {
          const d = storeCall(null, () => state.store.readDerivation(p));
          for (const o of d.outputs.keys()) addInputDrv(p, o);
        }
      }
    } else if (c.startsWith('!')) {
      const i = c.indexOf('!', 1);
      addInputDrv(c.slice(i + 1), c.slice(1, i));
    } else {
      inputSrcs.add(c);
    }
  }

  if (builder === '') throw new NixError(`required attribute 'builder' missing`, null);
  if (platform === '') throw new NixError(`required attribute 'system' missing`, null);
  if (drvName.endsWith('.drv')) {
    throw new NixError(`derivation names are not allowed to end in '.drv'`, null);
  }
  try {
    checkStorePathName(drvName);
  } catch (e) {
    if (e instanceof BadStorePathNameError) {
      throw new NixError(`invalid derivation name: ${e.message}. Please pass a different 'name'.`, null);
    }
    throw e;
  }

  const drvOutputs = new Map<string, DerivationOutput>();
  let drv: Derivation = {
    name: drvName,
    outputs: drvOutputs,
    inputDrvs,
    inputSrcs,
    platform,
    builder,
    args,
    env,
  };

  if (outputHash !== undefined) {
    if (outputs.size !== 1 || !outputs.has('out')) {
      throw new NixError('multiple outputs are not supported in fixed-output derivations', null);
    }
    const method = ingestion ?? 'flat';
    if (method === 'text' || method === 'git') {
      throw new NixError(`outputHashMode '${method}' is not supported by tsnix yet`, null);
    }
    const h = storeCall(null, () =>
      parseHashAllowEmpty(outputHash!, outputHashAlgo ? parseHashAlgo(outputHashAlgo) : undefined, (msg) =>
        state.warn(msg),
      ),
    );
    const outPath = storeCall(null, () => makeFixedOutputPath(drvName, method, h, state.store.storeDir));
    env.set('out', outPath);
    drvOutputs.set('out', {
      path: outPath,
      hashAlgo: (method === 'recursive' ? 'r:' : '') + h.algo,
      hash: h.toBase16(),
    });
  } else if (contentAddressed || impure) {
    if (contentAddressed && impure) {
      throw new NixError('derivation cannot be both content-addressed and impure', null);
    }
    if (impure) throw new NixError('impure derivations are not supported by tsnix yet', null);
    const method = ingestion ?? 'recursive';
    if (method === 'text' || method === 'git') {
      throw new NixError(`outputHashMode '${method}' is not supported by tsnix yet`, null);
    }
    const algo: HashAlgo = outputHashAlgo ? storeCall(null, () => parseHashAlgo(outputHashAlgo!)) : 'sha256';
    for (const o of outputs) {
      env.set(o, placeholder(o));
      drvOutputs.set(o, { path: '', hashAlgo: (method === 'recursive' ? 'r:' : '') + algo });
    }
  } else {
    for (const o of outputs) {
      env.set(o, '');
      drvOutputs.set(o, { path: '' });
    }
    drv = storeCall(null, () => fillInOutputPaths(drv, drvHashContext(state), state.store.storeDir));
  }

  // Derivations depending on this one need its hashDerivationModulo: it is
  // computed from `drv` itself when first needed (not read back from the
  // store), then memoised per state in drvHashContext.
  const drvPath = storeCall(null, () => state.store.writeDerivation(drv));
  const c = cachesOf(state);
  if (!c.drvHashes.has(drvPath)) {
    c.written.set(drvPath, drv);
    // (bounded: inputs are written just before the derivations that need them;
    // an older one is read back from the store)
    if (c.written.size > MAX_WRITTEN) c.written.delete(c.written.keys().next().value!);
  }

  const m = new Map<string, Value>();
  m.set('drvPath', new NixStr(drvPath, new Set(['=' + drvPath])));
  for (const o of [...drv.outputs.keys()].sort(compareBytes)) {
    const p = drv.outputs.get(o)!.path;
    m.set(o, new NixStr(p !== '' ? p : downstreamPlaceholder(drvPath, o), new Set([`!${o}!${drvPath}`])));
  }
  return new Attrs(m);
}

function jsonKey(k: string): string {
  // The keys of __json are written like JSON strings (json.ts's escaping).
  return valueToJSON(k, null, false, { ctx: EMPTY_CTX });
}

// ---------------------------------------------------------------- the `derivation` wrapper

/**
 * `derivation`, written in Nix on top of derivationStrict. Error traces show
 * lines of this text under the name «nix-internal»/derivation-internal.nix,
 * as CppNix's do, so the lines binding `strict` (36) and the output sets
 * (48-50) must stay where they are.
 */
const DERIVATION_NIX = `# derivation attrs
#
# The function behind \`derivation\` (and \`builtins.derivation\`).
#
# \`derivationStrict\` does the work: from the attributes it makes the store
# derivation and returns an attribute set with its .drv path (\`drvPath\`)
# and one path per output.  This function gives that result its usual shape,
# lazily, so that nothing is instantiated before a path is asked for:
#
#   - the result is \`attrs\` extended with \`type = "derivation"\`, \`drvPath\`,
#     \`outPath\` and \`outputName\` of the first output, \`drvAttrs\` (the
#     attributes as they were given) and \`all\` (the sets of all outputs);
#   - for every output \`o\` there is an attribute \`o\`: the same kind of set,
#     whose \`outPath\` and \`outputName\` are those of \`o\`.  So \`d.dev\` and
#     \`d.dev.out\` and \`d.out\` are what one expects;
#   - \`outputs\` defaults to [ "out" ]; the first one is the default output.
#
# Two derivations compare equal when their \`outPath\`s do (see \`==\`).
#
# Error traces show lines of this file as CppNix shows lines of its own, so
# the layout matters: the call of \`derivationStrict\` must stay on line 36
# and the attributes of an output set on lines 48-50.
#
# Attribute order: \`commonAttrs\` starts with \`outPath\` and \`drvPath\` (both
# replaced in every output set) so that deep forcing (--strict) reaches
# derivationStrict before the attributes, as in CppNix, where those names sort first.
#
# \`strict\` is shared by all outputs: derivationStrict runs once per
# derivation, when the first path is needed.
#
# (\`outputSets\` maps each output name to its set.)
#
drvAttrs@{ outputs ? [ "out" ], ... }:
let

  strict = derivationStrict drvAttrs;

  outputSets = builtins.listToAttrs (
    map (name: { inherit name; value = (forOutput name).value; }) outputs
  );

  commonAttrs = { outPath = null; drvPath = null; } // drvAttrs // outputSets // {
    all = map (o: outputSets.\${o}) outputs;
    inherit drvAttrs;
  };

  forOutput = outputName: {
    value = commonAttrs // {
      outPath = strict.\${outputName};
      drvPath = strict.drvPath;
      type = "derivation";
      inherit outputName;
    };
  };

in
outputSets.\${builtins.head outputs}
`;

export const DERIVATION_ORIGIN = toBytes('«nix-internal»/derivation-internal.nix');

/**
 * The `derivation` function: the lambda of DERIVATION_NIX, whose body is
 * assembled here for the usual case (`outputs` a non-empty list of distinct
 * plain strings) from the compiled parts of that same text: `strict`,
 * `commonAttrs` and the body of `forOutput` run as they are, in environments
 * laid out as the `let` lays them out, so values, laziness, positions and
 * error frames are those of the Nix code.  Only the glue that cannot fail
 * for such outputs is native: the `outputSets` set (listToAttrs of a map
 * over `outputs`, one `forOutput` call and `{ value = …; }` set per output)
 * and the final selection.  Any other `outputs` value (or an error while
 * forcing it) runs the Nix body, which reports it as before.
 */
function derivationFunction(state: EvalState): Value {
  const src = new Source(null, DERIVATION_ORIGIN, DERIVATION_NIX);
  const top = state.parseSource(src, '/', null, false);
  // `commonAttrs`'s `{ outPath = null; drvPath = null; }` (only ever the lower
  // side of `//`) is one set for all derivations
  const shared = new Set<EAttrs>();
  const lowest = (e: Expr): Expr => (e.kind === 'binary' && e.op === '//' ? lowest(e.lhs) : e);
  const common = (top.kind === 'lambda' && top.body.kind === 'let' ? top.body.attrs.attrs.get('commonAttrs') : undefined) as { expr?: Expr } | undefined;
  const bottom = common?.expr ? lowest(common.expr) : undefined;
  if (bottom?.kind === 'attrs') shared.add(bottom);
  const compiler = new Compiler({ globals: state.globals, shared }, src);
  const lam = force(compiler.compile(top)([null]));
  const shape = (ok: boolean): void => {
    if (!ok) throw new Error('derivation-internal.nix does not have the expected shape');
  };
  shape(top.kind === 'lambda' && lam instanceof Lambda);
  const lamE = top as ELambda;
  const info = (lam as Lambda).info;
  shape(lamE.body.kind === 'let' && info.formals !== null);
  const letE = lamE.body as ELet;
  const slots = [...letE.attrs.attrs.keys()];
  const def = (name: string): Expr => {
    const d = letE.attrs.attrs.get(name);
    shape(d !== undefined && d.kind === 'plain');
    return (d as { expr: Expr }).expr;
  };
  // forOutput = outputName: { value = commonAttrs // { … }; }
  const forOutput = def('forOutput');
  shape(forOutput.kind === 'lambda' && forOutput.body.kind === 'attrs');
  const valueDef = ((forOutput as ELambda).body as EAttrs).attrs.get('value');
  shape(valueDef !== undefined && valueDef.kind === 'plain');
  // outputSets = builtins.listToAttrs (map (name: { inherit name; value = …; }) outputs): where `value` is
  const toAttrs = def('outputSets');
  const mapCall = toAttrs.kind === 'call' ? toAttrs.args[0] : undefined;
  const elemFn = mapCall?.kind === 'call' ? mapCall.args[0] : undefined;
  const elemSet = elemFn?.kind === 'lambda' ? elemFn.body : undefined;
  const elemValue = elemSet?.kind === 'attrs' ? elemSet.attrs.get('value') : undefined;
  shape(elemValue !== undefined);
  const valuePos: Pos = { src, offset: elemValue!.pos };

  const strictCode = compiler.compile(def('strict'));
  const commonCode = compiler.compile(def('commonAttrs'));
  const valueCode = compiler.compile((valueDef as { expr: Expr }).expr);
  const nixBody = compiler.compile(lamE.body);
  const iStrict = slots.indexOf('strict') + 1;
  const iOutputSets = slots.indexOf('outputSets') + 1;
  const iCommon = slots.indexOf('commonAttrs') + 1;
  const iOutputs = info.formals!.names.indexOf('outputs') + 1;
  // (the lambda's environment keeps the `drvAttrs@` set after the formals: see bindFormals)
  const iDrvAttrs = info.formals!.names.length + 1;
  shape(iStrict > 0 && iOutputSets > 0 && iCommon > 0 && iOutputs > 0 && info.arg === 'drvAttrs');

  // The parts of an output's set, `commonAttrs // { outPath = …; drvPath = …; type = …; inherit outputName; }`
  // where commonAttrs = `{ outPath = null; drvPath = null; } // drvAttrs // outputSets // { all = …; inherit drvAttrs; }`:
  // the last literal of each
  const valueE = (valueDef as { expr: Expr }).expr;
  shape(valueE.kind === 'binary' && valueE.op === '//' && valueE.rhs.kind === 'attrs');
  const outLit = (valueE as { rhs: EAttrs }).rhs;
  const commonE = def('commonAttrs');
  const lastLit = (e: Expr): Expr => (e.kind === 'binary' && e.op === '//' ? lastLit(e.rhs) : e);
  const commonLit = lastLit(commonE);
  shape(commonLit.kind === 'attrs');
  const plainExpr = (a: EAttrs, name: string): Expr => {
    const d = a.attrs.get(name);
    shape(d !== undefined && d.kind === 'plain');
    return (d as { expr: Expr }).expr;
  };
  const outPathCode = compiler.compile(plainExpr(outLit, 'outPath'));
  const drvPathCode = compiler.compile(plainExpr(outLit, 'drvPath'));
  const typeE = plainExpr(outLit, 'type');
  shape(typeE.kind === 'str' && outLit.attrs.get('outputName')?.kind === 'inherit');
  const allCode = compiler.compile(plainExpr(commonLit as EAttrs, 'all'));
  shape((commonLit as EAttrs).attrs.get('drvAttrs')?.kind === 'inherit');
  const typeValue = force(compiler.compile(typeE)([null]));
  // commonAttrs's `{ outPath = null; drvPath = null; }`: first in the order
  // `--strict` forces an output's attributes in (as CppNix's, whose outPath
  // and drvPath symbols come before any of drvAttrs'), so kept below drvAttrs
  shape(bottom?.kind === 'attrs');
  const nulls = force(compiler.compile(bottom!)([null]));
  shape(nulls instanceof Attrs);
  /** Names the sets of an output define over drvAttrs' (outputs' names between drvPath and all). */
  const OWN = ['outPath', 'drvPath', 'all', 'drvAttrs', 'type', 'outputName'];
  const ownOffsets = new Map<string, number>([
    ['outPath', outLit.attrs.get('outPath')!.pos],
    ['drvPath', outLit.attrs.get('drvPath')!.pos],
    ['all', (commonLit as EAttrs).attrs.get('all')!.pos],
    ['drvAttrs', (commonLit as EAttrs).attrs.get('drvAttrs')!.pos],
    ['type', outLit.attrs.get('type')!.pos],
    ['outputName', outLit.attrs.get('outputName')!.pos],
  ]);

  const body = (env: Env): Value => {
    const outs = plainOutputNames(env[iOutputs]!);
    if (outs === null) return nixBody(env);
    const letEnv: Env = filledArray(slots.length + 1, null);
    letEnv[0] = env as unknown as Value;
    letEnv[iStrict] = new Thunk(strictCode, letEnv);
    // each output's set is made when first asked for (see outputsShapes)
    const shapes = outputsShapes(outs);
    const vals = filledArray(outs.length + 1, UNMADE);
    vals[0] = letEnv as unknown as Value;
    const outputSets = Attrs.slots(shapes.outputs, vals, shapes.outputsPosTables);
    letEnv[iOutputSets] = outputSets;
    // (commonAttrs is made only by the outputs' sets of the Nix code: see outputsShapes)
    if (shapes.own === null) letEnv[iCommon] = new Thunk(commonCode, letEnv);
    // (`forOutput` stays null: the parts above do not refer to it)
    return force(outputSets.get(outs[0]!)!);
  };
  interface Shapes {
    /** The layout of `outputSets`: its sets make output `o`'s set when `o` is first looked up. */
    outputs: Layout;
    /** Every output is defined where listToAttrs's `value` is. */
    outputsPosTables: PosTable[];
    /** The layout of what an output's set defines over drvAttrs (null: the Nix code makes the set). */
    own: Layout | null;
  }
  const outputsShapesCache = new Map<string, Shapes>();
  /**
   * The layouts for a list of output names (one per list, bounded).  Output
   * `o`'s set is `drvAttrs // own`, where `own` has outPath, drvPath, the
   * outputs' sets, all, drvAttrs, type and outputName: the attributes, values
   * and positions of `commonAttrs // { … }` without the four sets that
   * expression makes.  outPath, drvPath and all run the Nix code's
   * expressions, in its environments.  Outputs named like one of those six
   * get the Nix code's sets.
   */
  const outputsShapes = (outs: string[]): Shapes => {
    const key = namesKey(outs);
    let sh = key === null ? undefined : outputsShapesCache.get(key);
    if (sh !== undefined) return sh;
    const outputs = new Layout(outs);
    let own: Layout | null = null;
    if (!outs.some((o) => OWN.includes(o))) {
      const names = ['outPath', 'drvPath', ...outs, 'all', 'drvAttrs', 'type', 'outputName'];
      own = new Layout(names);
      // (element 0 of an own set's values: forOutput's environment, [letEnv, outputName])
      own.lazyCodes = names.map((n, i) => {
        if (n === 'outPath') return { code: outPathCode };
        if (n === 'drvPath') return { code: drvPathCode };
        if (n === 'all') return { code: (env: Env): Value => allCode(env[0] as unknown as Env) };
        if (i >= 2 && i < 2 + outs.length) return { code: (env: Env): Value => force(((env[0] as unknown as Env)[iOutputSets] as Attrs).get(n)!) };
        return null;
      });
      const offsets = new Map(ownOffsets);
      for (const o of outs) offsets.set(o, valuePos.offset);
      const ownPosTables: PosTable[] = [{ src, offsets }];
      const ownLayout = own;
      outputs.lazyCodes = outs.map((o) => ({ code: (letEnv: Env): Value => ownOutput(letEnv, o, ownLayout, ownPosTables) }));
    } else outputs.lazyCodes = outs.map((o) => ({ code: (letEnv: Env): Value => valueCode([letEnv as unknown as Value, o]) }));
    const outputsPosTables: PosTable[] = [new Map(outs.map((o) => [o, valuePos]))];
    sh = { outputs, outputsPosTables, own };
    if (key !== null && outputsShapesCache.size < 64) outputsShapesCache.set(key, sh);
    return sh;
  };
  /** Output `o`'s set: drvAttrs // own (see outputsShapes). */
  const ownOutput = (letEnv: Env, o: string, own: Layout, posTables: PosTable[]): Value => {
    const n = own.keys.length;
    const vals = filledArray(n + 1, UNMADE);
    vals[0] = [letEnv as unknown as Value, o] as unknown as Value;
    const drvAttrs = (letEnv[0] as unknown as Env)[iDrvAttrs] as Attrs;
    vals[n - 3] = UNMADE; // all
    vals[n - 2] = drvAttrs;
    vals[n - 1] = typeValue;
    vals[n] = o;
    // (`{ outPath = null; drvPath = null; } // drvAttrs`, shared by the outputs, in commonAttrs's slot)
    let lower = letEnv[iCommon] as Attrs | null;
    if (lower === null) letEnv[iCommon] = lower = updateAttrs(nulls as Attrs, drvAttrs);
    return updateAttrs(lower, Attrs.slots(own, vals, posTables));
  };
  return new Lambda({ ...info, body }, (lam as Lambda).env);
}

/** `outputs` as a non-empty list of distinct plain strings, or null (also when forcing it fails). */
function plainOutputNames(v: Value): string[] | null {
  try {
    const l = force(v);
    if (!Array.isArray(l) || l.length === 0) return null;
    const names: string[] = new Array<string>(l.length);
    for (let i = 0; i < l.length; i++) {
      const s = force(l[i]!);
      if (typeof s !== 'string') return null;
      names[i] = s;
    }
    for (let i = 1; i < names.length; i++) if (names.lastIndexOf(names[i - 1]!) !== i - 1) return null;
    return names;
  } catch (e) {
    // the Nix body forces it again and reports the error with its frames
    if (e instanceof NixError) return null;
    throw e;
  }
}

// ---------------------------------------------------------------- fetchers

function fetchName(what: string, url: string, name: string, how: 'attr' | 'attrs' | 'string'): void {
  try {
    checkStorePathName(name);
  } catch (e) {
    if (!(e instanceof BadStorePathNameError)) throw e;
    const hint =
      how === 'attr'
        ? `Please change the value for the 'name' attribute passed to '${what}', so that it can create a valid store path.`
        : how === 'attrs'
          ? `Please add a valid 'name' attribute to the argument for '${what}', so that it can create a valid store path.`
          : `Please pass an attribute set with 'url' and 'name' attributes to '${what}',  so that it can create a valid store path.`;
    throw new NixError(`invalid store path name when fetching URL '${url}': ${e.message}. ${hint}`);
  }
}

/** The local file a `file://` URL names, or an error for other schemes. */
function localFileOfUrl(what: string, url: string, pos: Pos | null): string {
  if (!url.startsWith('file://')) {
    throw new NixError(`${what}: only file:// URLs are supported by tsnix so far, not '${url}'`, pos);
  }
  let p = url.slice('file://'.length);
  const q = p.search(/[?#]/);
  if (q >= 0) p = p.slice(0, q);
  try {
    p = toBytes(decodeURIComponent(fromBytes(p)));
  } catch {
    /* keep it as it is */
  }
  if (!p.startsWith('/')) {
    throw new NixError(`${what}: the file URL '${url}' must use an absolute path`, pos);
  }
  return p;
}

/** Unpacks an archive with the system's tar; returns the tree to add (the single top directory if any). */
function unpackTarball(file: string, pos: Pos | null): { dir: string; tmp: string } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-unpack-'));
  const r = spawnSync('tar', ['-xf', fromBytes(file), '-C', tmp], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const why = r.error ? r.error.message : (r.stderr || '').trim();
    throw new NixError(`failed to unpack '${file}': ${toBytes(why)}`, pos);
  }
  const ents = fs.readdirSync(tmp);
  const only = ents.length === 1 ? path.join(tmp, ents[0]!) : null;
  const dir = only && fs.lstatSync(only).isDirectory() ? only : tmp;
  return { dir: toBytes(dir), tmp };
}

function fetch(state: EvalState, what: 'fetchurl' | 'fetchTarball', arg: Value, pos: Pos | null, unpack: boolean): Value {
  const v = force(arg);
  let url: string | undefined;
  let name: string | undefined;
  let expected: Hash | undefined;
  let how: 'attr' | 'attrs' | 'string' = 'string';
  if (v instanceof Attrs) {
    how = 'attrs';
    for (const k of v.keys()) {
      const x = v.get(k)!;
      if (k === 'url') url = forceStringNoCtx(x, pos, 'while evaluating the url we should fetch');
      else if (k === 'sha256') {
        const s = forceStringNoCtx(x, pos, 'while evaluating the sha256 of the content we should fetch');
        expected = storeCall(pos, () => parseHashAllowEmpty(s, 'sha256', (msg) => state.warn(msg)));
      } else if (k === 'name') {
        name = forceStringNoCtx(x, pos, 'while evaluating the name of the content we should fetch');
        how = 'attr';
      } else throw new NixError(`unsupported argument '${k}' to '${what}'`, v.posOf(k) ?? pos);
    }
    if (url === undefined) throw new NixError(`'url' argument required`, pos);
  } else {
    url = forceStringNoCtx(v, pos, 'while evaluating the url we should fetch');
  }
  if (name === undefined || name === '') name = unpack ? 'source' : baseName(url);
  fetchName(what, url, name, how);
  if (state.settings.bool('pure-eval') && !expected) {
    throw new NixError(`in pure evaluation mode, '${what}' requires a 'sha256' argument`, pos);
  }
  const file = localFileOfUrl(what, url, pos);
  if (lstatOrNull(file) === null) {
    throw new NixError(`unable to download '${url}': file '${file}' does not exist`, pos);
  }
  let added: string;
  let got: Hash;
  if (!unpack) {
    const res = storeCall(pos, () => state.store.addPath(file, { name: name!, method: 'flat' }));
    added = res.path;
    got = storeCall(pos, () => hashFileSync('sha256', toFsPath(file)));
  } else {
    const { dir, tmp } = unpackTarball(file, pos);
    try {
      const res = storeCall(pos, () => state.store.addPath(dir, { name: name!, method: 'recursive' }));
      added = res.path;
      got = res.narHash;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  if (expected && !expected.equals(got)) {
    throw new NixError(
      `hash mismatch in file downloaded from '${url}':\n  specified: ${expected.format('sri', true)}\n  got:       ${got.format('sri', true)}`,
      pos,
    );
  }
  return new NixStr(added, new Set([added]));
}

// ---------------------------------------------------------------- builtins.path / filterSource

interface AddPathArgs {
  path: string;
  name: string;
  filter: Value | undefined;
  method: 'recursive' | 'flat';
  expected: Hash | undefined;
}

function addPathToStore(state: EvalState, a: AddPathArgs, pos: Pos | null): Value {
  return withTrace(`while adding path '${a.path}'`, pos, () => {
    if (lstatOrNull(a.path) === null) throw new NixError(`path '${a.path}' does not exist`, pos);
    const opts: AddPathOptions = { name: a.name, method: a.method };
    const fn = a.filter;
    if (fn !== undefined) {
      opts.filter = (p: string, t: FileType) =>
        // called without a position, as CppNix does
        forceBool(callN(fn, [p, t], null), pos, 'while evaluating the return value of the path filter function');
    }
    const res = storeCall(pos, () => {
      checkStorePathName(a.name);
      return state.store.addPath(a.path, opts);
    });
    if (a.expected) {
      const want = storeCall(pos, () => makeFixedOutputPath(a.name, a.method, a.expected!, state.store.storeDir));
      if (want !== res.path) {
        throw new NixError(`store path mismatch in (possibly filtered) path added from '${a.path}'`, pos);
      }
    }
    return new NixStr(res.path, new Set([res.path]));
  });
}

// ---------------------------------------------------------------- registration

export function register(r: Registry): void {
  const { state } = r;

  setCopyPathToStore((p, pos) => ({ path: copyPathToStore(state, p, pos) }));

  r.add({
    name: 'derivationStrict',
    args: ['attrs'],
    global: true,
    doc:
      'The primitive behind `derivation`: instantiate the store derivation described by *attrs* right away and ' +
      'return an attribute set with its `drvPath` and the path of every output (`out`, …), each a string whose ' +
      'context refers to the derivation. Most code should use `derivation`, which calls this lazily.',
    fn: ([a], site) => derivationStrict(state, a!, site.pos),
  });

  r.value('derivation', null, {
    global: true,
    doc:
      'Create a derivation: a description of how to build store paths. *attrs* must contain `name`, `system` ' +
      '(e.g. `"x86_64-linux"`) and `builder` (the program to run); `args` (its arguments) and `outputs` (default ' +
      '`[ "out" ]`) are optional. Every other attribute is passed to the builder as an environment variable: ' +
      'strings as they are, numbers in decimal, `true` as `"1"`, `false` and `null` as `""`, lists as their ' +
      'elements separated by spaces, paths after copying them to the store, derivations as their output path.\n\n' +
      'The result is *attrs* extended with `type = "derivation"`, `drvPath`, `outPath`, `outputName`, ' +
      '`drvAttrs`, `all` and one attribute per output. With `outputHash` (and `outputHashAlgo`, ' +
      '`outputHashMode` = `"flat"` or `"recursive"`) the derivation is fixed-output; with ' +
      '`__structuredAttrs = true` the attributes are passed as JSON.',
    lazy: () => derivationFunction(state),
  });

  r.add({
    name: 'placeholder',
    args: ['output'],
    global: true,
    doc:
      'Return an opaque string that stands for the path of the output *output* of the derivation being defined. ' +
      'When the derivation is built, the placeholder is replaced by the real path, e.g. in ' +
      '`configureFlags = "--prefix=${placeholder "out"}"`.',
    fn: ([o], site) => placeholder(forceStringNoCtx(o!, null, argCtx('placeholder', 0))),
  });

  r.add({
    name: 'toFile',
    args: ['name', 's'],
    doc:
      'Store the string *s* in a file in the Nix store and return its path. The file is named *name* (after the ' +
      'hash). Store paths that *s* refers to through its string context become references of the file, so ' +
      '`builtins.toFile "builder.sh" "${pkgs.bash}/bin/bash …"` keeps bash alive; referring to a derivation ' +
      'output that is not built yet is an error. The file is not executable.',
    fn: ([n, s], site) => {
      const name = forceStringNoCtx(n!, null, argCtx('toFile', 0));
      const sv = forceStringValue(s!, null, argCtx('toFile', 1));
      const text = typeof sv === 'string' ? sv : sv.s;
      const refs: string[] = [];
      if (typeof sv !== 'string') {
        for (const c of sv.ctx) {
          if (c.startsWith('=') || c.startsWith('!')) {
            throw new NixError(
              `in 'toFile': the file named '${name}' must not contain a reference to a derivation but contains (${c})`,
              site.pos,
            );
          }
          refs.push(c);
        }
      }
      const p = storeCall(site.pos, () => {
        checkStorePathName(name);
        return state.store.addText(name, text, refs);
      });
      return new NixStr(p, new Set([p]));
    },
  });

  r.add({
    name: 'path',
    args: ['args'],
    doc:
      'Copy a file or directory into the store, with more control than interpolating a path value. *args* has ' +
      '`path` (required), `name` (the store path name, by default the base name of `path`), `filter` (a function ' +
      'of a path and its type, `"regular"`, `"directory"`, `"symlink"` or `"unknown"`, that returns whether to ' +
      'include it), `recursive` (default `true`; `false` adds a single file by its flat hash) and `sha256` (the ' +
      'expected hash; the result must match it).',
    fn: ([a], site) => {
      const attrs = forceAttrs(a!, null, `while evaluating the argument passed to 'builtins.path'`);
      let p: string | undefined;
      let name = '';
      let filter: Value | undefined;
      let method: 'recursive' | 'flat' = 'recursive';
      let expected: Hash | undefined;
      for (const k of attrs.keys()) {
        const x = attrs.get(k)!;
        const kpos = attrs.posOf(k) ?? site.pos;
        if (k === 'path') {
          p = realisePath(state, x, kpos, `while evaluating the 'path' attribute passed to 'builtins.path'`);
        } else if (k === 'name') {
          name = forceStringNoCtx(x, kpos, 'while evaluating the `name` attribute passed to builtins.path');
        } else if (k === 'filter') {
          filter = forceFunction(x, kpos, 'while evaluating the `filter` parameter passed to builtins.path');
        } else if (k === 'recursive') {
          method = forceBool(x, kpos, 'while evaluating the `recursive` attribute passed to builtins.path')
            ? 'recursive'
            : 'flat';
        } else if (k === 'sha256') {
          const s = forceStringNoCtx(x, kpos, 'while evaluating the `sha256` attribute passed to builtins.path');
          expected = storeCall(kpos, () => parseHashAllowEmpty(s, 'sha256', (msg) => state.warn(msg)));
        } else {
          throw new NixError(`unsupported argument '${k}' to 'addPath'`, kpos);
        }
      }
      if (p === undefined) {
        throw new NixError(`missing required 'path' attribute in the first argument to 'builtins.path'`, site.pos);
      }
      if (name === '') name = baseName(p);
      return addPathToStore(state, { path: p, name, filter, method, expected }, site.pos);
    },
  });

  r.add({
    name: 'filterSource',
    args: ['filter', 'path'],
    doc:
      'Copy the path *path* into the store like interpolating it would, but only the files and directories for ' +
      'which the function *filter* returns `true`. *filter* is called with the full path of each entry and its type ' +
      '(`"regular"`, `"directory"`, `"symlink"` or `"unknown"`); leaving out a directory leaves out everything ' +
      'in it. For instance `builtins.filterSource (path: type: type != "directory" || baseNameOf path != ".git") ./.`.',
    fn: ([f, p], site) => {
      const file = realisePath(
        state,
        p!,
        site.pos,
        `while evaluating the second argument (the path to filter) passed to 'builtins.filterSource'`,
      );
      const fn = forceFunction(f!, null, argCtx('filterSource', 0));
      return addPathToStore(
        state,
        { path: file, name: baseName(file), filter: fn, method: 'recursive', expected: undefined },
        site.pos,
      );
    },
  });

  r.add({
    name: 'storePath',
    args: ['path'],
    doc:
      'Return the store path *path* (a string, or a path below the store) as a string whose context refers to ' +
      'it, as if it had been produced by a derivation or by copying. Not allowed in pure evaluation mode.',
    fn: ([x], site) => {
      if (state.settings.bool('pure-eval')) {
        throw new NixError(`'builtins.storePath' is not allowed in pure evaluation mode`, site.pos);
      }
      const fv = force(x!);
      let p = realisePath(state, fv, site.pos, `while evaluating the first argument passed to 'builtins.storePath'`);
      const storeDir = state.store.storeDir;
      if (!isInStore(p, storeDir)) {
        try {
          p = fs.realpathSync(toFsPath(p), { encoding: 'buffer' }).toString('latin1');
        } catch {
          /* CppNix resolves what it can */
        }
      }
      if (!isInStore(p, storeDir)) throw new NixError(`path '${p}' is not in the Nix store`, site.pos);
      const { storePath } = storeCall(site.pos, () => splitStorePath(p, storeDir));
      const ctx = new Set(fv instanceof NixStr ? fv.ctx : []);
      ctx.add(storePath);
      return new NixStr(p, ctx);
    },
  });

  r.add({
    name: 'outputOf',
    args: ['derivation-reference', 'output-name'],
    doc:
      'Return the output path *output-name* of the derivation that *derivation-reference* (a `.drv` path, ' +
      'possibly itself the output of another derivation) refers to, as a placeholder string. Needs the ' +
      '`dynamic-derivations` experimental feature.',
    fn: ([d, o], site) => {
      requireFeature(state, 'dynamic-derivations', site.pos);
      const ctxMsg = 'while evaluating the first argument to builtins.outputOf';
      // the reference: a string whose context is exactly one .drv path (as CppNix's
      // coerceToSingleDerivedPath); a drvPath attribute's `=` context must be made
      // plain with unsafeDiscardOutputDependency first
      let drvPath: string;
      try {
        const sv = forceStringValue(d!, null, ctxMsg);
        const str = typeof sv === 'string' ? sv : sv.s;
        const ctx = [...(typeof sv === 'string' ? EMPTY_CTX : sv.ctx)];
        if (ctx.length === 0) throw new NixError(`string '${str}' has no context`, null);
        if (ctx.length > 1) throw new NixError(`string '${str}' has ${ctx.length} entries in its context. It should only have exactly one entry`, null);
        const c = ctx[0]!;
        if (c.startsWith('=')) {
          throw new NixError(`string '${str}' has a context which refers to a complete source and binary closure. This is not supported at this time`, null);
        }
        if (c.startsWith('!')) {
          // an output of a derivation that is itself built (a dynamic derivation): its
          // placeholder scheme is not implemented
          throw new NixError(`builtins.outputOf of the output of a derivation ('${str}') is not implemented in tsnix yet`, null);
        }
        if (str !== c) throw new NixError(`path string '${str}' has context with the different path '${c}'`, null);
        drvPath = c;
      } catch (e) {
        if (e instanceof NixError) e.addTrace(ctxMsg);
        throw e;
      }
      const output = forceStringNoCtx(o!, null, 'while evaluating the second argument to builtins.outputOf');
      // the output is not known before it is built: always a placeholder, whose
      // context is the built output
      return new NixStr(downstreamPlaceholder(drvPath, output), new Set([`!${output}!${drvPath}`]));
    },
  });

  r.add({
    name: 'fetchurl',
    args: ['args'],
    doc:
      'Download the file at a URL into the store and return its path. *args* is the URL or an attribute set ' +
      'with `url`, optionally `sha256` (the expected flat hash) and `name` (default: the last component of the ' +
      'URL). tsnix supports `file://` URLs only so far.',
    fn: ([a], site) => fetch(state, 'fetchurl', a!, site.pos, false),
  });

  r.add({
    name: 'fetchTarball',
    args: ['args'],
    global: true,
    doc:
      'Download a tarball, unpack it and add the result to the store; return its path. If the archive holds a ' +
      'single top-level directory, that directory is the result. *args* is the URL or an attribute set with ' +
      '`url`, optionally `sha256` (the expected NAR hash of the unpacked tree) and `name` (default `source`). ' +
      'tsnix supports `file://` URLs only so far.',
    fn: ([a], site) => fetch(state, 'fetchTarball', a!, site.pos, true),
  });
}
