// The text-processing builtins: match, split (regex.ts), splitVersion,
// compareVersions, parseDrvName (versions.ts), fromTOML (toml.ts), toXML and
// the `--xml` output (xml.ts), hashString, hashFile, convertHash (hashing.ts).
// Expected values come from CppNix (nix-instantiate) and the language suite.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toBytes } from '../../grammar/errors.js';
import { valueToXML } from '../../src/eval/builtins/xml.js';
import { NixError, renderError } from '../../src/eval/errors.js';
import { forceDeep } from '../../src/eval/ops.js';
import { printInstantiate } from '../../src/eval/print.js';
import { Settings } from '../../src/eval/settings.js';
import { EvalState } from '../../src/eval/state.js';
import { NixStr, force, type Value } from '../../src/eval/value.js';

function mkState(opts: { features?: string; stderr?: string[] } = {}): EvalState {
  const settings = new Settings();
  if (opts.features) settings.set('experimental-features', opts.features, 'test');
  const sink = opts.stderr;
  return new EvalState({ settings, stderr: (s) => sink?.push(s), env: { HOME: '/fake-home' } });
}

/** Evaluates `text` (UTF-8) and returns the value, deeply forced. */
function value(text: string, state = mkState()): Value {
  return forceDeep(state.evalString(toBytes(text), toBytes('«string»'), '/'));
}

/** Evaluates `text` and prints the result as `nix-instantiate --eval --strict` does (UTF-8). */
function ev(text: string, state = mkState()): string {
  return Buffer.from(printInstantiate(value(text, state)), 'latin1').toString('utf8');
}

/** The error of evaluating `text`, rendered with its trace as CppNix prints it (UTF-8). */
function err(text: string, state = mkState()): string {
  try {
    value(text, state);
  } catch (e) {
    if (e instanceof NixError) return Buffer.from(renderError(e, true), 'latin1').toString('utf8');
    throw e;
  }
  throw new Error(`no error evaluating ${text}`);
}

/** Just the final message of the error. */
function errMsg(text: string, state = mkState()): string {
  try {
    value(text, state);
  } catch (e) {
    if (e instanceof NixError) return Buffer.from(e.msg, 'latin1').toString('utf8');
    throw e;
  }
  throw new Error(`no error evaluating ${text}`);
}

// ---------------------------------------------------------------- match / split

describe('builtins.match', () => {
  it('returns the capture groups of a whole-string match', () => {
    expect(ev('builtins.match "a(b)(c)" "abc"')).toBe('[ "b" "c" ]');
    expect(ev('builtins.match "abc" "abc"')).toBe('[ ]');
    expect(ev('builtins.match "[[:space:]]+([[:upper:]]+)[[:space:]]+" "  FOO   "')).toBe('[ "FOO" ]');
  });

  it('gives null when the whole string does not match, and null for groups that did not take part', () => {
    expect(ev('builtins.match "ab" "abc"')).toBe('null');
    expect(ev('builtins.match "a(b)?(c)" "ac"')).toBe('[ null "c" ]');
  });

  it('follows the libstdc++ engine (first full match in priority order, . matches newlines)', () => {
    expect(ev('builtins.match "(a|ab)(c|bcd)(d*)" "abcd"')).toBe('[ "a" "bcd" "" ]');
    expect(ev('builtins.match ".*" "a\\nb"')).toBe('[ ]');
  });

  it('drops the context of the matched string', () => {
    const v = value('builtins.match "(.*)" (builtins.appendContext "x" { "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x" = { path = true; }; })');
    expect(Array.isArray(v)).toBe(true);
    expect(force((v as Value[])[0]!)).toBe('x');
  });

  it('names the argument that is not a string', () => {
    expect(err('builtins.match 1 { }')).toBe(
      [
        'error:',
        "       … while calling the 'match' builtin",
        '         at «string»:1:1:',
        '            1| builtins.match 1 { }',
        '             | ^',
        '',
        '       … while evaluating the first argument passed to builtins.match',
        '',
        '       error: expected a string but found an integer: 1',
      ].join('\n'),
    );
    expect(err('builtins.match "foo" { }')).toContain('… while evaluating the second argument passed to builtins.match');
  });

  it('rejects an invalid regular expression before looking at the string', () => {
    expect(err('builtins.match "(.*" (throw "not forced")')).toBe(
      [
        'error:',
        "       … while calling the 'match' builtin",
        '         at «string»:1:1:',
        '            1| builtins.match "(.*" (throw "not forced")',
        '             | ^',
        '',
        "       error: invalid regular expression '(.*'",
      ].join('\n'),
    );
    expect(errMsg('builtins.match "a\\\\d" "a1"')).toBe("invalid regular expression 'a\\d'");
  });
});

