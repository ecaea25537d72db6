// Evaluator semantics: laziness, scopes, operators, numbers, strings, errors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fromBytes, toBytes } from '../../grammar/errors.js';
import { NixError, renderError } from '../../src/eval/errors.js';
import { writeValueJSON, valueToJSON } from '../../src/eval/builtins/json.js';
import { forceDeep } from '../../src/eval/ops.js';
import { printInstantiate, printValue } from '../../src/eval/print.js';
import { Settings } from '../../src/eval/settings.js';
import { EvalState } from '../../src/eval/state.js';

const stderr: string[] = [];
function state(opts: { settings?: [string, string][]; searchPath?: string[] } = {}) {
  const settings = new Settings();
  for (const [k, v] of opts.settings ?? []) settings.set(k, v, 'test');
  return new EvalState({ settings, searchPath: opts.searchPath, stderr: (s) => stderr.push(s), env: { HOME: '/home/test' } });
}

/** Evaluates strictly and prints as `nix-instantiate --eval --strict`. */
function ev(text: string, st = state()): string {
  return printInstantiate(forceDeep(st.evalString(toBytes(text), toBytes('«string»'), '/tmp')));
}

/** The error message (first line of the rendered error) of an expression. */
function err(text: string, st = state()): string {
  try {
    forceDeep(st.evalString(toBytes(text), toBytes('«string»'), '/tmp'));
  } catch (e) {
    if (e instanceof NixError) return e.msg;
    throw e;
  }
  throw new Error(`no error: ${text}`);
}

function rendered(text: string, showTrace = true): string {
  try {
    forceDeep(state().evalString(toBytes(text), toBytes('«string»'), '/tmp'));
  } catch (e) {
    if (e instanceof NixError) return fromBytes(renderError(e, showTrace));
    throw e;
  }
  throw new Error('no error');
}

