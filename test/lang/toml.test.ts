// builtins.fromTOML's parser (src/eval/toml.ts): TOML 1.0 as CppNix parses it
// with toml11 v4.  The language-suite files are checked end to end; the unit
// cases follow the TOML 1.0 spec and toml11's rules and messages.

import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LANG, readIndentedStrings } from './lang-suite.js';
import {
  TomlDateTime,
  TomlError,
  parseToml,
  parseTomlDocument,
  type TomlTable,
  type TomlValue,
} from '../../src/eval/toml.js';


/** UTF-8 text -> Nix byte string, and back. */
const b = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
const u = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');

/** Plain JS view of a parsed document, for toEqual. */
function plain(v: TomlValue): unknown {
  if (typeof v === 'string') return u(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return v;
  if (v instanceof TomlDateTime) return { [v.kind]: v.value };
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) o[u(k)] = plain(x);
    return o;
  }
  return { float: v.float };
}

const toml = (s: string): unknown => plain(parseToml(b(s), { timestamps: true }));

function errorOf(s: string, opts = { timestamps: true }): string {
  try {
    parseToml(b(s), opts);
  } catch (e) {
    expect(e).toBeInstanceOf(TomlError);
    return u((e as Error).message);
  }
  throw new Error('no error');
}

const firstLine = (s: string): string => errorOf(s).split('\n')[0]!;

// ---------------------------------------------------------------------------
// Nix-style printing, to compare with the suite's .exp files.

function nixFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x < 0 ? '-inf' : 'inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mant, exp] = x.toExponential(5).split('e') as [string, string];
  const e = Number(exp);
  const trim = (m: string): string => (m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m);
  if (e < -4 || e >= 6) return trim(mant) + 'e' + (e < 0 ? '-' : '+') + String(Math.abs(e)).padStart(2, '0');
  return trim(x.toFixed(Math.max(0, 5 - e)));
}

