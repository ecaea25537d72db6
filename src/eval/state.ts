// The evaluator's state: the base environment, parsing + binding + compiling
// of sources, the import cache, settings and the output of warnings/traces.

import fs from 'node:fs';
import path from 'node:path';
import type { Expr, Pos } from '../../grammar/ast.js';
import { Source } from '../../grammar/ast.js';
import { bind } from '../../grammar/bind.js';
import { NixParseError, showPosWithFrame, toBytes } from '../../grammar/errors.js';
import { parse, type ParseOptions } from '../../grammar/parser.js';
import { registerAll } from './builtins/index.js';
import type { BuiltinDef, Registry } from './builtins/registry.js';
import { Compiler } from './compile.js';
import { NixError } from './errors.js';
import { setMaxCallDepth, setShowTrace } from './ops.js';
import { Settings } from './settings.js';
import { Attrs, PrimOp, Thunk, type Value } from './value.js';
import { ComputeStore } from '../store/compute-store.js';
import { storeReadBarrier } from '../store/background-writer.js';
import { toFsPath } from '../store/fs-path.js';
import type { StoreApi } from '../store/store-api.js';
import { DEFAULT_STORE_DIR } from '../store/store-path.js';

export interface EvalOptions {
  settings?: Settings;
  /** `-I` entries, in order (`prefix=path` or `path`). */
  searchPath?: string[];
  /** Where warnings and traces go (byte strings, without trailing newline handling). */
  stderr?: (s: string) => void;
  /** The environment (for getEnv, HOME, NIX_PATH). */
  env?: NodeJS.ProcessEnv;
  /** The store paths are computed in / added to (default: a ComputeStore, which writes nothing). */
  store?: StoreApi;
}

/** The logical store directory, by the same rules as the local store (TSNIX_STORE_DIR, else /nix/store). */
export function storeDirFromEnv(env: NodeJS.ProcessEnv): string {
  const d = env.TSNIX_STORE_DIR;
  return d ? toBytes(d.length > 1 ? d.replace(/\/+$/, '') : d) : DEFAULT_STORE_DIR;
}

export class EvalState {
  readonly settings: Settings;
  readonly globals = new Map<string, Value>();
  readonly builtins: Attrs;
  readonly searchPath: string[];
  readonly env: NodeJS.ProcessEnv;
  /** Where derivations and copied paths go (see src/eval/builtins/derivation.ts). */
  readonly store: StoreApi;
  private readonly stderrFn: (s: string) => void;
  private readonly fileCache = new Map<string, Value>();
  readonly builtinDefs = new Map<string, BuiltinDef>();
  private globalNames: Set<string> | null = null;

  constructor(opts: EvalOptions = {}) {
    this.settings = opts.settings ?? new Settings();
    this.settings.applyProcessWide();
    this.env = opts.env ?? process.env;
    this.store = opts.store ?? new ComputeStore(storeDirFromEnv(this.env));
    this.stderrFn = opts.stderr ?? ((s) => process.stderr.write(Buffer.from(s, 'latin1')));
    setMaxCallDepth(this.settings.int('max-call-depth'));
    setShowTrace(this.settings.showTrace);
    const sp = [...(opts.searchPath ?? [])];
    const nixPath = this.env.NIX_PATH;
    if (nixPath) sp.push(...nixPath.split(':').filter(Boolean));
    sp.push(...this.settings.list('nix-path'));
    this.searchPath = sp;

    const m = new Map<string, Value>();
    this.builtins = new Attrs(m);
    const state = this;
    const reg: Registry = {
      state,
      add(def) {
        const op = new PrimOp(def.name, def.args.length, def.fn, { args: def.args, text: def.doc }, def.addTrace ?? true);
        state.builtinDefs.set(def.name, def);
        m.set(def.name, op);
        state.globals.set(`__${def.name}`, op);
        if (def.global) state.globals.set(def.name, op);
      },
      value(name, v, o) {
        const val = o?.lazy ? new Thunk(() => o.lazy!(), null) : v;
        m.set(name, val);
        state.globals.set(`__${name}`, val);
        if (o?.global) state.globals.set(name, val);
        if (o?.doc) state.builtinDefs.set(name, { name, args: [], doc: o.doc, fn: () => v });
      },
    };
    registerAll(reg);
    m.set('builtins', this.builtins);
    this.globals.set('builtins', this.builtins);
    this.globals.set('true', true);
    this.globals.set('false', false);
    this.globals.set('null', null);
  }

  stderr(s: string): void {
    this.stderrFn(s);
  }

  /** Prints a warning (`warning: …` with an optional position frame). */
  warn(msg: string, pos: Pos | null = null): void {
    if (this.settings.bool('abort-on-warn')) {
      throw new NixError(`${msg}\n(aborting on warning because abort-on-warn is set)`, pos);
    }
    let s = `warning: ${msg}`;
    // a negative offset: the message names its position itself
    if (pos && pos.offset >= 0) s += '\n' + showPosWithFrame(pos, 9, 9);
    this.stderr(s + '\n');
  }

