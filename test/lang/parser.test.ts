import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LANG } from './lang-suite.js';
import { NixParseError, Source, parse, printExpr, toBytes } from '../../grammar/index.js';
import { bind } from '../../grammar/bind.js';
import type { ParseOptions } from '../../grammar/index.js';
import type { EAttrs, ECall, EConcatStrings, ELambda, EList, ESelect, Expr } from '../../grammar/index.js';

const STDIN = toBytes('«stdin»');
const BASE = '/base/dir';

function src(text: string, origin = STDIN): Source {
  return new Source(null, origin, text);
}

function ast(text: string, opts: Partial<ParseOptions> = {}): Expr {
  return parse(src(text), { basePath: BASE, home: '/home/u', ...opts });
}

/** `nix-instantiate --parse` output. */
function p(text: string, opts: Partial<ParseOptions> = {}): string {
  return printExpr(ast(text, opts));
}

/** The error as CppNix prints it. */
function perr(text: string, opts: Partial<ParseOptions> = {}): string {
  try {
    ast(text, opts);
  } catch (e) {
    if (e instanceof NixParseError) return e.render();
    throw e;
  }
  throw new Error(`no error for ${JSON.stringify(text)}`);
}

/** Just the message. */
function emsg(text: string, opts: Partial<ParseOptions> = {}): string {
  return perr(text, opts).split('\n')[0]!.replace(/^error: /, '');
}

/** Line:column of an error. */
function epos(text: string): string {
  const m = /at «stdin»:(\d+:\d+):/.exec(Buffer.from(perr(text), 'latin1').toString('utf8'));
  return m ? m[1]! : '?';
}

function lc(text: string, offset: number): string {
  const { line, column } = src(text).position(offset);
  return `${line}:${column}`;
}

describe('literals', () => {
  it('integers', () => {
    expect(p('123')).toBe('123');
    expect(p('0')).toBe('0');
    expect(p('007')).toBe('7');
    expect(p('9223372036854775807')).toBe('9223372036854775807');
    const big = ast('9223372036854775807');
    expect(big).toMatchObject({ kind: 'int', value: 9223372036854775807n });
    expect(ast('9007199254740991')).toMatchObject({ kind: 'int', value: 9007199254740991 });
    expect(perr('9223372036854775808')).toBe(
      "error: invalid integer '9223372036854775808'\n       at «stdin»:1:1:\n            1| 9223372036854775808\n             | ^".replace(
        /«stdin»/g,
        STDIN,
      ),
    );
    expect(p('-9223372036854775807')).toBe('(__sub 0 9223372036854775807)');
  });

  it('floats (lexing as CppNix: 1e3 is not a float, .5 and 1. are)', () => {
    expect(p('1.5')).toBe('1.5');
    expect(p('.5')).toBe('0.5');
    expect(p('1.')).toBe('1');
    expect(p('1.e5')).toBe('100000');
    expect(p('.5e3')).toBe('500');
    expect(p('1.5E-3')).toBe('0.0015');
    expect(p('0.5')).toBe('0.5');
    expect(p('[ 1e3 ]')).toBe('[ (1) (e3) ]');
    expect(p('[ 01.5 ]')).toBe('[ (1) (0.5) ]');
    expect(p('[ 00.5 ]')).toBe('[ (0) (0.5) ]');
    expect(p('[ 5.5.5 ]')).toBe('[ (5.5) (0.5) ]');
    expect(p('[ 1..2 ]')).toBe('[ (1) (0.2) ]');
    expect(p('0.e3')).toBe('(0).e3');
    expect(emsg('1.0e999')).toBe("invalid float '1.0e999'");
    expect(emsg('1.0e-310')).toBe("invalid float '1.0e-310'");
    expect(p('0.0e-999')).toBe('0');
  });

  it('float printing (%g with 6 digits)', () => {
    expect(p('123456789.0')).toBe('1.23457e+08');
    expect(p('1.23456789')).toBe('1.23457');
    expect(p('0.000001')).toBe('1e-06');
    expect(p('0.0001')).toBe('0.0001');
    expect(p('100000.0')).toBe('100000');
    expect(p('1000000.0')).toBe('1e+06');
    expect(p('1.0e21')).toBe('1e+21');
    expect(p('1.25e-5')).toBe('1.25e-05');
    expect(p('123456.7')).toBe('123457');
    // exact ties round to even, as printf does
    expect(p('1234565.0')).toBe('1.23456e+06');
    expect(p('1234575.0')).toBe('1.23458e+06');
    expect(p('0.5')).toBe('0.5');
  });

  it('identifiers and keywords', () => {
    expect(p("a-b_c'd")).toBe("a-b_c'd");
    expect(p('__curPos')).toBe('__curPos');
    expect(ast('__curPos')).toEqual({ kind: 'curPos', pos: 0 });
    expect(p('iff')).toBe('iff');
    expect(p('or-x')).toBe('or-x');
  });

  it('URIs', () => {
    expect(p('http://x.y/z?q=1&r=2')).toBe('"http://x.y/z?q=1&r=2"');
    expect(p('x:x')).toBe('"x:x"');
    expect(p('a+b:c')).toBe('"a+b:c"');
    expect(p('x: x')).toBe('(x: x)');
    expect(p('a+b')).toBe('(a + b)');
  });
});

