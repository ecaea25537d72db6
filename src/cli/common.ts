// Flags shared by the evaluating commands (instantiate, eval, build, repl)
// and the setup of an evaluator from them.

import fs from 'node:fs';
import path from 'node:path';
import { Source } from '../../grammar/ast.js';
import { NixParseError, toBytes } from '../../grammar/errors.js';
import { NATIVE_STACK_OVERFLOW, NixError, NixUsageError, rangeErrorMessage, renderError } from '../eval/errors.js';
import { callN, didYouMean } from '../eval/ops.js';
import type { Settings } from '../eval/settings.js';
import { EvalState } from '../eval/state.js';
import type { StoreApi } from '../store/store-api.js';
import { Attrs, Lambda, Thunk, force, typeName, type Value } from '../eval/value.js';
import { UsageError, needValue, readStdin, settingsWith, writeErr } from './util.js';

export interface CommonOptions {
  options: [string, string][];
  searchPath: string[];
  autoArgs: { name: string; expr?: string; str?: string }[];
}

export function newCommonOptions(): CommonOptions {
  return { options: [], searchPath: [], autoArgs: [] };
}

/** Consumes a shared flag at args[i]; returns how many arguments it used (0 if not a shared flag). */
export function parseCommonFlag(args: string[], i: number, o: CommonOptions): number {
  const a = args[i]!;
  switch (a) {
    case '--option': {
      const name = needValue(args, i, a);
      const value = args[i + 2];
      if (value === undefined) throw new UsageError(`flag '--option' requires 2 arguments`);
      o.options.push([name, value]);
      return 3;
    }
    case '-I':
    case '--include':
      o.searchPath.push(needValue(args, i, a));
      return 2;
    case '--arg': {
      const name = needValue(args, i, a);
      const v = args[i + 2];
      if (v === undefined) throw new UsageError(`flag '--arg' requires 2 arguments`);
      o.autoArgs.push({ name, expr: v });
      return 3;
    }
    case '--argstr': {
      const name = needValue(args, i, a);
      const v = args[i + 2];
      if (v === undefined) throw new UsageError(`flag '--argstr' requires 2 arguments`);
      o.autoArgs.push({ name, str: v });
      return 3;
    }
    case '--show-trace':
      o.options.push(['show-trace', 'true']);
      return 1;
    case '--no-show-trace':
      o.options.push(['show-trace', 'false']);
      return 1;
    case '--impure':
      o.options.push(['pure-eval', 'false']);
      return 1;
    case '--pure-eval':
      o.options.push(['pure-eval', 'true']);
      return 1;
    case '--restrict-eval':
      o.options.push(['restrict-eval', 'true']);
      return 1;
    case '--abort-on-warn':
      o.options.push(['abort-on-warn', 'true']);
      return 1;
    case '--experimental-features':
    case '--extra-experimental-features':
    case '--max-call-depth':
    case '--nix-path':
    case '--system':
    case '--cores':
      o.options.push([a.slice(2), needValue(args, i, a)]);
      return 2;
    case '-v':
    case '--verbose':
    case '--quiet':
    case '-Q':
    case '--no-build-output':
    case '--debug':
      return 1;
    case '--store':
    case '--eval-store':
      needValue(args, i, a);
      return 2;
  }
  if (a.startsWith('--lint-')) {
    o.options.push([a.slice(2), needValue(args, i, a)]);
    return 2;
  }
  return 0;
}

/** Settings from the config file, NIX_CONFIG and the command line. */
export function makeSettings(o: CommonOptions): Settings {
  return settingsWith(o.options);
}

export function makeState(o: CommonOptions, settings = makeSettings(o), store?: StoreApi): EvalState {
  return new EvalState({ settings, searchPath: o.searchPath, store });
}

/** The current directory as a byte string. */
export function cwdBytes(): string {
  return toBytes(process.cwd());
}

/** Evaluates `-E` text, `-` (stdin) or a file (a directory means default.nix). */
export function evalInput(state: EvalState, input: { expr?: string; file?: string }): Value {
  if (input.expr !== undefined) return state.evalString(toBytes(input.expr), toBytes('«string»'), cwdBytes());
  const f = input.file ?? 'default.nix';
  if (f === '-') return state.evalString(readStdin(), toBytes('«stdin»'), cwdBytes());
  return state.evalFile(resolveFile(f));
}

export function resolveFile(f: string): string {
  if (f.startsWith('<') && f.endsWith('>')) return toBytes(f);
  return toBytes(path.resolve(f));
}