  /**
   * Parses and binds `src`; throws NixParseError.  With `defer` (for evaluation), big bindings are
   * parsed again when first evaluated instead of keeping their AST (see
   * bind.ts's Deferrer); the AST is then only for the evaluator.
   */
  parseSource(src: Source, basePath: string, outer: Map<string, number> | null = null, defer = true): Expr {
    const lint = (name: string) => {
      const v = this.settings.get(name);
      return v === 'warn' || v === 'fatal' ? v : 'ignore';
    };
    const opts: ParseOptions = {
      basePath,
      home: this.env.HOME !== undefined ? toBytes(this.env.HOME) : undefined,
      experimentalFeatures: this.settings.experimentalFeatures,
      lint: {
        absolutePathLiterals: lint('lint-absolute-path-literals'),
        shortPathLiterals: lint('lint-short-path-literals'),
        urlLiterals: lint('lint-url-literals'),
      },
      warn: (msg, offset) => this.warn(msg, { src, offset }),
    };
    const e = parse(src, opts);
    // (not with `outer` scopes: the REPL adds names to its Map later, which a
    // deferred binding's later binding would see)
    bind(e, src, { globals: this.globalNames ??= new Set(this.globals.keys()), outer, defer: defer && outer === null ? opts : undefined });
    return e;
  }

  /** Compiles and evaluates a parsed expression to weak head normal form. */
  evalExpr(e: Expr, src: Source): Value {
    const code = new Compiler({ globals: this.globals }, src).compile(e);
    return code([null]);
  }

  evalString(text: string, origin: string, basePath: string): Value {
    const src = new Source(null, origin, text);
    return this.evalExpr(this.parseSource(src, basePath), src);
  }

  /** `scopedImport`: evaluates a file (not cached) with the attributes of `scope` as variables. */
  evalFileScoped(file: string, scope: Attrs, pos: Pos | null): Value {
    const { p, text } = this.readNixFile(file, pos);
    const src = new Source(p, p, text);
    const names = scope.keys();
    const outer = new Map<string, number>(names.map((n, i) => [n, i]));
    let e: Expr;
    try {
      e = this.parseSource(src, path.posix.dirname(p), outer);
    } catch (err) {
      if (err instanceof NixParseError) throw parseToEval(err);
      throw err;
    }
    const code = new Compiler({ globals: this.globals }, src).compile(e);
    return code([null, ...names.map((n) => scope.get(n)!)]);
  }

  private readNixFile(file: string, pos: Pos | null): { p: string; text: string } {
    let p = file;
    storeReadBarrier(p);
    try {
      let text = readFileBytes(toFsPath(p));
      if (text === null) {
        p = p.replace(/\/$/, '') + '/default.nix';
        text = readFileBytes(toFsPath(p));
        // (a directory default.nix: reading it fails as it always did)
        if (text === null) text = fs.readFileSync(toFsPath(p)).toString('latin1');
      }
      return { p, text };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new NixError(`path '${p}' does not exist`, pos);
      throw new NixError(`cannot read '${p}': ${(e as Error).message}`, pos);
    }
  }

  /** Evaluates a file (a directory means its default.nix), cached per resolved path. */
  evalFile(file: string, pos: Pos | null = null): Value {
    const cached = this.fileCache.get(file);
    if (cached !== undefined) return cached instanceof Thunk ? cached.force() : cached;
    const { p, text } = this.readNixFile(file, pos);
    const src = new Source(p, p, text);
    const thunk = new Thunk(() => {
      let e: Expr;
      try {
        e = this.parseSource(src, path.posix.dirname(p));
      } catch (err) {
        if (err instanceof NixParseError) throw parseToEval(err);
        throw err;
      }
      return this.evalExpr(e, src);
    }, null);
    this.fileCache.set(file, thunk);
    if (p !== file) this.fileCache.set(p, thunk);
    return thunk.force();
  }
}

/** A parse error met during evaluation (import) becomes an evaluation error. */
export function parseToEval(e: NixParseError): NixError {
  return new NixError(e.msg, e.pos);
}

/** Reused by readFileBytes for files up to its size (1 MiB). */
let scratch: Buffer | null = null;
const SCRATCH_MAX = 1 << 20;

/**
 * The contents of a file as a byte string, or null for a directory. Small
 * files (a .nix file usually) are read through one reused buffer: a new
 * Buffer per file (readFileSync) costs more than the read when a
 * package set imports thousands of them.
 */
function readFileBytes(file: Buffer): string | null {
  const fd = fs.openSync(file, 'r');
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) return null;
    if (st.size >= SCRATCH_MAX) return fs.readFileSync(fd).toString('latin1');
    const buf = (scratch ??= Buffer.allocUnsafe(SCRATCH_MAX));
    let n = 0;
    // (until end of file, or as much as fstat reported: files of /proc report
    // 0, and a regular file needs no second read to find its end)
    const size = st.size;
    for (;;) {
      if (n === buf.length) return Buffer.concat([buf, fs.readFileSync(fd)]).toString('latin1');
      const r = fs.readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (size > 0 && n >= size) break;
    }
    return buf.toString('latin1', 0, n);
  } finally {
    fs.closeSync(fd);
  }
}
