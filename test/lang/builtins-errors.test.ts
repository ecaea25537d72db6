// Errors of the builtins: the order in which arguments are checked, the
// frames ("while evaluating the first argument passed to …", "in a
// {name=...; value=...;} pair", …) and their positions, as CppNix prints
// them.  Rules (see src/eval/builtins/registry.ts):
//
// - a builtin sees no position of its own: argument frames and the
//   builtin's own errors carry none (the "while calling the 'X' builtin"
//   frame shows the call);
// - forceList/forceAttrs/coerceToString add the argument frame to type
//   errors only; forceInt/forceBool/forceString/forceFunction to any error;
// - applications a builtin makes lazily (map, genList, zipAttrsWith, …) are
//   called with the function's position as the call position.
//
// Expected texts come from CppNix's language test suite (.err.exp files)
// and CppNix's sources.

import { describe, expect, it } from 'vitest';
import { toBytes } from '../../grammar/errors.js';
import { NixError, renderError } from '../../src/eval/errors.js';
import { forceDeep } from '../../src/eval/ops.js';
import { printInstantiate } from '../../src/eval/print.js';
import { Settings } from '../../src/eval/settings.js';
import { EvalState } from '../../src/eval/state.js';
import type { Pos } from '../../grammar/ast.js';

function mkState(): EvalState {
  // as the language tests run: lambda call frames are collected with show-trace only (as in CppNix)
  const settings = new Settings();
  settings.set('show-trace', 'true', 'test');
  return new EvalState({ settings, stderr: () => {}, env: { HOME: '/fake-home' } });
}

function evalText(text: string) {
  return forceDeep(mkState().evalString(toBytes(text), toBytes('«string»'), '/'));
}

/** The value of `text`, printed as `nix-instantiate --eval --strict` does. */
function ev(text: string): string {
  return Buffer.from(printInstantiate(evalText(text)), 'latin1').toString('utf8');
}

function fail(text: string): NixError {
  try {
    evalText(text);
  } catch (e) {
    if (e instanceof NixError) return e;
    throw e;
  }
  throw new Error(`no error evaluating ${text}`);
}

const at = (p: Pos | null) => {
  if (!p) return '';
  const { line, column } = p.src.position(p.offset);
  return ` @${line}:${column}`;
};

/** The trace of the error of `text`, outermost frame first, then the error: "message @line:column". */
function trace(text: string): string[] {
  const e = fail(text);
  const lines = [...e.frames].reverse().map((f) => Buffer.from(f.msg + at(f.pos), 'latin1').toString('utf8'));
  lines.push(Buffer.from(`error: ${e.msg}${at(e.pos)}`, 'latin1').toString('utf8'));
  return lines;
}

/** The error rendered with --show-trace. */
function rendered(text: string): string {
  return Buffer.from(renderError(fail(text), true), 'latin1').toString('utf8');
}