describe('strings', () => {
  it('escapes in "…"', () => {
    expect(p('"a\\nb\\rc\\td"')).toBe('"a\\nb\\rc\\td"');
    expect(p('"\\a\\b\\c\\"\\\\"')).toBe('"abc\\"\\\\"');
    expect(p('"\\${x}"')).toBe('"\\${x}"');
    expect(p('"$${x}"')).toBe('"$\\${x}"');
    expect(p('"$"')).toBe('"$"');
    expect(p('"a$"')).toBe('"a$"');
    expect(p('"$$"')).toBe('"$$"');
    expect(p('"\\$"')).toBe('"$"');
    expect(p('"a\\\nb"')).toBe('"a\\nb"');
    expect(p('"\\u00e9"')).toBe('"u00e9"');
  });

  it('CR and CRLF in strings become LF (but an escaped CR stays)', () => {
    expect(p('"a\rb\r\nc\nd"')).toBe('"a\\nb\\nc\\nd"');
    expect(p('"a\\\r\nb"')).toBe('"a\\r\\nb"');
  });

  it('interpolation', () => {
    expect(p('"${a}"')).toBe('(a)');
    expect(p('"a${b}c"')).toBe('("a" + b + "c")');
    expect(p('"${a}${b}"')).toBe('(a + b)');
    expect(p('"${"a"}"')).toBe('("a")');
    expect(p('"a${"b${c}d"}e"')).toBe('("a" + ("b" + c + "d") + "e")');
    const e = ast('"x${a}"') as EConcatStrings;
    expect(e).toMatchObject({ kind: 'concat', forceString: true, pos: 1, partPos: [1, 2] });
  });

  it('nested interpolation to any depth', () => {
    const n = 200;
    const text = '"${'.repeat(n) + 'x' + '}"'.repeat(n);
    expect(p(text)).toBe('('.repeat(n) + 'x' + ')'.repeat(n));
  });

  it('indented strings', () => {
    expect(p("''\n  a\n  b\n''")).toBe('"a\\nb\\n"');
    expect(p("''\n    a\n  b\n''")).toBe('"  a\\nb\\n"');
    expect(p("''  a\n  b''")).toBe('"a\\nb"');
    expect(p("''\n  a\n\n  b''")).toBe('"a\\n\\nb"');
    expect(p("''''")).toBe('""');
    expect(p("''\n''")).toBe('""');
    expect(p("''\n    end''")).toBe('"end"');
    expect(p("''\n  a\n  ''")).toBe('"a\\n"');
    expect(p("''\n  a\n    ''")).toBe('"a\\n"');
    expect(p("''\n  a\n   b''")).toBe('"a\\n b"');
    // tabs are not indentation
    expect(p("''\n\ta\n  b''")).toBe('"\\ta\\n  b"');
    // interpolation ends the indentation of its line
    expect(p("''\n    ${x}\n  b''")).toBe('("  " + x + "\\nb")');
    expect(p("''${x}''")).toBe('(x)');
    expect(p("''\n    ${x}''")).toBe('(x)');
    expect(p("''${x}\n    end''")).toBe('(x + "\\n    end")');
  });

  it("indented string escapes: ''' ''$ ''\\x $ '", () => {
    expect(p("''a'''b''")).toBe('("a" + "\'\'" + "b")');
    expect(p("''a''$b''")).toBe('("a" + "$" + "b")');
    expect(p("''''${x}''")).toBe('("$" + "{x}")');
    expect(p("''a''\\nb''")).toBe('("a" + "\\n" + "b")');
    expect(p("''a''\\tb''")).toBe('("a" + "\\t" + "b")');
    expect(p("''a''\\\\b''")).toBe('("a" + "\\\\" + "b")');
    expect(p("''$$''")).toBe('"$$"');
    expect(p("''$${x}''")).toBe('"$\\${x}"');
    expect(p("''$''")).toBe('"$"');
    expect(p("''a'${x}'b''")).toBe('("a" + "\'" + x + "\'b")');
    expect(p("''\\n''")).toBe('"\\\\n"');
    // CR is not special in indented strings
    expect(p("''a\r\nb''")).toBe('"a\\r\\nb"');
  });

  it('the indentation stripping of CppNix (eval-okay-ind-string)', () => {
    const s = (text: string) => (ast(text) as { value: string }).value;
    expect(s("''\n    This is\n      indented\n\n    text.\n  ''")).toBe('This is\n  indented\n\ntext.\n');
    expect(s("''  If the string\n    starts with\n  ''")).toBe('If the string\n  starts with\n');
    expect(s("''\n      a\n      b\n        ''")).toBe('a\nb\n');
    expect(s("''\n    The \\ is not special here.\n  ' can be followed by any character except another ', e.g. 'x'.\n  ''")).toBe(
      "  The \\ is not special here.\n' can be followed by any character except another ', e.g. 'x'.\n",
    );
  });

  it('very long strings', () => {
    const body = 'x'.repeat(1 << 20);
    expect((ast(`"${body}"`) as { value: string }).value.length).toBe(1 << 20);
    expect((ast(`''\n  ${body}\n''`) as { value: string }).value.length).toBe((1 << 20) + 1);
    const esc = 'a\\n'.repeat(300000);
    expect((ast(`"${esc}"`) as { value: string }).value.length).toBe(600000);
  });

  it('NUL bytes in strings are errors', () => {
    expect(perr('"foo\0bar"')).toBe(
      toBytes(`error: input string 'foo␀bar' cannot be represented as Nix string because it contains null bytes`) +
        `\n       at ${STDIN}:1:2:\n            1| "foo\0bar"\n             |  ^`,
    );
  });
});

describe('paths', () => {
  it('relative, absolute, home and search paths', () => {
    expect(p('./a')).toBe('/base/dir/a');
    expect(p('../a')).toBe('/base/a');
    expect(p('a/b')).toBe('/base/dir/a/b');
    expect(p('./.')).toBe('/base/dir');
    expect(p('/a/./b/../c')).toBe('/a/c');
    expect(p('/..')).toBe('/');
    expect(p('../../../x')).toBe('/x');
    expect(p('~/a')).toBe('/home/u/a');
    expect(p('~/a/../b')).toBe('/home/u/a/../b');
    expect(p('<nixpkgs>')).toBe('(__findFile __nixPath "nixpkgs")');
    expect(p('<a/b.nix>')).toBe('(__findFile __nixPath "a/b.nix")');
    expect(p('1/2')).toBe('/base/dir/1/2');
    expect(p('a.b/c')).toBe('/base/dir/a.b/c');
    expect(p('[ a-1/b+c ]')).toBe('[ (/base/dir/a-1/b+c) ]');
  });

  it('interpolation in paths', () => {
    expect(p('./a/${x}/b')).toBe('(/base/dir/a/ + x + "/b")');
    expect(p('./${x}')).toBe('(/base/dir/ + x)');
    expect(p('/${x}')).toBe('(/ + x)');
    expect(p('/foo/${x}')).toBe('(/foo/ + x)');
    expect(p('/${x}/${y}')).toBe('(/ + x + "/" + y)');
    expect(p('./a-${x}-b')).toBe('(/base/dir/a- + x + "-b")');
    expect(p('~/${x}')).toBe('(/home/u/ + x)');
    expect(p('a/${x}')).toBe('(/base/dir/a/ + x)');
    const e = ast('./a/${x}') as EConcatStrings;
    expect(e).toMatchObject({ kind: 'concat', forceString: false, pos: 0, partPos: [0, 4] });
    expect(e.parts[0]).toMatchObject({ kind: 'path', value: '/base/dir/a/' });
  });

  it('trailing slashes are errors', () => {
    expect(perr('/nix/store/\n')).toBe(
      `error: path has a trailing slash\n       at ${STDIN}:1:12:\n            1| /nix/store/\n             |            ^\n            2|`,
    );
    expect(emsg('a/b/')).toBe('path has a trailing slash');
    expect(emsg('./a/${x}/')).toBe('path has a trailing slash');
    expect(emsg('./a//b')).toBe("syntax error, unexpected end of path, expecting '${'");
  });

  it('lints', () => {
    const warnings: [string, number][] = [];
    const warn = (m: string, pos: number) => void warnings.push([m, pos]);
    p('[ /tmp/foo ~/x foo/bar ./ok http://u.rl ]', {
      warn,
      lint: { absolutePathLiterals: 'warn', shortPathLiterals: 'warn', urlLiterals: 'warn' },
    });
    expect(warnings).toEqual([
      [
        "absolute path literals are not portable. Consider replacing path literal '/tmp/foo' by a string, relative path, or parameter (lint-absolute-path-literals)",
        2,
      ],
      [
        "home path literals are not portable. Consider replacing path literal '~/x' by a string, relative path, or parameter (lint-absolute-path-literals)",
        11,
      ],
      ["relative path literal 'foo/bar' should be prefixed with '.' for clarity: './foo/bar' (lint-short-path-literals)", 15],
      ['URL literals are discouraged. Consider using a string literal "http://u.rl" instead (lint-url-literals)', 28],
    ]);
    expect(emsg('/tmp/foo', { lint: { absolutePathLiterals: 'fatal' } })).toBe(
      "absolute path literals are not portable. Consider replacing path literal '/tmp/foo' by a string, relative path, or parameter (lint-absolute-path-literals)",
    );
    expect(emsg('test/subdir', { lint: { shortPathLiterals: 'fatal' } })).toBe(
      "relative path literal 'test/subdir' should be prefixed with '.' for clarity: './test/subdir' (lint-short-path-literals)",
    );
    expect(p('../test/subdir', { lint: { shortPathLiterals: 'fatal' } })).toBe('/base/test/subdir');
    expect(emsg('http://example.com', { lint: { urlLiterals: 'fatal' } })).toBe(
      'URL literals are disallowed. Consider using a string literal "http://example.com" instead (lint-url-literals)',
    );
  });
});

