// Deferred bindings (grammar/bind.ts's Deferrer): the AST of a big binding is
// dropped once bound and parsed again from its text when first evaluated.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LANG } from './lang-suite.js';
import { Source, parse, printExpr, toBytes, fromBytes } from '../../grammar/index.js';
import type { EAttrs, ELet, Expr, ParseOptions } from '../../grammar/index.js';
import { bind } from '../../grammar/bind.js';
import { NixError, renderError } from '../../src/eval/errors.js';
import { forceDeep } from '../../src/eval/ops.js';
import { printInstantiate } from '../../src/eval/print.js';
import { Settings } from '../../src/eval/settings.js';
import { EvalState } from '../../src/eval/state.js';

const root = path.resolve(__dirname, '../..');
const GLOBALS = new Set(['builtins', 'true', 'false', 'null', 'import', 'map', 'toString', 'throw', 'abort', 'baseNameOf', 'derivation', 'removeAttrs', 'isNull', 'dirOf', 'fetchTarball', 'placeholder', 'scopedImport', '__currentSystem', '__sub', '__mul', '__div', '__lessThan', '__findFile', '__nixPath', '__curPos']);

function parseBind(text: string, defer: boolean, origin = '«test»'): { e: Expr; src: Source } {
  const src = new Source(null, toBytes(origin), text);
  const opts: ParseOptions = { basePath: '/base', home: '/home/u' };
  const e = parse(src, opts);
  bind(e, src, { globals: GLOBALS, defer: defer ? opts : undefined });
  return { e, src };
}

/** Replaces every deferred node below `x` by its expansion (recursively), in place; returns how many there were. */
function expandAll(x: unknown): number {
  let n = 0;
  const seen = new Set<object>();
  const walk = (o: unknown): void => {
    if (o === null || typeof o !== 'object' || seen.has(o)) return;
    seen.add(o);
    if (o instanceof Map) {
      for (const v of o.values()) walk(v);
      return;
    }
    for (const [k, v] of Object.entries(o)) {
      if (k === 'resolved' || k === 'scope' || k === 'ctx') continue;
      if (v !== null && typeof v === 'object' && (v as Expr).kind === 'deferred') {
        n++;
        const d = v as Expr & { kind: 'deferred' };
        const ex = d.ctx.expand(d);
        (o as Record<string, unknown>)[k] = ex;
        walk(ex);
      } else walk(v);
    }
  };
  walk(x);
  return n;
}

const BIG = 'builtins.concatStringsSep "-" (map (x: toString (x * 2)) [ 1 2 3 4 5 6 7 8 ])';

describe('deferred bindings: the AST', () => {
  it('a big binding is a stub after binding, a small one is not', () => {
    const { e } = parseBind(`let small = 1 + 2; big = ${BIG}; s = "a string that is long enough to be deferred, but is a constant"; in big`, true);
    const defs = (e as ELet).attrs.attrs;
    expect((defs.get('small') as { expr: Expr }).expr.kind).toBe('concat');
    expect((defs.get('big') as { expr: Expr }).expr.kind).toBe('deferred');
    expect((defs.get('s') as { expr: Expr }).expr.kind).toBe('str');
  });

  it('the bindings of an expanded binding keep their AST (no text is parsed more than twice)', () => {
    const { e } = parseBind(`let outer = let inner = ${BIG}; in inner + "padding padding padding"; in outer`, true);
    const d = ((e as ELet).attrs.attrs.get('outer') as { expr: Expr }).expr;
    expect(d.kind).toBe('deferred');
    const x = (d as Expr & { kind: 'deferred' }).ctx.expand(d as Expr & { kind: 'deferred' });
    expect(x.kind).toBe('let');
    expect(((x as ELet).attrs.attrs.get('inner') as { expr: Expr }).expr.kind).toBe('call');
  });

  it('expanding gives the AST of a plain parse, names and variable addresses included', () => {
    const text = `rec { f = { a, b ? 2 }: x: a + b + x + builtins.stringLength "${BIG.length}"; g = with builtins; let y = ${BIG}; in y + toString (f { a = 1; } 3); h = f; }`;
    const plain = parseBind(text, false).e;
    const deferred = parseBind(text, true).e;
    expect(expandAll(deferred)).toBe(2);
    expect(deferred).toEqual(plain);
    expect(printExpr(deferred)).toBe(printExpr(plain));
  });

  it('a set merged from `a.b = …` paths keeps its AST, and so does one merged into', () => {
    for (const text of [
      `{ a = { x = ${BIG}; y = ${BIG}; }; a.z = 1; }`,
      `{ a.z = 1; a = { x = ${BIG}; y = ${BIG}; }; }`,
      `{ a.b.c = ${BIG}; a.b.d = ${BIG}; }`,
    ]) {
      const plain = parseBind(text, false).e;
      const deferred = parseBind(text, true).e;
      const a = (deferred as EAttrs).attrs.get('a') as { expr: Expr };
      expect(a.expr.kind).toBe('attrs');
      expandAll(deferred);
      expect(deferred).toEqual(plain);
    }
  });

  it('printing (assertion messages) shows a deferred expression in full', () => {
    const { e } = parseBind(`assert (let q = ${BIG}; in q) == "x"; 1`, true);
    expect(printExpr(e)).toBe(printExpr(parseBind(`assert (let q = ${BIG}; in q) == "x"; 1`, false).e));
  });

  it.skipIf(!fs.existsSync(LANG))('every file of the language suite expands back to its plain AST', () => {
    let files = 0;
    let stubs = 0;
    for (const f of fs.readdirSync(LANG).filter((f) => f.endsWith('.nix') && !f.startsWith('parse-fail'))) {
      const text = fs.readFileSync(path.join(LANG, f), 'latin1');
      let plain: Expr;
      try {
        plain = parseBind(text, false, f).e;
      } catch {
        continue; // (parse errors, undefined variables: nothing to defer)
      }
      const deferred = parseBind(text, true, f).e;
      stubs += expandAll(deferred);
      expect(deferred, f).toEqual(plain);
      files++;
    }
    expect(files).toBeGreaterThan(200);
    expect(stubs).toBeGreaterThan(100);
  });
});