describe('argument frames', () => {
  it('name the builtin as CppNix does', () => {
    expect(trace('builtins.elemAt "foo" 0')).toEqual([
      "while calling the 'elemAt' builtin @1:1",
      "while evaluating the first argument passed to 'builtins.elemAt'",
      'error: expected a list but found a string: "foo"',
    ]);
    expect(trace('builtins.head 1')[1]).toBe("while evaluating the first argument passed to 'builtins.head'");
    expect(trace('builtins.tail 1')[1]).toBe("while evaluating the first argument passed to 'builtins.tail'");
    expect(trace('toString { a = 1; }')).toEqual([
      "while calling the 'toString' builtin @1:1",
      'while evaluating the first argument passed to builtins.toString',
      'error: cannot coerce a set to a string: { a = 1; }',
    ]);
    expect(trace(`builtins.foldl' (x: y: x) 0 1`)[1]).toBe('while evaluating the third argument passed to builtins.foldlStrict');
    expect(trace('builtins.attrNames 1')[1]).toBe('while evaluating the argument passed to builtins.attrNames');
    expect(trace('throw 1')[1]).toBe('while evaluating the error message passed to builtin.throw');
    expect(trace('abort 1')[1]).toBe('while evaluating the error message passed to builtins.abort');
    expect(trace('builtins.warn 1 2')[1]).toBe('while evaluating the first argument; the message passed to builtins.warn');
    expect(trace('builtins.addErrorContext 1 (throw "x")').at(-1)).toBe('error: cannot coerce an integer to a string: 1');
  });

  it('and the builtins’ own errors have no position', () => {
    expect(trace('builtins.head [ ]')).toEqual(["while calling the 'head' builtin @1:1", "error: 'builtins.head' called on an empty list"]);
    expect(trace('builtins.elemAt [ "foo" ] 3').at(-1)).toBe("error: 'builtins.elemAt' called with index 3 on a list of size 1");
    expect(trace('builtins.genList (x: x) (-3)').at(-1)).toBe('error: cannot create list of size -3');
    expect(trace('builtins.replaceStrings [ "a" ] [ ] "x"').at(-1)).toBe(
      "error: 'from' and 'to' arguments passed to builtins.replaceStrings have different lengths",
    );
    expect(trace('builtins.functionArgs { }')).toEqual(["while calling the 'functionArgs' builtin @1:1", "error: 'functionArgs' requires a function"]);
    expect(ev('builtins.functionArgs builtins.add')).toBe('{ }');
  });

  it('go on type errors only for lists, sets and string coercions', () => {
    // CppNix's forceList/forceAttrs/coerceToString: no frame for an error raised evaluating the argument
    expect(trace('builtins.length (throw "x")')).toEqual([
      "while calling the 'length' builtin @1:1",
      "while calling the 'throw' builtin @1:18",
      'error: x',
    ]);
    expect(trace('builtins.attrNames (throw "x")')).not.toContain('while evaluating the argument passed to builtins.attrNames');
    expect(trace('toString (throw "x")')).not.toContain('while evaluating the first argument passed to builtins.toString');
    // forceInt/forceString/…: the frame goes on any error
    expect(trace('builtins.substring (throw "x") 1 "abc"')[1]).toBe('while evaluating the first argument (the start offset) passed to builtins.substring');
    expect(trace('builtins.getAttr (throw "x") { }')[1]).toBe('while evaluating the first argument passed to builtins.getAttr');
  });
});

describe('argument order', () => {
  it('elemAt checks the index before the list', () => {
    expect(trace('builtins.elemAt 1 "x"')[1]).toBe("while evaluating the second argument passed to 'builtins.elemAt'");
  });

  it('map, filter and sort check the list first, and the function only for a non-empty list', () => {
    for (const f of ['map', 'filter', 'sort']) {
      expect(trace(`builtins.${f} 1 "foo"`)[1]).toBe(`while evaluating the second argument passed to builtins.${f}`);
      expect(ev(`builtins.${f} 1 [ ]`)).toBe('[ ]');
      expect(trace(`builtins.${f} 1 [ 1 ]`).slice(1)).toEqual([
        `while evaluating the first argument passed to builtins.${f}`,
        'error: expected a function but found an integer: 1',
      ]);
    }
  });

  it('genList checks the length, then the function, even for an empty list', () => {
    expect(trace('builtins.genList 1 "x"')[1]).toBe('while evaluating the second argument passed to builtins.genList');
    expect(trace('builtins.genList 1 0')[1]).toBe('while evaluating the first argument passed to builtins.genList');
  });

  it('zipAttrsWith checks the function first', () => {
    expect(trace('builtins.zipAttrsWith [ ] 1')[1]).toBe('while evaluating the first argument passed to builtins.zipAttrsWith');
  });

  it('substring checks the start before evaluating the length', () => {
    expect(trace('builtins.substring (-1) (throw "no") "x"').at(-1)).toBe("error: negative start position in 'substring'");
    // an empty substring of a string needs no coercion and keeps the context
    expect(ev('builtins.substring 0 0 "abc"')).toBe('""');
    expect(trace('builtins.substring 0 0 { }').at(-1)).toBe('error: cannot coerce a set to a string: { }');
  });

  it('div checks the divisor first, as a float, and for zero before the dividend', () => {
    expect(trace('builtins.div 1 "foo"').slice(1)).toEqual([
      'while evaluating the second operand of the division',
      'error: expected a float but found a string: "foo"',
    ]);
    expect(trace('builtins.div "foo" 0').slice(1)).toEqual(['error: division by zero']);
    expect(trace('builtins.div "foo" 2').slice(1)).toEqual([
      'while evaluating the first operand of the division',
      'error: expected an integer but found a string: "foo"',
    ]);
    expect(trace('builtins.div "foo" 2.0').at(-1)).toBe('error: expected a float but found a string: "foo"');
  });

  it('add, sub and mul expect a float when the other operand is one', () => {
    expect(trace('builtins.add "a" 1').slice(1)).toEqual([
      'while evaluating the first argument of the addition',
      'error: expected an integer but found a string: "a"',
    ]);
    expect(trace('builtins.sub 1.5 "a"').slice(1)).toEqual([
      'while evaluating the second argument of the subtraction',
      'error: expected a float but found a string: "a"',
    ]);
    // sic (CppNix)
    expect(trace('builtins.mul "a" 1.5')[1]).toBe('while evaluating the first of the multiplication');
    expect(trace('builtins.mul 4294967297 4294967297').at(-1)).toBe('error: integer overflow in multiplying 4294967297 * 4294967297');
  });
});