const nixStr = (s: string): string =>
  '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r').replace(/\$\{/g, '\\${') + '"';

function nixShow(v: TomlValue): string {
  if (typeof v === 'string') return nixStr(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof TomlDateTime) return `{ _type = "timestamp"; value = ${nixStr(v.value)}; }`;
  if (Array.isArray(v)) return '[ ' + v.map((x) => nixShow(x) + ' ').join('') + ']';
  if (v instanceof Map) {
    const keys = [...v.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const name = (k: string): string => (/^[a-zA-Z_][a-zA-Z0-9_'-]*$/.test(k) ? k : nixStr(k));
    return '{ ' + keys.map((k) => name(k) + ' = ' + nixShow(v.get(k)!) + '; ').join('') + '}';
  }
  return nixFloat(v.float);
}


const hasSuite = fs.existsSync(`${LANG}/eval-okay-fromTOML.nix`);
const lang = (name: string): string => fs.readFileSync(`${LANG}/${name}`, 'latin1');

describe.skipIf(!hasSuite)('CppNix language tests', () => {
  it('eval-okay-fromTOML', () => {
    const docs = readIndentedStrings(lang('eval-okay-fromTOML.nix'));
    expect(docs.length).toBe(4);
    const got = '[ ' + docs.map((d) => nixShow(parseToml(d)) + ' ').join('') + ']';
    expect(u(got)).toBe(u(lang('eval-okay-fromTOML.exp')).trim());
  });

  it('eval-okay-fromTOML-timestamps (parse-toml-timestamps)', () => {
    const [doc] = readIndentedStrings(lang('eval-okay-fromTOML-timestamps.nix'));
    expect(u(nixShow(parseToml(doc!, { timestamps: true })))).toBe(u(lang('eval-okay-fromTOML-timestamps.exp')).trim());
  });

  it('eval-fail-fromTOML-timestamps', () => {
    const [doc] = readIndentedStrings(lang('eval-fail-fromTOML-timestamps.nix'));
    expect(() => parseToml(doc!)).toThrow(new TomlError('Dates and times are not supported'));
  });

  it('eval-fail-fromTOML-overflow / underflow', () => {
    expect(errorOf('attr = 9223372036854775808')).toBe(
      '[error] toml::parse_dec_integer: too large integer: current max digits = 2^63\n' +
        ' --> fromTOML\n' +
        '   |\n' +
        ' 1 | attr = 9223372036854775808\n' +
        '   |                           ^-- must be < 2^63\n',
    );
    expect(errorOf('attr = -9223372036854775809')).toBe(
      '[error] toml::parse_dec_integer: too large integer: current max digits = 2^63\n' +
        ' --> fromTOML\n' +
        '   |\n' +
        ' 1 | attr = -9223372036854775809\n' +
        '   |                            ^-- must be < 2^63\n',
    );
    // the .err.exp files, as CppNix renders them
    for (const name of ['overflow', 'underflow']) {
      const exp = u(lang(`eval-fail-fromTOML-${name}.err.exp`));
      const doc = name === 'overflow' ? 'attr = 9223372036854775808' : 'attr = -9223372036854775809';
      const msg = errorOf(doc);
      const rendered = 'error: while parsing TOML: ' + msg.split('\n').join('\n       ');
      expect(exp).toContain(rendered);
    }
  });

  it('eval-fail-fromTOML-keyWithNullByte / valueWithNullByte', () => {
    const msg = "error: input string 'a\u2400b' cannot be represented as Nix string because it contains null bytes";
    expect(errorOf('"a\\u0000b" = 1')).toBe(msg);
    expect(errorOf('k = "a\\u0000b"')).toBe(msg);
    expect(u(lang('eval-fail-fromTOML-keyWithNullByte.err.exp'))).toContain('while parsing TOML: ' + msg);
    // without the Nix checks the NUL is just a byte
    expect(parseTomlDocument('k = "a\\u0000b"').get('k')).toBe('a\0b');
  });
});

describe('values', () => {
  it('integers', () => {
    expect(
      toml(
        'a = +99\nb = -17\nc = 0\nd = -0\ne = 1_000\nf = 0xDEAD_beef\ng = 0o755\nh = 0b1101_0110\n' +
          'i = 9223372036854775807\nj = -9223372036854775808\nk = 0x7FFFFFFFFFFFFFFF\n' +
          'l = 0b111111111111111111111111111111111111111111111111111111111111111\nm = 0x000000001\n',
      ),
    ).toEqual({
      a: 99n,
      b: -17n,
      c: 0n,
      d: 0n,
      e: 1000n,
      f: 3735928559n,
      g: 493n,
      h: 214n,
      i: 9223372036854775807n,
      j: -9223372036854775808n,
      k: 9223372036854775807n,
      l: 9223372036854775807n,
      m: 1n,
    });
  });

  it('integer errors', () => {
    expect(firstLine('a = 0x8000000000000000')).toBe(
      '[error] toml::parse_hex_integer: too large integer: current max value = 2^63',
    );
    expect(firstLine('a = 0o1000000000000000000000')).toBe(
      '[error] toml::parse_oct_integer: too large integer: current max value = 2^63',
    );
    expect(firstLine('a = 0b' + '1'.repeat(64))).toBe(
      '[error] toml::parse_bin_integer: too large integer: current max value = 2^63',
    );
    expect(firstLine('a = 01')).toBe('[error] bad integer: invalid digit after an integer');
    expect(firstLine('a = 00')).toBe('[error] bad integer: leading zero');
    expect(firstLine('a = 1__0')).toBe('[error] bad integer: `_` must be surrounded by digits');
    expect(firstLine('a = 0_1')).toBe('[error] bad integer: leading zero is not allowed in decimal int');
    expect(firstLine('a = _1')).toBe('[error] bad number: `_` must be surrounded by digits');
    expect(firstLine('a = +0x1')).toBe(
      '[error] toml::parse_hex_integer: invalid integer: hex_int must be like: 0xC0FFEE, 0xDEAD_BEEF',
    );
    expect(errorOf('a = 0x')).toBe(
      '[error] toml::parse_hex_integer: invalid integer: hex_int must be like: 0xC0FFEE, 0xDEAD_BEEF\n' +
        ' --> fromTOML\n' +
        '   |\n' +
        ' 1 | a = 0x\n' +
        '   |       ^-- expected hex [0-9a-fA-F]\n',
    );
  });

  it('floats', () => {
    const v = toml(
      'a = +1.0\nb = 3.1415\nc = -0.01\nd = 5e+22\ne = 1e06\nf = -2E-2\ng = 9_224_617.445_991\n' +
        'h = inf\ni = +inf\nj = -inf\nk = nan\nl = -0.0\nm = 1e-400\nn = 0.1e1\n',
    ) as Record<string, { float: number }>;
    expect(v.a).toEqual({ float: 1 });
    expect(v.b).toEqual({ float: 3.1415 });
    expect(v.c).toEqual({ float: -0.01 });
    expect(v.d).toEqual({ float: 5e22 });
    expect(v.e).toEqual({ float: 1e6 });
    expect(v.f).toEqual({ float: -0.02 });
    expect(v.g).toEqual({ float: 9224617.445991 });
    expect(v.h).toEqual({ float: Infinity });
    expect(v.i).toEqual({ float: Infinity });
    expect(v.j).toEqual({ float: -Infinity });
    expect(Number.isNaN(v.k!.float)).toBe(true);
    expect(Object.is(v.l!.float, -0)).toBe(true);
    expect(v.m).toEqual({ float: 0 });
    expect(v.n).toEqual({ float: 1 });
    // -nan keeps its sign bit (CppNix prints it as -nan)
    const negNan = (parseToml('x = -nan').get('x') as { float: number }).float;
    expect(Number.isNaN(negNan)).toBe(true);
    expect(new Uint8Array(new Float64Array([negNan]).buffer)[7]! & 0x80).toBe(0x80);
  });

  it('float errors', () => {
    expect(firstLine('a = 1e400')).toBe('[error] toml::parse_floating: failed to read floating point value from stream');
    expect(firstLine('a = .5')).toBe('[error] bad float: integer part is required before decimal point');
    expect(firstLine('a = 1.')).toBe('[error] bad float: invalid format');
    expect(firstLine('a = 1.0_')).toBe('[error] bad float: `_` must be surrounded by digits');
    expect(firstLine('a = Inf')).toBe(
      '[error] toml::parse_value: `inf` must be in lowercase. A string must be surrounded by quotes.',
    );
    expect(firstLine('a = NaN')).toBe(
      '[error] toml::parse_value: `nan` must be in lowercase. A string must be surrounded by quotes.',
    );
  });

  it('booleans', () => {
    expect(toml('t = true\nf = false')).toEqual({ t: true, f: false });
    expect(errorOf('a = TRUE')).toBe(
      '[error] toml::parse_value: `true` must be in lowercase. A string must be surrounded by quotes.\n' +
        ' --> fromTOML\n' +
        '   |\n' +
        ' 1 | a = TRUE\n' +
        '   |     ^-- expected true or false\n',
    );
    expect(firstLine('a = trux')).toBe(
      '[error] toml::parse_boolean: invalid boolean: boolean must be `true` or `false`, in lowercase. string must be surrounded by `"`',
    );
  });

  it('strings', () => {
    expect(
      toml(
        'a = "I\'m a string. \\"You can quote me\\". Name\\tJos\\u00E9\\nLocation\\tSF."\n' +
          "b = 'C:\\Users\\nodejs'\n" +
          'c = "\\U0001F600 \\b\\f\\r\\\\"\n' +
          'd = "tab\there"\n' +
          'e = "ʎǝʞ"\n',
      ),
    ).toEqual({
      a: 'I\'m a string. "You can quote me". Name\tJosé\nLocation\tSF.',
      b: 'C:\\Users\\nodejs',
      c: '\u{1F600} \b\f\r\\',
      d: 'tab\there',
      e: 'ʎǝʞ',
    });
    // results are UTF-8 byte strings
    expect(parseToml('a = "\\u00E9"').get('a')).toBe('\xc3\xa9');
  });

  it('multi-line strings', () => {
    expect(
      toml(
        'a = """\nRoses are red\nViolets are blue"""\n' +
          'b = """\nThe quick brown \\\n\n\n  fox jumps over \\\n    the lazy dog."""\n' +
          'c = """Here are two quotation marks: "". Simple enough."""\n' +
          'd = """Here are three quotation marks: ""\\"."""\n' +
          'e = """""This," she said, "is just a pointless statement."""""\n' +
          "f = '''\nThe first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n'''\n" +
          "g = '''Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\"'''\n" +
          "h = ''''That,' she said, 'is still pointless.''''\n" +
          'i = """a\r\nb"""\n',
      ),
    ).toEqual({
      a: 'Roses are red\nViolets are blue',
      b: 'The quick brown fox jumps over the lazy dog.',
      c: 'Here are two quotation marks: "". Simple enough.',
      d: 'Here are three quotation marks: """.',
      e: '""This," she said, "is just a pointless statement.""',
      f: 'The first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n',
      g: 'Here are fifteen quotation marks: """""""""""""""',
      h: "'That,' she said, 'is still pointless.'",
      i: 'a\r\nb',
    });
  });

  it('string errors', () => {
    expect(errorOf('a = "x\x01"')).toBe(
      '[error] toml::parse_basic_string: invalid string format\n' +
        ' --> fromTOML\n' +
        '   |\n' +
        ' 1 | a = "x0x01"\n' +
        '   |       ^-- expected "\n',
    );
    expect(firstLine('a = "\\q"')).toBe('[error] toml::parse_basic_string: invalid string format');
    expect(firstLine('a = "abc')).toBe('[error] toml::parse_basic_string: invalid string format');
    expect(firstLine("a = 'abc")).toBe('[error] toml::parse_literal_string: invalid string format');
    expect(firstLine('a = """abc')).toBe('[error] toml::parse_ml_basic_string: invalid string format');
    expect(firstLine("a = '''abc")).toBe('[error] toml::parse_ml_literal_string: invalid string format');
    // invalid UTF-8 (a lone 0xff byte)
    expect(() => parseToml('a = "\xff"')).toThrow('[error] toml::parse_basic_string: invalid string format');
    expect(() => parseToml('a = "\xc3\x28"')).toThrow('[error] toml::parse_basic_string: invalid string format');
    expect(parseToml('a = "\xc3\xa9"').get('a')).toBe('\xc3\xa9');
    // toml11 reports bad code points against a temporary copy of the string
    expect(errorOf('a = "x\\uD800y"')).toBe(
      '[error] toml::parse_utf8_codepoint: [0xD800, 0xDFFF] is not a valid UTF-8\n' +
        ' --> internal temporary\n' +
        '   |\n' +
        ' 1 | \\uD800y\n' +
        '   |  ^^^^^-- here\n',
    );
    expect(firstLine('a = "\\U00110000"')).toBe('[error] toml::parse_utf8_codepoint: input codepoint is too large.');
  });

  it('arrays', () => {
    expect(
      toml(
        'a = [ 1, 2, 3 ]\nb = [ "red", \'yellow\', """green""" ]\nc = [ [ 1, 2 ], [3, 4, 5] ]\n' +
          'd = [ 0.1, "x", 1, [], {} ]\ne = [\n  1, # one\n  2, # two\n]\nf = []\ng = [[{ b = true }]]\n',
      ),
    ).toEqual({
      a: [1n, 2n, 3n],
      b: ['red', 'yellow', 'green'],
      c: [[1n, 2n], [3n, 4n, 5n]],
      d: [{ float: 0.1 }, 'x', 1n, [], {}],
      e: [1n, 2n],
      f: [],
      g: [[{ b: true }]],
    });
    expect(firstLine('a = [1 2]')).toBe('[error] toml::parse_array: expected value-separator `,` or closing `]`');
    expect(firstLine('a = [1,')).toBe('[error] toml::parse_array: missing closing bracket `]`');
    expect(firstLine('a = [,]')).toBe('[error] bad format: unknown value appeared');
  });

  it('inline tables', () => {
    expect(toml('name = { first = "Tom", last = "Preston-Werner" }\nanimal = { type.name = "pug" }\ne = {}')).toEqual({
      name: { first: 'Tom', last: 'Preston-Werner' },
      animal: { type: { name: 'pug' } },
      e: {},
    });
    expect(firstLine('a = { b = 1, }')).toBe(
      '[error] toml::parse_inline_table: trailing comma is not allowed in TOML-v1.0.0)',
    );
    expect(firstLine('a = { b = 1\n}')).toBe(
      '[error] toml::parse_inline_table: expected value-separator `,` or closing `}`',
    );
    expect(firstLine('a = { b = 1 c = 2 }')).toBe(
      '[error] toml::parse_inline_table: expected value-separator `,` or closing `}`',
    );
    expect(firstLine('a = { b = 1, b = 2 }')).toBe(
      '[error] toml::insert_value: failed to insert a value, value already exists',
    );
    expect(firstLine('a = { b = { c = 1 }, b.d = 2 }')).toBe(
      '[error] toml::insert_value: failed to insert a value: inline table is immutable',
    );
  });

  it('dates and times', () => {
    expect(
      toml(
        'a = 1979-05-27T07:32:00Z\nb = 1979-05-27 00:32:00-07:00\nc = 1979-05-27t00:32:00.5+09:30\n' +
          'd = 1979-05-27T07:32:00\ne = 1979-05-27\nf = 07:32:00\ng = 00:32:00.1234567891\n' +
          'h = 1979-05-27T07:32:00-00:00\ni = 1979-05-27T07:32:00.000z\nj = 2000-02-29\nk = 23:59:60\n',
      ),
    ).toEqual({
      a: { 'offset-datetime': '1979-05-27T07:32:00Z' },
      b: { 'offset-datetime': '1979-05-27T00:32:00-07:00' },
      c: { 'offset-datetime': '1979-05-27T00:32:00.500+09:30' },
      d: { 'local-datetime': '1979-05-27T07:32:00' },
      e: { 'local-date': '1979-05-27' },
      f: { 'local-time': '07:32:00' },
      g: { 'local-time': '00:32:00.123456789' },
      h: { 'offset-datetime': '1979-05-27T07:32:00Z' },
      i: { 'offset-datetime': '1979-05-27T07:32:00Z' },
      j: { 'local-date': '2000-02-29' },
      k: { 'local-time': '23:59:60' },
    });
    expect(firstLine('a = 1979-02-29')).toBe('[error] toml::parse_local_date: invalid date.');
    expect(firstLine('a = 1979-13-01')).toBe('[error] toml::parse_local_date: invalid date.');
    expect(firstLine('a = 24:00:00')).toBe('[error] toml::parse_local_time: invalid time.');
    expect(firstLine('a = 1979-05-27T7:32:00')).toBe('[error] bad time: must be HH:MM:SS.subsec');
    expect(firstLine('a = 1979-05-27T07:32:00+9:00')).toBe('[error] bad offset: must be [+-]HH:MM or Z');
    expect(firstLine('a = 17:32')).toBe('[error] bad datetime: invalid format');
    expect(firstLine('a = 07:32')).toBe('[error] bad integer: invalid digit after an integer');
    // without the experimental feature
    expect(errorOf('a = 1979-05-27', { timestamps: false })).toBe('Dates and times are not supported');
  });
});

describe('keys and tables', () => {
  it('keys', () => {
    expect(
      toml(
        'key = 1\nbare_key = 2\nbare-key = 3\n1234 = 4\n"127.0.0.1" = 5\n"character encoding" = 6\n' +
          "'key2' = 7\n'quoted \"value\"' = 8\n\"\" = 9\nphysical.color = \"orange\"\nsite.\"google.com\" = true\n" +
          'fruit . flavor = "banana"\n3.14159 = "pi"\n',
      ),
    ).toEqual({
      key: 1n,
      bare_key: 2n,
      'bare-key': 3n,
      '1234': 4n,
      '127.0.0.1': 5n,
      'character encoding': 6n,
      key2: 7n,
      'quoted "value"': 8n,
      '': 9n,
      physical: { color: 'orange' },
      site: { 'google.com': true },
      fruit: { flavor: 'banana' },
      '3': { '14159': 'pi' },
    });
    expect(errorOf('ʎǝʞ = 1')).toBe(
      '[error] toml::parse_simple_key: invalid key: key must be "quoted", \'quoted-literal\', or bare key.\n' +
        ' --> fromTOML\n' +
        '   |\n' +
        ' 1 | 0xca0x8e0xc70x9d0xca0x9e = 1\n' +
        '   | ^-- expected alpha [a-zA-Z], digit [0-9], -, or _\n' +
        'Hint: non-ASCII scripts are allowed in toml v1.1.0, but not in v1.0.0.\n',
    );
    expect(firstLine('= 1')).toBe(
      '[error] toml::parse_simple_key: invalid key: key must be "quoted", \'quoted-literal\', or bare key.',
    );
    expect(firstLine('a 1')).toBe('[error] toml::parse_key_value_pair: invalid key value separator `=`');
    expect(firstLine('a =')).toBe('[error] bad format: unknown value appeared');
  });

  it('duplicate keys', () => {
    expect(errorOf('a=1\na=2')).toBe(
      '[error] toml::insert_value: failed to insert a value, value already exists\n' +
        ' --> fromTOML\n' +
        '   |\n' +
        ' 2 | a=2\n' +
        '   | ^-- inserting this\n' +
        '   | ...\n' +
        '   |\n' +
        ' 1 | a=1\n' +
        '   |   ^-- but value already exists\n',
    );
    expect(firstLine('a.b = 1\na.b = 2')).toBe(
      '[error] toml::insert_value: failed to insert a value, value already exists',
    );
    expect(firstLine('a = 1\na.b = 2')).toBe(
      '[error] toml::insert_value: failed to insert a value, value already exists',
    );
  });

  it('tables', () => {
    expect(
      toml(
        '[table-1]\nkey1 = "some string"\n[dog."tater.man"]\ntype.name = "pug"\n[a.b.c]\n[ d.e.f ]\n' +
          "[ g .  h  . i ]\n[ j . \"ʞ\" . 'l' ]\n[x.y.z.w]\n[x]\nv = 1\n[fruit]\napple.color = \"red\"\n" +
          '[fruit.apple.texture]\nsmooth = true\n',
      ),
    ).toEqual({
      'table-1': { key1: 'some string' },
      dog: { 'tater.man': { type: { name: 'pug' } } },
      a: { b: { c: {} } },
      d: { e: { f: {} } },
      g: { h: { i: {} } },
      j: { ʞ: { l: {} } },
      x: { y: { z: { w: {} } }, v: 1n },
      fruit: { apple: { color: 'red', texture: { smooth: true } } },
    });
  });

  it('invalid table definitions', () => {
    expect(errorOf('[a]\nb=1\n[a]\nc=2')).toBe(
      '[error] toml::insert_value: failed to insert a table, table already defined\n' +
        ' --> fromTOML\n' +
        '   |\n' +
        ' 3 | [a]\n' +
        '   | ^^^-- inserting this\n' +
        '   | ...\n' +
        '   |\n' +
        ' 1 | [a]\n' +
        '   | ^^^-- this table is explicitly defined\n',
    );
    const t = (s: string): string => firstLine(s);
    expect(t('a.b = 1\n[a]')).toBe('[error] toml::insert_value: failed to insert a table, table already defined');
    expect(t('[fruit]\napple.color = "red"\n[fruit.apple]')).toBe(
      '[error] toml::insert_value: failed to insert a table, table already defined',
    );
    expect(t('[x.y.z]\n[x]\ny.z.v = 42')).toBe('[error] toml::insert_value: reopening a table using dotted keys');
    expect(t('a = { b = 1 }\n[a.c]')).toBe(
      '[error] toml::insert_value: failed to insert a value: inline table is immutable',
    );
    expect(t('a = 1\n[a.b]')).toBe('[error] toml::insert_value: failed to insert a value, value already exists');
    expect(t('[[a]]\n[a]')).toBe('[error] toml::insert_value: failed to insert a table, table already defined');
    expect(t('a = []\n[[a]]')).toBe(
      '[error] toml::insert_value: failed to insert an array of tables, value already exists',
    );
    expect(t('a = [{b = 1}]\n[[a]]')).toBe(
      '[error] toml::insert_value: failed to insert a table, inline array of tables is immutable',
    );
    expect(t('a = [{b = 1}]\n[a.c]')).toBe('[error] toml::insert_value:inline array of tables are immutable');
    expect(t('[[a]]\n[x]\na.b = 1\n[a]\nb.c = 1')).toBe(
      '[error] toml::insert_value: failed to insert a table, table already defined',
    );
    expect(t('[a]b = 1')).toBe('[error] toml::parse_file: newline (or EOF) expected');
    expect(t('[a')).toBe('[error] toml::parse_file: invalid table key');
    expect(t('[[a]')).toBe('[error] toml::parse_file: invalid array-table key');
    expect(t('[]')).toBe('[error] toml::parse_file: invalid table key');
    expect(t('a = 1 b = 2')).toBe('[error] toml::parse_table: newline (LF / CRLF) or EOF is expected');
  });

  it('arrays of tables', () => {
    expect(
      toml(
        '[[products]]\nname = "Hammer"\nsku = 738594937\n[[products]]\n[[products]]\nname = "Nail"\n' +
          '[[fruit]]\nname = "apple"\n[fruit.physical]\ncolor = "red"\n[[fruit.variety]]\nname = "red delicious"\n' +
          '[[fruit.variety]]\nname = "granny smith"\n[[fruit]]\nname = "banana"\n[[fruit.variety]]\nname = "plantain"\n',
      ),
    ).toEqual({
      products: [{ name: 'Hammer', sku: 738594937n }, {}, { name: 'Nail' }],
      fruit: [
        {
          name: 'apple',
          physical: { color: 'red' },
          variety: [{ name: 'red delicious' }, { name: 'granny smith' }],
        },
        { name: 'banana', variety: [{ name: 'plantain' }] },
      ],
    });
    expect(firstLine('[[fruit]]\n[[fruit.variety]]\n[fruit.variety]')).toBe(
      '[error] toml::insert_value: failed to insert a table, table already defined',
    );
    expect(firstLine('[[a]]\na.b = 1\n[x]\n[a]\n')).toBe(
      '[error] toml::insert_value: failed to insert a table, table already defined',
    );
  });

  it('comments, whitespace, line endings and BOM', () => {
    expect(toml('# comment\n\n  a = 1 # trailing\r\n\tb = 2\n[t] # c\n c = 3 ')).toEqual({ a: 1n, b: 2n, t: { c: 3n } });
    expect(plain(parseToml('\xef\xbb\xbfa = 1'))).toEqual({ a: 1n });
    expect(toml('')).toEqual({});
    expect(toml('\n\n# only a comment')).toEqual({});
    expect(firstLine('a = 1\r')).toBe('[error] toml::parse_table: newline (LF / CRLF) or EOF is expected');
    expect(errorOf('# bad \x01 comment\na = 1')).toBe(
      '[error] toml::parse_comment_line: newline (LF / CRLF) or EOF is expected\n' +
        ' --> fromTOML\n' +
        '   |\n' +
        ' 2 | a = 1\n' +
        '   | ^-- but got this\n' +
        'Hint: most of the control characters are not allowed in comments',
    );
  });

  it('keeps document order (CppNix sorts attribute names itself)', () => {
    expect([...parseToml('b = 1\na = 2\n[c]\n[B]').keys()]).toEqual(['b', 'a', 'c', 'B']);
  });

  it('special key names are plain keys', () => {
    const t: TomlTable = parseToml('__proto__ = 1\nconstructor = 2\n[toString]');
    expect(t.get('__proto__')).toBe(1n);
    expect(t.get('constructor')).toBe(2n);
    expect(t.get('toString')).toEqual(new Map());
  });
});
