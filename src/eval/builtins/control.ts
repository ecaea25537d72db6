// Control flow, errors, tracing, type predicates: abort, throw, seq, deepSeq,
// tryEval, trace, warn, addErrorContext, typeOf, is*, functionArgs, break.

import { AbortError, AssertionError, NixError, ThrownError } from '../errors.js';
import { coerceToString, forceDeep, forceString } from '../ops.js';
import { printValue } from '../print.js';
import { Attrs, Lambda, Layout, NixFloat, NixPath, NixStr, PrimOp, PrimOpApp, force, isFunction, typeOf, type AttrPositions, type LambdaInfo, type Value } from '../value.js';
import { argCtx, type Registry } from './registry.js';

/** The names, defaults and positions of the sets functionArgs makes for a lambda (made once per lambda). */
const formalSets = new WeakMap<LambdaInfo, { layout: Layout; vals: Value[]; posTables: AttrPositions[] }>();

export function register(r: Registry): void {
  const { state } = r;

  r.add({
    name: 'abort',
    args: ['s'],
    global: true,
    doc: 'Abort Nix expression evaluation and print the error message *s*.',
    fn: ([s]) => {
      const msg = coerceToString(force(s!), null, { copyToStore: true, errCtx: argCtx('abort', 0) }).s;
      throw new AbortError(`evaluation aborted with the following error message: '${msg}'`);
    },
  });

  r.add({
    name: 'throw',
    args: ['s'],
    global: true,
    doc: 'Throw an error message *s*. This usually aborts Nix expression evaluation, but in `nix-env -qa` and other commands that try to evaluate a set of derivations to get information about those derivations, a derivation that throws an error is silently skipped (which is not the case for `abort`).',
    fn: ([s]) => {
      const msg = coerceToString(force(s!), null, { copyToStore: true, errCtx: argCtx('throw', 0) }).s;
      throw new ThrownError(msg);
    },
  });

  r.add({
    name: 'seq',
    args: ['e1', 'e2'],
    doc: 'Evaluate *e1*, then evaluate and return *e2*. This ensures that a computation is strict in the value of *e1*.',
    fn: ([a, b]) => {
      force(a!);
      return force(b!);
    },
  });

  r.add({
    name: 'deepSeq',
    args: ['e1', 'e2'],
    doc: 'This is like `seq e1 e2`, except that *e1* is evaluated *deeply*: if it’s a list or set, its elements or attributes are also evaluated recursively.',
    fn: ([a, b]) => {
      forceDeep(a!);
      return force(b!);
    },
  });

  r.add({
    name: 'tryEval',
    args: ['e'],
    doc: 'Try to shallowly evaluate *e*. Return a set containing the attributes `success` (`true` if *e* evaluated successfully, `false` if an error was thrown) and `value`, equalling *e* if successful and `false` otherwise. `tryEval` only prevents errors created by `throw` or `assert` from being thrown.',
    fn: ([e]) => {
      try {
        const v = force(e!);
        return new Attrs(new Map<string, Value>([['success', true], ['value', v]]));
      } catch (err) {
        if (err instanceof ThrownError || err instanceof AssertionError) {
          return new Attrs(new Map<string, Value>([['success', false], ['value', false]]));
        }
        throw err;
      }
    },
  });

  r.add({
    name: 'trace',
    args: ['e1', 'e2'],
    doc: 'Evaluate *e1* and print its abstract syntax representation on standard error. Then return *e2*. This function is useful for debugging.',
    fn: ([a, b]) => {
      const v = force(a!);
      const s = typeof v === 'string' ? v : v instanceof NixStr ? v.s : printValue(v);
      state.stderr(`trace: ${s}\n`);
      return force(b!);
    },
  });

  r.add({
    name: 'traceVerbose',
    args: ['e1', 'e2'],
    doc: 'Evaluate *e1* and print its abstract syntax representation on standard error if `--trace-verbose` is enabled. Then return *e2*.',
    fn: ([, b]) => force(b!),
  });

  r.add({
    name: 'warn',
    args: ['msg', 'e'],
    doc: 'Evaluate *msg* and print it on standard error as a warning. Then return *e*. If the `abort-on-warn` setting is enabled, the warning is an error.',
    fn: ([m, e]) => {
      const msg = forceString(m!, null, argCtx('warn', 0));
      state.stderr(`${indentMessage('evaluation warning: ', msg)}\n`);
      if (state.settings.bool('abort-on-warn')) throw new NixError('aborting to reveal stack trace of warning, as abort-on-warn is set');
      return force(e!);
    },
  });

  r.add({
    name: 'addErrorContext',
    args: ['ctx', 'e'],
    addTrace: false,
    doc: 'Evaluate *e*; if that fails, add *ctx* to the error trace.',
    fn: ([c, e]) => {
      try {
        return force(e!);
      } catch (err) {
        if (err instanceof NixError) {
          const msg = coerceToString(force(c!), null, { errCtx: argCtx('addErrorContext', 0) }).s;
          err.addTrace(msg, null, true);
        }
        throw err;
      }
    },
  });

  r.add({
    name: 'break',
    args: ['v'],
    doc: 'In debug mode (enabled with `--debugger`), pause Nix expression evaluation and enter the REPL. Otherwise, return the argument `v`.',
    fn: ([v]) => force(v!),
  });

  r.add({
    name: 'typeOf',
    args: ['e'],
    doc: 'Return a string representing the type of the value *e*, namely `"int"`, `"bool"`, `"string"`, `"path"`, `"null"`, `"set"`, `"list"`, `"lambda"` or `"float"`.',
    fn: ([e]) => typeOf(force(e!)),
  });

  const pred = (name: string, what: string, test: (v: Value) => boolean, global = false) =>
    r.add({ name, args: ['e'], global, doc: `Return \`true\` if *e* evaluates to ${what}, and \`false\` otherwise.`, fn: ([e]) => test(force(e!)) });
  pred('isNull', '`null`', (v) => v === null, true);
  pred('isBool', 'a Boolean', (v) => typeof v === 'boolean');
  pred('isInt', 'an integer', (v) => typeof v === 'number' || typeof v === 'bigint');
  pred('isFloat', 'a float', (v) => v instanceof NixFloat);
  pred('isString', 'a string', (v) => typeof v === 'string' || v instanceof NixStr);
  pred('isPath', 'a path', (v) => v instanceof NixPath);
  pred('isList', 'a list', (v) => Array.isArray(v));
  pred('isAttrs', 'a set', (v) => v instanceof Attrs);
  pred('isFunction', 'a function', (v) => isFunction(v));

  r.add({
    name: 'functionArgs',
    args: ['f'],
    doc: 'Return a set containing the names of the formal arguments expected by the function *f*. The value of each attribute is a Boolean denoting whether the corresponding argument has a default value.',
    fn: ([f]) => {
      const v = force(f!);
      if (v instanceof PrimOp || v instanceof PrimOpApp) return Attrs.EMPTY;
      if (!(v instanceof Lambda)) throw new NixError("'functionArgs' requires a function");
      if (v.info.formals === null) return Attrs.EMPTY;
      // a new set each time (as in CppNix: never «repeated»), sharing its names and positions
      let shape = formalSets.get(v.info);
      if (shape === undefined) {
        const fm = v.info.formals;
        const offsets = new Map<string, number>();
        for (let i = 0; i < fm.names.length; i++) offsets.set(fm.names[i]!, fm.poses[i]!);
        shape = {
          layout: new Layout(fm.names),
          // (the values of every result, copied: element 0 is not a value, see Attrs.slots)
          vals: [null, ...fm.defaults.map((d) => d !== null)],
          posTables: [{ src: v.info.pos.src, offsets }],
        };
        formalSets.set(v.info, shape);
      }
      return Attrs.slots(shape.layout, shape.vals.slice(), shape.posTables);
    },
  });
}

/**
 * A message under a prefix as CppNix's logger prints it: trailing whitespace
 * removed (from the message and each line), lines after the first indented to
 * the prefix's width, unless the message starts with a newline.
 */
export function indentMessage(prefix: string, msg: string): string {
  const chomp = (x: string) => x.replace(/[ \n\r\t]+$/, '');
  const s = chomp(msg);
  if (s === '') return '';
  const rest = msg.startsWith('\n') ? '' : ' '.repeat(prefix.length);
  return s
    .split('\n')
    .map((l, i) => chomp((i === 0 ? prefix : rest) + l))
    .join('\n');
}