describe('functions called by builtins', () => {
  it('return-value frames have no position', () => {
    expect(trace('builtins.filter (_: 5) [ "foo" ]').slice(1)).toEqual([
      'while evaluating the return value of the filtering function passed to builtins.filter',
      'error: expected a Boolean but found an integer: 5',
    ]);
    expect(trace('builtins.all (_: 1) [ 1 ]')[1]).toBe('while evaluating the return value of the function passed to builtins.all');
    expect(trace('builtins.partition (_: 1) [ 1 ]')[1]).toBe(
      'while evaluating the return value of the partition function passed to builtins.partition',
    );
    expect(trace('builtins.groupBy (x: x) [ 1 ]')[1]).toBe(
      'while evaluating the return value of the grouping function passed to builtins.groupBy',
    );
    expect(trace('builtins.sort (a: b: 1) [ 1 2 ]')[1]).toBe(
      'while evaluating the return value of the sorting function passed to builtins.sort',
    );
  });

  it('concatMap’s return-value frame is at the function', () => {
    expect(trace('builtins.concatMap (x: x) [ 1 ]')[1]).toBe('while evaluating the return value of the function passed to builtins.concatMap @1:21');
  });

  it('foldl’ calls the operator without a call site', () => {
    expect(trace(`builtins.foldl' (a: b: throw "x") 0 [ 1 ]`)).toEqual([
      "while calling the 'foldl'' builtin @1:1",
      'while calling anonymous lambda @1:21',
      "while calling the 'throw' builtin @1:24",
      'error: x',
    ]);
  });

  it('sort compares directly when the comparator is builtins.lessThan', () => {
    expect(trace('builtins.sort builtins.lessThan [ 1 "a" ]').slice(1)).toEqual([
      'while evaluating the ordering function passed to builtins.sort',
      expect.stringMatching(/^error: cannot compare (an integer with a string|a string with an integer)/),
    ]);
  });

  it('lazy applications are called from the function’s position', () => {
    expect(trace('builtins.genList (x: x + "foo") 2')).toEqual([
      'while evaluating list element at index 0',
      'from call site @1:19',
      'while calling anonymous lambda @1:19',
      'error: cannot add a string to an integer @1:26',
    ]);
    expect(trace('builtins.zipAttrsWith (_: 1) [ { foo = 1; } ]')).toEqual([
      "while evaluating the attribute 'foo'",
      'error: attempt to call something which is not a function but an integer: 1 @1:24',
    ]);
    // a primop has no position
    expect(trace('map (builtins.div 1) [ 0 ]')).toEqual(['while evaluating list element at index 0', "while calling the 'div' builtin", 'error: division by zero']);
  });

  it('mapAttrs does not evaluate the function: the first call has no call site', () => {
    expect(trace('builtins.mapAttrs (x: y: x + 1) { foo.bar = 1; }').slice(0, 2)).toEqual([
      "while evaluating the attribute 'foo'",
      'while calling anonymous lambda @1:23',
    ]);
    expect(trace('builtins.mapAttrs "" { foo = 1; }')).toEqual([
      "while evaluating the attribute 'foo'",
      'error: attempt to call something which is not a function but a string: ""',
    ]);
  });
});