describe('builtins.split', () => {
  it('alternates the unmatched parts with the groups of each match', () => {
    expect(ev('builtins.split "(a)b" "abc"')).toBe('[ "" [ "a" ] "c" ]');
    expect(ev('builtins.split "([ac])" "abc"')).toBe('[ "" [ "a" ] "b" [ "c" ] "" ]');
    expect(ev('builtins.split "(a)|(c)" "abc"')).toBe('[ "" [ "a" null ] "b" [ null "c" ] "" ]');
    expect(ev('builtins.split "([[:upper:]]+)" " FOO "')).toBe('[ " " [ "FOO" ] " " ]');
    expect(ev('builtins.split "," "a,b,,c"')).toBe('[ "a" [ ] "b" [ ] "" [ ] "c" ]');
  });

  it('handles empty matches and the longest alternative as CppNix does', () => {
    expect(ev('builtins.split "x*" "ab"')).toBe('[ "" [ ] "a" [ ] "b" [ ] "" ]');
    expect(ev('builtins.split "(a|ab)" "abc"')).toBe('[ "" [ "ab" ] "c" ]');
    expect(ev('builtins.split "fo+" "f"')).toBe('[ "f" ]');
  });

  it('reports bad arguments and bad patterns', () => {
    expect(err('builtins.split 1 { }')).toContain('… while evaluating the first argument passed to builtins.split');
    expect(err('builtins.split "foo" { }')).toContain('error: expected a string but found a set: { }');
    const e = err('builtins.split "f(o*o" "1foo2"');
    expect(e).toContain("… while calling the 'split' builtin");
    expect(e).toContain("error: invalid regular expression 'f(o*o'");
  });

  it('refuses a pattern with a string context', () => {
    expect(errMsg('builtins.split (builtins.appendContext "a" { "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x" = { path = true; }; }) "abc"')).toContain(
      'is not allowed to refer to a store path',
    );
  });
});

// ---------------------------------------------------------------- versions

describe('builtins.splitVersion', () => {
  it('splits at dots, dashes and digit/letter boundaries', () => {
    expect(ev('builtins.splitVersion "1.2.3"')).toBe('[ "1" "2" "3" ]');
    expect(ev('builtins.splitVersion "1.2.3pre-4a_b"')).toBe('[ "1" "2" "3" "pre" "4" "a_b" ]');
    expect(ev('builtins.splitVersion ""')).toBe('[ ]');
  });

  it('requires a string', () => {
    expect(err('builtins.splitVersion 1')).toBe(
      [
        'error:',
        "       … while calling the 'splitVersion' builtin",
        '         at «string»:1:1:',
        '            1| builtins.splitVersion 1',
        '             | ^',
        '',
        '       … while evaluating the first argument passed to builtins.splitVersion',
        '',
        '       error: expected a string but found an integer: 1',
      ].join('\n'),
    );
  });
});

describe('builtins.compareVersions', () => {
  it('compares component by component', () => {
    const cases: [string, string, number][] = [
      ['1.0', '2.3', -1],
      ['2.1', '2.3', -1],
      ['2.3', '2.3', 0],
      ['2.5', '2.3', 1],
      ['3.1', '2.3', 1],
      ['2.3.1', '2.3', 1],
      ['2.3.1', '2.3a', 1],
      ['2.3pre1', '2.3', -1],
      ['2.3pre3', '2.3pre12', -1],
      ['2.3a', '2.3c', -1],
      ['2.3pre1', '2.3c', -1],
      ['2.3pre1', '2.3q', -1],
      ['1.2pre', '1.2', -1],
    ];
    for (const [a, b, r] of cases) {
      expect(ev(`builtins.compareVersions "${a}" "${b}"`), `${a} vs ${b}`).toBe(String(r));
      expect(ev(`builtins.compareVersions "${b}" "${a}"`), `${b} vs ${a}`).toBe(String(-r || 0));
    }
  });

  it('names the argument that is not a string', () => {
    expect(err('builtins.compareVersions 1 { }')).toContain('… while evaluating the first argument passed to builtins.compareVersions');
    expect(err('builtins.compareVersions "abd" { }')).toContain('… while evaluating the second argument passed to builtins.compareVersions');
  });
});