const stderr: string[] = [];
function state(): EvalState {
  return new EvalState({ settings: new Settings(), stderr: (s) => stderr.push(s), env: { HOME: '/home/test' } });
}
function ev(text: string): string {
  return printInstantiate(forceDeep(state().evalString(toBytes(text), toBytes('«string»'), '/tmp')));
}
function rendered(text: string): string {
  try {
    forceDeep(state().evalString(toBytes(text), toBytes('«string»'), '/tmp'));
  } catch (e) {
    if (e instanceof NixError) return fromBytes(renderError(e, true));
    throw e;
  }
  throw new Error('no error');
}

describe('deferred bindings: evaluation', () => {
  it('values, laziness and sharing are as before', () => {
    expect(ev(`let big = ${BIG}; unused = ${BIG} + throw "never"; in [ big big ]`)).toBe('[ "2-4-6-8-10-12-14-16" "2-4-6-8-10-12-14-16" ]');
    stderr.length = 0;
    expect(ev(`let t = builtins.trace "evaluated once" (${BIG}); in [ t t ]`)).toBe('[ "2-4-6-8-10-12-14-16" "2-4-6-8-10-12-14-16" ]');
    expect(stderr.join('')).toBe('trace: evaluated once\n');
    expect(ev(`rec { a = 1; f = x: if x == 0 then a else f (x - 1) + a + 0 * ${BIG.length}; r = f 3; }.r`)).toBe('4');
    expect(ev(`with { zz = 5; }; let v = [ zz zz zz zz zz zz zz zz zz zz zz zz zz zz zz zz zz zz ]; in builtins.length v`)).toBe('18');
  });

  it('an undefined variable in a binding never evaluated is still an error on loading', () => {
    const text = `let unused = builtins.concatStringsSep "-" (map (x: toString (x * nope)) [ 1 2 3 ]); in 1`;
    expect(() => parseBind(text, true)).toThrow("undefined variable 'nope'");
  });

  it('errors in deferred code have their positions, code frames and lambda names', () => {
    const r = rendered(`let\n  f = { a, b }: builtins.concatStringsSep "-" [ a b "padding padding" ];\nin f { a = "1"; }`);
    expect(r).toMatch(/… from call site\n\s+at «string»:3:4:[^]*\n\s+error: function 'f' called without required argument 'b'\n\s+at «string»:2:7:\n\s+1\| let\n\s+2\|   f = \{ a, b \}: builtins/);
    const r2 = rendered(`let\n  g = x: builtins.concatStringsSep "-" (map (y: toString (y * x)) [ 1 2 3 ]) + 1;\nin g 2`);
    expect(r2).toMatch(/at «string»:2:80:\n\s+1\| let\n\s+2\|   g = x: builtins/);
    expect(r2).toContain('error: cannot coerce an integer to a string: 1');
  });

  it('__curPos in deferred code gives its own line and column', () => {
    expect(fromBytes(ev(`let\n  p = builtins.seq (builtins.concatStringsSep "" [ "x" "y" ])   __curPos;\nin p`))).toBe('{ column = 65; file = "«string»"; line = 2; }');
  });
});

describe('deferred bindings: the CLI', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-defer-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const tsnix = (args: string[]) =>
    spawnSync(path.join(root, 'bin/tsnix'), args, { encoding: 'latin1', env: { ...process.env, TSNIX_STORE_DIR: path.join(tmp, 'store'), TSNIX_STATE_DIR: path.join(tmp, 'state') } });

  it('--parse prints the whole AST', () => {
    const r = tsnix(['instantiate', '--parse', '-E', `let big = ${BIG}; in big`]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('(let big = ((builtins).concatStringsSep "-" (map (x: (toString (__mul x 2))) [ (1) (2) (3) (4) (5) (6) (7) (8) ])); in big)\n');
  });

  it('a parse warning in a deferred binding is given once', () => {
    const f = path.join(tmp, 'w.nix');
    fs.writeFileSync(f, 'let u = builtins.concatStringsSep "" [ (builtins.toString http://example.org/a) "x" "y" "z" ]; in [ u u ]\n');
    const r = tsnix(['instantiate', '--eval', '--strict', '--option', 'lint-url-literals', 'warn', f]);
    expect(r.stdout).toBe('[ "http://example.org/axyz" "http://example.org/axyz" ]\n');
    expect(r.stderr.match(/URL literal/g)?.length).toBe(1);
  });

  it('a binding nested too deeply for the main thread is parsed again in a worker', () => {
    const n = 30000;
    const f = path.join(tmp, 'deep.nix');
    fs.writeFileSync(f, `let deep = ${'('.repeat(n)}builtins.add 1 2${')'.repeat(n)}; in deep\n`);
    const r = tsnix(['instantiate', '--eval', f]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('3\n');
  });
});