/** Calls a function with --arg/--argstr values, as CppNix's autoCallFunction does. */
export function autoCall(state: EvalState, v: Value, o: CommonOptions): Value {
  v = force(v);
  const args = new Map<string, Value>();
  for (const a of o.autoArgs) {
    if (a.str !== undefined) args.set(a.name, toBytes(a.str));
    else args.set(a.name, new Thunk(() => state.evalString(toBytes(a.expr!), toBytes('«string»'), cwdBytes()), null));
  }
  if (v instanceof Attrs && v.has('__functor')) {
    // functors are called like functions
    const f = force(v.get('__functor')!);
    const inner = force(callN(f, [v], null));
    if (inner instanceof Lambda && inner.info.formals) return callWith(inner, args);
    return v;
  }
  if (!(v instanceof Lambda) || !v.info.formals) return v;
  return callWith(v, args);
}

function callWith(fn: Lambda, args: Map<string, Value>): Value {
  const f = fn.info.formals!;
  const m = new Map<string, Value>();
  for (const [k, val] of args) if (f.ellipsis || f.names.includes(k)) m.set(k, val);
  for (let i = 0; i < f.names.length; i++) {
    if (!m.has(f.names[i]!) && f.defaults[i] === null) {
      throw new NixError(
        `cannot evaluate a function that has an argument without a value ('${f.names[i]}')\nNix attempted to evaluate a function as a top level expression; in this case it must have its arguments supplied either by default values, or passed explicitly with '--arg' or '--argstr'. See https://nix.dev/manual/nix/stable/language/syntax.html#functions.`,
        { src: fn.info.pos.src, offset: f.poses[i]! },
      );
    }
  }
  return callN(fn, [new Attrs(m)], null);
}

/**
 * Selects an attribute path (`-A a.b.0`) as CppNix's findAlongAttrPath does:
 * each step auto-calls a function first; a step that is a number indexes a
 * list, any other names an attribute; `"a.b"` quotes a name with dots.
 */
export function selectAttrPath(state: EvalState, v: Value, attrPath: string, o: CommonOptions): Value {
  for (const part of parseAttrPath(attrPath)) {
    v = force(autoCall(state, v, o));
    if (/^[0-9]+$/.test(part) && Number(part) <= 0xffffffff) {
      if (!Array.isArray(v)) throw new NixError(`the expression selected by the selection path '${attrPath}' should be a list but is ${typeName(v)}`);
      const i = Number(part);
      if (i >= v.length) throw new NixError(`list index ${i} in selection path '${attrPath}' is out of range`);
      v = v[i]!;
      continue;
    }
    if (!(v instanceof Attrs)) throw new NixError(`the expression selected by the selection path '${attrPath}' should be a set but is ${typeName(v)}`);
    if (part === '') throw new NixError(`empty attribute name in selection path '${attrPath}'`);
    const x = v.get(part);
    if (x === undefined) {
      const e = new NixError(`attribute '${part}' in selection path '${attrPath}' not found`);
      e.hint = didYouMean(part, v.keys());
      throw e;
    }
    v = x;
  }
  return force(v);
}

/** The steps of an attribute path: split at dots outside quotes; a trailing empty step is dropped. */
function parseAttrPath(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '.') {
      out.push(cur);
      cur = '';
    } else if (c === '"') {
      const close = s.indexOf('"', i + 1);
      if (close < 0) throw new NixError(`missing closing quote in selection path '${s}'`);
      cur += s.slice(i + 1, close);
      i = close;
    } else cur += c;
  }
  if (cur !== '') out.push(cur);
  return out.map(toBytes);
}

const JS_ERRORS = new Set<unknown>([Error, TypeError, ReferenceError, SyntaxError, EvalError, URIError]);

/** Prints an evaluation or parse error the CppNix way; returns the exit code. */
export function reportError(e: unknown, showTrace: boolean, program = 'nix'): number {
  if (e instanceof NixParseError) {
    writeErr(e.render() + '\n');
    return 1;
  }
  if (e instanceof NixError) {
    writeErr(renderError(e, showTrace) + '\n');
    if (e instanceof NixUsageError) writeErr(`Try '${program} --help' for more information.\n`);
    return 1;
  }
  if (e instanceof RangeError) {
    writeErr(`error: ${rangeErrorMessage(e) ?? NATIVE_STACK_OVERFLOW}\n`);
    return 1;
  }
  // errors of the store and other modules (their own Error classes) are user errors
  if (e instanceof Error && !JS_ERRORS.has(e.constructor)) {
    writeErr(`error: ${e.message}\n`);
    return 1;
  }
  throw e;
}

export { Source, fs };

/** The expressions to evaluate: `-E` texts, or files (`dflt` when none is given). */
export function inputsOf(readFromExpr: boolean, files: string[], dflt = 'default.nix'): { expr?: string; file?: string }[] {
  return readFromExpr ? files.map((e) => ({ expr: e })) : (files.length ? files : [dflt]).map((f) => ({ file: f }));
}