describe('builtins.parseDrvName', () => {
  it('splits at the first dash followed by a non-letter', () => {
    expect(ev('builtins.parseDrvName "hello-1.0.2"')).toBe('{ name = "hello"; version = "1.0.2"; }');
    expect(ev('builtins.parseDrvName "hello"')).toBe('{ name = "hello"; version = ""; }');
    expect(ev('builtins.parseDrvName "xf86-video-i810-1.7.4"')).toBe('{ name = "xf86-video-i810"; version = "1.7.4"; }');
    expect(ev('builtins.parseDrvName "name-that-ends-with-dash--1.0"')).toBe('{ name = "name-that-ends-with-dash"; version = "-1.0"; }');
    expect(ev('builtins.parseDrvName "foo-bar-1.2-3"')).toBe('{ name = "foo-bar"; version = "1.2-3"; }');
  });

  it('requires a string', () => {
    expect(err('builtins.parseDrvName 1')).toContain('… while evaluating the first argument passed to builtins.parseDrvName');
  });
});

// ---------------------------------------------------------------- TOML

describe('builtins.fromTOML', () => {
  it('maps TOML values to Nix values', () => {
    expect(ev("builtins.fromTOML ''\n  a = 1\n  b = \"x\"\n  c = [ 1.5, true ]\n  [t]\n  d = { e = 0x10 }\n''")).toBe(
      '{ a = 1; b = "x"; c = [ 1.5 true ]; t = { d = { e = 16; }; }; }',
    );
    expect(ev("builtins.fromTOML ''\n  [[p]]\n  n = 1\n  [[p]]\n  n = 2\n''")).toBe('{ p = [ { n = 1; } { n = 2; } ]; }');
    expect(ev('builtins.fromTOML "s = \\"Jos\\\\u00E9\\""')).toBe('{ s = "José"; }');
  });

  it('rejects dates and times unless parse-toml-timestamps is enabled', () => {
    expect(errMsg('builtins.fromTOML "d = 1979-05-27"')).toBe('while parsing TOML: Dates and times are not supported');
    const st = mkState({ features: 'parse-toml-timestamps' });
    expect(ev('builtins.fromTOML "d = 1979-05-27T07:32:00.1Z"', st)).toBe('{ d = { _type = "timestamp"; value = "1979-05-27T07:32:00.100Z"; }; }');
  });

  it('reports null bytes and out-of-range integers as CppNix does', () => {
    expect(errMsg('builtins.fromTOML \'\'k = "a\\u0000b"\'\'')).toBe(
      "while parsing TOML: error: input string 'a␀b' cannot be represented as Nix string because it contains null bytes",
    );
    expect(errMsg('builtins.fromTOML \'\'"a\\u0000b" = 1\'\'')).toBe(
      "while parsing TOML: error: input string 'a␀b' cannot be represented as Nix string because it contains null bytes",
    );
    expect(errMsg("builtins.fromTOML ''attr = 9223372036854775808''")).toContain(
      'while parsing TOML: [error] toml::parse_dec_integer: too large integer: current max digits = 2^63',
    );
  });

  it('requires a string and reports syntax errors', () => {
    expect(err('builtins.fromTOML 1')).toContain('… while evaluating the argument passed to builtins.fromTOML');
    expect(err('builtins.fromTOML "a = "')).toContain("… while calling the 'fromTOML' builtin");
    expect(errMsg('builtins.fromTOML "a = "')).toMatch(/^while parsing TOML: /);
  });
});

// ---------------------------------------------------------------- XML