describe('operators', () => {
  it('desugaring', () => {
    expect(p('a - b')).toBe('(__sub a b)');
    expect(p('a * b')).toBe('(__mul a b)');
    expect(p('a / b')).toBe('(__div a b)');
    expect(p('-x')).toBe('(__sub 0 x)');
    expect(p('a < b')).toBe('(__lessThan a b)');
    expect(p('a > b')).toBe('(__lessThan b a)');
    expect(p('a <= b')).toBe('(! (__lessThan b a))');
    expect(p('a >= b')).toBe('(! (__lessThan a b))');
    expect(p('a + b')).toBe('(a + b)');
    expect(p('a == b')).toBe('(a == b)');
    expect(p('a != b')).toBe('(a != b)');
    expect(p('!a')).toBe('(! a)');
    expect(p('a ? b.c')).toBe('((a) ? b.c)');
  });

  it('precedence and associativity', () => {
    expect(p('1 + 2 + 3')).toBe('((1 + 2) + 3)');
    expect(p('1 - 2 - 3')).toBe('(__sub (__sub 1 2) 3)');
    expect(p('1 + 2 * 3 - 4 / 5')).toBe('(__sub (1 + (__mul 2 3)) (__div 4 5))');
    expect(p('a ++ b ++ c')).toBe('(a ++ (b ++ c))');
    expect(p('a // b // c')).toBe('(a // (b // c))');
    expect(p('a -> b -> c')).toBe('(a -> (b -> c))');
    expect(p('a && b || c && d')).toBe('((a && b) || (c && d))');
    expect(p('a == b && c != d')).toBe('((a == b) && (c != d))');
    expect(p('a || b -> c')).toBe('((a || b) -> c)');
    expect(p('a < b == c')).toBe('((__lessThan a b) == c)');
    expect(p('a // b == c')).toBe('((a // b) == c)');
    expect(p('!a // b')).toBe('((! a) // b)');
    expect(p('!a == b')).toBe('((! a) == b)');
    expect(p('!a + b')).toBe('(! (a + b))');
    expect(p('a + !b + c')).toBe('(a + (! (b + c)))');
    expect(p('a * !b // c')).toBe('((__mul a (! b)) // c)');
    expect(p('-a ? b')).toBe('(((__sub 0 a)) ? b)');
    expect(p('!a ? b')).toBe('(! ((a) ? b))');
    expect(p('a ++ b ? c')).toBe('(a ++ ((b) ? c))');
    expect(p('a ? b ? c')).toBe('((((a) ? b)) ? c)');
    expect(p('- f x')).toBe('(__sub 0 (f x))');
    expect(p('- - 1')).toBe('(__sub 0 (__sub 0 1))');
    expect(p('!!a')).toBe('(! (! a))');
    expect(p('- a * b')).toBe('(__mul (__sub 0 a) b)');
    expect(p('a * - b')).toBe('(__mul a (__sub 0 b))');
    expect(p('- a.b')).toBe('(__sub 0 (a).b)');
    expect(p('f a.b c')).toBe('(f (a).b c)');
    expect(p('a.b.c or d')).toBe('(a).b.c or (d)');
    expect(p('a + b ? c')).toBe('(a + ((b) ? c))');
  });

  it('non-associative operators', () => {
    expect(emsg('1 == 2 == 3')).toBe("syntax error, unexpected '=='");
    expect(epos('1 == 2 == 3')).toBe('1:8');
    expect(emsg('1 < 2 < 3')).toBe("syntax error, unexpected '<'");
    expect(emsg('1 < 2 >= 3')).toBe("syntax error, unexpected '>='");
    expect(emsg('a == ! b == c')).toBe("syntax error, unexpected '=='");
  });

  it('calls are flattened as in CppNix', () => {
    expect(p('f x y z')).toBe('(f x y z)');
    expect(p('(f x) y')).toBe('(f x y)');
    expect(p('(a - b) c')).toBe('(__sub a b c)');
    expect(p('f (x: x)')).toBe('(f (x: x))');
  });

  it('pipe operators', () => {
    const pipe = { experimentalFeatures: new Set(['pipe-operators']) };
    expect(p('a |> f', pipe)).toBe('(f a)');
    expect(p('f <| a', pipe)).toBe('(f a)');
    expect(p('a |> f |> g', pipe)).toBe('(g (f a))');
    expect(p('f <| g <| a', pipe)).toBe('(f (g a))');
    expect(p('x |> f y', pipe)).toBe('(f y x)');
    expect(p('a + 1 |> f', pipe)).toBe('(f (a + 1))');
    expect(emsg('a |> b <| c', pipe)).toBe("syntax error, unexpected '<|', expecting end of file");
    expect(emsg('a <| b |> c', pipe)).toBe("syntax error, unexpected '|>', expecting end of file");
    expect(perr('1 |> 2')).toBe(
      "error: experimental Nix feature 'pipe-operators' is disabled; add '--extra-experimental-features pipe-operators' to enable it\n" +
        `       at ${STDIN}:1:3:\n            1| 1 |> 2\n             |   ^`,
    );
    expect(emsg('f <| 2')).toMatch(/^experimental Nix feature 'pipe-operators' is disabled/);
  });
});

