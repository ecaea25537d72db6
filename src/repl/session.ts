// The REPL's evaluating side: the session scope, the commands and the
// printing of results. It knows nothing of terminals: output goes to a sink
// as display text (JS strings, ANSI colours when asked for). It runs in a
// worker thread under the interactive REPL (src/repl/worker.ts) and in the
// calling thread in tests.
//
// Text conventions: everything evaluated is a byte string (see
// grammar/ast.ts); the sink receives it decoded (`fromBytes`).

import fs from 'node:fs';
import path from 'node:path';
import type { Expr } from '../../grammar/ast.js';
import { Source } from '../../grammar/ast.js';
import { NixParseError, fromBytes, showPos, toBytes } from '../../grammar/errors.js';
import { Compiler } from '../eval/compile.js';
import { NATIVE_STACK_OVERFLOW, NixError, rangeErrorMessage, renderError } from '../eval/errors.js';
import { Interrupted, callN, coerceToString, forceAttrs, setShowTrace } from '../eval/ops.js';
import { loadSettings } from '../eval/settings.js';
import { EvalState, storeDirFromEnv } from '../eval/state.js';
import { Attrs, Env, Lambda, NixPath, NixStr, PrimOp, PrimOpApp, Thunk, force, type Value } from '../eval/value.js';
import { RecordingStore } from '../store/recording-store.js';
import { LocalStore } from '../store/local-store.js';
import { storeLocation } from '../store/store-location.js';
import { buildValue, derivationPathOf, readBuildLog, type BuildProgress } from './build.js';
import { COMMAND_NAMES, helpText } from './commands.js';
import { renderDoc } from './doc.js';
import { Explorer, type XNode } from './explore.js';
import { ANSI, describeType, isDerivationValue, printReplValue } from './print.js';