describe('attribute sets', () => {
  it('missing attributes say where they were looked up, without position or suggestion', () => {
    expect(trace('builtins.getAttr "foo" { fo = 1; }')).toEqual([
      "while calling the 'getAttr' builtin @1:1",
      'in the attribute set under consideration',
      "error: attribute 'foo' missing",
    ]);
    expect(fail('builtins.getAttr "foo" { fo = 1; }').hint).toBeNull();
  });

  it('a missing attribute suggests the names within two edits, at most five, nearest first (as CppNix 2.8)', () => {
    expect(fail('{ f = 1; d = 2; x = 3; }.ff').hint).toBe('Did you mean one of f, d or x?');
    expect(fail('{ a1 = 1; a2 = 2; a3 = 3; a4 = 4; a5 = 5; a6 = 6; b = 1; }.a').hint).toBe('Did you mean one of a1, a2, a3, a4 or a5?');
    // (a long name gets no more leeway)
    expect(fail('{ abcdefghij = 1; }.abcdefgxyz').hint).toBeNull();
    expect(fail('({ x, z }: x) { x = 1; y = 2; z = 3; }').hint).toBe('Did you mean one of x or z?');
  });

  it('listToAttrs evaluates all names first, then takes the values in name order', () => {
    expect(trace('builtins.listToAttrs [ { } ]').slice(1)).toEqual(['in a {name=...; value=...;} pair', "error: attribute 'name' missing"]);
    expect(trace('builtins.listToAttrs [ { name = "b"; } { name = 1; } ]').at(-1)).toBe('error: expected a string but found an integer: 1 @1:42');
    expect(trace('builtins.listToAttrs [ { name = "b"; } { name = 1; } ]')[1]).toBe(
      'while evaluating the `name` attribute of an element of the list passed to builtins.listToAttrs @1:42',
    );
    expect(ev('builtins.listToAttrs [ { name = "a"; value = 1; } { name = "a"; } ]')).toBe('{ a = 1; }');
    expect(trace('builtins.listToAttrs [ { name = "b"; } { name = "a"; value = 1; } ]').at(-1)).toBe("error: attribute 'value' missing");
    // the first of each name wins, however many names come twice, in any order (checked with CppNix 2.8)
    expect(ev('builtins.listToAttrs [ { name = "a"; value = 1; } { name = "b"; value = 2; } { name = "a"; value = 3; } { name = "c"; value = 4; } { name = "b"; value = 5; } { name = "c"; value = 6; } { name = "d"; value = 7; } ]')).toBe(
      '{ a = 1; b = 2; c = 4; d = 7; }',
    );
    expect(trace('(builtins.listToAttrs [ { name = "a"; value = throw "first"; } { name = "a"; value = 1; } ]).a').at(-1)).toBe('error: first');
    expect(trace('builtins.listToAttrs [ { name = "a"; value = 1; } { name = "a"; value = 2; } { name = "b"; } ]').at(-1)).toBe("error: attribute 'value' missing");
  });

  it('listToAttrs keeps the positions of the values; mapAttrs and zipAttrsWith make attributes without positions', () => {
    expect(ev('builtins.unsafeGetAttrPos "a" (builtins.listToAttrs [ { name = "a"; value = 1; } ])')).toBe(
      '{ column = 69; file = "«string»"; line = 1; }',
    );
    // the first element with a name defines it, also elements made by `//` or by listToAttrs (checked with CppNix 2.8)
    const l =
      'let l = builtins.listToAttrs ([ { name = "a"; value = 1; } { name = "b"; value = 2; } ] ++ [ ({ name = "c"; } // { value = 3; }) { name = "a"; value = 9; } (builtins.listToAttrs [ { name = "name"; value = "d"; } { name = "value"; value = 4; } ]) ]); in map (n: builtins.unsafeGetAttrPos n l) [ "a" "b" "c" "d" "zz" ]';
    expect(ev(l)).toBe(
      '[ { column = 47; file = "«string»"; line = 1; } { column = 74; file = "«string»"; line = 1; } { column = 116; file = "«string»"; line = 1; } { column = 231; file = "«string»"; line = 1; } null ]',
    );
    expect(ev('builtins.unsafeGetAttrPos "a" (builtins.mapAttrs (n: v: v) { a = 1; })')).toBe('null');
    expect(ev('builtins.unsafeGetAttrPos "a" (builtins.zipAttrsWith (n: v: v) [ { a = 1; } ])')).toBe('null');
    expect(ev('builtins.unsafeGetAttrPos "a" (removeAttrs { a = 1; b = 2; } [ "b" ])')).toBe('{ column = 46; file = "«string»"; line = 1; }');
  });

  it('removeAttrs and catAttrs want strings without context and sets', () => {
    expect(trace('removeAttrs { } [ 1 ]')[1]).toBe('while evaluating the values of the second argument passed to builtins.removeAttrs');
    expect(trace('builtins.catAttrs "a" [ 1 ]')[1]).toBe('while evaluating an element in the list passed as second argument to builtins.catAttrs');
  });
});