describe('constructs', () => {
  it('attribute sets', () => {
    expect(p('{ }')).toBe('{ }');
    expect(p('{ a = 1; }')).toBe('{ a = 1; }');
    expect(p('rec { b = 2; a = 1; }')).toBe('rec { a = 1; b = 2; }');
    expect(p('{ a.b.c = 1; }')).toBe('{ a = { b = { c = 1; }; }; }');
    expect(p('{ "a" = 1; ${c} = 3; "d${e}" = 4; "a b" = 5; ${"f"} = 6; }')).toBe(
      '{ a = 1; "a b" = 5; f = 6; "${c}" = 3; "${("d" + e)}" = 4; }',
    );
    expect(p('{ "if" = 1; "then" = 2; "or" = 3; "" = 4; "1a" = 5; }')).toBe('{ "" = 4; "1a" = 5; "if" = 1; or = 3; "then" = 2; }');
    expect(p('{ inherit a; inherit (b) c d; e = 1; inherit (x) f; }')).toBe('{ inherit a; inherit (b) c d; inherit (x) f; e = 1; }');
    expect(p('{ inherit "a b" or; }')).toBe('{ inherit "a b" or; }');
    expect(p('{ or = 1; }')).toBe('{ or = 1; }');
    expect(p('{ a.${b}.c = 1; a.${b}.d = 2; }')).toBe('{ a = { "${b}" = { c = 1; }; "${b}" = { d = 2; }; }; }');
    const e = ast('{ a = 1; b = 2; }') as EAttrs;
    expect([...e.attrs.keys()]).toEqual(['a', 'b']);
    expect(e.attrs.get('b')).toMatchObject({ kind: 'plain', pos: 9 });
  });

  it('merging nested attribute sets', () => {
    expect(p('{ a = { x = 1; }; a.y = 2; }')).toBe('{ a = { x = 1; y = 2; }; }');
    expect(p('{ a.y = 2; a = { x = 1; }; }')).toBe('{ a = { x = 1; y = 2; }; }');
    expect(p('{ a = rec { x = 1; }; a.y = 2; }')).toBe('{ a = rec { x = 1; y = 2; }; }');
    expect(p('{ a.y = 2; a = rec { x = 1; }; }')).toBe('{ a = { x = 1; y = 2; }; }');
    expect(p('{ a = { x = 1; }; a = { y = 2; }; }')).toBe('{ a = { x = 1; y = 2; }; }');
    expect(p('{ a.b = 1; a = { inherit (x) c; }; a = { inherit (y) d; }; }')).toBe(
      '{ a = { inherit (x) c; inherit (y) d; b = 1; }; }',
    );
  });

  it('duplicate attributes', () => {
    expect(perr('{ x = 123;\n  y = 456;\n  x = 789;\n}')).toBe(
      `error: attribute 'x' already defined at ${STDIN}:1:3\n       at ${STDIN}:3:3:\n            2|   y = 456;\n            3|   x = 789;\n             |   ^\n            4| }`,
    );
    expect(emsg('{ a = 1; a.b = 2; }')).toBe(`attribute 'a.b' already defined at ${STDIN}:1:3`);
    expect(emsg('{ a.b = 1; a.b = 2; }')).toBe(`attribute 'a.b' already defined at ${STDIN}:1:3`);
    expect(emsg('{ inherit a; a = 2; }')).toBe(`attribute 'a' already defined at ${STDIN}:1:11`);
    expect(emsg('{ inherit a; inherit a; }')).toBe(`attribute 'a' already defined at ${STDIN}:1:11`);
    expect(emsg('{ a = 1; inherit (x) a; }')).toBe(`attribute 'a' already defined at ${STDIN}:1:3`);
    expect(emsg('{ x.z = 3; x = { y = 3; z = 3; }; }')).toBe(`attribute 'x.z' already defined at ${STDIN}:1:3`);
    expect(epos('{ x.z = 3; x = { y = 3; z = 3; }; }')).toBe('1:25');
    expect(emsg('{ x.y.y = 3; x = { y.y= 3; z = 3; }; }')).toBe(`attribute 'x.y.y' already defined at ${STDIN}:1:3`);
    expect(emsg('{ a."b c" = 1; a."b c" = 2; }')).toBe(`attribute 'a."b c"' already defined at ${STDIN}:1:3`);
    expect(emsg('let a = 1; a = 2; in a')).toBe(`attribute 'a' already defined at ${STDIN}:1:5`);
  });

  it('dynamic attributes in let and inherit', () => {
    expect(perr('let\n  ${"a" + ""} = 1;\nin\na')).toBe(
      `error: dynamic attributes not allowed in let\n       at ${STDIN}:1:1:\n            1| let\n             | ^\n            2|   \${"a" + ""} = 1;`,
    );
    expect(emsg('let "${"a"}" = 1; in a')).toBe('dynamic attributes not allowed in let');
    expect(p('let ${"a"} = 1; in a')).toBe('(let a = 1; in a)');
    expect(emsg('{ inherit ${"a" + ""}; }')).toBe('dynamic attributes not allowed in inherit');
    expect(epos('{ inherit (a) ${"b" + ""}; }')).toBe('1:15');
    expect(p('{ inherit ${"a"} "b"; }')).toBe('{ inherit a b; }');
  });

  it('let', () => {
    expect(p('let a = 1; b = 2; in a')).toBe('(let a = 1; b = 2; in a)');
    expect(p('let inherit a; inherit (b) c; in c')).toBe('(let inherit a; inherit (b) c; in c)');
    expect(p('let { a = 1; body = a; }')).toBe('(rec { a = 1; body = a; }).body');
    expect(p('let in 1')).toBe('(let in 1)');
    expect(p('let or = 1; in [ (x: x) or ]')).toBe('(let or = 1; in [ (((x: x) or)) ])');
  });

  it('lists', () => {
    expect(p('[]')).toBe('[ ]');
    expect(p('[ 1 "a" a.b (f x) ]')).toBe('[ (1) ("a") ((a).b) ((f x)) ]');
    expect(p('[ a.b or c ]')).toBe('[ ((a).b or (c)) ]');
  });

  it('lambdas', () => {
    expect(p('x: y: x')).toBe('(x: (y: x))');
    expect(p('{ b, a ? 1, ... }: a')).toBe('({ a ? 1, b, ... }: a)');
    expect(p('{ }: 1')).toBe('({  }: 1)');
    expect(p('{ ... }: 1')).toBe('({ ... }: 1)');
    expect(p('{ a, }: a')).toBe('({ a }: a)');
    expect(p('{ a, ... } @ args: a')).toBe('({ a, ... } @ args: a)');
    expect(p('args@{ a }: a')).toBe('({ a } @ args: a)');
    expect(p('a@{ }: 1')).toBe('({  } @ a: 1)');
    expect(p('{ a ? { b ? 1 }: b }: a')).toBe('({ a ? ({ b ? 1 }: b) }: a)');
    expect(p('{ a ? { b, ... }: b }: a')).toBe('({ a ? ({ b, ... }: b) }: a)');
    expect(p('{ a ? { b }: b, ... }: a')).toBe('({ a ? ({ b }: b), ... }: a)');
    expect(p('{ a ? x: { inherit (x) y; }, b ? "${c}" }: a')).toBe('({ a ? (x: { inherit (x) y; }), b ? (c) }: a)');
    const l = ast('{ b, a }: a') as ELambda;
    expect(l.formals!.formals.map((f) => f.name)).toEqual(['a', 'b']);
    expect(l.formals!.formals.map((f) => f.pos)).toEqual([5, 2]);
    expect(ast('x: x')).toMatchObject({ kind: 'lambda', arg: 'x', pos: 0 });
  });

  it('duplicate formals', () => {
    expect(perr('{x, y, x}: x')).toBe(
      `error: duplicate formal function argument 'x'\n       at ${STDIN}:1:8:\n            1| {x, y, x}: x\n             |        ^`,
    );
    expect(perr('args@{args, x, y, z}: x')).toBe(
      `error: duplicate formal function argument 'args'\n       at ${STDIN}:1:1:\n            1| args@{args, x, y, z}: x\n             | ^`,
    );
    expect(epos('{ a }@a: a')).toBe('1:1');
    // checked after the body, like CppNix
    expect(emsg('{ a, a }: (')).toBe('syntax error, unexpected end of file');
  });

  it('if, assert, with', () => {
    expect(p('if a then b else c')).toBe('(if a then b else c)');
    expect(p('if a then if b then c else d else e')).toBe('(if a then (if b then c else d) else e)');
    expect(p('assert a; b')).toBe('assert a; b');
    expect(p('with a; b')).toBe('(with a; b)');
    expect(p('with a; x: assert x; y')).toBe('(with a; (x: assert x; y))');
    expect(p('a: if a then 1 else x: x')).toBe('(a: (if a then 1 else (x: x)))');
  });

  it('select, has-attr, or', () => {
    expect(p('a.b.c')).toBe('(a).b.c');
    expect(p('a.${b}.c')).toBe('(a)."${b}".c');
    expect(p('a."b${c}".d')).toBe('(a)."${("b" + c)}".d');
    expect(p('a."b c"')).toBe('(a)."b c"');
    expect(p('a."if"')).toBe('(a)."if"');
    expect(p('a.${"b"}')).toBe('(a).b');
    expect(p('a.or')).toBe('(a).or');
    expect(p('a ? "b c"')).toBe('((a) ? "b c")');
    expect(p('a ? ${b}')).toBe('((a) ? "${b}")');
    expect(p('{ a = 1; }.a')).toBe('({ a = 1; }).a');
    expect(p('a.b or c.d or e')).toBe('(a).b or ((c).d or (e))');
  });

  it('`or` as an identifier', () => {
    expect(p('f or')).toBe('(f or)');
    expect(p('(f or) x')).toBe('(f or x)');
    expect(p('map or [ ]')).toBe('(map or [ ])');
    expect(emsg('or')).toBe("syntax error, unexpected 'or'");
    expect(emsg('[ or ]')).toBe("syntax error, unexpected 'or'");
    expect(emsg('or: 1')).toBe("syntax error, unexpected 'or'");
    const warnings: [string, number][] = [];
    const warn = (m: string, pos: number) => void warnings.push([m, pos]);
    ast('let or = 1; in [ (x: x) or ]', { warn });
    ast('(x: x * 2) (x: x + 1) or', { warn });
    ast('{ a = 2; }.a or (x: x) or', { warn });
    ast('map or []', { warn });
    ast('f (f or)', { warn });
    expect(warnings.map(([m, pos]) => [m.split('\n')[2], pos])).toEqual([
      ['    ((x: x) or)', -1],
      ['    ((x: x + 1) or)', -1],
      ['    ((x: x) or)', -1],
    ]);
    expect(warnings[0]![0]).toBe(
      `at ${STDIN}:1:18: This expression uses \`or\` as an identifier in a way that will change in a future Nix release.\n` +
        'Wrap this entire expression in parentheses to preserve its current meaning:\n' +
        '    ((x: x) or)\n' +
        'Give feedback at https://github.com/NixOS/nix/pull/11121',
    );
  });

  it('comments', () => {
    expect(p('# c\n1 # d')).toBe('1');
    expect(p('/* c */ 1 /* d\n e */')).toBe('1');
    expect(p('/**/ 1')).toBe('1');
    expect(p('[ a/* c */b ]')).toBe('[ (a) (b) ]');
    // an unterminated comment is no comment: `/` then `*`
    expect(emsg('1 /* x')).toBe("syntax error, unexpected '*'");
  });
});