describe('builtins.toXML', () => {
  it('writes CppNix’s XML document', () => {
    expect(ev('builtins.toXML { a = "s"; }')).toBe(
      '"<?xml version=\'1.0\' encoding=\'utf-8\'?>\\n<expr>\\n  <attrs>\\n    <attr name=\\"a\\">\\n      <string value=\\"s\\" />\\n    </attr>\\n  </attrs>\\n</expr>\\n"',
    );
    const v = value('builtins.toXML [ ("a" + "b") 10 null true 1.5 (rec { x = "x"; y = x; }) ./foo ]') as string;
    expect(v).toBe(
      [
        "<?xml version='1.0' encoding='utf-8'?>",
        '<expr>',
        '  <list>',
        '    <string value="ab" />',
        '    <int value="10" />',
        '    <null />',
        '    <bool value="true" />',
        '    <float value="1.5" />',
        '    <attrs>',
        '      <attr name="x">',
        '        <string value="x" />',
        '      </attr>',
        '      <attr name="y">',
        '        <string value="x" />',
        '      </attr>',
        '    </attrs>',
        '    <path value="/foo" />',
        '  </list>',
        '</expr>',
        '',
      ].join('\n'),
    );
  });

  it('escapes attribute values and prints floats like C++', () => {
    const v = value('builtins.toXML [ "x\\"<>&\\n\\r\\t\'" 1.0e20 567.890 ]') as string;
    expect(v).toContain('<string value="x&quot;&lt;&gt;&amp;&#xA;\r\t\'" />');
    expect(v).toContain('<float value="1e+20" />');
    expect(v).toContain('<float value="567.89" />');
  });

  it('shows function patterns and leaves built-in functions unevaluated', () => {
    const v = value('builtins.toXML { f = { z, x, y }: x; g = a@{ x ? 1, ... }: x; h = x: x; p = builtins.map; q = builtins.map (x: x); }') as string;
    expect(v).toContain(
      [
        '    <attr name="f">',
        '      <function>',
        '        <attrspat>',
        '          <attr name="x" />',
        '          <attr name="y" />',
        '          <attr name="z" />',
        '        </attrspat>',
        '      </function>',
        '    </attr>',
        '    <attr name="g">',
        '      <function>',
        '        <attrspat ellipsis="1" name="a">',
        '          <attr name="x" />',
        '        </attrspat>',
        '      </function>',
        '    </attr>',
        '    <attr name="h">',
        '      <function>',
        '        <varpat name="x" />',
        '      </function>',
        '    </attr>',
        '    <attr name="p">',
        '      <unevaluated />',
        '    </attr>',
        '    <attr name="q">',
        '      <unevaluated />',
        '    </attr>',
      ].join('\n'),
    );
  });

  it('prints a derivation once, then as repeated', () => {
    const v = value(
      'let d = { type = "derivation"; drvPath = "/nix/store/x.drv"; outPath = "/nix/store/x"; name = "foo"; }; in builtins.toXML [ d d { type = "derivation"; } ]',
    ) as string;
    expect(v).toBe(
      [
        "<?xml version='1.0' encoding='utf-8'?>",
        '<expr>',
        '  <list>',
        '    <derivation drvPath="/nix/store/x.drv" outPath="/nix/store/x">',
        '      <attr name="drvPath">',
        '        <string value="/nix/store/x.drv" />',
        '      </attr>',
        '      <attr name="name">',
        '        <string value="foo" />',
        '      </attr>',
        '      <attr name="outPath">',
        '        <string value="/nix/store/x" />',
        '      </attr>',
        '      <attr name="type">',
        '        <string value="derivation" />',
        '      </attr>',
        '    </derivation>',
        '    <derivation drvPath="/nix/store/x.drv" outPath="/nix/store/x">',
        '      <repeated />',
        '    </derivation>',
        '    <derivation>',
        '      <repeated />',
        '    </derivation>',
        '  </list>',
        '</expr>',
        '',
      ].join('\n'),
    );
  });

  it('keeps the string context', () => {
    const v = force(
      value('builtins.toXML { a = builtins.appendContext "x" { "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x" = { path = true; }; }; }'),
    );
    expect(v).toBeInstanceOf(NixStr);
    expect([...(v as NixStr).ctx]).toEqual(['/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x']);
  });

  it('forces everything and propagates errors', () => {
    expect(err('builtins.toXML { a = throw "boom"; }')).toContain("error: boom");
    expect(err('builtins.toXML { a = throw "boom"; }')).toContain("… while calling the 'toXML' builtin");
  });
});