describe('genericClosure', () => {
  const gc = (startSet: string, operator = 'x: [ ]') => `builtins.genericClosure { startSet = ${startSet}; operator = ${operator}; }`;

  it('names the element that is not a set or has no key', () => {
    expect(trace(gc('[ "not an attrset" ]')).slice(1)).toEqual([
      'in genericClosure element "not an attrset"',
      'error: expected a set but found a string: "not an attrset"',
    ]);
    expect(trace(gc('[ { nokey = 1; } ]')).slice(1)).toEqual(['in genericClosure element { nokey = 1; }', "error: attribute 'key' missing"]);
  });

  it('names the elements whose keys do not compare', () => {
    expect(trace(gc('[ { key = 1; } { key = "string"; } ]')).slice(1)).toEqual([
      'while comparing element { key = "string"; }',
      'with element { key = 1; }',
      'error: cannot compare a string with an integer; values are "string" and 1',
    ]);
    expect(trace(gc('[ { key = { }; } { key = { }; } ]')).slice(1)).toEqual([
      'while comparing element { key = { }; }',
      'with element { key = { }; }',
      'error: cannot compare a set with a set; values of that type are incomparable (values are { } and { })',
    ]);
    // integers and floats compare with each other
    expect(ev(gc('[ { key = 1; } { key = 1.0; } { key = 2.5; } ]'))).toBe('[ { key = 1; } { key = 2.5; } ]');
  });

  it('wraps errors of the operator', () => {
    expect(trace(gc('[ { key = 1; } ]', 'x: "not a list"')).slice(1)).toEqual([
      'while calling operator on genericClosure element { key = 1; }',
      'while evaluating the return value of the `operator` passed to builtins.genericClosure',
      'error: expected a list but found a string: "not a list"',
    ]);
  });

  it('needs the operator only for a non-empty start set', () => {
    expect(ev('builtins.genericClosure { startSet = [ ]; }')).toBe('[ ]');
    expect(trace('builtins.genericClosure { startSet = [ { key = 1; } ]; }').slice(1)).toEqual([
      'in the attrset passed as argument to builtins.genericClosure',
      "error: attribute 'operator' missing",
    ]);
  });
});

describe('comparisons', () => {
  it('lessThan says which list elements it compared', () => {
    expect(trace('builtins.lessThan [ 1 2 ] [ "foo" ]').slice(1)).toEqual([
      'while comparing two list elements',
      'error: cannot compare an integer with a string; values are 1 and "foo"',
    ]);
    expect(ev('builtins.lessThan 1 1.5')).toBe('true');
  });
});

describe('strings', () => {
  it('coercion errors of arguments have no position', () => {
    expect(trace('builtins.stringLength { }')).toEqual([
      "while calling the 'stringLength' builtin @1:1",
      'while evaluating the argument passed to builtins.stringLength',
      'error: cannot coerce a set to a string: { }',
    ]);
    expect(trace('builtins.concatStringsSep "-" [ 1 ]').slice(1)).toEqual([
      'while evaluating one element of the list of strings to concat passed to builtins.concatStringsSep',
      'error: cannot coerce an integer to a string: 1',
    ]);
  });
});