describe('positions', () => {
  it('nodes carry the positions CppNix gives them', () => {
    const t = 'f x (y.z) (a ? b) (- c) (d + e) (g < h) { p = 1; } [ 1 ] "s${i}" rec { } (let k = 1; in k)';
    const e = ast(t) as ECall;
    expect(e.pos).toBe(0);
    const [x, sel, has, neg, plus, lt, attrs, list, str, recs] = e.args;
    expect(x!.pos).toBe(2);
    expect(sel).toMatchObject({ kind: 'select', pos: 5 });
    expect((sel as ESelect).path[0]!.pos).toBe(7);
    expect(has).toMatchObject({ kind: 'hasAttr', pos: 11 });
    expect(neg).toMatchObject({ kind: 'call', pos: 19 });
    expect(plus).toMatchObject({ kind: 'concat', pos: 27, partPos: [25, 29] });
    expect(lt).toMatchObject({ kind: 'call', pos: 35 });
    expect(attrs).toMatchObject({ kind: 'attrs', pos: 40 });
    expect((attrs as EAttrs).attrs.get('p')!.pos).toBe(42);
    expect(list).toMatchObject({ kind: 'list', pos: 51 });
    expect(str).toMatchObject({ kind: 'concat', pos: 58, partPos: [58, 59] });
    expect(recs).toMatchObject({ kind: 'attrs', pos: 65, rec: true });
    const l = e.args[10]!;
    expect(l).toMatchObject({ kind: 'let', pos: 74 });
  });

  it('positions after multi-line strings and CRLF', () => {
    const t = '"a\nb\nc" + ' + "''\n  x\n  y\n'' + z";
    const e = ast(t) as EConcatStrings;
    const z = e.parts[1]!;
    expect(lc(t, z.pos)).toBe('6:6');
    const crlf = 'rec {\r\n  x = 1;\r\n  y = x;\r\n}';
    const a = ast(crlf) as EAttrs;
    expect(lc(crlf, a.attrs.get('y')!.pos)).toBe('3:3');
    expect(epos('{\r\n  a = 1;\r\n  a = 2;\r\n}')).toBe('3:3');
    expect(epos('"x\r\ny" 1 ]')).toBe('2:6');
  });

  it('CRLF and CR line ends (parse-okay-crlf)', () => {
    const t = 'rec {\r\n\r\n  /* Dit is\r\n  een test. */\r\n\r\n  x = \r\n  # Dit is een test.\ry;\r\n  \r\n  y = 123;\r\r\n\r\n  foo = "multi\rline\r\n  string\n  test\\r";\r\n\r\n  z = 456;\r}\r\n';
    expect(p(t)).toBe('rec { foo = "multi\\nline\\n  string\\n  test\\r"; x = y; y = 123; z = 456; }');
  });
});