describe('valueToXML (the --xml output)', () => {
  it('adds positions unless --no-location', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-xml-'));
    const file = path.join(dir, 'x.nix');
    fs.writeFileSync(file, '{\n  a = 1;\n  f = x: x;\n}\n');
    const state = mkState();
    const v = force(state.evalFile(toBytes(file)));
    const p = toBytes(file);
    expect(valueToXML(v, { location: true, strict: true })).toBe(
      [
        "<?xml version='1.0' encoding='utf-8'?>",
        '<expr>',
        '  <attrs>',
        `    <attr column="3" line="2" name="a" path="${p}">`,
        '      <int value="1" />',
        '    </attr>',
        `    <attr column="3" line="3" name="f" path="${p}">`,
        `      <function column="7" line="3" path="${p}">`,
        '        <varpat name="x" />',
        '      </function>',
        '    </attr>',
        '  </attrs>',
        '</expr>',
        '',
      ].join('\n'),
    );
    expect(valueToXML(v, { location: false, strict: true })).not.toContain('line=');
    fs.rmSync(dir, { recursive: true });
  });

  it('leaves positions of «string» sources without a path, and unforced values unevaluated', () => {
    const state = mkState();
    const v = force(state.evalString('{ a = 1; b = 1 + 1; }', toBytes('«string»'), '/'));
    expect(valueToXML(v, { location: true, strict: false })).toBe(
      [
        "<?xml version='1.0' encoding='utf-8'?>",
        '<expr>',
        '  <attrs>',
        '    <attr column="3" line="1" name="a">',
        '      <int value="1" />',
        '    </attr>',
        '    <attr column="10" line="1" name="b">',
        '      <unevaluated />',
        '    </attr>',
        '  </attrs>',
        '</expr>',
        '',
      ].join('\n'),
    );
    expect(valueToXML(v, { location: false, strict: true })).toContain('<int value="2" />');
  });

  it('without strict, shows a top-level function but not functions inside sets (CppNix has not evaluated them)', () => {
    const state = mkState();
    const f = force(state.evalString('{ x, y ? 1 }: x', toBytes('«string»'), '/'));
    expect(valueToXML(f, { location: false, strict: false })).toBe(
      [
        "<?xml version='1.0' encoding='utf-8'?>",
        '<expr>',
        '  <function>',
        '    <attrspat>',
        '      <attr name="x" />',
        '      <attr name="y" />',
        '    </attrspat>',
        '  </function>',
        '</expr>',
        '',
      ].join('\n'),
    );
    const a = force(state.evalString('{ f = x: x; }', toBytes('«string»'), '/'));
    expect(valueToXML(a, { location: false, strict: false })).toContain('<attr name="f">\n      <unevaluated />');
    expect(valueToXML(a, { location: false, strict: true })).toContain('<varpat name="x" />');
  });
});

// ---------------------------------------------------------------- hashes

const EMPTY = {
  md5: 'd41d8cd98f00b204e9800998ecf8427e',
  sha1: 'da39a3ee5e6b4b0d3255bfef95601890afd80709',
  sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  sha512: 'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e',
};

describe('builtins.hashString', () => {
  it('gives base-16 digests of the bytes of the string', () => {
    for (const [algo, h] of Object.entries(EMPTY)) expect(ev(`builtins.hashString "${algo}" ""`)).toBe(`"${h}"`);
    expect(ev('builtins.hashString "sha256" "text 1"')).toBe('"900a4469df00ccbfd0c145c6d1e4b7953dd0afafadd7534e3a4019e8d38fc663"');
    expect(ev('builtins.hashString "md5" "héllo"')).toBe('"be50e8478cf24ff3595bc7307fb91b50"');
  });

  it('rejects unknown algorithms and non-strings', () => {
    expect(err('builtins.hashString "foo" "content"')).toBe(
      [
        'error:',
        "       … while calling the 'hashString' builtin",
        '         at «string»:1:1:',
        '            1| builtins.hashString "foo" "content"',
        '             | ^',
        '',
        "       error: unknown hash algorithm 'foo', expect 'blake3', 'md5', 'sha1', 'sha256', or 'sha512'",
      ].join('\n'),
    );
    expect(err('builtins.hashString 1 { }')).toContain('… while evaluating the first argument passed to builtins.hashString');
    expect(err('builtins.hashString "sha256" { }')).toContain('… while evaluating the second argument passed to builtins.hashString');
  });

  it('computes BLAKE3 with the blake3-hashes experimental feature, and only with it', () => {
    const off = "experimental Nix feature 'blake3-hashes' is disabled; add '--extra-experimental-features blake3-hashes' to enable it";
    expect(errMsg('builtins.hashString "blake3" ""')).toBe(off);
    expect(errMsg('builtins.convertHash { hash = "blake3-rxNJufX5oaagQE3qNtzJSZvLJcmtwRK3zJqTyuQfMmI="; toHashFormat = "base16"; }')).toBe(off);
    expect(errMsg('builtins.convertHash { hash = "00"; hashAlgo = "blake3"; toHashFormat = "base16"; }')).toBe(off);
    const on = () => mkState({ features: 'blake3-hashes' });
    // (the official test vector of the empty input, and the digest of "abc" everyone quotes)
    expect(ev('builtins.hashString "blake3" ""', on())).toBe('"af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"');
    expect(ev('builtins.hashString "blake3" "abc"', on())).toBe('"6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"');
    expect(ev('builtins.convertHash { hash = builtins.hashString "blake3" ""; hashAlgo = "blake3"; toHashFormat = "sri"; }', on())).toBe(
      '"blake3-rxNJufX5oaagQE3qNtzJSZvLJcmtwRK3zJqTyuQfMmI="',
    );
    expect(ev('builtins.convertHash { hash = "blake3-rxNJufX5oaagQE3qNtzJSZvLJcmtwRK3zJqTyuQfMmI="; toHashFormat = "base16"; }', on())).toBe(
      '"af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"',
    );
    // a file is hashed in 1 MiB pieces (several updates), a string in one: the same digest
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-b3-'));
    const file = path.join(dir, 'data');
    fs.writeFileSync(file, Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 17 }, (_, i) => 1 + (i % 250))));
    expect(ev(`builtins.hashFile "blake3" ${file} == builtins.hashString "blake3" (builtins.readFile ${file})`, on())).toBe('true');
    expect(ev(`builtins.hashFile "blake3" ${file} == builtins.hashFile "sha256" ${file}`, on())).toBe('false');
    fs.rmSync(dir, { recursive: true });
    // the setting is the process's, as in CppNix: settings made later without it turn it off again
    expect(errMsg('builtins.hashString "blake3" ""')).toBe(off);
  });

  it('makes fixed-output derivations with a BLAKE3 hash', () => {
    const st = mkState({ features: 'blake3-hashes' });
    const drv = (mode: string) =>
      `(derivation { name = "b3"; system = "x86_64-linux"; builder = "/bin/sh"; outputHashMode = "${mode}"; outputHashAlgo = "blake3"; outputHash = builtins.hashString "blake3" "x"; })`;
    const flat = ev(`${drv('flat')}.outPath`, st);
    const rec = ev(`${drv('recursive')}.outPath`, st);
    expect(flat).toMatch(/^"\/nix\/store\/[0-9a-z]{32}-b3"$/);
    expect(rec).toMatch(/^"\/nix\/store\/[0-9a-z]{32}-b3"$/);
    expect(flat).not.toBe(rec);
    expect(errMsg(`${drv('flat')}.outPath`)).toBe(
      "experimental Nix feature 'blake3-hashes' is disabled; add '--extra-experimental-features blake3-hashes' to enable it",
    );
  });
});