export interface SessionConfig {
  /** Files to load at start (`tsnix repl FILE…`), as given. */
  files: string[];
  /** `--option NAME VALUE` and the flags that set options, in order. */
  options: [string, string][];
  /** `-I` entries. */
  searchPath: string[];
  /** `--arg` / `--argstr`, for loading files that are functions. */
  autoArgs: { name: string; expr?: string; str?: string }[];
  color: boolean;
  /** Terminal width for `:doc`. */
  width?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Where a session's output goes (display text, with newlines). */
export interface SessionSink {
  out(text: string): void;
  err(text: string): void;
  progress?(ev: BuildProgress): void;
}

/** What changes the scope, in order: replayed when the evaluator is restarted. */
export type ScopeOp = { op: 'bind'; name: string; expr: string } | { op: 'load'; file: string } | { op: 'add'; expr: string };

export interface SessionSnapshot {
  ops: ScopeOp[];
  showTrace: boolean;
}

export type RunResult =
  | { kind: 'incomplete' }
  | { kind: 'done'; quit?: boolean; edit?: { file: string; line: number } }
  | { kind: 'explore'; root: XNode };

/** A variable of the session scope. */
interface Scope {
  names: Map<string, number>;
  values: Value[];
}

const VAR_NAME = /^[a-zA-Z_][a-zA-Z0-9_'-]*$/;
const STRING_ORIGIN = toBytes('«string»');

export class ReplSession {
  private state!: EvalState;
  private readonly store: RecordingStore;
  private scope: Scope = { names: new Map(), values: [null] };
  private ops: ScopeOp[] = [];
  private loadedFiles: string[] = [];
  private showTrace = false;
  private readonly env: NodeJS.ProcessEnv;
  private readonly cwd: string;
  private explorer: Explorer | null = null;
  private local: LocalStore | null = null;
  private readonly abortBuild = new Set<AbortController>();

  constructor(
    readonly config: SessionConfig,
    private readonly sink: SessionSink,
  ) {
    this.env = config.env ?? process.env;
    this.cwd = config.cwd ?? toBytes(process.cwd());
    this.store = new RecordingStore(storeDirFromEnv(this.env), { fallback: () => this.existingLocalStore() });
    this.newState();
  }

  /** Loads the files given at start-up (their output goes to the sink), or replays a snapshot silently. */
  start(snapshot?: SessionSnapshot): void {
    if (snapshot) {
      this.showTrace = snapshot.showTrace;
      setShowTrace(this.showTrace);
      for (const op of snapshot.ops) {
        try {
          this.applyOp(op, true);
        } catch {
          // replaying what failed before fails again: nothing to add
        }
      }
      return;
    }
    for (const f of this.config.files) {
      try {
        this.loadFile(f);
      } catch (e) {
        this.reportError(e);
      }
    }
  }

  snapshot(): SessionSnapshot {
    return { ops: [...this.ops], showTrace: this.showTrace };
  }

  get color(): boolean {
    return this.config.color;
  }

  // ------------------------------------------------------------------ state

  private newState(): void {
    const { settings, error } = loadSettings(this.env);
    if (error) throw new Error(error);
    for (const [k, v] of this.config.options) settings.set(k, v, 'command line');
    this.showTrace ||= settings.bool('show-trace');
    this.state = new EvalState({
      settings,
      searchPath: this.config.searchPath,
      store: this.store,
      env: this.env,
      stderr: (s) => this.sink.err(fromBytes(s)),
    });
    // the frames of calls are collected only when traces are shown
    setShowTrace(this.showTrace);
  }

  /** The store's LocalStore when it exists on disk (for paths valid there); opened lazily, read-only use. */
  private existingLocalStore(): LocalStore | null {
    if (this.local) return this.local;
    try {
      const loc = storeLocation(this.env);
      if (!fs.existsSync(fromBytes(loc.dbPath))) return null;
    } catch {
      return null;
    }
    return this.openLocalStore();
  }

  /** The writable store (for `:b`); its database is opened on first use. */
  openLocalStore(): LocalStore {
    if (!this.local) {
      // SQLite itself is loaded when the database is first used
      this.local = new LocalStore({ location: storeLocation(this.env) });
    }
    return this.local;
  }

  get recordingStore(): RecordingStore {
    return this.store;
  }

  get evalState(): EvalState {
    return this.state;
  }

  // ------------------------------------------------------------------ evaluation

  private parse(text: string): { e: Expr; src: Source } {
    const src = new Source(null, STRING_ORIGIN, text);
    const e = this.state.parseSource(src, this.cwd, this.scope.names);
    return { e, src };
  }

  private compile(text: string): { code: (env: Env) => Value; env: Env } {
    const { e, src } = this.parse(text);
    const code = new Compiler({ globals: this.state.globals }, src).compile(e);
    return { code, env: this.scope.values };
  }

  /** Evaluates REPL input (a byte string) to weak head normal form. */
  evalText(text: string): Value {
    const { code, env } = this.compile(text);
    return force(code(env));
  }

  private addVar(name: string, v: Value): void {
    // (slot i is values[i + 1]: values is the session's environment, element 0 its null parent)
    this.scope.names.set(name, this.scope.values.length - 1);
    this.scope.values.push(v);
  }

  /** Names in scope: session variables and the global builtins. */
  scopeNames(): string[] {
    return [...new Set([...this.scope.names.keys(), ...this.state.globals.keys()])];
  }

  private addAttrs(v: Value, silent: boolean): void {
    const a = forceAttrs(v, null);
    for (const k of a.keys()) this.addVar(k, a.get(k)!);
    if (!silent) this.sink.out(`Added ${a.size} variables.\n`);
  }

  private applyOp(op: ScopeOp, silent: boolean): void {
    switch (op.op) {
      case 'bind': {
        const { code, env } = this.compile(op.expr);
        this.addVar(op.name, new Thunk(code, env));
        break;
      }
      case 'load':
        this.loadFile(op.file, silent);
        return; // loadFile records it
      case 'add':
        this.addAttrs(this.evalText(op.expr), silent);
        break;
    }
    this.ops.push(op);
  }

  private resolveFile(f: string): string {
    if (f.startsWith('<') && f.endsWith('>')) return f;
    if (f.startsWith('~/') && this.env.HOME) return toBytes(this.env.HOME) + f.slice(1);
    return toBytes(path.resolve(fromBytes(this.cwd), fromBytes(f)));
  }

  private loadFile(file: string, silent = false): void {
    const abs = this.resolveFile(toBytes(file));
    const v = abs.startsWith('<') ? this.evalText(`import ${abs}`) : this.state.evalFile(abs);
    this.addAttrs(this.autoCall(v), silent);
    if (!this.loadedFiles.includes(file)) this.loadedFiles.push(file);
    this.ops.push({ op: 'load', file });
  }

  /** A file that is a function with formals is called with --arg/--argstr values and the defaults (as `:l` does). */
  private autoCall(v: Value): Value {
    v = force(v);
    if (!(v instanceof Lambda) || !v.info.formals) return v;
    const m = new Map<string, Value>();
    const f = v.info.formals;
    for (const a of this.config.autoArgs) {
      const name = toBytes(a.name);
      if (!f.ellipsis && !f.names.includes(name)) continue;
      if (a.str !== undefined) m.set(name, toBytes(a.str));
      else {
        const text = toBytes(a.expr!);
        m.set(name, new Thunk(() => this.evalText(text), null));
      }
    }
    return callN(v, [new Attrs(m)], null);
  }

  private reload(): void {
    this.newState();
    this.scope = { names: new Map(), values: [null] };
    this.ops = [];
    this.explorer = null;
    for (const f of this.loadedFiles) {
      this.sink.out(`Loading '${fromBytes(f)}'...\n`);
      try {
        this.loadFile(f);
      } catch (e) {
        this.reportError(e);
      }
    }
  }

  // ------------------------------------------------------------------ errors

  /** Prints an error the CppNix way; never a JS stack trace. */
  reportError(e: unknown): void {
    this.sink.err(this.formatError(e) + '\n');
  }

  formatError(e: unknown): string {
    let s: string;
    if (e instanceof NixParseError) s = e.render();
    else if (e instanceof NixError) s = renderError(e, this.showTrace);
    else if (e instanceof Interrupted) s = 'error: interrupted by the user';
    else if (e instanceof RangeError) s = `error: ${rangeErrorMessage(e) ?? NATIVE_STACK_OVERFLOW}`;
    else if (e instanceof Error && [Error, TypeError, ReferenceError, SyntaxError, EvalError, URIError].includes(e.constructor as ErrorConstructor)) {
      s = `error: internal error: ${e.message}`;
    } else if (e instanceof Error) s = `error: ${e.message}`;
    else s = `error: ${String(e)}`;
    s = fromBytes(s);
    if (this.color) s = s.replace(/^error:/, `${ANSI.red}error:${ANSI.normal}`);
    return s;
  }

  // ------------------------------------------------------------------ input

  /**
   * Runs one input (all lines typed so far, without the last newline).
   * `incomplete`: the expression continues on the next line.
   */
  async run(input: string): Promise<RunResult> {
    const line = toBytes(input).trim();
    if (line === '') return { kind: 'done' };
    try {
      return await this.process(line);
    } catch (e) {
      if (e instanceof NixParseError && e.msg.includes('unexpected end of file')) return { kind: 'incomplete' };
      this.reportError(e);
      return { kind: 'done' };
    }
  }

  private async process(line: string): Promise<RunResult> {
    if (line.startsWith(':')) {
      const m = /^(\S*)\s*([\s\S]*)$/.exec(line)!;
      return this.command(m[1]!, m[2]!.trim());
    }
    const eq = line.indexOf('=');
    if (eq > 0 && line[eq + 1] !== '=') {
      const name = line.slice(0, eq).trim();
      if (VAR_NAME.test(name)) {
        const expr = line.slice(eq + 1);
        this.applyOp({ op: 'bind', name, expr }, false);
        return { kind: 'done' };
      }
    }
    const v = this.evalText(line);
    this.sink.out(fromBytes(printReplValue(v, { color: this.color, maxDepth: 1 })) + '\n');
    return { kind: 'done' };
  }

  private async command(cmd: string, arg: string): Promise<RunResult> {
    switch (cmd) {
      case ':?':
      case ':help':
        this.sink.out(helpText());
        return { kind: 'done' };
      case ':q':
      case ':quit':
        return { kind: 'done', quit: true };
      case ':a':
      case ':add':
        this.applyOp({ op: 'add', expr: arg }, false);
        return { kind: 'done' };
      case ':l':
      case ':load':
        if (arg === '') throw new NixError(`':l' needs a file to load`);
        this.loadFile(arg);
        return { kind: 'done' };
      case ':lf':
      case ':load-flake':
        throw new NixError(`flakes are not supported by tsnix, so ':lf' cannot load '${arg}'`);
      case ':r':
      case ':reload':
        this.reload();
        return { kind: 'done' };
      case ':p':
      case ':print': {
        const v = this.evalText(arg);
        this.sink.out(fromBytes(printReplValue(v, { color: this.color, maxDepth: Infinity, rawTopString: true })) + '\n');
        return { kind: 'done' };
      }
      case ':t':
      case ':type':
        this.sink.out(describeType(this.evalText(arg)) + '\n');
        return { kind: 'done' };
      case ':doc':
        this.sink.out(this.doc(this.evalText(arg)) + '\n');
        return { kind: 'done' };
      case ':e':
      case ':edit':
        return { kind: 'done', edit: this.editTarget(arg) };
      case ':log': {
        const v = this.evalText(arg);
        const drvPath = derivationPathOf(v, this.store);
        const log = readBuildLog(this.env, drvPath);
        this.sink.err(`got build log for '${fromBytes(drvPath)}' from 'local'\n`);
        this.sink.out(fromBytes(log) + (log.endsWith('\n') || log === '' ? '' : '\n'));
        return { kind: 'done' };
      }
      case ':te':
      case ':trace-enable': {
        if (arg === '') this.showTrace = !this.showTrace;
        else if (['true', 'yes', '1', 'on'].includes(arg)) this.showTrace = true;
        else if (['false', 'no', '0', 'off'].includes(arg)) this.showTrace = false;
        else throw new NixError(`unexpected argument '${arg}' to ${cmd}: expected a Boolean`);
        setShowTrace(this.showTrace);
        this.sink.out(this.showTrace ? 'showing error traces\n' : 'not showing error traces\n');
        return { kind: 'done' };
      }
      case ':b':
      case ':build':
      case ':bl':
        await this.build(arg, cmd === ':bl');
        return { kind: 'done' };
      case ':x':
      case ':explore': {
        const v = this.evalText(arg);
        this.explorer = new Explorer(this.color);
        return { kind: 'explore', root: this.explorer.root(v, fromBytes(arg)) };
      }
      case ':u':
      case ':s':
      case ':sh':
      case ':i':
        throw new NixError(`'${cmd}' is not supported by tsnix yet`);
      default:
        throw new NixError(`unknown command '${cmd}'`);
    }
  }

  // ------------------------------------------------------------------ :doc, :e

  private doc(v: Value): string {
    let op: PrimOp | null = null;
    if (v instanceof PrimOp) op = v;
    else if (v instanceof PrimOpApp) op = v.op;
    if (op) {
      const def = this.state.builtinDefs.get(op.name.replace(/^__/, ''));
      const text = op.doc?.text ?? def?.doc;
      if (text) return renderDoc({ name: op.name, args: op.doc?.args ?? def?.args ?? [], text }, { color: this.color, width: this.config.width ?? 80 });
    }
    // builtins that are values (derivation, …) documented by the registry
    for (const [name, def] of this.state.builtinDefs) {
      const b = this.state.builtins.get(name);
      if (b === undefined || !def.doc) continue;
      const bv = b instanceof Thunk ? (b.code === null ? b.v : undefined) : b;
      if (bv === v) return renderDoc({ name, args: def.args, text: def.doc }, { color: this.color, width: this.config.width ?? 80 });
    }
    if (v instanceof Lambda) {
      const comment = docComment(v);
      if (comment !== null) {
        const head = `Function ${v.info.name !== undefined ? `'${fromBytes(v.info.name)}'` : '(anonymous)'}\n    … defined at ${fromBytes(showPos(v.info.pos))}\n\n`;
        return head + renderDocText(comment, this.color, this.config.width ?? 80);
      }
    }
    throw new NixError('value does not have documentation');
  }

  private editTarget(arg: string): { file: string; line: number } {
    const v = this.evalText(arg);
    if (v instanceof NixPath || typeof v === 'string' || v instanceof NixStr) {
      const p = v instanceof NixPath ? v.path : coerceToString(v, null).s;
      return { file: fromBytes(p), line: 0 };
    }
    if (v instanceof Lambda) {
      const pos = v.info.pos;
      if (pos.src.path === null) throw new NixError(`'${showPos(pos)}' cannot be shown in an editor`);
      return { file: fromBytes(pos.src.path), line: pos.src.position(pos.offset).line };
    }
    // a derivation: its meta.position ("FILE:LINE")
    if (v instanceof Attrs) {
      const meta = v.get('meta');
      if (meta !== undefined) {
        const m = force(meta);
        const p = m instanceof Attrs ? m.get('position') : undefined;
        if (p !== undefined) {
          const s = coerceToString(p, null).s;
          const i = s.lastIndexOf(':');
          if (i > 0) return { file: fromBytes(s.slice(0, i)), line: Number(s.slice(i + 1)) || 0 };
        }
      }
    }
    throw new NixError(`package '${arg}' has no source location information`);
  }

  /** After the editor: reload the files, as `nix repl` does. */
  afterEdit(): void {
    this.reload();
  }

  // ------------------------------------------------------------------ :b

  private async build(arg: string, links: boolean): Promise<void> {
    const v = this.evalText(arg);
    const ac = new AbortController();
    this.abortBuild.add(ac);
    try {
      const outputs = await buildValue(v, {
        session: this,
        store: this.store,
        settings: this.state.settings,
        warn: (s) => this.sink.err(fromBytes(s) + '\n'),
        signal: ac.signal,
        progress: (ev) => this.sink.progress?.(ev),
        message: (s) => this.sink.err(fromBytes(s) + '\n'),
      });
      this.sink.out('This derivation produced the following outputs:\n');
      for (const [name, p] of outputs) {
        if (links) {
          const link = `repl-result-${name}`;
          const { addIndirectRoot } = await import('../store/gc-roots.js');
          addIndirectRoot(this.openLocalStore(), p, path.join(fromBytes(this.cwd), link));
          this.sink.out(`  ./${link} -> ${fromBytes(p)}\n`);
        } else this.sink.out(`  ${fromBytes(name)} -> ${fromBytes(p)}\n`);
      }
    } finally {
      this.abortBuild.delete(ac);
    }
  }

  /** Interrupts running builds (Ctrl-C during `:b`). */
  abortBuilds(): void {
    for (const ac of this.abortBuild) ac.abort();
  }

  // ------------------------------------------------------------------ completion

  /** Completions of the word before the cursor: `start` is where the completed word begins. */
  complete(text: string, cursor: number): { start: number; candidates: string[] } {
    const before = text.slice(0, cursor);
    const cmd = /^(\s*)(:[\w?-]*)$/.exec(before);
    if (cmd) return { start: cmd[1]!.length, candidates: COMMAND_NAMES.filter((c) => c.startsWith(cmd[2]!)) };
    const load = /^\s*:(?:l|load|e|edit)\s+(\S*)$/.exec(before);
    if (load && /^[./~]/.test(load[1]!)) return { start: cursor - load[1]!.length, candidates: completeFile(load[1]!, this.env) };
    const word = /[a-zA-Z0-9_'.-]*$/.exec(before)![0];
    const start = cursor - word.length;
    const dot = word.lastIndexOf('.');
    if (dot >= 0) {
      const expr = word.slice(0, dot);
      const prefix = word.slice(dot + 1);
      if (!/^[a-zA-Z_]/.test(expr)) return { start, candidates: [] };
      let v: Value;
      try {
        v = this.evalText(toBytes(expr));
      } catch (e) {
        if (e instanceof Interrupted) throw e;
        return { start, candidates: [] };
      }
      if (!(v instanceof Attrs)) return { start, candidates: [] };
      const bprefix = toBytes(prefix);
      const names = v.keys().filter((k) => k.startsWith(bprefix) && VAR_NAME.test(k));
      return { start, candidates: names.map((k) => `${expr}.${fromBytes(k)}`) };
    }
    if (word === '' || !/^[a-zA-Z_]/.test(word)) return { start, candidates: [] };
    const hidden = !word.startsWith('__');
    const names = this.scopeNames().filter((n) => n.startsWith(word) && !(hidden && n.startsWith('__')));
    return { start, candidates: names.sort() };
  }

  // ------------------------------------------------------------------ :x

  exploreChildren(id: number, offset: number, limit: number): { nodes: XNode[]; total: number } {
    if (!this.explorer) return { nodes: [], total: 0 };
    return this.explorer.children(id, offset, limit);
  }

  exploreForce(id: number): XNode | null {
    return this.explorer ? this.explorer.force(id) : null;
  }

  exploreClose(): void {
    this.explorer = null;
  }
}

/** Completion of file names (`:l ./fi<Tab>`). */
function completeFile(prefix: string, env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME ?? '';
  const expanded = prefix.startsWith('~/') ? home + prefix.slice(1) : prefix;
  const dir = expanded.endsWith('/') ? expanded : path.dirname(expanded);
  const base = expanded.endsWith('/') ? '' : path.basename(expanded);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir === '' ? '.' : dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const shownDir = prefix.endsWith('/') ? prefix : prefix.slice(0, prefix.length - base.length);
  return entries
    .filter((e) => e.name.startsWith(base) && (base.startsWith('.') || !e.name.startsWith('.')))
    .map((e) => shownDir + e.name + (e.isDirectory() ? '/' : ''))
    .sort();
}

/** A `/** … *\/` comment right before a lambda (or before the attribute it is bound to), as CppNix's doc comments. */
export function docComment(l: Lambda): string | null {
  const text = l.info.pos.src.text;
  let i = l.info.pos.offset;
  const skipWs = () => {
    while (i > 0 && /\s/.test(text[i - 1]!)) i--;
  };
  const comment = (): string | null => {
    skipWs();
    if (!text.startsWith('*/', i - 2)) return null;
    const start = text.lastIndexOf('/**', i - 2);
    if (start < 0) return null;
    return text.slice(start + 3, i - 2);
  };
  let c = comment();
  if (c === null) {
    // `name = x: …` or `/** doc */ name = …`
    skipWs();
    if (text[i - 1] === '=') {
      i--;
      skipWs();
      while (i > 0 && /[a-zA-Z0-9_'".-]/.test(text[i - 1]!)) i--;
      c = comment();
    }
  }
  if (c === null) return null;
  // strip the common indentation and leading `*`s
  const lines = fromBytes(c).split('\n');
  const indents = lines.filter((x) => x.trim() !== '').map((x) => /^\s*/.exec(x)![0].length);
  const min = indents.length ? Math.min(...indents) : 0;
  return lines
    .map((x) => x.slice(min))
    .join('\n')
    .trim();
}

function renderDocText(md: string, color: boolean, width: number): string {
  return renderDoc({ name: '', args: [], text: md }, { color, width })
    .split('\n')
    .slice(2)
    .join('\n');
}

/** For tests and the worker: whether a value is a derivation (re-exported). */
export { isDerivationValue };