describe('syntax errors (as bison words them)', () => {
  const cases: [string, string, string][] = [
    ['&& true', "syntax error, unexpected '&&'", '1:1'],
    ['a.assert', "syntax error, unexpected 'assert', expecting identifier or 'or' or '${' or '\"'", '1:3'],
    ['++ []', "syntax error, unexpected '++'", '1:1'],
    ['{ a ... }', "syntax error, unexpected '...', expecting '.' or '='", '1:5'],
    ['if 1 else', "syntax error, unexpected 'else', expecting 'then'", '1:6'],
    ['== 1', "syntax error, unexpected '=='", '1:1'],
    ['{ 1.5 = x; }', "syntax error, unexpected floating-point literal, expecting 'inherit'", '1:3'],
    ['>= 1', "syntax error, unexpected '>='", '1:1'],
    ['a.~/foo', toBytes("syntax error, unexpected '~/…' path, expecting identifier or 'or' or '${' or '\"'"), '1:3'],
    ['a.if', "syntax error, unexpected 'if', expecting identifier or 'or' or '${' or '\"'", '1:3'],
    ['-> x', "syntax error, unexpected '->'", '1:1'],
    ['a.in', "syntax error, unexpected 'in', expecting identifier or 'or' or '${' or '\"'", '1:3'],
    ["a.''", "syntax error, unexpected start of an indented string, expecting identifier or 'or' or '${' or '\"'", '1:3'],
    ['a.inherit', "syntax error, unexpected 'inherit', expecting identifier or 'or' or '${' or '\"'", '1:3'],
    ['{ 1 = x; }', "syntax error, unexpected integer, expecting 'inherit'", '1:3'],
    ['<= 1', "syntax error, unexpected '<='", '1:1'],
    ['a.let', "syntax error, unexpected 'let', expecting identifier or 'or' or '${' or '\"'", '1:3'],
    ['1 != != 2', "syntax error, unexpected '!='", '1:6'],
    ['|| true', "syntax error, unexpected '||'", '1:1'],
    ['{ } ? ./foo', "syntax error, unexpected path, expecting identifier or 'or' or '${' or '\"'", '1:7'],
    ['a.rec', "syntax error, unexpected 'rec', expecting identifier or 'or' or '${' or '\"'", '1:3'],
    ['a.<nixpkgs>', toBytes("syntax error, unexpected '<…>' path, expecting identifier or 'or' or '${' or '\"'"), '1:3'],
    ['if then', "syntax error, unexpected 'then'", '1:4'],
    ['// 1', "syntax error, unexpected '//'", '1:1'],
    ['{ inherit http://x; }', 'syntax error, unexpected URI', '1:11'],
    ['a.with', "syntax error, unexpected 'with', expecting identifier or 'or' or '${' or '\"'", '1:3'],
    ['123 \xc3\xa9 4', 'syntax error, unexpected invalid token, expecting end of file', '1:5'],
    ['{x, y : ["baz"]}: x', "syntax error, unexpected ':', expecting '}' or ','", '1:7'],
    ['# c\na 1"$', "syntax error, unexpected end of file, expecting '\"'", '2:6'],
    ['(\n# no content\n', 'syntax error, unexpected end of file', '3:1'],
    ['{ a }', "syntax error, unexpected end of file, expecting ':' or '@'", '1:6'],
    ['( 1 ]', "syntax error, unexpected ']', expecting ')'", '1:5'],
    ['1 )', "syntax error, unexpected ')', expecting end of file", '1:3'],
    ['let a = 1 in a', "syntax error, unexpected 'in', expecting ';'", '1:11'],
    ['f let a = 1; in a', "syntax error, unexpected identifier, expecting '{'", '1:7'],
    ['{ a, , b }: 1', "syntax error, unexpected ',', expecting identifier or '...' or '}'", '1:6'],
    ['"abc', "syntax error, unexpected end of file, expecting '\"'", '1:5'],
    ["''abc", "syntax error, unexpected end of file, expecting indented string or '${' or end of an indented string", '1:6'],
    ['a ? b or c', "syntax error, unexpected 'or', expecting end of file", '1:7'],
    ['}', "syntax error, unexpected '}'", '1:1'],
    ['a ` b', 'syntax error, unexpected invalid token, expecting end of file', '1:3'],
  ];
  for (const [text, msg, pos] of cases) {
    it(JSON.stringify(text), () => {
      expect(emsg(text)).toBe(msg);
      if (pos !== '?') expect(epos(text)).toBe(pos);
    });
  }

  it('a NUL byte ends the input, as in CppNix', () => {
    expect(p('1\0 garbage')).toBe('1');
  });

  it('the whole report', () => {
    expect(perr('a.assert\n')).toBe(
      `error: syntax error, unexpected 'assert', expecting identifier or 'or' or '\${' or '"'\n` +
        `       at ${STDIN}:1:3:\n            1| a.assert\n             |   ^\n            2|`,
    );
  });
});

describe('robustness', () => {
  const noCrash = (text: string) => {
    try {
      printExpr(ast(text));
    } catch (e) {
      expect(e).toBeInstanceOf(NixParseError);
    }
  };

  it('deeply nested parentheses, lists and sets do not crash', () => {
    for (const n of [10000]) {
      noCrash('('.repeat(n) + '1' + ')'.repeat(n));
      noCrash('['.repeat(n) + '1' + ']'.repeat(n));
      noCrash('{a='.repeat(n) + '1' + ';}'.repeat(n));
      noCrash('"${'.repeat(n) + '1' + '}"'.repeat(n));
    }
  });

  it('realistic depths work', () => {
    const n = 300;
    expect(p('('.repeat(n) + '1' + ')'.repeat(n))).toBe('1');
    expect(p('['.repeat(n) + ']'.repeat(n)).length).toBe(n * 6 - 3);
    expect(p('{a='.repeat(n) + '1' + ';}'.repeat(n)).length).toBeGreaterThan(n * 6);
  });

  it('long chains are parsed and printed without recursion limits', () => {
    const n = 10000;
    expect(p('if a then 1 else '.repeat(n) + '2').length).toBe(19 * n + 1);
    expect(p('let a = 1; in '.repeat(n) + 'a').length).toBe(16 * n + 1);
    expect(p('x: '.repeat(n) + 'x').length).toBe(5 * n + 1);
    expect(p('assert a; '.repeat(n) + 'a').length).toBe(10 * n + 1);
    expect(p(Array(n).fill('1').join(' + ')).length).toBe(6 * n - 5);
    expect(p(Array(n).fill('[1]').join(' ++ ')).length).toBe(13 * n - 6);
    expect(p(Array(n).fill('a').join(' -> ')).length).toBe(7 * n - 6);
    expect(p('[' + ' x'.repeat(n) + ' ]').length).toBe(4 * n + 3);
  });

  it('is reusable after errors', () => {
    expect(emsg('(')).toBe('syntax error, unexpected end of file');
    expect(emsg('{ a = 1; a = 2; }')).toMatch(/already defined/);
    expect(p('{ a = 1; }')).toBe('{ a = 1; }');
  });
});