describe('builtins.hashFile', () => {
  it('hashes the contents of a file given as a path or a string', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-hash-'));
    const file = path.join(dir, 'data');
    fs.writeFileSync(file, 'foo\n');
    expect(ev(`builtins.hashFile "md5" ${file}`)).toBe('"d3b07384d113edec49eaa6238ad5ff00"');
    expect(ev(`builtins.hashFile "sha1" "${file}"`)).toBe('"f1d2d2f924e986ac86fdf7b36c94bcdf32beec15"');
    fs.writeFileSync(file, Buffer.from([0, 1, 2, 255]));
    expect(ev(`builtins.hashFile "sha256" ${file}`)).toBe(`"${createHash('sha256').update(Buffer.from([0, 1, 2, 255])).digest('hex')}"`);
    fs.rmSync(dir, { recursive: true });
  });

  it('reports a missing file, a relative string and an unknown algorithm', () => {
    const e = err('map (builtins.hashFile "md5") [ /this-file-is-definitely-not-there-7392097 ]');
    expect(e).toContain("… while calling the 'hashFile' builtin");
    expect(e).toMatch(/\n\n       error: path '\/this-file-is-definitely-not-there-7392097' does not exist$/);
    expect(err('builtins.hashFile "md5" "rel"')).toContain(
      "… while realising the context of a path\n\n       error: string 'rel' doesn't represent an absolute path",
    );
    expect(errMsg('builtins.hashFile "md4" /x')).toBe("unknown hash algorithm 'md4', expect 'blake3', 'md5', 'sha1', 'sha256', or 'sha512'");
    expect(err('builtins.hashFile 1 /x')).toContain('… while evaluating the first argument passed to builtins.hashFile');
  });
});