describe('JSON', () => {
  it('toJSON gives each attribute and list element a frame at its position', () => {
    expect(trace('builtins.toJSON {\n  a.b = [ true { c.d = throw "x"; } ];\n}')).toEqual([
      "while calling the 'toJSON' builtin @1:1",
      "while evaluating attribute 'a' @2:3",
      "while evaluating attribute 'b' @2:3",
      'while evaluating list element at index 1 @2:3',
      "while evaluating attribute 'c' @2:18",
      "while evaluating attribute 'd' @2:18",
      "while calling the 'throw' builtin @2:24",
      'error: x',
    ]);
    expect(trace('builtins.toJSON (x: x)').at(-1)).toBe('error: cannot convert a function to JSON @1:18');
  });

  it('toJSON checks what __toString returns', () => {
    expect(trace('builtins.toJSON { __toString = self: 42; }').slice(1)).toEqual([
      'while using the result of the `__toString` attribute @1:19',
      'error: `__toString` should return a string, but got an integer: 42 @1:19',
    ]);
    expect(trace('builtins.toJSON { __toString = self: { a = 1; }; }').at(-1)).toBe(
      'error: `__toString` must return a string, but got a set: { a = 1; } @1:19',
    );
    expect(trace('builtins.toJSON { outPath = { __toString = self: 42; }; }').slice(1, 3)).toEqual([
      'while using the `outPath` attribute @1:19',
      'while using the result of the `__toString` attribute @1:31',
    ]);
    expect(ev('builtins.toJSON { outPath.foo = true; }')).toBe('"{\\"foo\\":true}"');
  });

  it('fromJSON frames syntax errors only', () => {
    expect(trace('builtins.fromJSON "{"')[1]).toBe('while decoding a JSON string');
    expect(trace('builtins.fromJSON "18446744073709551615"')).toEqual([
      "while calling the 'fromJSON' builtin @1:1",
      'error: unsigned json number 18446744073709551615 outside of Nix integer range',
    ]);
  });
});

describe('paths', () => {
  it('path arguments are realised with CppNix’s frame', () => {
    expect(trace('builtins.pathExists [ ]').slice(1)).toEqual(['while realising the context of a path', 'error: cannot coerce a list to a string: [ ]']);
    expect(trace('builtins.readFileType "zorglub"').slice(1)).toEqual([
      'while realising the context of a path',
      "error: string 'zorglub' doesn't represent an absolute path",
    ]);
    expect(trace('builtins.toPath "foo"').slice(1)).toEqual([
      'while evaluating the first argument passed to builtins.toPath',
      "error: string 'foo' doesn't represent an absolute path",
    ]);
  });

  it('__toString and outPath are peeled with frames at those attributes', () => {
    expect(trace('builtins.readFileType { outPath = "not-absolute"; }').slice(1)).toEqual([
      'while using the `outPath` attribute @1:25',
      'while realising the context of a path',
      "error: string 'not-absolute' doesn't represent an absolute path",
    ]);
    expect(trace('builtins.readFileType { outPath = throw "x"; }').slice(1, 2)).toEqual(['while evaluating the `outPath` attribute @1:25']);
    expect(trace('builtins.readFileType { __toString = "not a function"; }').slice(1)).toEqual([
      'while calling the `__toString` attribute @1:25',
      'error: attempt to call something which is not a function but a string: "not a function" @1:25',
    ]);
    expect(trace('builtins.readFileType { __toString = self: "x"; }')[1]).toBe('while using the result of the `__toString` attribute @1:25');
  });

  it('readDir of a file', () => {
    expect(trace(`builtins.readDir ${process.execPath}`).at(-1)).toBe(`error: '${process.execPath}' is not a directory`);
  });
});

describe('rendering', () => {
  it('prints an argument frame without position after the call frame', () => {
    expect(rendered('builtins.head 1')).toBe(
      [
        'error:',
        "       … while calling the 'head' builtin",
        '         at «string»:1:1:',
        '            1| builtins.head 1',
        '             | ^',
        '',
        "       … while evaluating the first argument passed to 'builtins.head'",
        '',
        '       error: expected a list but found an integer: 1',
      ].join('\n'),
    );
  });
});