// Cases for the parser's and binder's fast paths (interned identifiers, the
// byte view of the input, shortcuts for frequent bindings, small scopes…):
// their results must be those of the general code.
describe('fast paths give the general results', () => {
  it('identifiers that start like keywords, long identifiers', () => {
    for (const id of ['iff', 'inherits', 'or_', 'letx', "in'", 'x-y', "a'b", 'if1', 'assert_', 'thenelse', 'abcdefghijklmnopqrstuvwxyz']) {
      expect(p(id)).toBe(id);
      expect(ast(id)).toMatchObject({ kind: 'var', name: id });
    }
    expect(p('{ or = 1; }')).toBe('{ or = 1; }');
  });

  it('characters above 255 (not a byte string) are lexed as before', () => {
    expect(emsg('\u0142')).toBe('syntax error, unexpected invalid token');
    expect(emsg('a \u0142')).toBe('syntax error, unexpected invalid token, expecting end of file');
    expect(ast('"\u0142"')).toMatchObject({ kind: 'str', value: '\u0142' });
    expect(ast("''\n  \u0142\n''")).toMatchObject({ kind: 'str', value: '\u0142\n' });
  });

  it('comments ending in CR or at the end of the input', () => {
    expect(p('1 # c\r+ 2')).toBe('(1 + 2)');
    expect(p('1 # c\r\n+ 2')).toBe('(1 + 2)');
    expect(p('1 # c\n+ 2')).toBe('(1 + 2)');
    expect(p('1 # c')).toBe('1');
    expect(p('1 /* c */ + 2')).toBe('(1 + 2)');
  });

  it('integers of up to 15 digits and beyond', () => {
    expect(p('[ 007 123456789012345 1234567890123456 ]')).toBe('[ (7) (123456789012345) (1234567890123456) ]');
  });

  it('indentation stripping: runs of spaces, empty lines, a final line of spaces', () => {
    expect(p("''\n  a\n    b\n  ''")).toBe('"a\\n  b\\n"');
    expect(p("''\n  a\n\n  b\n \t''")).toBe('" a\\n\\n b\\n\\t"');
    expect(p("''  \n  ''")).toBe('""');
    expect(p("''\n  ${x} a\n  ''")).toBe('(x + " a\\n")');
    expect(p("''\n   ''$\n  a''")).toBe('(" " + "$" + "\\na")');
  });

  it('bindings of a single name: duplicates and merges', () => {
    expect(emsg('{ a = 1; a = 2; }')).toBe(`attribute 'a' already defined at ${STDIN}:1:3`);
    expect(epos('{ a = 1; a = 2; }')).toBe('1:10');
    expect(emsg('{ "a" = 1; a = 2; }')).toBe(`attribute 'a' already defined at ${STDIN}:1:3`);
    expect(emsg('{ a = 1; a.b = 2; }')).toBe(`attribute 'a.b' already defined at ${STDIN}:1:3`);
    expect(emsg('{ a = { b = 1; }; a.b = 2; }')).toBe(`attribute 'a.b' already defined at ${STDIN}:1:9`);
    expect(emsg('{ a = { b = 1; }; a = { b = 2; }; }')).toBe(`attribute 'a.b' already defined at ${STDIN}:1:9`);
    expect(p('{ a = { x = 1; }; a = { y = 2; }; }')).toBe('{ a = { x = 1; y = 2; }; }');
    expect(p('{ a.b = 1; a = { c = 2; }; }')).toBe('{ a = { b = 1; c = 2; }; }');
    expect(p('let a = 1; b = a; in b')).toBe('(let a = 1; b = a; in b)');
  });

  it('attribute sets without dynamic attributes or inherit-from share empty lists', () => {
    const a = ast('[ { a = 1; } { b = 2; inherit (x) c; "${d}" = 3; } ]') as EList;
    const [e1, e2] = a.elems as EAttrs[];
    expect(e1!.dynamic).toEqual([]);
    expect(e1!.inheritFrom).toEqual([]);
    expect(e2!.dynamic.length).toBe(1);
    expect(e2!.inheritFrom.length).toBe(1);
    expect(e1!.dynamic.length).toBe(0);
  });

  it('variables resolve the same in small and large scopes', () => {
    const names = Array.from({ length: 12 }, (_, i) => `v${i}`);
    const globals = new Set(['builtins', '__sub']);
    const check = (text: string, want: Record<string, unknown>) => {
      const s = src(text);
      const e = parse(s, { basePath: BASE });
      bind(e, s, { globals });
      const got: Record<string, unknown> = {};
      const walk = (x: unknown): void => {
        if (x instanceof Map) for (const v of x.values()) walk(v);
        else if (Array.isArray(x)) for (const v of x) walk(v);
        else if (x && typeof x === 'object') {
          const o = x as Record<string, unknown>;
          if (o.kind === 'var' && o.pos !== -1) got[`${o.name as string}@${o.pos as number}`] = o.resolved;
          for (const v of Object.values(o)) walk(v);
        }
      };
      walk(e);
      expect(got).toEqual(want);
    };
    // a lambda with 12 formals (a map) inside a lambda with 3 (a list)
    const big = `{ ${names.join(', ')} }: `;
    const text = `{ p, q, r }: ${big}[ v0 v11 p r builtins ]`;
    const at = (name: string) => `${name}@${text.lastIndexOf(' ' + name + ' ') + 1}`;
    check(text, {
      [at('v0')]: { type: 'local', level: 0, index: 0 },
      [at('v11')]: { type: 'local', level: 0, index: 3 },
      [at('p')]: { type: 'local', level: 1, index: 0 },
      [at('r')]: { type: 'local', level: 1, index: 2 },
      [at('builtins')]: { type: 'builtin', name: 'builtins' },
    });
    // with scopes, rec sets and let with many names, unary minus
    const t2 = `let ${names.map((n) => `${n} = 1;`).join(' ')} in with builtins; rec { a = v5; b = a; c = y; d = -v1; }`;
    const pos = (s: string) => t2.indexOf(s);
    check(t2, {
      [`v5@${pos('v5;')}`]: { type: 'local', level: 2, index: 5 },
      [`a@${pos('a;')}`]: { type: 'local', level: 0, index: 0 },
      [`builtins@${pos('builtins;')}`]: { type: 'builtin', name: 'builtins' },
      [`y@${pos('y;')}`]: { type: 'with', levels: [1] },
      [`v1@${pos('v1;')}`]: { type: 'local', level: 2, index: 1 },
    });
  });
});