describe('builtins.convertHash', () => {
  const sha256 = EMPTY.sha256;
  const nix32 = '0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73';
  const b64 = '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';

  it('converts between base16, nix32, base64 and SRI', () => {
    expect(ev(`builtins.convertHash { hash = "${sha256}"; hashAlgo = "sha256"; toHashFormat = "nix32"; }`)).toBe(`"${nix32}"`);
    expect(ev(`builtins.convertHash { hash = "${nix32}"; hashAlgo = "sha256"; toHashFormat = "base64"; }`)).toBe(`"${b64}"`);
    expect(ev(`builtins.convertHash { hash = "sha256-${b64}"; toHashFormat = "base16"; }`)).toBe(`"${sha256}"`);
    expect(ev(`builtins.convertHash { hash = "sha256:${sha256}"; toHashFormat = "sri"; }`)).toBe(`"sha256-${b64}"`);
    expect(ev(`builtins.convertHash { hash = "${b64}"; hashAlgo = "sha256"; toHashFormat = "sri"; }`)).toBe(`"sha256-${b64}"`);
    expect(ev(`builtins.convertHash { hash = "md5:${EMPTY.md5}"; hashAlgo = "md5"; toHashFormat = "base64"; }`)).toBe('"1B2M2Y8AsgTpgAmY7PhCfg=="');
  });

  it('warns that base32 is a deprecated name of nix32', () => {
    const stderr: string[] = [];
    const st = mkState({ stderr });
    expect(ev(`builtins.convertHash { hash = "sha256:${sha256}"; toHashFormat = "base32"; }`, st)).toBe(`"${nix32}"`);
    expect(stderr.join('')).toBe('warning: "base32" is a deprecated alias for hash format "nix32".\n');
  });

  it('reports missing attributes, bad formats and bad hashes', () => {
    expect(err('builtins.convertHash { toHashFormat = "sri"; }')).toContain(
      "… while locating the attribute 'hash'\n\n       error: attribute 'hash' missing",
    );
    expect(err(`builtins.convertHash { hash = "sha256:${sha256}"; }`)).toContain("error: attribute 'toHashFormat' missing");
    expect(errMsg(`builtins.convertHash { hash = "sha256:${sha256}"; toHashFormat = "hex"; }`)).toBe(
      "unknown hash format 'hex', expect 'base16', 'base32', 'base64', or 'sri'",
    );
    expect(errMsg(`builtins.convertHash { hash = "${sha256}"; toHashFormat = "sri"; }`)).toBe(
      `hash '${sha256}' does not include a type, nor is the type otherwise known from context`,
    );
    expect(errMsg(`builtins.convertHash { hash = "sha256:${sha256}"; hashAlgo = "sha1"; toHashFormat = "sri"; }`)).toBe(
      `hash 'sha256:${sha256}' should have type 'sha1'`,
    );
    expect(errMsg(`builtins.convertHash { hash = "foo:${sha256}"; toHashFormat = "sri"; }`)).toBe(
      "unknown hash algorithm 'foo', expect 'blake3', 'md5', 'sha1', 'sha256', or 'sha512'",
    );
    expect(err('builtins.convertHash 1')).toContain('… while evaluating the first argument passed to builtins.convertHash');
    expect(err('builtins.convertHash { hash = 1; toHashFormat = "sri"; }')).toContain("… while evaluating the attribute 'hash'");
  });
});

describe('documentation', () => {
  it('every builtin of these groups has a doc text', () => {
    const st = mkState();
    for (const name of ['match', 'split', 'splitVersion', 'compareVersions', 'parseDrvName', 'fromTOML', 'toXML', 'hashString', 'hashFile', 'convertHash']) {
      const def = st.builtinDefs.get(name);
      expect(def, name).toBeDefined();
      expect(def!.doc.length, name).toBeGreaterThan(60);
      expect(def!.doc, name).not.toMatch(/not implemented/i);
    }
  });
});

describe('builtins.fromJSON objects', () => {
  it('keeps the last of repeated names, in the place of the first', () => {
    expect(ev(String.raw`builtins.fromJSON "{\"a\":1,\"b\":2,\"a\":3}"`)).toBe('{ a = 3; b = 2; }');
    expect(ev(String.raw`builtins.toJSON (builtins.fromJSON "{\"b\":1,\"a\":2,\"b\":3}")`)).toBe(String.raw`"{\"a\":2,\"b\":3}"`);
  });

  it('gives objects of one shape (and of other shapes in between) their own values', () => {
    const doc = String.raw`[{\"x\":1,\"y\":[]},{\"x\":2,\"y\":{}},{\"y\":3,\"x\":4},{\"x\":5,\"y\":6,\"x\":7},{\"x\":8,\"y\":9}]`;
    expect(ev(`builtins.fromJSON "${doc}"`)).toBe('[ { x = 1; y = [ ]; } { x = 2; y = { }; } { x = 4; y = 3; } { x = 7; y = 6; } { x = 8; y = 9; } ]');
    expect(ev(`map builtins.attrNames (builtins.fromJSON "${doc}")`)).toBe('[ [ "x" "y" ] [ "x" "y" ] [ "x" "y" ] [ "x" "y" ] [ "x" "y" ] ]');
    expect(ev(`map (o: removeAttrs o [ "x" ]) (builtins.fromJSON "${doc}")`)).toBe('[ { y = [ ]; } { y = { }; } { y = 3; } { y = 6; } { y = 9; } ]');
  });
});