describe('laziness', () => {
  it('does not evaluate unused values', () => {
    expect(ev('let x = throw "no"; in 1')).toBe('1');
    expect(ev('builtins.length [ (throw "a") (abort "b") ]')).toBe('2');
    expect(ev('({ a = throw "x"; b = 2; }).b')).toBe('2');
    expect(ev('(x: 3) (throw "arg")')).toBe('3');
  });
  it('memoises thunks', () => {
    stderr.length = 0;
    expect(ev('let x = builtins.trace "once" 1; in x + x')).toBe('2');
    expect(stderr.join('')).toBe('trace: once\n');
  });
  it('mapAttrs of a big set is lazy per attribute and memoised', () => {
    const big = 'builtins.listToAttrs (builtins.genList (i: { name = "a${toString i}"; value = if i == 7 then throw "seven" else i; }) 100)';
    const m = `(builtins.mapAttrs (k: v: builtins.trace k (v * 2)) (${big}))`;
    stderr.length = 0;
    expect(ev(`let m = ${m}; in m.a3 + m.a3 + m.a99`)).toBe('210');
    expect(stderr.join('')).toBe('trace: a3\ntrace: a99\n');
    expect(ev(`builtins.length (builtins.attrNames ${m})`)).toBe('100');
    expect(ev(`${m} ? a7`)).toBe('true');
    expect(ev(`${m} ? a100`)).toBe('false');
    expect(ev(`builtins.length (builtins.attrValues ${m})`)).toBe('100');
    expect(ev(`(${m} // { a7 = 0; }).a7`)).toBe('0');
    expect(ev(`builtins.attrNames (removeAttrs ${m} (builtins.genList (i: "a\${toString (i + 2)}") 98))`)).toBe('[ "a0" "a1" ]');
    expect(err(`builtins.deepSeq ${m} 1`)).toBe('seven');
    expect(err(`${m}.a7`)).toBe('seven');
    // the values made before and after a full copy are the same thunks
    stderr.length = 0;
    expect(ev(`let m = ${m}; in builtins.elemAt [ m.a5 (builtins.attrValues (removeAttrs m [ "a7" ])) m.a5 ] 2`)).toBe('10');
    expect(stderr.join('').split('trace: a5\n').length - 1).toBe(1);
  });
  it('removeAttrs of literal sets keeps values, positions and laziness', () => {
    const f = 'f = a: removeAttrs a [ "x" "z" "nope" "x" ];';
    expect(ev(`let ${f} in map (a: builtins.attrNames (f a)) [ { x = 1; y = 2; z = 3; w = 4; } { y = 1; } { x = 1; } ]`)).toBe('[ [ "w" "y" ] [ "y" ] [ ] ]');
    // the same literal through different removals
    expect(ev(`let s = i: { a = i; b = i + 1; c = i + 2; }; in [ (removeAttrs (s 1) [ "a" ]) (removeAttrs (s 2) [ "c" "a" ]) (removeAttrs (s 3) [ ]) (removeAttrs (s 4) [ "b" ]) ]`)).toBe(
      '[ { b = 2; c = 3; } { b = 3; } { a = 3; b = 4; c = 5; } { a = 4; c = 6; } ]',
    );
    expect(ev('(removeAttrs { a = throw "no"; b = 2; } [ "c" ]).b')).toBe('2');
    expect(fromBytes(ev('builtins.unsafeGetAttrPos "c" (removeAttrs { a = 1; b = 2;\n c = 3; } [ "a" ])'))).toBe('{ column = 2; file = "«string»"; line = 2; }');
    expect(ev('let r = rec { a = 1; b = a + 1; c = b + 1; }; in removeAttrs r [ "b" ]')).toBe('{ a = 1; c = 3; }');
  });
  it('dynamic attributes: values, laziness, positions and errors, with shared and unshared layouts', () => {
    // more name combinations than the literal's layout cache keeps (16)
    const f = 'f = n: { a = builtins.trace "a" 1; ${n} = builtins.trace n 2; b = n; };';
    const names = Array.from({ length: 20 }, (_, i) => `"k${i}"`).join(' ');
    expect(ev(`let ${f} in map (n: let s = f n; in [ s.\${n} (builtins.attrNames s) s.b ]) [ ${names} "k3" ]`)).toBe(
      `[ ${Array.from({ length: 20 }, (_, i) => `[ 2 [ "a" "b" "k${i}" ] "k${i}" ]`).join(' ')} [ 2 [ "a" "b" "k3" ] "k3" ] ]`,
    );
    // (the unread `a` is never evaluated, in either kind of set)
    expect(stderr.filter((l) => l === 'trace: a\n')).toEqual([]);
    expect(ev('let x = "q"; y = null; in { ${x} = 1; ${y} = 2; r = 3; }')).toBe('{ q = 1; r = 3; }');
    expect(ev('let x = "q"; in rec { a = 1; ${x} = a + 1; }')).toBe('{ a = 1; q = 2; }');
    expect(ev('let x = "q"; in removeAttrs { a = 1; ${x} = 2; ${x + "2"} = 3; } [ "a" "q" ]')).toBe('{ q2 = 3; }');
    expect(fromBytes(ev('let x = "q"; in builtins.unsafeGetAttrPos "q" { a = 1;\n  ${x} = 2; }'))).toBe('{ column = 3; file = "«string»"; line = 2; }');
    expect(fromBytes(ev('let x = "q"; in builtins.unsafeGetAttrPos "a" { a = 1;\n  ${x} = 2; }'))).toBe('{ column = 49; file = "«string»"; line = 1; }');
    expect(fromBytes(err('let x = "a"; in { a = 1; ${x} = 2; }'))).toBe("dynamic attribute 'a' already defined at «string»:1:19");
    expect(fromBytes(err('let x = "b"; in { ${x} = 1; ${x} = 2; }'))).toBe("dynamic attribute 'b' already defined at «string»:1:19");
  });
  it('// keeps the upper set over the lower one: lookups, sizes, names, positions, deep chains', () => {
    const s = 'let a = { x = 1; y = 2; }; b = {\n y = 3; z = 4; }; c = a // b; d = c // { w = 0; x = 9; }; in';
    expect(ev(`${s} [ c.x c.y c.z (c ? w) d.x d.w (builtins.attrNames d) (builtins.attrValues c) ]`)).toBe('[ 1 3 4 false 9 0 [ "w" "x" "y" "z" ] [ 1 3 4 ] ]');
    // sizes (counted once, names shared by both sides not twice), then the whole set
    expect(ev(`${s} [ (builtins.length (builtins.attrNames c)) (builtins.length (builtins.attrNames d)) c d ]`)).toBe(
      '[ 3 4 { x = 1; y = 3; z = 4; } { w = 0; x = 9; y = 3; z = 4; } ]',
    );
    expect(fromBytes(ev(`${s} [ (builtins.unsafeGetAttrPos "y" d).line (builtins.unsafeGetAttrPos "x" d).line (builtins.unsafeGetAttrPos "x" c).line ]`))).toBe('[ 2 2 1 ]');
    expect(ev(`${s} [ (removeAttrs d [ "y" ]) (builtins.intersectAttrs { z = 0; } d) (builtins.mapAttrs (n: v: n) c) ]`)).toBe(
      '[ { w = 0; x = 9; z = 4; } { z = 4; } { x = "x"; y = "y"; z = "z"; } ]',
    );
    // a chain deeper than the layers kept (8): values of every step survive the copies
    expect(ev('builtins.attrValues (builtins.foldl\' (acc: i: { "k${toString i}" = i; } // acc // { last = i; }) { } (builtins.genList (i: i) 30))')).toBe(
      `[ ${Array.from({ length: 30 }, (_, i) => i).sort().join(' ')} 29 ]`,
    );
  });
  it('// of small sets onto a big one: layers, then one copy that later steps update (fold)', () => {
    // 100 names, then 20 small updates (past the 8 layers kept: the copy, then updates of it),
    // each replacing one name and adding another; and a one-off update of the big set
    const big = 'builtins.listToAttrs (builtins.genList (i: { name = "b${toString i}"; value = i; }) 100)';
    const fold = `builtins.foldl' (acc: i: acc // { b0 = acc.b0 + i; "n\${toString i}" = i; }) (${big}) (builtins.genList (i: i + 1) 20)`;
    expect(ev(`let r = ${fold}; in [ r.b0 r.b1 r.b99 r.n1 r.n20 (r ? n21) (builtins.length (builtins.attrNames r)) ]`)).toBe(
      `[ ${(20 * 21) / 2} 1 99 1 20 false 120 ]`,
    );
    expect(ev(`let r = ${fold}; in builtins.elemAt (builtins.attrNames r) 100`)).toBe('"n1"');
    expect(ev(`let r = ${fold}; in builtins.elemAt (builtins.attrValues r) 0`)).toBe(String((20 * 21) / 2));
    expect(ev(`let r = (${big}) // { b5 = "five"; x = null; }; in [ r.b4 r.b5 r.x (builtins.length (builtins.attrNames r)) ]`)).toBe('[ 4 "five" null 101 ]');
    // positions of names from the first and the last updates
    expect(
      fromBytes(ev(`let r = builtins.foldl' (acc: i: acc //\n { "n\${toString i}" = i; }) (${big}) (builtins.genList (i: i) 20); in [ (builtins.unsafeGetAttrPos "n0" r).line (builtins.unsafeGetAttrPos "n19" r).line ]`)),
    ).toBe('[ 2 2 ]');
  });
  it('// keeps the positions of every step of a long fold (checked with CppNix 2.8)', () => {
    const src = `let
  r = builtins.foldl' (acc: i: acc //
    { "n\${toString i}" = i; }) ({ a = 0;
    } // builtins.listToAttrs [ { name = "l"; value = 1; } ]) (builtins.genList (i: i) 40);
  s = builtins.foldl' (acc: i: acc // (if i < 40 then { "n\${toString (i - i / 20 * 20)}" = i; } else
    { "n\${toString (i - i / 20 * 20)}" = i; })) { } (builtins.genList (i: i) 60);
  pos = x: map (n: let p = builtins.unsafeGetAttrPos n x; in "\${n}:\${toString p.line}:\${toString p.column}") (builtins.attrNames x);
in`;
    const ns = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`).sort();
    // names of its first steps, of the set it started from and of a listToAttrs under that
    expect(ev(`${src} pos r`)).toBe(`[ "a:3:35" "l:4:47" ${ns(40).map((n) => `"${n}:3:7"`).join(' ')} ]`);
    // a name defined again and again: the position of its last definition (line 6, not 5)
    expect(ev(`${src} pos s`)).toBe(`[ ${ns(20).map((n) => `"${n}:6:7"`).join(' ')} ]`);
    // the last definitions of n0, n1, n2 (steps 39, 37, 38: lines 3, 3, 2) among older ones
    // from the other line, all of them folded by the 20 steps after them
    const t = `let
  t = builtins.foldl' (acc: i: acc // (if i >= 40 then { "u\${toString i}" = i; } else if i - i / 2 * 2 == 0 then { "n\${toString (i - i / 3 * 3)}" = i; "u\${toString i}" = i; } else
    { "n\${toString (i - i / 3 * 3)}" = i; "u\${toString i}" = i; })) { } (builtins.genList (i: i) 60);
in map (n: (builtins.unsafeGetAttrPos n t).line) [ "n0" "n1" "n2" "u0" "u59" ]`;
    expect(ev(t)).toBe('[ 3 3 2 2 2 ]');
  });
  it('intersectAttrs keeps the values and positions of its second argument', () => {
    expect(ev('builtins.intersectAttrs { a = 0; c = 0; d = 0; } { a = 1; b = 2; c = 3; }')).toBe('{ a = 1; c = 3; }');
    expect(ev('builtins.intersectAttrs (builtins.functionArgs ({ x, y ? 1, z }: x)) { z = 1; y = 2; w = 3; }')).toBe('{ y = 2; z = 1; }');
    expect(ev('builtins.intersectAttrs { a = 0; } { b = 1; }')).toBe('{ }');
    expect(ev('(builtins.intersectAttrs { a = 0; b = 0; } { b = throw "no"; a = 1; }).a')).toBe('1');
    expect(fromBytes(ev('builtins.unsafeGetAttrPos "c" (builtins.intersectAttrs { c = 0; } { a = 1;\n c = 3; })'))).toBe('{ column = 2; file = "«string»"; line = 2; }');
    // e1 made by a builtin, and one with more names than the shared layouts allow
    expect(ev('builtins.intersectAttrs (builtins.listToAttrs [ { name = "b"; value = 0; } ]) { a = 1; b = 2; }')).toBe('{ b = 2; }');
    const big = Array.from({ length: 40 }, (_, i) => `a${i} = ${i};`).join(' ');
    expect(ev(`builtins.attrNames (builtins.intersectAttrs { ${big} } { a39 = 1; a0 = 2; zz = 3; })`)).toBe('[ "a0" "a39" ]');
  });
  it('evaluates the values of a literal once, whichever copy asks first', () => {
    // (thunks of a set literal's values are made on first use; removeAttrs
    // copies and the original must still share them)
    const s = 'let s = { a = builtins.trace "a" 1; b = builtins.trace "b" 2; c = 3; }; t = removeAttrs s [ "c" ]; u = removeAttrs t [ "b" ];';
    for (const order of ['u.a t.a s.a', 's.a t.a u.a', 't.a u.a s.a', '(s // { }).a u.a (builtins.mapAttrs (n: v: v) t).a']) {
      stderr.length = 0;
      expect(ev(`${s} in builtins.deepSeq [ ${order} ] 0`)).toBe('0');
      expect(stderr.join('')).toBe('trace: a\n');
    }
    stderr.length = 0;
    expect(ev(`${s} in builtins.deepSeq [ (builtins.attrValues u) (builtins.attrValues s) t ] 0`)).toBe('0');
    expect(stderr.join('')).toBe('trace: a\ntrace: b\n');
    // values never asked for are never evaluated, even when copied
    expect(ev('let s = { a = throw "no"; b = 2; }; in [ (removeAttrs s [ ]).b (removeAttrs (removeAttrs s [ "x" ]) [ "y" ]).b ]')).toBe('[ 2 2 ]');
  });
  it('genList and map elements are lazy applications, memoised', () => {
    stderr.length = 0;
    expect(ev('let l = builtins.genList (i: builtins.trace "g${toString i}" i) 5; in builtins.elemAt l 3 + builtins.elemAt l 3')).toBe('6');
    expect(stderr.join('')).toBe('trace: g3\n');
    expect(ev('builtins.length (map (x: throw "no") [ 1 2 3 ])')).toBe('3');
    expect(err('builtins.elemAt (map (x: x + "a") [ 1 ]) 0')).toBe('cannot add a string to an integer');
    expect(err('builtins.elemAt (builtins.genList (x: x.a) 2) 1')).toBe('expected a set but found an integer: 1');
  });
  it('detects infinite recursion', () => {
    expect(err('let x = x; in x')).toBe('infinite recursion encountered');
    expect(err('let a = { b = a.b; }; in a.b')).toBe('infinite recursion encountered');
    expect(rendered('let x = y; y = x; in x')).toContain('entering the infinite recursion');
  });
  it('shows unevaluated values as <CODE> without --strict', () => {
    const st = state();
    expect(printInstantiate(st.evalString('{ a = 1 + 1; b = 2; }', '«string»', '/'))).toBe('{ a = <CODE>; b = 2; }');
    // as nix-instantiate 2.8 prints it: sets, lists and functions not yet forced are <CODE> too
    expect(printInstantiate(st.evalString('{ a = { b = 1; }; c = [ 1 ]; d = 2; e = "s"; f = x: x; }', '«string»', '/'))).toBe(
      '{ a = <CODE>; c = <CODE>; d = 2; e = "s"; f = <CODE>; }',
    );
  });
});

describe('scopes', () => {
  it('rec, let, inherit', () => {
    expect(ev('rec { a = b; b = 1; }')).toBe('{ a = 1; b = 1; }');
    expect(ev('let a = b; b = 1; in a')).toBe('1');
    expect(ev('let x = 1; in let inherit x; in x')).toBe('1');
    expect(ev('let s = { a = 1; b = 2; }; in { inherit (s) a b; }')).toBe('{ a = 1; b = 2; }');
    expect(ev('rec { s = { a = 1; }; inherit (s) a; }')).toBe('{ a = 1; s = { a = 1; }; }');
    expect(ev('let { x = 1; body = x + 1; }')).toBe('2');
    // `inherit (s)` before `s` is bound: the source is a thunk of the later slot
    expect(ev('let inherit (s) a; f = a + 1; s = { a = 1; }; in f')).toBe('2');
    expect(ev('let x = y; inherit (s) a; y = a; s = { a = 7; }; in x')).toBe('7');
  });
  it('sets, lists and environments of every small size (made by array literals) and bigger ones', () => {
    for (let n = 0; n <= 20; n++) {
      const names = Array.from({ length: n }, (_, i) => `a${i}`);
      const set = `{ ${names.map((k, i) => `${k} = ${i} + 0;`).join(' ')} }`;
      const sorted = [...names].sort();
      expect(ev(`builtins.attrValues ${set}`)).toBe(`[ ${sorted.map((k) => `${k.slice(1)} `).join('')}]`);
      expect(ev(`[ ${names.map((_, i) => `(${i} + 1)`).join(' ')} ]`)).toBe(`[ ${names.map((_, i) => `${i + 1} `).join('')}]`);
      // a let of n bindings and a function with n formals
      if (n > 0) {
        expect(ev(`let ${names.map((k, i) => `${k} = ${i};`).join(' ')} in ${names.join(' + ')}`)).toBe(String((n * (n - 1)) / 2));
        expect(ev(`({ ${names.join(', ')} }: ${names.join(' + ')}) ${set}`)).toBe(String((n * (n - 1)) / 2));
        expect(ev(`builtins.attrNames (removeAttrs ${set} [ "a0" ])`)).toBe(`[ ${sorted.filter((k) => k !== 'a0').map((k) => `"${k}" `).join('')}]`);
      }
    }
  });
  it('with is dynamic and loses to static bindings', () => {
    expect(ev('with { a = 1; }; a')).toBe('1');
    expect(ev('let a = 2; in with { a = 1; }; a')).toBe('2');
    expect(ev('with { a = 1; }; with { a = 2; }; a')).toBe('2');
    expect(ev('with { map = 1; }; map')).toBe('<PRIMOP>');
    expect(err('with { }; zzz')).toBe("undefined variable 'zzz'");
  });
  it('formals: defaults see each other and the @ name', () => {
    expect(ev('({ a, b ? a + 1 }: b) { a = 1; }')).toBe('2');
    expect(ev('(args@{ a, ... }: args.c) { a = 1; c = 3; }')).toBe('3');
    expect(ev('({ a ? b, b ? 5 }: a) { }')).toBe('5');
    expect(err('({ a }: a) { }')).toBe("function 'anonymous lambda' called without required argument 'a'");
    expect(err('({ a }: a) { a = 1; b = 2; }')).toBe("function 'anonymous lambda' called with unexpected argument 'b'");
  });
  it('__overrides in rec sets', () => {
    expect(ev('(rec { __overrides = { a = 2; }; x = a; a = 1; }).x')).toBe('2');
    // an overridden or added attribute is defined where the override is (as in CppNix)
    const pos = (n: string) => fromBytes(ev(`(builtins.unsafeGetAttrPos "${n}" (rec { __overrides = { n = 5;\n m = 6; }; a = 1; n = 3; })).column`));
    expect([pos('n'), pos('m'), pos('a')]).toEqual(['55', '2', '12']);
    expect(fromBytes(err('let k = "m"; in rec { __overrides = { m = 5; }; ${k} = 2; }'))).toBe("dynamic attribute 'm' already defined at «string»:1:39");
  });
});

describe('operators', () => {
  it('select, or, ?', () => {
    expect(ev('{ a.b.c = 1; }.a.b.c')).toBe('1');
    expect(ev('{ }.a.b or 7')).toBe('7');
    expect(ev('{ a = 1; } ? a')).toBe('true');
    expect(ev('{ a.b = 1; } ? a.b')).toBe('true');
    expect(ev('1 ? a')).toBe('false');
    expect(ev('let k = "x"; in { x = 5; }.${k}')).toBe('5');
    expect(err('{ a = 1; }.b')).toBe("attribute 'b' missing");
  });
  it('update, concatenation', () => {
    expect(ev('{ a = 1; b = 1; } // { b = 2; }')).toBe('{ a = 1; b = 2; }');
    expect(ev('[ 1 ] ++ [ 2 3 ]')).toBe('[ 1 2 3 ]');
    expect(ev('"a" + "b"')).toBe('"ab"');
    expect(ev('/a + "/b"')).toBe('/a/b');
    expect(ev('/a/. + "/b/../c"')).toBe('/a/c');
  });
  it('boolean operators short-circuit', () => {
    expect(ev('false && throw "x"')).toBe('false');
    expect(ev('true || throw "x"')).toBe('true');
    expect(ev('false -> throw "x"')).toBe('true');
    expect(err('1 && true')).toBe('expected a Boolean but found an integer: 1');
  });
  it('pipe operators need their experimental feature', () => {
    expect(() => state().evalString('1 |> (x: x)', '«string»', '/')).toThrow(/pipe-operators/);
    const st = state({ settings: [['experimental-features', 'pipe-operators']] });
    expect(ev('[ 1 2 ] |> map (x: x * 2)', st)).toBe('[ 2 4 ]');
    expect(ev('map (x: x + 1) <| [ 1 ]', st)).toBe('[ 2 ]');
  });
});

describe('numbers', () => {
  it('64-bit integers with overflow errors', () => {
    expect(ev('9223372036854775807')).toBe('9223372036854775807');
    expect(ev('9007199254740992 + 1')).toBe('9007199254740993');
    expect(ev('4294967296 * 2147483647')).toBe('9223372032559808512');
    expect(err('9223372036854775807 + 1')).toBe('integer overflow in adding 9223372036854775807 + 1');
    expect(err('(-9223372036854775807) - 2')).toBe('integer overflow in subtracting -9223372036854775807 - 2');
    expect(err('4294967297 * 4294967297')).toBe('integer overflow in multiplying 4294967297 * 4294967297');
    expect(ev('7 / 2')).toBe('3');
    expect(ev('(-7) / 2')).toBe('-3');
    expect(err('1 / 0')).toBe('division by zero');
  });
  it('floats print like CppNix', () => {
    expect(ev('1.5 + 1')).toBe('2.5');
    expect(ev('1.0 / 3')).toBe('0.333333');
    expect(ev('1234567.5 * 1')).toBe('1.23457e+06');
    expect(ev('0.0001 * 1')).toBe('0.0001');
    expect(ev('0.00001 * 1')).toBe('1e-05');
    expect(ev('100.0 * 1')).toBe('100');
    expect(ev('builtins.toString 1.5')).toBe('"1.500000"');
    expect(ev('.5')).toBe('0.5');
    expect(ev('1.5e3')).toBe('1500');
  });
  it('floats exactly halfway round to even, as printf does (JavaScript rounds them up)', () => {
    // %g (printing, toXML): six significant digits
    expect(ev('[ 123456.5 123457.5 (-123456.5) 1234565.0 999999.5 0.0001234565 ]')).toBe('[ 123456 123458 -123456 1.23456e+06 1e+06 0.000123457 ]');
    expect(ev('builtins.toXML 123456.5')).toContain('<float value=\\"123456\\" />');
    // %f (toString): six decimals; 1/128 = 0.0078125 exactly
    expect(ev('map toString [ 0.0078125 (-0.0078125) 0.0234375 0.5078125 2.5 ]')).toBe(
      '[ "0.007812" "-0.007812" "0.023438" "0.507812" "2.500000" ]',
    );
    // the sign of a NaN shows, as in C
    expect(ev('builtins.fromTOML "x = -nan\\ny = nan"')).toBe('{ x = -nan; y = nan; }');
  });
  it('comparisons', () => {
    expect(ev('[ (1 < 2) (2 < 1.5) ("a" < "b") ([ 1 2 ] < [ 1 3 ]) ([ 1 ] < [ 1 0 ]) (/a < /b) ]')).toBe('[ true false true true true true ]');
    expect(err('{ } < { }')).toBe('cannot compare a set with a set; values of that type are incomparable (values are { } and { })');
    expect(err('1 < "a"')).toBe('cannot compare an integer with a string; values are 1 and "a"');
  });
});

describe('equality', () => {
  it('compares deeply, numbers across types', () => {
    expect(ev('[ (1 == 1.0) ({ a = [ 1 ]; } == { a = [ 1 ]; }) ("a" == "a") (null == null) ([ 1 ] == [ 2 ]) ]')).toBe('[ true true true true false ]');
  });
  it('functions are never equal, except identical elements of lists and sets', () => {
    expect(ev('let f = x: x; in f == f')).toBe('false');
    expect(ev('let f = x: x; in [ f ] == [ f ]')).toBe('true');
    expect(ev('let f = x: x; in { a = f; } == { a = f; }')).toBe('true');
    expect(ev('[ (x: x) ] == [ (x: x) ]')).toBe('false');
  });
  it('a selected attribute is replaced by its value in the set, but a function keeps its thunk (pointer equality)', () => {
    // s and s2 share the thunks of f and n; selecting them first must not change what == says (CppNix 2.8: true)
    const e = 'let s = { f = (a: b: a) 1; n = 1 + 1; }; s2 = removeAttrs (s // { zz = 1; }) [ "zz" ]; in';
    expect(ev(`${e} builtins.seq s.f (builtins.seq s.n (s == s2))`)).toBe('true');
    // (s2 made first: it holds the thunks themselves)
    expect(ev(`${e} builtins.seq s2 (builtins.seq s.f (builtins.seq s.n (s == s2)))`)).toBe('true');
    expect(ev(`${e} builtins.seq (builtins.getAttr "f" s2) (s == s2)`)).toBe('true');
    expect(ev(`${e} [ (builtins.seq s.n s.n) (s == s2) s2.n ]`)).toBe('[ 2 true 2 ]');
    // (a new thunk per `inherit (s) f`: never equal, as in CppNix)
    expect(ev(`${e} { inherit (s) f; } == { inherit (s) f; }`)).toBe('false');
  });
  it('derivations compare by outPath', () => {
    expect(ev('{ type = "derivation"; outPath = "/a"; x = 1; } == { type = "derivation"; outPath = "/a"; x = 2; }')).toBe('true');
  });
});

describe('strings', () => {
  it('are byte strings', () => {
    expect(ev('builtins.stringLength "é"')).toBe('2');
    expect(ev('builtins.substring 0 1 "é"')).toBe('"\xc3"');
    expect(ev('builtins.substring 0 2 "é"')).toBe(toBytes('"é"'));
    expect(ev('builtins.stringLength "${"ab"}c"')).toBe('3');
  });
  it('print with the escapes of a Nix string literal, however long', () => {
    // (as CppNix 2.8 prints it: `$` is escaped only before `{`)
    expect(ev('"a\\"b\\\\c\\nd\\re\\tf$g\\${h}$$i${"\\${"}j\'\'$"')).toBe('"a\\"b\\\\c\\nd\\re\\tf$g\\${h}$$i\\${j\'\'$"');
    expect(ev('"plain"')).toBe('"plain"');
    // 20 MB with an escape every 20 bytes
    const big = ev('builtins.concatStringsSep "" (builtins.genList (x: "aaaaaaaaaaaaaaaaaa\n") 1000000)');
    expect(big.length).toBe(2 + 1000000 * 20);
    expect(big.slice(0, 22)).toBe('"aaaaaaaaaaaaaaaaaa\\na');
  });
  it('indented strings strip indentation and handle escapes', () => {
    expect(ev("''\n    a\n      b\n  ''")).toBe('"a\\n  b\\n"');
    expect(ev("''a'''b''$c''\\nd''")).toBe('"a\'\'b$c\\nd"');
  });
  it('coerce with toString', () => {
    expect(ev('builtins.toString [ 1 null true false "x" [ "a" [ "b" ] ] [ ] 2.5 ]')).toBe('"1  1  x a b 2.500000"');
    expect(ev('builtins.toString { __toString = self: "hi"; }')).toBe('"hi"');
    expect(ev('"${{ outPath = "/p"; }}"')).toBe('"/p"');
    expect(err('"${1}"')).toBe('cannot coerce an integer to a string: 1');
  });
  it('carry context', () => {
    expect(ev('builtins.hasContext "abc"')).toBe('false');
    const s = 'builtins.appendContext "x" { "/nix/store/00000000000000000000000000000000-a" = { path = true; }; }';
    expect(ev(`builtins.hasContext (${s})`)).toBe('true');
    expect(ev(`builtins.getContext ((${s}) + "y")`)).toBe('{ "/nix/store/00000000000000000000000000000000-a" = { path = true; }; }');
    expect(ev(`builtins.hasContext (builtins.unsafeDiscardStringContext (${s}))`)).toBe('false');
    expect(ev(`builtins.hasContext (builtins.substring 0 1 (${s}))`)).toBe('true');
  });
});

describe('builtins (control)', () => {
  it('tryEval catches throw and assert only', () => {
    expect(ev('builtins.tryEval (throw "x")')).toBe('{ success = false; value = false; }');
    expect(ev('builtins.tryEval (assert false; 1)')).toBe('{ success = false; value = false; }');
    expect(ev('builtins.tryEval 5')).toBe('{ success = true; value = 5; }');
    expect(err('builtins.tryEval (abort "x")')).toBe("evaluation aborted with the following error message: 'x'");
  });
  it('seq and deepSeq', () => {
    expect(err('builtins.seq (throw "a") 1')).toBe('a');
    expect(ev('builtins.seq [ (throw "a") ] 1')).toBe('1');
    expect(err('builtins.deepSeq [ (throw "a") ] 1')).toBe('a');
  });
  it('sort is stable and genericClosure deduplicates', () => {
    expect(ev('map (x: x.n) (builtins.sort (a: b: a.k < b.k) [ { k = 2; n = "a"; } { k = 1; n = "b"; } { k = 2; n = "c"; } { k = 1; n = "d"; } ])')).toBe('[ "b" "d" "a" "c" ]');
    expect(ev('map (x: x.key) (builtins.genericClosure { startSet = [ { key = 1; } ]; operator = x: if x.key < 8 then [ { key = x.key * 2; } { key = 1; } ] else [ ]; })')).toBe('[ 1 2 4 8 ]');
  });
  it('functionArgs and __curPos', () => {
    expect(ev('builtins.functionArgs ({ a, b ? 1 }: a)')).toBe('{ a = false; b = true; }');
    // a new set per call (never printed as «repeated»), with the formals' positions
    expect(ev('let f = { z, a ? 1 }: a; in [ (builtins.functionArgs f) (builtins.functionArgs f) ]')).toBe('[ { a = true; z = false; } { a = true; z = false; } ]');
    expect(fromBytes(ev('let f = { z,\n a ? 1 }: a; in map (n: (builtins.unsafeGetAttrPos n (builtins.functionArgs f)).line) [ "z" "a" "z" ]'))).toBe('[ 1 2 1 ]');
    expect(fromBytes(ev('__curPos'))).toBe('{ column = 1; file = "«string»"; line = 1; }');
  });
});

describe('deep recursion', () => {
  // through the CLI: bin/tsnix gives evaluation the stack it needs
  const cli = (expr: string) =>
    spawnSync(path.resolve(__dirname, '../../bin/tsnix'), ['instantiate', '--eval', '-'], { input: expr, encoding: 'utf8', env: { ...process.env, NIX_CONFIG: '' } });
  it('evaluates 10 000 nested lets', () => {
    let text = '';
    for (let i = 0; i < 10000; i++) text += `let x${i} = ${i === 0 ? 1 : `x${i - 1} + 1`}; in `;
    text += 'x9999';
    expect(cli(text).stdout).toBe('10000\n');
  });
  it('evaluates a foldr over 100 000 elements', () => {
    const foldr =
      'let foldr = op: nul: list: let len = builtins.length list; go = n: if n == len then nul else op (builtins.elemAt list n) (go (n + 1)); in go 0; ' +
      'in foldr (x: acc: x + acc) 0 (builtins.genList (x: x) 100000)';
    expect(cli(foldr).stdout).toBe('4999950000\n');
  });
  // a value nested 100 000 deep (the suite's *-stack-overflow tests)
  const deepList = 'let long = builtins.genList (x: x) 100000; l = builtins.foldl\' (tail: head: { inherit head tail; }) null long; in ';
  const foldr100k =
    'let foldr = op: nul: list: let len = builtins.length list; go = n: if n == len then nul else op (builtins.elemAt list n) (go (n + 1)); in go 0; ' +
    'r = foldr (x: acc: x + acc) 0 (builtins.genList (x: x) 100000); in ';
  const cliArgs = (args: string[], expr: string) =>
    spawnSync(path.resolve(__dirname, '../../bin/tsnix'), ['instantiate', '--eval', ...args, '-'], { input: expr, encoding: 'utf8', env: { ...process.env, NIX_CONFIG: '' } });
  it("with CppNix's max-call-depth, stops walks over deeply nested values where CppNix does, with its trace", () => {
    const cppnix = ['--strict', '--show-trace', '--option', 'max-call-depth', '10000'];
    for (const [expr, omitted, at] of [
      ['builtins.deepSeq l 1', 9997, '«stdin»:1:30'], // the call forcing an element: at the function
      ['builtins.toJSON l', 9997, '«stdin»:1:87'], // toJSON forces an attribute from its position
      ['l', 9998, '«stdin»:1:30'], // --strict
    ] as const) {
      const r = cliArgs(cppnix, deepList + expr);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`(${omitted} duplicate frames omitted)`);
      expect(r.stderr).toMatch(new RegExp(`error: stack overflow; max-call-depth exceeded\\n\\s+at ${at}:`));
    }
    expect(cliArgs(['--strict', '--show-trace', '--option', 'max-call-depth', '1000'], deepList + 'builtins.deepSeq l 1').stderr).toContain('(997 duplicate frames omitted)');
  });
  it("walks values nested deeper than CppNix's max-call-depth with tsnix's", () => {
    expect(cliArgs(['--strict'], deepList + 'builtins.deepSeq l 1').stdout).toBe('1\n');
    expect(cliArgs(['--strict'], deepList + 'builtins.stringLength (builtins.toJSON l)').stdout).toBe('2188894\n'); // 100 000 × 17 bytes of syntax, 488 890 digits, null
    expect(cliArgs(['--strict'], foldr100k + '{ a = [ r ]; }').stdout).toBe('{ a = [ 4999950000 ]; }\n');
    expect(cliArgs(['--strict'], foldr100k + 'builtins.toJSON { a = [ r ]; }').stdout).toBe('"{\\"a\\":[4999950000]}"\n');
  });
  it('turns runaway recursion into a Nix error', () => {
    const st = state({ settings: [['max-call-depth', '1000']] });
    expect(err('let f = x: f x; in f 1', st)).toBe('stack overflow; max-call-depth exceeded');
  });
  it('stops recursions on cyclic values that CppNix ends in a stack overflow, within max-call-depth', () => {
    // (without a count these filled tsnix's 1 GiB stack: 10 to 90 s, or a heap exhausted)
    const depth = ['--option', 'max-call-depth', '1000'];
    const overflow = 'error: stack overflow (possible infinite recursion)\n';
    for (const expr of [
      'let x = { a = y; }; y = { a = x; }; in x == y',
      'let x = [ x ]; y = [ y ]; in x == y',
      'let x = [ x ]; y = [ y ]; in x < y',
    ]) {
      const r = cliArgs(depth, expr);
      expect([r.status, r.stderr], expr).toEqual([1, overflow]);
    }
    // a value that is itself is still equal to itself (no recursion at all)
    expect(cliArgs(depth, 'let x = [ x ]; in x == x').stdout).toBe('true\n');
    // __toString, outPath and __functor chains that never end
    for (const expr of ['builtins.readFile { __toString = s: s; }', 'builtins.toString (let x = { outPath = x; }; in x)', '{ __functor = s: s; } 1']) {
      const r = cliArgs(depth, expr);
      expect(r.status, expr).toBe(1);
      expect(r.stderr, expr).toMatch(/error: stack overflow; max-call-depth exceeded\n\s+at «stdin»:1:\d+:/);
    }
    // XML output of a set or list inside itself (`builtins.builtins`) fails at once, whatever the depth
    for (const expr of ['builtins', 'let x = [ x ]; in x']) {
      const r = cliArgs(['--xml'], expr);
      expect([r.status, r.stdout, r.stderr], expr).toEqual([1, '', overflow]);
    }
    // and nesting that goes on without repeating itself stops at max-call-depth
    // (a list 300 deep whose elements are values, not thunks: foldl' forces each)
    const nested = "builtins.foldl' (t: h: [ t ]) [ ] (builtins.genList (x: x) 300)";
    const r = cliArgs(['--option', 'max-call-depth', '100', '--xml'], nested);
    expect([r.status, r.stdout, r.stderr]).toEqual([1, '', overflow]);
    expect(cliArgs(['--xml'], nested).stdout.match(/<list>/g)).toHaveLength(300);
    // a derivation met again inside itself is written once, then <repeated />
    // (its `all` holds it, and here `self` too)
    const drv = cliArgs(['--xml', '--strict', '--no-location'], 'let d = derivation { name = "d"; system = "x"; builder = "/bin/sh"; } // { self = d; }; in d');
    expect(drv.status).toBe(0);
    expect(drv.stdout.match(/<repeated \/>/g)).toHaveLength(3); // all, out, self (as CppNix 2.8 prints it)
    expect(drv.stdout).toContain('<attr name="self">\n      <derivation drvPath="');
  });
  it('says when a string would be longer than tsnix can hold (not a stack overflow)', () => {
    const r = cliArgs([], 'let s = builtins.concatStringsSep "" (builtins.genList (x: "0123456789abcdef") 1048576); in builtins.stringLength (builtins.replaceStrings [ "0" ] [ (builtins.concatStringsSep "" (builtins.genList (x: "0123456789") 60)) ] s)');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("… while calling the 'replaceStrings' builtin");
    expect(r.stderr).toContain('error: string too long: tsnix strings hold at most 536870888 bytes\n');
  });
});

describe('imports and search paths', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-eval-'));
  fs.writeFileSync(path.join(dir, 'a.nix'), '{ x = 1; y = import ./b.nix; }');
  fs.writeFileSync(path.join(dir, 'b.nix'), '2');
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'default.nix'), 'z + 1');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('imports files and directories', () => {
    expect(ev(`import ${dir}/a.nix`)).toBe('{ x = 1; y = 2; }');
    expect(ev(`builtins.scopedImport { z = 41; } ${dir}/sub`)).toBe('42');
  });
  it('reads imported files whole, big or small, in any order', () => {
    // (small files share a read buffer: a short file after a long one must not see its tail)
    const big = `"${'x'.repeat(3 << 19)}"`; // 1.5 MiB: read without the shared buffer
    fs.writeFileSync(path.join(dir, 'big.nix'), big);
    fs.writeFileSync(path.join(dir, 'long.nix'), `"${'y'.repeat(5000)}"`);
    fs.writeFileSync(path.join(dir, 'short.nix'), '"z"');
    expect(ev(`map builtins.stringLength [ (import ${dir}/long.nix) (import ${dir}/short.nix) (import ${dir}/big.nix) ]`)).toBe(`[ 5000 1 ${3 << 19} ]`);
    expect(ev(`import ${dir}/short.nix`)).toBe('"z"');
    expect(err(`import ${dir}/none.nix`)).toBe(`path '${dir}/none.nix' does not exist`);
    expect(err(`import ${dir}/b.nix/c`)).toBe(`path '${dir}/b.nix/c' does not exist`);
    fs.mkdirSync(path.join(dir, 'empty'));
    expect(err(`import ${dir}/empty`)).toBe(`path '${dir}/empty/default.nix' does not exist`);
  });
  it('resolves <path> through -I', () => {
    const st = state({ searchPath: [`foo=${dir}`] });
    expect(ev('import <foo/b.nix>', st)).toBe('2');
    expect(ev('(builtins.tryEval <nope>).success', st)).toBe('false');
  });
});

describe('error rendering', () => {
  it('prints frames outermost first with code frames', () => {
    expect(rendered('builtins.length 1')).toBe(
      [
        'error:',
        "       … while calling the 'length' builtin",
        '         at «string»:1:1:',
        '            1| builtins.length 1',
        '             | ^',
        '',
        '       … while evaluating the first argument passed to builtins.length',
        '',
        '       error: expected a list but found an integer: 1',
      ].join('\n'),
    );
  });
  it("prints values in errors with CppNix's limits", () => {
    expect(fromBytes(err('"" + { a = { b = { c = 1; }; }; }'))).toBe('cannot coerce a set to a string: { a = «thunk»; }');
    expect(fromBytes(printValue(state().evalString('builtins.genList (x: x) 20', '«string»', '/'), { force: true, maxListItems: 10 }))).toBe(
      '[ 0 1 2 3 4 5 6 7 8 9 «10 items elided» ]',
    );
  });
});

describe('empty set literals', () => {
  it('evaluate to one shared set that behaves as separate empty sets', () => {
    expect(ev('let f = x: { }; in [ (f 1) (f 2) ((f 3) // { a = 1; }) (f 4) (f 5 == { }) (builtins.attrNames (f 6)) ]')).toBe(
      '[ { } { } { a = 1; } { } true [ ] ]',
    );
    expect(ev('let f = x: { }; a = f 1; b = f 2 // { x = 1; }; in [ a b (f 3) ]')).toBe('[ { } { x = 1; } { } ]');
  });
});

describe('printing attribute names', () => {
  it('quotes names that are not identifiers and the reserved keywords, not `or`', () => {
    expect(ev('{ "or" = 1; "rec" = 2; "inherit" = 3; "y z" = 4; a-b = 5; "a\'" = 6; "1a" = 7; "" = 8; "-a" = 9; _x = 10; }')).toBe(
      '{ "" = 8; "-a" = 9; "1a" = 7; _x = 10; a\' = 6; a-b = 5; "inherit" = 3; or = 1; "rec" = 2; "y z" = 4; }',
    );
  });
});

describe('printing big values (--eval output goes out in pieces)', () => {
  const N = 300_000;
  const expected = `[ ${Array.from({ length: N }, (_, i) => i * 3).join(' ')} ]`;
  const big = () => forceDeep(state().evalString(toBytes(`builtins.genList (x: x * 3) ${N}`), toBytes('«string»'), '/tmp'));

  it('hands a long printout to its writer in several pieces that add up to the whole', () => {
    const v = big();
    const pieces: string[] = [];
    expect(printInstantiate(v, (p) => pieces.push(p))).toBe('');
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join('')).toBe(expected);
    expect(printInstantiate(v)).toBe(expected);
  });

  it('writes --json output as bytes, the same as toJSON, and nothing for a value without JSON form', () => {
    const st = state();
    const v = forceDeep(st.evalString(toBytes('{ s = "é\\n\\t\\"" + builtins.fromJSON "\\"\\\\u0001\\""; l = [ 1 2.5 null ]; }'), toBytes('«string»'), '/tmp'));
    const chunks: Buffer[] = [];
    writeValueJSON(v, { ctx: new Set() }, (b) => chunks.push(Buffer.from(b)));
    expect(Buffer.concat(chunks).toString('utf8')).toBe('{"l":[1,2.5,null],"s":"é\\n\\t\\"\\u0001"}');
    expect(Buffer.concat(chunks).toString('latin1')).toBe(valueToJSON(v, null, false, { ctx: new Set() }));
    const f = st.evalString(toBytes('[ (x: x) ]'), toBytes('«string»'), '/tmp');
    const none: Buffer[] = [];
    expect(() => writeValueJSON(f, { ctx: new Set() }, (b) => none.push(b))).toThrow('cannot convert a function to JSON');
    expect(none).toEqual([]);
  });

  it('prints them from the command line whole (--strict and --json)', () => {
    const bin = path.resolve(__dirname, '../../bin/tsnix');
    const run = (...args: string[]) =>
      spawnSync(bin, ['instantiate', '--eval', '--strict', ...args, '-E', `builtins.genList (x: x * 3) ${N}`], {
        encoding: 'utf8',
        maxBuffer: 1 << 26,
      });
    const r = run();
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(expected + '\n');
    const j = run('--json');
    expect(j.status).toBe(0);
    expect(j.stdout).toBe(`[${Array.from({ length: N }, (_, i) => i * 3).join(',')}]`);
  });
});