// The DSL engine of the parser (NixParser's own CONSUME / SUBRULE / OR / MANY /
// OPTION, the direct calls of frequent alternatives, tokens lexed in batches
// ahead of the parser), the node factory, the lexer's identifier table and
// reused byte buffer, and the binder's one-pass naming of lambdas.
describe('engine, lexer and binder shortcuts', () => {
  it('every alternative of a simple expression, chosen directly or by the OR', () => {
    expect(p('[ x 1 2.5 "s" "a${b}c" ./p ~/h <n> http://u (y) { a = 1; } rec { b = 2; } let { body = 3; } [ ] __curPos ]')).toBe(
      '[ (x) (1) (2.5) ("s") (("a" + b + "c")) (/base/dir/p) (/home/u/h) ((__findFile __nixPath "n")) ("http://u") (y) ({ a = 1; }) (rec { b = 2; }) ((rec { body = 3; }).body) ([ ]) (__curPos) ]',
    );
    expect(p("''\n  a ''${b}\n  ${c} '''\n''")).toBe('("a " + "$" + "{b}\\n" + c + " " + "\'\'" + "\\n")');
  });

  it('bindings: name = e, paths, strings, interpolation, inherit', () => {
    expect(p('{ a = 1; b.c = 2; "d" = 3; ${"e"} = 4; inherit f; inherit (g) h; }')).toBe(
      '{ inherit f; inherit (g) h; a = 1; b = { c = 2; }; d = 3; e = 4; }',
    );
    expect(p('{ a = x: x; b = {}: 1; c = let d = 1; in d; }')).toBe('{ a = (x: x); b = ({  }: 1); c = (let d = 1; in d); }');
    // (`name =` is told from a path by looking two tokens ahead: also across batches of tokens)
    for (let k = 0; k < 20; k++) {
      const pad = 'p = 0; '.repeat(k > 0 ? 1 : 0) + 'q.r = 0; '.repeat(k);
      expect(emsg(`{ ${pad}a = 1; a.b = 2; }`)).toMatch(/^attribute '(a\.b|q\.r)' already defined/);
    }
  });

  it('operators after a single operand, prefix operators without a tail', () => {
    expect(p('-x')).toBe('(__sub 0 x)');
    expect(p('!x')).toBe('(! x)');
    expect(p('- - x')).toBe('(__sub 0 (__sub 0 x))');
    expect(p('f x ? a')).toBe('(((f x)) ? a)');
    expect(p('{ a = -1; b = !c; d = e f; }')).toBe('{ a = (__sub 0 1); b = (! c); d = (e f); }');
  });

  it('errors are reported as before although tokens are lexed ahead', () => {
    // The duplicate is found before the parser reaches the bad integer (which the lexer has seen).
    expect(emsg('{ a = 1; a = 2; } 99999999999999999999')).toBe(`attribute 'a' already defined at ${STDIN}:1:3`);
    expect(emsg('{ a = 1; } 99999999999999999999')).toBe("invalid integer '99999999999999999999'");
    expect(emsg('{ a = 1; a = 2; b = "x\0"; }')).toBe(`attribute 'a' already defined at ${STDIN}:1:3`);
    expect(emsg('{ a = 1; b = "x\0"; a = 2; }')).toMatch(/cannot be represented as Nix string because it contains null bytes/);
    expect(emsg('x |> ' + 'y '.repeat(50))).toMatch(/^experimental Nix feature 'pipe-operators' is disabled/);
    // a NUL byte ends the input
    expect(p('1 + 2\0 + +')).toBe('(1 + 2)');
  });

  it('parses again after errors at any point of a batch of tokens', () => {
    for (let k = 0; k < 12; k++) {
      expect(emsg('[ ' + 'x '.repeat(k) + ') ]')).toBe("syntax error, unexpected ')'");
      expect(p('[ ' + 'x '.repeat(k) + ']')).toBe('[ ' + '(x) '.repeat(k) + ']');
    }
  });

  it('the identifier table grows and keeps the keywords and the earlier names', () => {
    const names = Array.from({ length: 6000 }, (_, i) => `name_${i.toString(36)}_${'q'.repeat(i % 20)}`);
    const text = `{ ${names.map((n) => `${n} = 1;`).join(' ')} }`;
    const e = ast(text) as EAttrs;
    expect([...e.attrs.keys()]).toEqual(names);
    expect(p('let in_ = 1; or_ = if true then in_ else or_; in or_')).toBe('(let in_ = 1; or_ = (if true then in_ else or_); in or_)');
    expect(p('{ inherit or; x = a or b; }')).toBe('{ inherit or; x = (a or b); }'.replace('(a or b)', p('a or b')));
    const e2 = ast(text) as EAttrs;
    expect([...e2.attrs.keys()]).toEqual(names);
  });

  it('large inputs after small ones and small after large (the reused byte buffer)', () => {
    expect((ast('[ ' + '"a" '.repeat(200000) + ']') as EList).elems.length).toBe(200000);
    expect(emsg("''\n  a  ")).toBe("syntax error, unexpected end of file, expecting indented string or '${' or end of an indented string");
    expect(p('x')).toBe('x');
    expect(p('a/b')).toBe('/base/dir/a/b');
    expect(emsg('a/')).toBe('syntax error, unexpected end of file');
  });

  it('AST nodes and arrays are plain objects and arrays', () => {
    const e = ast('{ a = [ 1 "s" ]; b = { x, y ? 1 }@z: x; c = a - 1; d = e.f or g; h = "${i}"; inherit (j) k; }');
    const walk = (x: unknown): void => {
      if (x instanceof Map) for (const v of x.values()) walk(v);
      else if (Array.isArray(x)) {
        expect(Object.getPrototypeOf(x)).toBe(Array.prototype);
        for (const v of x) walk(v);
      } else if (x && typeof x === 'object') {
        expect(Object.getPrototypeOf(x)).toBe(Object.prototype);
        for (const v of Object.values(x)) walk(v);
      }
    };
    walk(e);
  });

  it('lambdas bound to attributes are named, in recursive and other sets and in let', () => {
    const s = src('{ f = x: y: x; g = { h = z: z; }; r = rec { k = a: a; }; l = let m = b: b; in m; }');
    const e = parse(s, { basePath: BASE }) as EAttrs;
    bind(e, s, { globals: new Set() });
    const def = (a: EAttrs, n: string) => (a.attrs.get(n) as { expr: Expr }).expr;
    const f = def(e, 'f') as ELambda;
    expect([f.name, (f.body as ELambda).name]).toEqual(['f', 'f']);
    expect((def(def(e, 'g') as EAttrs, 'h') as ELambda).name).toBe('h');
    expect((def(def(e, 'r') as EAttrs, 'k') as ELambda).name).toBe('k');
    const l = def(e, 'l') as unknown as { attrs: EAttrs };
    expect((def(l.attrs, 'm') as ELambda).name).toBe('m');
  });

  it('variables under `with` that are bound statically have no `with` levels', () => {
    const s = src('x: a: b: with a; with b; [ x c ]');
    let e = parse(s, { basePath: BASE });
    bind(e, s, { globals: new Set() });
    while (e.kind !== 'list') e = (e as unknown as { body: Expr }).body;
    const list = e.elems;
    expect((list[0] as unknown as { resolved: unknown }).resolved).toEqual({ type: 'local', level: 4, index: 0 });
    expect((list[1] as unknown as { resolved: unknown }).resolved).toEqual({ type: 'with', levels: [0, 1] });
  });
});

// The parse tests of CppNix's suite (also run by the conformance runner).
describe.skipIf(!fs.existsSync(LANG))('CppNix parse-* tests', () => {
  const files = fs.existsSync(LANG)
    ? fs.readdirSync(LANG).filter((f) => /^parse-.*\.nix$/.test(f) && !/undef-var\.nix|regression-20060610/.test(f))
    : [];
  for (const f of files) {
    it(f, () => {
      const text = fs.readFileSync(path.join(LANG, f)).toString('latin1');
      let out: string;
      try {
        out = printExpr(parse(new Source(null, STDIN, text), { basePath: path.dirname(LANG) })) + '\n';
      } catch (e) {
        if (!(e instanceof NixParseError)) throw e;
        out = e.render() + '\n';
      }
      const base = path.join(LANG, f.replace(/\.nix$/, ''));
      const exp = fs.readFileSync(fs.existsSync(base + '.exp') ? base + '.exp' : base + '.err.exp').toString('latin1');
      expect(out).toBe(exp);
    });
  }
});

// Keep the unused-import checker quiet about types used only in casts.
export type _Unused = EList;