describe('builtins.toJSON text', () => {
  /** The string `text` evaluates to (its bytes read as UTF-8), or the number, as a string. */
  const str = (text: string): string => {
    const v = value(text);
    if (typeof v === 'number') return String(v);
    return Buffer.from(typeof v === 'string' ? v : (v as NixStr).s, 'latin1').toString('utf8');
  };

  it('escapes as nlohmann::json does and keeps UTF-8 as it is', () => {
    // (raw control characters in the Nix string: \x01 \x08 \x0c \x1f, and DEL, which is not escaped)
    expect(str('builtins.toJSON "q\\"b\\\\n\\nt\\tr\\r\x01\x08\x0c\x1f\x7f é ✓ 🎉"')).toBe(
      '"q\\"b\\\\n\\nt\\tr\\r\\u0001\\b\\f\\u001f\x7f é ✓ 🎉"',
    );
    expect(str('builtins.toJSON { "a\\"b" = "x"; "é" = [ "\\n" ]; }')).toBe('{"a\\"b":"x","é":["\\n"]}');
  });

  it('rejects bytes that are not UTF-8, at their index', () => {
    const msg = (bytes: string): string => {
      try {
        forceDeep(mkState().evalString(`builtins.toJSON "${bytes}"`, '«string»', '/'));
      } catch (e) {
        if (e instanceof NixError) return e.msg;
        throw e;
      }
      return 'no error';
    };
    expect(msg('ab\xff')).toBe('JSON serialization error: [json.exception.type_error.316] invalid UTF-8 byte at index 2: 0xFF');
    expect(msg('\\"\xc3')).toBe('JSON serialization error: [json.exception.type_error.316] invalid UTF-8 byte at index 1: 0xC3'); // cut short
    expect(msg('\xed\xa0\x80')).toBe('JSON serialization error: [json.exception.type_error.316] invalid UTF-8 byte at index 0: 0xED'); // a surrogate
    expect(msg('\xc3\xa9')).toBe('no error');
  });

  it('writes long strings whole, escaped or not', () => {
    const n = 70000;
    expect(str(`builtins.stringLength (builtins.toJSON (builtins.concatStringsSep "" (builtins.genList (i: "\\"") ${n})))`)).toBe(String(2 * n + 2));
    expect(str(`builtins.toJSON [ (builtins.concatStringsSep "" (builtins.genList (i: "ab") ${n})) "\\"" ]`)).toBe(`["${'ab'.repeat(n)}","\\""]`);
    // past the room of the buffer in the middle of a string that needs escaping (a toJSON
    // inside another starts with 4 096 bytes: the second string starts at 4 036)
    const x = 'x'.repeat(4032);
    const ab = 'a'.repeat(10) + '\\"' + 'b'.repeat(29);
    expect(str(`builtins.toJSON [ (builtins.toJSON [ "${x}" "${ab}" ]) ]`)).toBe(JSON.stringify([JSON.stringify([x, ab.replace('\\', '')])]));
  });

  it('runs inside itself: a value forced while writing may call toJSON', () => {
    expect(str('builtins.toJSON { a = builtins.toJSON { b = "x"; }; c = [ (builtins.toJSON [ 1 2 ]) ]; d = 3; }')).toBe(
      '{"a":"{\\"b\\":\\"x\\"}","c":["[1,2]"],"d":3}',
    );
    // the inner one fails (tryEval catches it) and the outer one goes on where it was
    expect(str('builtins.toJSON { a = (builtins.tryEval (builtins.toJSON { x = [ 1 (throw "no") ]; })).success; b = "after"; }')).toBe(
      '{"a":false,"b":"after"}',
    );
    // an inner one longer than the outer one's buffer
    const big = 'builtins.concatStringsSep "" (builtins.genList (i: "y") 100000)';
    expect(str(`builtins.stringLength (builtins.toJSON [ "a" (builtins.toJSON [ (${big}) ]) "b" ])`)).toBe(String(5 + (1 + 100004 + 2 + 1) + 5)); // ["a", then the inner text quoted, its two quotes escaped, then ,"b"]
    expect(str(`let big = ${big}; in builtins.toJSON [ (builtins.substring 0 3 (builtins.toJSON [ big ])) (builtins.toJSON "z") ]`)).toBe(
      '["[\\"y","\\"z\\""]',
    );
  });
});
